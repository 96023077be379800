package store_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestMigrationNames(t *testing.T) {
	require.Equal(t, []string{
		"0001_reference_schema",
		"0002_repos_state_did_index",
		"0003_tap_meta",
		"0004_webhook_dead_letters",
	}, store.MigrationNames())
}

// TestMigrationsIdempotent opens the same database twice: the second Open applies nothing,
// and data written in between survives.
func TestMigrationsIdempotent(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, u string) {
		db := storetest.Open(t, u)
		_, err := db.AddRepos(t.Context(), []string{"did:plc:a"})
		require.NoError(t, err)
		require.NoError(t, db.Close())

		db = storetest.Open(t, u)
		requireTotal(t, 1, db.CountRepos)
		require.Equal(t, store.MigrationNames(), appliedMigrations(t, db))
		requireSchema(t, db)
	})
}

// TestMigrationsConcurrentOpen starts several processes' worth of Open at once on one fresh
// database: all succeed and every migration is recorded once.
func TestMigrationsConcurrentOpen(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, u string) {
		const n = 4
		dbs := make([]*store.DB, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { dbs[i], errs[i] = store.Open(t.Context(), u, store.Options{MaxConns: 2}) })
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			t.Cleanup(func() { require.NoError(t, dbs[i].Close()) })
		}
		require.Equal(t, store.MigrationNames(), appliedMigrations(t, dbs[0]))
	})
}

// appliedMigrations returns the names recorded in tap_migrations, in name order.
func appliedMigrations(t *testing.T, db *store.DB) []string {
	t.Helper()
	var names []string
	err := db.Bun().NewSelect().Table("tap_migrations").Column("name").Order("name").Scan(t.Context(), &names)
	require.NoError(t, err)
	return names
}

// requireSchema checks that every table and index of the schema exists.
func requireSchema(t *testing.T, db *store.DB) {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'`
	if db.Dialect() == store.DialectPostgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
			UNION SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`
	}
	var names []string
	require.NoError(t, db.Bun().NewRaw(q).Scan(t.Context(), &names))
	for _, want := range []string{
		"repos", "repo_records", "outbox_buffers", "resync_buffers", "firehose_cursors",
		"list_repos_cursors", "collection_cursors", "tap_meta", "webhook_dead_letters", "tap_migrations",
		"tap_migration_locks", "idx_repos_state_retry", "idx_resync_buffers_did", "idx_repos_state_did",
	} {
		require.Contains(t, names, want)
	}
}
