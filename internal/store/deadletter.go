package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// DeadLetter is an event a sink gave up on after too many failed attempts (table
// webhook_dead_letters, added by tap for the webhook sink's opt-in dead_letter_after). The
// event counts as delivered once its row is written; an operator can inspect and replay it.
type DeadLetter struct {
	bun.BaseModel `bun:"table:webhook_dead_letters"`

	// ID is the event id (outbox_buffers.id); an event is dead-lettered at most once.
	ID int64 `bun:"id,pk"`
	// DID is the repo the event belongs to.
	DID string `bun:"did,notnull"`
	// Data is the event JSON, exactly as it would have been delivered.
	Data string `bun:"data,notnull"`
	// Attempts is how many deliveries failed before the event was given up on.
	Attempts int `bun:"attempts,notnull"`
	// LastError describes the last failure (HTTP status and body excerpt, or transport error).
	LastError string `bun:"last_error,notnull"`
	// CreatedAt is when the event was first dead-lettered (UTC).
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// deadLetterInsertRows bounds the rows of one INSERT (6 bound values each) well below
// SQLite's limit of bound variables.
const deadLetterInsertRows = 1000

// deadLetterSchema is migration 0004: the webhook sink's dead-letter table, keyed by event id.
func deadLetterSchema(d Dialect) []string {
	int64T, timeT := "integer", "timestamp"
	if d == DialectPostgres {
		int64T, timeT = "bigint", "timestamptz"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS webhook_dead_letters (
			id ` + int64T + ` NOT NULL PRIMARY KEY,
			did text NOT NULL,
			data text NOT NULL,
			attempts ` + int64T + ` NOT NULL,
			last_error text NOT NULL,
			created_at ` + timeT + ` NOT NULL)`,
	}
}

// AddDeadLetters stores rows in one transaction. A row whose event id is already stored
// (the event was redelivered after a restart and failed again) keeps its created_at and
// takes the new data, attempts and last_error. A zero CreatedAt means now.
func (db *DB) AddDeadLetters(ctx context.Context, rows []DeadLetter) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now().UTC()
	for i := range rows {
		if rows[i].CreatedAt.IsZero() {
			rows[i].CreatedAt = now
		}
		rows[i].CreatedAt = rows[i].CreatedAt.UTC()
	}
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for lo := 0; lo < len(rows); lo += deadLetterInsertRows {
			part := rows[lo:min(lo+deadLetterInsertRows, len(rows))]
			_, err := tx.NewInsert().Model(&part).
				On("CONFLICT (?) DO UPDATE", bun.Ident("id")).
				Set("? = EXCLUDED.?", bun.Ident("data"), bun.Ident("data")).
				Set("? = EXCLUDED.?", bun.Ident("attempts"), bun.Ident("attempts")).
				Set("? = EXCLUDED.?", bun.Ident("last_error"), bun.Ident("last_error")).
				Exec(ctx)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d dead letters: %w", len(rows), err)
	}
	return nil
}

// ListDeadLetters returns up to limit dead letters with an id above afterID, in id order;
// page by passing the last id seen.
func (db *DB) ListDeadLetters(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error) {
	var rows []DeadLetter
	err := db.bun.NewSelect().Model(&rows).Where("id > ?", afterID).Order("id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return rows, nil
}
