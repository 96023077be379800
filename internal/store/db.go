package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// DefaultMaxConns is the connection pool size used when Options.MaxConns is zero.
const DefaultMaxConns = 32

// connMaxIdleTime is how long an idle pooled connection is kept open.
const connMaxIdleTime = time.Hour

// URL scheme prefixes accepted by Open.
const (
	schemeSQLite     = "sqlite://"
	schemePostgres   = "postgres://"
	schemePostgreSQL = "postgresql://"
)

// Dialect names the database backend of a DB.
type Dialect string

// Backends a DB can run on.
const (
	// DialectSQLite is SQLite through mattn/go-sqlite3 (cgo).
	DialectSQLite Dialect = "sqlite"
	// DialectPostgres is Postgres through pgx.
	DialectPostgres Dialect = "postgres"
)

// Options configures Open.
type Options struct {
	// MaxConns bounds the connection pool: at most MaxConns open and MaxConns idle
	// connections, each closed after an hour idle. Zero means DefaultMaxConns. It applies to
	// Postgres (TAP_MAX_DB_CONNS) and to file-backed SQLite; an in-memory SQLite database uses
	// one connection.
	MaxConns int
	// Logger receives startup messages (dialect, redacted URL, migrations applied). Nil
	// discards them.
	Logger *slog.Logger
}

// DB is an open, migrated tap database. It is safe for concurrent use.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	log     *slog.Logger
	// repoHead is the prepared statement of GetRepoHead.
	repoHead *sql.Stmt
	// stmtCache holds the prepared statements of the hot paths (stmts.go).
	stmtCache stmtCache
}

// Open connects to the database named by url, applies every pending migration and returns
// the ready store. url is sqlite://PATH (PATH is everything after the scheme, e.g.
// sqlite://./tap.db or sqlite:///var/lib/tap.db) or a postgres:// / postgresql:// URL passed
// to pgx. Errors never contain the URL's password.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	var (
		bdb     *bun.DB
		dialect Dialect
		err     error
	)
	switch {
	case url == "":
		return nil, ErrEmptyURL
	case strings.HasPrefix(url, schemeSQLite):
		dialect = DialectSQLite
		bdb, err = openSQLite(strings.TrimPrefix(url, schemeSQLite), opts.MaxConns)
	case strings.HasPrefix(url, schemePostgres), strings.HasPrefix(url, schemePostgreSQL):
		dialect = DialectPostgres
		bdb, err = openPostgres(ctx, url, opts.MaxConns)
	default:
		return nil, fmt.Errorf("%w (got %q)", ErrUnsupportedScheme, RedactURL(url))
	}
	if err != nil {
		return nil, scrubError(fmt.Errorf("open %s database %s: %w", dialect, RedactURL(url), err), url)
	}
	db := &DB{bun: bdb, dialect: dialect, log: log}
	applied, err := db.migrate(ctx)
	if err != nil {
		_ = bdb.Close()
		return nil, scrubError(fmt.Errorf("migrate %s database %s: %w", dialect, RedactURL(url), err), url)
	}
	if err := db.prepareRepoHead(ctx); err != nil {
		_ = bdb.Close()
		return nil, scrubError(fmt.Errorf("%s database %s: %w", dialect, RedactURL(url), err), url)
	}
	log.Info("database ready", "dialect", dialect, "url", RedactURL(url), "migrations_applied", applied)
	return db, nil
}

// Close closes the prepared statements and every pooled connection.
func (db *DB) Close() error {
	return errors.Join(db.repoHead.Close(), db.stmtCache.close(), db.bun.Close())
}

// Bun returns the underlying bun handle, for queries this package does not provide.
func (db *DB) Bun() *bun.DB {
	return db.bun
}

// Dialect reports which backend db runs on.
func (db *DB) Dialect() Dialect {
	return db.dialect
}

// configurePool applies tap's pool limits to sqldb.
func configurePool(sqldb *sql.DB, maxConns int) {
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxIdleTime(connMaxIdleTime)
}
