package store

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// sqliteDriverName is the database/sql driver registered with our per-connection pragmas.
const sqliteDriverName = "tap_sqlite3"

// sqlitePragmas are executed, in order, on every new SQLite connection of the pool (the
// reference Tap ran them once through the pool, so they reached one connection only).
// busy_timeout comes first so that switching to WAL waits for other connections' locks.
var sqlitePragmas = []string{
	"busy_timeout = 10000",
	"journal_mode = WAL",
	"synchronous = NORMAL",
	"temp_store = MEMORY",
	"cache_size = -2000", // KiB per connection: the OS page cache holds the file anyway
	"foreign_keys = OFF",
	"wal_autocheckpoint = 3000",
}

var registerSQLiteOnce sync.Once

// registerSQLite registers the sqlite driver whose ConnectHook applies sqlitePragmas.
func registerSQLite() {
	registerSQLiteOnce.Do(func() {
		sql.Register(sqliteDriverName, &sqlite3.SQLiteDriver{ConnectHook: applyPragmas})
	})
}

// applyPragmas runs sqlitePragmas on a fresh connection.
func applyPragmas(conn *sqlite3.SQLiteConn) error {
	for _, p := range sqlitePragmas {
		if _, err := conn.Exec("PRAGMA "+p, nil); err != nil {
			return fmt.Errorf("PRAGMA %s: %w", p, err)
		}
	}
	return nil
}

// openSQLite opens the SQLite database at path (everything after sqlite://).
//
// Every transaction begins IMMEDIATE (mattn's _txlock), taking the write lock up front and
// waiting for it under busy_timeout. A deferred transaction that reads and then writes can
// instead fail at once with SQLITE_BUSY in WAL mode, which no busy timeout retries.
func openSQLite(path string, maxConns int) (*bun.DB, error) {
	if path == "" {
		return nil, ErrEmptyPath
	}
	registerSQLite()
	sqldb, err := sql.Open(sqliteDriverName, sqliteDSN(path))
	if err != nil {
		return nil, err
	}
	if isMemoryPath(path) {
		// Each connection to :memory: is its own database, and closing the last connection
		// of a shared-cache one drops it: keep exactly one connection forever.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
	} else {
		configurePool(sqldb, maxConns)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// sqliteDSN appends tap's connection parameters to path.
func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_txlock=immediate"
}

// isMemoryPath reports whether path names an in-memory SQLite database.
func isMemoryPath(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") ||
		strings.Contains(path, "mode=memory")
}
