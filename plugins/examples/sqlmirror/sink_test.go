package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapkit/tap/plugins/sdk"
)

// freshPostgres creates a uniquely named database on the server of
// adminURL and returns its URL; the database is dropped in Cleanup.
func freshPostgres(t *testing.T, adminURL string) string {
	t.Helper()
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	name := "tap_sqlmirror_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// forEachDB runs f on SQLite (in t.TempDir()) and on Postgres when
// TAP_TEST_POSTGRES_URL is set (in a fresh database, dropped at the end).
func forEachDB(t *testing.T, f func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite://"+filepath.Join(t.TempDir(), "mirror.db")) })
	t.Run("postgres", func(t *testing.T) {
		u := os.Getenv("TAP_TEST_POSTGRES_URL")
		if u == "" {
			t.Skip("TAP_TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): Postgres not tested")
		}
		f(t, freshPostgres(t, u))
	})
}

func rec(id uint64, did, action, coll, rkey, body string) sdk.Event {
	ev := sdk.Event{ID: id, Type: sdk.TypeRecord, DID: did, Live: true, Action: action, Collection: coll, RKey: rkey, Rev: "rev" + strconv.FormatUint(id, 10)}
	if action != "delete" {
		ev.CID, ev.Record = "cid"+strconv.FormatUint(id, 10), []byte(body)
	}
	return ev
}

func ident(id uint64, did, status string) sdk.Event {
	return sdk.Event{ID: id, Type: sdk.TypeIdentity, DID: did, Live: true, Status: status, IsActive: status == "active"}
}

func open(t *testing.T, dbURL string) *sink {
	t.Helper()
	s := &sink{}
	if err := s.Configure(context.Background(), map[string]any{"database_url": dbURL}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func deliver(t *testing.T, s *sink, batch ...sdk.Event) {
	t.Helper()
	for i, r := range s.Deliver(context.Background(), batch) {
		if r.Status != sdk.Acked {
			t.Fatalf("event %d: %v %s", batch[i].ID, r.Status, r.Message)
		}
	}
}

// rows returns the table as "did collection rkey cid rev record" lines.
func rows(t *testing.T, s *sink) []string {
	t.Helper()
	rs, err := s.db.Query(`SELECT did, collection, rkey, cid, rev, record FROM records`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var did, coll, rkey, cid, rev string
		var record sql.NullString
		if err := rs.Scan(&did, &coll, &rkey, &cid, &rev, &record); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{did, coll, rkey, cid, rev, strings.ReplaceAll(record.String, " ", "")}, " "))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func wantRows(t *testing.T, s *sink, want ...string) {
	t.Helper()
	got := rows(t, s)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records:\n got  %q\n want %q", got, want)
	}
}

const post = "app.bsky.feed.post"

func TestCreateUpdateDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		deliver(t, s,
			rec(1, "did:a", "create", post, "1", `{"text":"one"}`),
			rec(2, "did:a", "create", post, "2", `{"text":"two"}`),
			rec(3, "did:b", "create", post, "1", `{"text":"b"}`),
		)
		deliver(t, s,
			rec(4, "did:a", "update", post, "1", `{"text":"uno"}`),
			rec(5, "did:a", "delete", post, "2", ""),
			ident(6, "did:b", "active"),
		)
		wantRows(t, s,
			`did:a app.bsky.feed.post 1 cid4 rev4 {"text":"uno"}`,
			`did:b app.bsky.feed.post 1 cid3 rev3 {"text":"b"}`,
		)
	})
}

func TestRedeliveryIsANoOp(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		first := []sdk.Event{
			rec(1, "did:a", "create", post, "1", `{"text":"one"}`),
			rec(2, "did:a", "update", post, "1", `{"text":"two"}`),
		}
		deliver(t, s, first...)
		deliver(t, s, rec(3, "did:a", "delete", post, "1", ""))
		// The first batch again: the update must not resurrect the record.
		deliver(t, s, first...)
		wantRows(t, s)
		// A batch partly applied already: only the new event counts.
		deliver(t, s, rec(3, "did:a", "delete", post, "1", ""), rec(4, "did:a", "create", post, "9", `{}`))
		wantRows(t, s, `did:a app.bsky.feed.post 9 cid4 rev4 {}`)
		// Same within one batch.
		deliver(t, s, rec(5, "did:b", "create", post, "1", `{"v":5}`), rec(5, "did:b", "create", post, "1", `{"v":5}`), rec(6, "did:b", "delete", post, "1", ""), rec(5, "did:b", "create", post, "1", `{"v":5}`))
		wantRows(t, s, `did:a app.bsky.feed.post 9 cid4 rev4 {}`)
	})
}

