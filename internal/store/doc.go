// Package store is tap's database layer: bun models of the reference Tap's tables, versioned
// migrations, and the queries the rest of tap needs, on SQLite or Postgres chosen by one URL.
//
// The schema is a superset of the reference Tap's (tables repos, repo_records, outbox_buffers,
// resync_buffers, firehose_cursors, list_repos_cursors, collection_cursors; same column names),
// so a database created by the reference opens, migrates and resumes. What tap adds is kept
// small and lives in migrations.go:
//
//   - idx_repos_state_did(state, did): pages repos by state in DID order (GET /repos).
//   - tap_meta(key, value): durable key/value settings (event-id high-water mark, runtime
//     filters).
//   - webhook_dead_letters: events the webhook sink gave up on (opt-in dead_letter_after).
//   - tap_migrations, tap_migration_locks: bookkeeping of bun/migrate.
//
// Nullable columns of the reference (repos.handle, rev, prev_data, error_msg) read as "" when
// NULL.
//
// SQLite pragmas (WAL, synchronous=NORMAL, busy timeout, ...) are applied to every pooled
// connection, not only to the first one as the reference did. See sqlite.go.
package store

import "errors"

var (
	// ErrNotFound is returned (possibly wrapped) when the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrEmptyURL is returned by Open when the database URL is empty.
	ErrEmptyURL = errors.New("database URL is empty: set TAP_DATABASE_URL (e.g. sqlite://./tap.db)")
	// ErrUnsupportedScheme is returned by Open for a URL that is neither sqlite nor postgres.
	ErrUnsupportedScheme = errors.New("unsupported database URL scheme: must start with sqlite://, postgres://, or postgresql://")
	// ErrEmptyPath is returned by Open for a sqlite:// URL without a path.
	ErrEmptyPath = errors.New("sqlite:// URL has an empty path (e.g. sqlite://./tap.db)")
)
