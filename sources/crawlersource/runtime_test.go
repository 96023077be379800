package crawlersource

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
)

// A signal collection set at runtime starts a pass at once, also when the
// crawler was idle, and several collections are each enumerated.
func TestRuntimeSignalCollections(t *testing.T) {
	db := storetest.OpenSQLite(t)
	n := startNet(t)
	accts, err := n.CreateAccounts(5)
	require.NoError(t, err)
	const other = "com.example.signal"
	var follows, others []*testnet.Account
	for i, a := range accts {
		switch i % 3 {
		case 0:
			_, err = a.CreateRecord(testnet.CollectionFollow, "", map[string]any{"subject": "did:plc:x", "createdAt": "2026-01-01T00:00:00Z"})
			follows = append(follows, a)
		case 1:
			_, err = a.CreateRecord(other, "", map[string]any{"createdAt": "2026-01-01T00:00:00Z"})
			others = append(others, a)
		default:
			continue // in neither collection
		}
		require.NoError(t, err)
	}
	g := dynamicConfig(n.RelayURL())
	ctl, err := runtimecfg.New(t.Context(), db, runtimecfg.FromConfig(g), nil)
	require.NoError(t, err)
	cfg := testConfig()
	cfg.RecrawlInterval = time.Hour
	src, err := NewFactory().Create(t.Context(), pipeline.Settings{
		ID: pipeline.ID{Type: Type}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Resources: []any{g, db, atprotoUA, ctl},
	}, cfg, nil)
	require.NoError(t, err)
	start(t, src.(*Source))
	require.Empty(t, trackedDIDs(t, db), "no signal collection: idle")

	_, err = ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, []string{testnet.CollectionFollow.String()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return src.(*Source).Stats().Passes == 1 }, waitFor, time.Millisecond)
	require.Equal(t, didsOf(follows), trackedDIDs(t, db))

	_, err = ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, []string{testnet.CollectionFollow.String(), other})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return src.(*Source).Stats().Passes == 2 }, waitFor, time.Millisecond)
	require.ElementsMatch(t, append(didsOf(follows), didsOf(others)...), trackedDIDs(t, db))
}
