package filterstage_test

import (
	"context"
	"testing"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/filterstage"
)

func build(t *testing.T, id string, global *config.Config, db *store.DB, raw map[string]any) pipeline.Stage {
	t.Helper()
	id2, err := pipeline.ParseID(id)
	require.NoError(t, err)
	cfg := &filterstage.Config{}
	require.NoError(t, pipeline.Decode(raw, cfg, ""))
	s, err := filterstage.NewFactory().Create(t.Context(), pipeline.Settings{ID: id2, Resources: []any{global, db}}, cfg)
	require.NoError(t, err)
	return s
}

func passes(t *testing.T, s pipeline.Stage, ev *pipeline.Event) bool {
	t.Helper()
	passed := false
	require.NoError(t, s.Process(t.Context(), ev, func(context.Context, *pipeline.Event) error { passed = true; return nil }))
	return passed
}

func commit(did string, paths ...string) *pipeline.Event {
	c := &comatproto.SyncSubscribeRepos_Commit{Repo: did}
	for _, p := range paths {
		c.Ops = append(c.Ops, &comatproto.SyncSubscribeRepos_RepoOp{Action: "create", Path: p})
	}
	return &pipeline.Event{Kind: pipeline.KindCommit, DID: syntax.DID(did), Commit: c}
}

func account(did string, active bool) *pipeline.Event {
	return &pipeline.Event{Kind: pipeline.KindAccount, DID: syntax.DID(did), Account: &comatproto.SyncSubscribeRepos_Account{Did: did, Active: active}}
}

func tracked(t *testing.T, db *store.DB, did string) bool {
	_, err := db.GetRepo(t.Context(), did)
	return err == nil
}

func TestScopeTrackedOnly(t *testing.T) {
	db := storetest.OpenSQLite(t)
	_, err := db.AddRepos(t.Context(), []string{"did:plc:known"})
	require.NoError(t, err)
	s := build(t, "filter/scope", &config.Config{}, db, nil)
	require.True(t, passes(t, s, commit("did:plc:known", "app.bsky.feed.post/1")))
	require.False(t, passes(t, s, commit("did:plc:other", "app.bsky.feed.post/1")))
	require.False(t, tracked(t, db, "did:plc:other"), "dynamic mode tracks nothing by itself")
	snap := &pipeline.Event{Kind: pipeline.KindSnapshot, DID: "did:plc:other"}
	require.True(t, passes(t, s, snap), "non-firehose events pass")
}

func TestScopeFullNetwork(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s := build(t, "filter/scope", &config.Config{Scope: config.ScopeConfig{FullNetwork: true}}, db, nil)
	require.False(t, passes(t, s, commit("did:plc:a")), "the tracking event itself is dropped")
	require.True(t, tracked(t, db, "did:plc:a"))
	r, err := db.GetRepo(t.Context(), "did:plc:a")
	require.NoError(t, err)
	require.Equal(t, store.RepoStatePending, r.State)
	require.True(t, passes(t, s, commit("did:plc:a")))

	passes(t, s, account("did:plc:inactive", false))
	require.False(t, tracked(t, db, "did:plc:inactive"), "inactive #account does not track")
	passes(t, s, account("did:plc:active", true))
	require.True(t, tracked(t, db, "did:plc:active"))
	passes(t, s, &pipeline.Event{Kind: pipeline.KindIdentity, DID: "did:plc:ident", Identity: &comatproto.SyncSubscribeRepos_Identity{Did: "did:plc:ident"}})
	require.True(t, tracked(t, db, "did:plc:ident"))
}

func TestScopeSignalCollection(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s := build(t, "filter/scope", &config.Config{Scope: config.ScopeConfig{SignalCollection: "com.example.signal"}}, db, nil)
	passes(t, s, commit("did:plc:a", "app.bsky.feed.post/1", "com.example.signalx/2"))
	require.False(t, tracked(t, db, "did:plc:a"), "exact collection match only")
	passes(t, s, commit("did:plc:b", "app.bsky.feed.post/1", "com.example.signal/2"))
	require.True(t, tracked(t, db, "did:plc:b"))
	passes(t, s, account("did:plc:c", true))
	require.False(t, tracked(t, db, "did:plc:c"))
}

