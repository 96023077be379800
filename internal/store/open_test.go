package store_test

import (
	"bytes"
	"database/sql"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestOpenBadURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want error
	}{
		{"", store.ErrEmptyURL},
		{"./tap.db", store.ErrUnsupportedScheme},
		{"mysql://root:pw@127.0.0.1/tap", store.ErrUnsupportedScheme},
		{"sqlite:", store.ErrUnsupportedScheme},
		{"SQLITE://tap.db", store.ErrUnsupportedScheme},
		{"sqlite://", store.ErrEmptyPath},
	} {
		_, err := store.Open(t.Context(), tc.url, store.Options{})
		require.ErrorIs(t, err, tc.want, "url %q", tc.url)
		require.NotContains(t, err.Error(), ":pw@", "url %q", tc.url)
	}
	_, err := store.Open(t.Context(), "mysql://x", store.Options{})
	require.ErrorContains(t, err,
		"unsupported database URL scheme: must start with sqlite://, postgres://, or postgresql://")
}

func TestOpenErrorsHidePassword(t *testing.T) {
	for _, tc := range []struct{ url, secret string }{
		// Nothing listens on port 1 of loopback: the connection is refused at once.
		{"postgres://tap:hunter2@127.0.0.1:1/tap?sslmode=disable", "hunter2"},
		{"postgresql://tap:s3cr%40t@127.0.0.1:1/tap?sslmode=disable", "s3cr"},
		{"postgres://tap@127.0.0.1:1/tap?sslmode=disable&password=hunter3", "hunter3"},
		{"postgres://tap:hunter4@127.0.0.1:notaport/tap", "hunter4"},
		{"postgres://tap:hun ter5@127.0.0.1:1/tap", "hun ter5"},
		{"mysql://tap:hunter6@127.0.0.1/tap", "hunter6"},
	} {
		var logs bytes.Buffer
		_, err := store.Open(t.Context(), tc.url, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.Error(t, err, tc.url)
		t.Logf("%s: %v", store.RedactURL(tc.url), err)
		require.NotContains(t, err.Error(), tc.secret, "error of %q", tc.url)
		require.NotContains(t, logs.String(), tc.secret, "logs of %q", tc.url)
	}
}

func TestOpenLogsRedactedURL(t *testing.T) {
	fresh := storetest.PostgresURL(t)
	u, err := url.Parse(fresh)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "hunter7") // trust auth ignores it
	var logs bytes.Buffer
	db, err := store.Open(t.Context(), u.String(), store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.Contains(t, logs.String(), "database ready")
	require.Contains(t, logs.String(), "xxxxx")
	require.NotContains(t, logs.String(), "hunter7")
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite://./tap.db":                                   "sqlite://./tap.db",
		"postgres://tap@db:5432/tap":                          "postgres://tap@db:5432/tap",
		"postgres://tap:pw@db:5432/tap?sslmode=disable":       "postgres://tap:xxxxx@db:5432/tap?sslmode=disable",
		"postgresql://tap:p%40ss@db/tap":                      "postgresql://tap:xxxxx@db/tap",
		"postgres://tap:p@ss@db/tap":                          "postgres://tap:xxxxx@db/tap",
		"postgres://tap:p/ss@db/tap":                          "postgres://tap:xxxxx@db/tap",
		"postgres://db/tap?user=tap&password=pw&sslmode=true": "postgres://db/tap?user=tap&password=xxxxx&sslmode=true",
		"postgres://tap:bad pw@db:x/tap":                      "postgres://tap:xxxxx@db:x/tap",
		"":                                                    "",
	} {
		require.Equal(t, want, store.RedactURL(in), "RedactURL(%q)", in)
	}
}

// TestSQLitePragmasOnEveryConnection holds several pooled connections at once (so they are
// distinct) and checks every pragma on each, concurrently.
func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx := t.Context()
	const n = 8
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Bun().DB.Conn(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		conns[i] = c
	}
	want := map[string]string{
		"busy_timeout": "10000", "journal_mode": "wal", "synchronous": "1", // NORMAL
		"temp_store": "2", // MEMORY
		"cache_size": "-2000", "foreign_keys": "0", "wal_autocheckpoint": "3000",
	}
	var wg sync.WaitGroup
	got := make([]map[string]string, n)
	errs := make([]error, n)
	for i, c := range conns {
		wg.Go(func() { got[i], errs[i] = pragmas(t, c, want) })
	}
	wg.Wait()
	for i := range conns {
		require.NoError(t, errs[i])
		require.Equal(t, want, got[i], "connection %d", i)
	}
}

// pragmas reads every pragma named in want on c.
func pragmas(t *testing.T, c *sql.Conn, want map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for name := range want {
		var v string
		if err := c.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
			return nil, err
		}
		out[name] = strings.ToLower(v)
	}
	return out, nil
}

func TestSQLiteInMemory(t *testing.T) {
	for _, u := range []string{"sqlite://:memory:", "sqlite://file::memory:?cache=shared"} {
		db := storetest.Open(t, u)
		_, err := db.AddRepos(t.Context(), dids("mem", 10))
		require.NoError(t, err)
		requireTotal(t, 10, db.CountRepos)
	}
}

func TestSQLiteConcurrentWrites(t *testing.T) {
	db := storetest.OpenSQLite(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			for j := range 20 {
				_, errs[i] = db.AddRepos(t.Context(), dids(string(rune('a'+i))+string(rune('a'+j)), 50))
				if errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	requireTotal(t, 8*20*50, db.CountRepos)
}

func TestDialect(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, u string) {
		want := store.DialectSQLite
		if strings.HasPrefix(u, "postgres") {
			want = store.DialectPostgres
		}
		require.Equal(t, want, storetest.Open(t, u).Dialect())
	})
}
