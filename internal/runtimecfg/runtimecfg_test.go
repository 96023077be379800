package runtimecfg_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store/storetest"
)

var (
	filters = runtimecfg.SettingCollectionFilters
	signals = runtimecfg.SettingSignalCollections
)

func configured() map[runtimecfg.Setting][]string {
	return runtimecfg.FromConfig(&config.Config{
		Collections: config.CollectionsConfig{Filters: []string{"app.bsky.feed.post"}},
		Scope:       config.ScopeConfig{SignalCollection: "com.example.signal"},
	})
}

func TestConfigValues(t *testing.T) {
	c, err := runtimecfg.New(t.Context(), storetest.OpenSQLite(t), configured(), nil)
	require.NoError(t, err)
	require.Equal(t, &runtimecfg.Value{List: []string{"app.bsky.feed.post"}, Source: runtimecfg.SourceConfig}, c.Get(filters))
	require.Equal(t, &runtimecfg.Value{List: []string{"com.example.signal"}, Source: runtimecfg.SourceConfig}, c.Get(signals),
		"TAP_SIGNAL_COLLECTION is a one-element list")

	c, err = runtimecfg.New(t.Context(), storetest.OpenSQLite(t), runtimecfg.FromConfig(&config.Config{}), nil)
	require.NoError(t, err)
	require.Equal(t, []string{}, c.Get(filters).List)
	require.Equal(t, []string{}, c.Get(signals).List, "no signal collection is an empty list")
}

func TestSetPersistsAndResets(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := storetest.Open(t, url)
		c, err := runtimecfg.New(ctx, db, configured(), nil)
		require.NoError(t, err)
		changed := c.Changed(filters)
		v, err := c.Set(ctx, filters, []string{"app.bsky.feed.*", "com.example.x", "app.bsky.feed.*"})
		require.NoError(t, err)
		require.Equal(t, &runtimecfg.Value{List: []string{"app.bsky.feed.*", "com.example.x"}, Source: runtimecfg.SourceAPI}, v)
		require.Same(t, v, c.Get(filters), "applied at once")
		<-changed // closed by the change
		_, err = c.Set(ctx, signals, nil)
		require.NoError(t, err)

		// A restart (a new Control on the same database) keeps the API values.
		c2, err := runtimecfg.New(ctx, storetest.Open(t, url), configured(), nil)
		require.NoError(t, err)
		require.Equal(t, v, c2.Get(filters))
		require.Equal(t, &runtimecfg.Value{List: []string{}, Source: runtimecfg.SourceAPI}, c2.Get(signals),
			"an empty list set through the API overrides the configured one")

		v, err = c2.Reset(ctx, filters)
		require.NoError(t, err)
		require.Equal(t, &runtimecfg.Value{List: []string{"app.bsky.feed.post"}, Source: runtimecfg.SourceConfig}, v)
		c3, err := runtimecfg.New(ctx, storetest.Open(t, url), configured(), nil)
		require.NoError(t, err)
		require.Equal(t, runtimecfg.SourceConfig, c3.Get(filters).Source, "the reset is persisted")
		require.Equal(t, runtimecfg.SourceAPI, c3.Get(signals).Source)
	})
}

func TestSetRejectsInvalid(t *testing.T) {
	c, err := runtimecfg.New(t.Context(), storetest.OpenSQLite(t), configured(), nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		setting runtimecfg.Setting
		list    []string
		want    string
	}{
		{filters, []string{"app.bsky.feed.post", "app.bsky.feed*"}, `collection_filters[1]: "app.bsky.feed*" is not an NSID`},
		{filters, []string{""}, `collection_filters[0]: "" is not an NSID`},
		{filters, []string{"app..*"}, `collection_filters[0]: "app..*" is not a valid collection prefix`},
		{signals, []string{"app.bsky.feed.*"}, `signal_collections[0]: "app.bsky.feed.*" is not an NSID (signal collections are exact`},
		{signals, []string{"com.example.ok", "nope"}, `signal_collections[1]: "nope" is not an NSID`},
	} {
		_, err := c.Set(t.Context(), tc.setting, tc.list)
		require.ErrorIs(t, err, runtimecfg.ErrInvalid)
		require.ErrorContains(t, err, tc.want)
	}
	require.Equal(t, runtimecfg.SourceConfig, c.Get(filters).Source, "nothing changed")
	require.Equal(t, runtimecfg.SourceConfig, c.Get(signals).Source)
}

func TestInvalidPersistedValueFailsStartup(t *testing.T) {
	db := storetest.OpenSQLite(t)
	require.NoError(t, db.SetOverride(t.Context(), "collection_filters", []string{"bad*"}))
	_, err := runtimecfg.New(t.Context(), db, configured(), nil)
	require.ErrorContains(t, err, `value set through the admin API: collection_filters[0]: "bad*"`)
	require.ErrorContains(t, err, "DELETE /config/collection-filters")
}

func TestConcurrentSetAndGet(t *testing.T) {
	c, err := runtimecfg.New(t.Context(), storetest.OpenSQLite(t), configured(), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 20 {
				if i%2 == 0 {
					_, err := c.Set(t.Context(), filters, []string{"app.bsky.feed.*"})
					require.NoError(t, err)
				} else {
					v := c.Get(filters)
					require.NotEmpty(t, v.List)
				}
			}
		})
	}
	wg.Wait()
}