func TestMatcher(t *testing.T) {
	m := filterstage.NewMatcher([]string{"app.bsky.feed.*", "com.example.thing"})
	for coll, want := range map[string]bool{
		"app.bsky.feed.post": true, "app.bsky.feed.like": true, "app.bsky.feedgen.x": false,
		"app.bsky.feed": false, "com.example.thing": true, "com.example.things": false, "app.bsky.graph.follow": false,
	} {
		require.Equal(t, want, m.Match(coll), coll)
	}
	require.True(t, filterstage.NewMatcher(nil).Match("any.thing.here"))
	require.True(t, filterstage.NewMatcher([]string{"*"}).Match("any.thing.here"))
}

func TestCollectionsStage(t *testing.T) {
	db := storetest.OpenSQLite(t)
	global := &config.Config{Collections: config.CollectionsConfig{Filters: []string{"app.bsky.feed.*"}}}
	s := build(t, "filter/collections", global, db, nil)
	ev := &pipeline.Event{Kind: pipeline.KindRecords, DID: "did:plc:a", Records: &pipeline.Records{Ops: []pipeline.RecordOp{
		{Collection: "app.bsky.feed.post", RKey: "1"}, {Collection: "app.bsky.graph.follow", RKey: "2"}, {Collection: "app.bsky.feed.like", RKey: "3"},
	}}}
	require.True(t, passes(t, s, ev))
	require.Len(t, ev.Records.Ops, 2)
	require.Equal(t, syntax.RecordKey("3"), ev.Records.Ops[1].RKey)

	empty := &pipeline.Event{Kind: pipeline.KindRecords, DID: "did:plc:a", Records: &pipeline.Records{Final: true, Ops: []pipeline.RecordOp{{Collection: "x.y.z"}}}}
	require.True(t, passes(t, s, empty), "an emptied commit still passes so its rev is recorded")
	require.Empty(t, empty.Records.Ops)
	require.True(t, passes(t, s, &pipeline.Event{Kind: pipeline.KindIdentityChange, DID: "did:plc:a"}))

	// The stage config can override the global filters.
	s2 := build(t, "filter/collections", global, db, map[string]any{"filters": []any{"x.y.z"}})
	ev2 := &pipeline.Event{Kind: pipeline.KindRecords, Records: &pipeline.Records{Ops: []pipeline.RecordOp{{Collection: "x.y.z"}, {Collection: "app.bsky.feed.post"}}}}
	passes(t, s2, ev2)
	require.Len(t, ev2.Records.Ops, 1)
}

func TestConfigErrors(t *testing.T) {
	f, err := pipeline.MakeFactories(nil, []pipeline.StageFactory{filterstage.NewFactory()}, nil)
	require.NoError(t, err)
	for raw, want := range map[string]struct {
		id  string
		cfg map[string]any
	}{
		`mode: "sideways" is not scope or collections`: {"filter/x", map[string]any{"mode": "sideways"}},
		`set mode to scope or collections`:             {"filter", nil},
		`filters[0]: "app.bsky.feed*" is not an NSID`:  {"filter/collections", map[string]any{"filters": []any{"app.bsky.feed*"}}},
	} {
		_, err := pipeline.Build(t.Context(), pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: want.id, Config: want.cfg}}}, f,
			pipeline.BuildSettings{Resources: []any{&config.Config{}, storetest.OpenSQLite(t)}})
		require.ErrorContains(t, err, raw)
	}
}

func TestLifecycle(t *testing.T) {
	db := storetest.OpenSQLite(t)
	for _, id := range []string{"filter/scope", "filter/collections"} {
		pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component { return build(t, id, &config.Config{}, db, nil) })
	}
}

