package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// schema returns the statements creating the tables, if missing.
func schema(d dialect) []string {
	jsonType := "TEXT"
	if d == postgres {
		jsonType = "JSONB"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS records (
			did TEXT NOT NULL,
			collection TEXT NOT NULL,
			rkey TEXT NOT NULL,
			cid TEXT NOT NULL,
			record ` + jsonType + `,
			rev TEXT NOT NULL,
			PRIMARY KEY (did, collection, rkey)
		)`,
		`CREATE TABLE IF NOT EXISTS mirror_progress (
			did TEXT PRIMARY KEY,
			last_id BIGINT NOT NULL,
			last_live_id BIGINT NOT NULL DEFAULT 0
		)`,
	}
}

// createSchema creates the tables.
func createSchema(ctx context.Context, db *sql.DB, d dialect) error {
	for _, q := range schema(d) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the schema: %w", err)
		}
	}
	return nil
}

// The statements, written with ? placeholders (see rebind).
const (
	qUpsert = `INSERT INTO records (did, collection, rkey, cid, record, rev) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (did, collection, rkey) DO UPDATE SET cid = excluded.cid, record = excluded.record, rev = excluded.rev`
	qDelete      = `DELETE FROM records WHERE did = ? AND collection = ? AND rkey = ?`
	qDeleteDID   = `DELETE FROM records WHERE did = ?`
	qProgress    = `SELECT last_id, last_live_id FROM mirror_progress WHERE did = ?`
	qSetProgress = `INSERT INTO mirror_progress (did, last_id, last_live_id) VALUES (?, ?, ?)
		ON CONFLICT (did) DO UPDATE SET last_id = excluded.last_id, last_live_id = excluded.last_live_id`
)

// rebind turns the ? placeholders of q into $1, $2, ... for Postgres.
func rebind(d dialect, q string) string {
	if d != postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
