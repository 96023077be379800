// Package storetest gives tests a fresh tap database on every backend available: SQLite
// always (a new file under t.TempDir()), Postgres when TAP_TEST_POSTGRES_URL names a server
// where the test may create databases (each test gets its own, dropped afterwards).
//
//	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
//		n, err := db.AddRepos(t.Context(), []string{"did:plc:a"})
//		...
//	})
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/tapkit/tap/internal/store"
)

// PostgresURLEnv names the environment variable holding the admin URL of a Postgres server
// for tests, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresURLEnv = "TAP_TEST_POSTGRES_URL"

// Backend is a database backend tests can run against.
type Backend struct {
	// Name names the subtest: "sqlite" or "postgres".
	Name string
	// NewURL returns the URL of a fresh, empty database that is removed when t ends. It
	// skips t when the backend is not available.
	NewURL func(t testing.TB) string
}

// Backends returns every backend, SQLite first. Postgres is listed even when
// TAP_TEST_POSTGRES_URL is not set: its NewURL skips the test then, so that the skip is
// visible in test output.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", NewURL: SQLiteURL},
		{Name: "postgres", NewURL: PostgresURL},
	}
}

// ForEach runs fn as a subtest on a fresh, migrated database of every backend.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	ForEachURL(t, func(t *testing.T, url string) {
		fn(t, Open(t, url))
	})
}

// ForEachURL runs fn as a subtest with the URL of a fresh, empty (not yet migrated) database
// of every backend. Use it to prepare a database before store.Open sees it.
func ForEachURL(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, b.NewURL(t))
		})
	}
}

// Open opens url with store.Open and closes it when t ends. It fails t on error.
func Open(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatalf("storetest: open %s: %v", store.RedactURL(url), err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: close %s: %v", store.RedactURL(url), err)
		}
	})
	return db
}

// OpenSQLite returns a fresh, migrated SQLite store in t.TempDir(), closed when t ends.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	return Open(t, SQLiteURL(t))
}

// OpenPostgres returns a fresh, migrated store in a new Postgres database, closed and
// dropped when t ends. It skips t when TAP_TEST_POSTGRES_URL is not set.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	return Open(t, PostgresURL(t))
}

// SQLiteURL returns the sqlite:// URL of a new database file in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "tap.db")
}

// PostgresURL creates an empty database tap_test_<random> on the server named by
// TAP_TEST_POSTGRES_URL and returns its URL; the database is dropped (WITH (FORCE)) when t
// ends. It skips t when TAP_TEST_POSTGRES_URL is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresURLEnv)
	if admin == "" {
		t.Skip(PostgresURLEnv + " not set: skipping Postgres")
	}
	name := "tap_test_" + randomHex(t, 8)
	adminExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		adminExec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("storetest: %s is not a URL: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// adminExec runs stmt on the admin database over a connection of its own.
func adminExec(t testing.TB, admin, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", store.RedactURL(admin), err)
	}
	defer db.Close()
	// Not t.Context(): cleanups run after it is cancelled.
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("storetest: %s on %s: %v", stmt, store.RedactURL(admin), err)
	}
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}