func TestRuntimeFilters(t *testing.T) {
	db := storetest.OpenSQLite(t)
	global := &config.Config{Collections: config.CollectionsConfig{Filters: []string{"app.bsky.feed.post"}}}
	ctl, err := runtimecfg.New(t.Context(), db, runtimecfg.FromConfig(global), nil)
	require.NoError(t, err)
	s := buildWith(t, "filter/collections", nil, global, db, ctl)
	own := buildWith(t, "filter/collections", map[string]any{"filters": []any{"x.y.z"}}, global, db, ctl)
	kept := func(s pipeline.Stage) []string {
		ev := &pipeline.Event{Kind: pipeline.KindRecords, DID: "did:plc:a", Records: &pipeline.Records{Ops: []pipeline.RecordOp{
			{Collection: "app.bsky.feed.post"}, {Collection: "app.bsky.graph.follow"}, {Collection: "x.y.z"},
		}}}
		require.True(t, passes(t, s, ev))
		var out []string
		for _, op := range ev.Records.Ops {
			out = append(out, op.Collection.String())
		}
		return out
	}
	require.Equal(t, []string{"app.bsky.feed.post"}, kept(s))

	_, err = ctl.Set(t.Context(), runtimecfg.SettingCollectionFilters, []string{"app.bsky.feed.post", "app.bsky.graph.*"})
	require.NoError(t, err)
	require.Equal(t, []string{"app.bsky.feed.post", "app.bsky.graph.follow"}, kept(s), "widened for the next event")
	_, err = ctl.Set(t.Context(), runtimecfg.SettingCollectionFilters, []string{})
	require.NoError(t, err)
	require.Equal(t, []string{"app.bsky.feed.post", "app.bsky.graph.follow", "x.y.z"}, kept(s), "an empty list keeps all")
	_, err = ctl.Set(t.Context(), runtimecfg.SettingCollectionFilters, []string{"x.y.z"})
	require.NoError(t, err)
	require.Equal(t, []string{"x.y.z"}, kept(s), "narrowed for the next event")
	_, err = ctl.Reset(t.Context(), runtimecfg.SettingCollectionFilters)
	require.NoError(t, err)
	require.Equal(t, []string{"app.bsky.feed.post"}, kept(s), "reset to the configuration")

	require.Equal(t, []string{"x.y.z"}, kept(own), "a stage's own filters are not changed by the API")
}

func TestRuntimeSignalCollections(t *testing.T) {
	db := storetest.OpenSQLite(t)
	global := &config.Config{Scope: config.ScopeConfig{SignalCollection: "com.example.signal"}}
	ctl, err := runtimecfg.New(t.Context(), db, runtimecfg.FromConfig(global), nil)
	require.NoError(t, err)
	s := buildWith(t, "filter/scope", nil, global, db, ctl)
	passes(t, s, commit("did:plc:a", "com.example.signal/1"))
	require.True(t, tracked(t, db, "did:plc:a"), "the configured signal collection is a one-element list")
	passes(t, s, commit("did:plc:b", "com.example.other/1"))
	require.False(t, tracked(t, db, "did:plc:b"))

	_, err = ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, []string{"com.example.signal", "com.example.other"})
	require.NoError(t, err)
	passes(t, s, commit("did:plc:b", "com.example.other/1"))
	require.True(t, tracked(t, db, "did:plc:b"), "any of several signal collections tracks")

	_, err = ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, nil)
	require.NoError(t, err)
	passes(t, s, commit("did:plc:c", "com.example.signal/1"))
	require.False(t, tracked(t, db, "did:plc:c"), "no signal collections: nothing is tracked by commits")
	require.True(t, tracked(t, db, "did:plc:a"), "removing a signal collection untracks nothing")
}

func buildWith(t *testing.T, id string, raw map[string]any, resources ...any) pipeline.Stage {
	t.Helper()
	id2, err := pipeline.ParseID(id)
	require.NoError(t, err)
	cfg := &filterstage.Config{}
	require.NoError(t, pipeline.Decode(raw, cfg, ""))
	s, err := filterstage.NewFactory().Create(t.Context(), pipeline.Settings{ID: id2, Resources: resources}, cfg)
	require.NoError(t, err)
	return s
}
