package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Bookkeeping tables of bun/migrate, prefixed so that they are clearly tap's.
const (
	migrationsTable      = "tap_migrations"
	migrationsLocksTable = "tap_migration_locks"
)

// schemaMigration is one forward-only step of the schema. Steps are applied in name order,
// each in its own transaction, and must be idempotent: a process killed after a step but
// before it was recorded runs the step again on the next start.
type schemaMigration struct {
	name string
	// ddl returns the statements of the step for a dialect.
	ddl func(Dialect) []string
}

// schemaMigrations is the full, ordered migration list. Append only; never edit a released
// step.
var schemaMigrations = []schemaMigration{
	// The reference Tap's schema as its gorm AutoMigrate creates it (spec B§7). Every
	// statement is IF NOT EXISTS, so a database the reference created is left as it is.
	{name: "0001_reference_schema", ddl: referenceSchema},
	// Pages GET /repos by state in DID order without scanning every repo.
	{name: "0002_repos_state_did_index", ddl: func(Dialect) []string {
		return []string{`CREATE INDEX IF NOT EXISTS idx_repos_state_did ON repos (state, did)`}
	}},
	// Durable key/value settings: the event-id high-water mark, runtime filters.
	{name: "0003_tap_meta", ddl: func(Dialect) []string {
		return []string{`CREATE TABLE IF NOT EXISTS tap_meta (key text NOT NULL PRIMARY KEY, value text NOT NULL)`}
	}},
	// Events the webhook sink gave up on (opt-in dead_letter_after); see deadletter.go.
	{name: "0004_webhook_dead_letters", ddl: deadLetterSchema},
}

// MigrationNames lists the names of every schema migration, in the order they apply.
func MigrationNames() []string {
	names := make([]string, len(schemaMigrations))
	for i, m := range schemaMigrations {
		names[i] = m.name
	}
	return names
}

// referenceSchema is migration 0001. Fresh databases get NOT NULL primary keys (SQLite would
// otherwise allow NULL keys) and an outbox id without a sequence (tap assigns ids); both are
// compatible with the reference's own DDL, which IF NOT EXISTS keeps when present.
func referenceSchema(d Dialect) []string {
	// int64 is the column type of Go int64/int fields, serial an auto-assigned bigint key.
	int64T, serialPK := "integer", "integer PRIMARY KEY AUTOINCREMENT"
	if d == DialectPostgres {
		int64T, serialPK = "bigint", "bigserial PRIMARY KEY"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS repos (
			did text NOT NULL PRIMARY KEY,
			state text NOT NULL DEFAULT 'pending',
			status text NOT NULL DEFAULT 'active',
			handle text,
			rev text,
			prev_data text,
			error_msg text,
			retry_count ` + int64T + ` NOT NULL DEFAULT 0,
			retry_after ` + int64T + ` NOT NULL DEFAULT 0)`,
		`CREATE INDEX IF NOT EXISTS idx_repos_state_retry ON repos (state, retry_after)`,
		`CREATE TABLE IF NOT EXISTS repo_records (
			did text NOT NULL,
			collection text NOT NULL,
			rkey text NOT NULL,
			cid text NOT NULL,
			PRIMARY KEY (did, collection, rkey))`,
		`CREATE TABLE IF NOT EXISTS outbox_buffers (
			id ` + int64T + ` NOT NULL PRIMARY KEY,
			did text NOT NULL,
			live boolean NOT NULL,
			data text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS resync_buffers (
			id ` + serialPK + `,
			did text NOT NULL,
			data text NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS idx_resync_buffers_did ON resync_buffers (did)`,
		`CREATE TABLE IF NOT EXISTS firehose_cursors (
			url text NOT NULL PRIMARY KEY,
			cursor ` + int64T + ` NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS list_repos_cursors (
			url text NOT NULL PRIMARY KEY,
			cursor text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS collection_cursors (
			url text NOT NULL,
			collection text NOT NULL,
			cursor text NOT NULL,
			PRIMARY KEY (url, collection))`,
	}
}

// newMigrations registers schemaMigrations for dialect d with bun/migrate (explicitly: no
// discovery of migration files).
func newMigrations(d Dialect) *migrate.Migrations {
	ms := migrate.NewMigrations()
	for _, sm := range schemaMigrations {
		stmts := sm.ddl(d)
		ms.Add(migrate.Migration{
			Name: sm.name,
			Up: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
				return execInTx(ctx, m.DB(), stmts)
			},
		})
	}
	return ms
}

// execInTx runs stmts in one transaction.
func execInTx(ctx context.Context, db *bun.DB, stmts []string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// migrate applies pending migrations and returns how many it applied. On Postgres it holds
// an advisory lock meanwhile; a second process waits, then finds nothing left to do.
func (db *DB) migrate(ctx context.Context) (int, error) {
	m := migrate.NewMigrator(db.bun, newMigrations(db.dialect),
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationsLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
		// A unique name index: concurrent SQLite openers cannot record a step twice.
		migrate.WithUpsert(true),
	)
	applied := 0
	run := func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("init migration tables: %w", err)
		}
		group, err := m.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, mig := range group.Migrations {
			db.log.Info("applied migration", "name", mig.Name)
		}
		applied = len(group.Migrations)
		return nil
	}
	var err error
	if db.dialect == DialectPostgres {
		err = withPgMigrationLock(ctx, db.bun, run)
	} else {
		err = run()
	}
	return applied, err
}