func TestProgressSurvivesRestart(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		deliver(t, s, rec(1, "did:a", "create", post, "1", `{}`), rec(2, "did:a", "delete", post, "1", ""))
		_ = s.Shutdown(context.Background())
		s = open(t, dbURL) // the plugin restarted; tap redelivers
		deliver(t, s, rec(1, "did:a", "create", post, "1", `{}`))
		wantRows(t, s)
	})
}

func TestDeletedAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		deliver(t, s,
			rec(1, "did:a", "create", post, "1", `{}`),
			rec(2, "did:a", "create", "app.bsky.feed.like", "2", `{}`),
			rec(3, "did:b", "create", post, "1", `{}`),
		)
		deliver(t, s, ident(4, "did:a", "deleted"), ident(5, "did:b", "deactivated"))
		wantRows(t, s, `did:b app.bsky.feed.post 1 cid3 rev3 {}`)
		deliver(t, s, rec(2, "did:a", "create", "app.bsky.feed.like", "2", `{}`)) // redelivered
		wantRows(t, s, `did:b app.bsky.feed.post 1 cid3 rev3 {}`)
	})
}

func TestBadEventsFail(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		res := s.Deliver(context.Background(), []sdk.Event{
			rec(1, "", "create", post, "1", `{}`),
			rec(2, "did:a", "frobnicate", post, "1", `{}`),
			{ID: 3, Type: "weird", DID: "did:a"},
			rec(4, "did:a", "create", post, "1", `{}`),
		})
		want := []sdk.ResultStatus{sdk.Failed, sdk.Failed, sdk.Failed, sdk.Acked}
		for i, r := range res {
			if r.Status != want[i] {
				t.Errorf("event %d: %v (%s), want %v", i+1, r.Status, r.Message, want[i])
			}
		}
		wantRows(t, s, `did:a app.bsky.feed.post 1 cid4 rev4 {}`)
	})
}

func TestDatabaseErrorRetriesTheBatch(t *testing.T) {
	s := open(t, "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
	if _, err := s.db.Exec(`DROP TABLE mirror_progress`); err != nil {
		t.Fatal(err)
	}
	res := s.Deliver(context.Background(), []sdk.Event{rec(1, "did:a", "create", post, "1", `{}`), rec(2, "did:b", "create", post, "1", `{}`)})
	for i, r := range res {
		if r.Status != sdk.Retry || r.Message == "" {
			t.Errorf("event %d: %v %q, want retry with a message", i+1, r.Status, r.Message)
		}
	}
	wantRows(t, s) // rolled back
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []map[string]any{
		nil,
		{},
		{"database_url": 3},
		{"database_url": ""},
		{"database_url": "mysql://x"},
		{"database_url": "sqlite://"},
		{"database_url": "sqlite:///tmp/x.db?mode=ro"},
		{"database_url": "sqlite:///nonexistent-dir/x/y.db"},
		{"database_url": "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
		{"database_url": "sqlite:///tmp/x.db", "extra": true},
	} {
		s := &sink{}
		if err := s.Configure(context.Background(), cfg); err == nil {
			_ = s.Shutdown(context.Background())
			t.Errorf("Configure(%v) succeeded", cfg)
		}
	}
}

func historical(ev sdk.Event) sdk.Event {
	ev.Live = false
	return ev
}

// TestHistoricalOutOfOrder: historical events of a DID may be in flight
// together, so one can be redelivered after a later one was applied; it
// must still be applied. Once a live event is applied, nothing before it
// is applied again.
func TestHistoricalOutOfOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL string) {
		s := open(t, dbURL)
		h1 := historical(rec(1, "did:a", "create", post, "1", `{}`))
		h2 := historical(rec(2, "did:a", "create", post, "2", `{}`))
		deliver(t, s, h2) // h1's batch failed and comes later
		deliver(t, s, h1)
		deliver(t, s, h2, h1) // both redelivered: harmless
		wantRows(t, s,
			`did:a app.bsky.feed.post 1 cid1 rev1 {}`,
			`did:a app.bsky.feed.post 2 cid2 rev2 {}`,
		)
		deliver(t, s, rec(3, "did:a", "delete", post, "1", ""))
		deliver(t, s, h1) // redelivered after the live delete: skipped
		wantRows(t, s, `did:a app.bsky.feed.post 2 cid2 rev2 {}`)
	})
}
