package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/mattn/go-sqlite3"    // the "sqlite3" driver

	"github.com/tapkit/tap/plugins/sdk"
)

// sink mirrors records into a SQL database. It implements sdk.Sink.
//
// Each batch is applied in one transaction, which also records, per DID,
// the id of the last event applied and of the last live event applied
// (mirror_progress). An event that was applied already is skipped (see
// applier.event), so at-least-once delivery applies each event exactly
// once in effect.
type sink struct {
	cfg config
	db  *sql.DB

	// mu serializes the batches: a batch reads and writes the progress
	// of its DIDs, so two concurrent batches must not interleave.
	mu sync.Mutex
}

var _ sdk.Sink = (*sink)(nil)

// Configure opens the database and creates the tables if missing.
func (s *sink) Configure(ctx context.Context, m map[string]any) error {
	cfg, err := parseConfig(m)
	if err != nil {
		return fmt.Errorf("sqlmirror plugin: %w", err)
	}
	db, err := sql.Open(cfg.driver, cfg.dsn)
	if err != nil {
		return fmt.Errorf("sqlmirror plugin: %w", err)
	}
	if cfg.dialect == sqlite {
		db.SetMaxOpenConns(1) // one writer; batches are serialized anyway
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("sqlmirror plugin: connecting: %w", err)
	}
	if err := createSchema(ctx, db, cfg.dialect); err != nil {
		db.Close()
		return fmt.Errorf("sqlmirror plugin: %w", err)
	}
	s.cfg, s.db = cfg, db
	return nil
}

// Deliver applies the batch in one transaction. A database error rolls it
// back and answers Retry for every event; an event that cannot be applied
// (no DID, unknown type or action) answers Failed and changes nothing.
func (s *sink) Deliver(ctx context.Context, batch []sdk.Event) []sdk.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.apply(ctx, batch)
	if err != nil {
		for i := range batch {
			res[i] = sdk.RetryLater(err.Error())
		}
	}
	return res
}

// apply runs the batch's transaction.
func (s *sink) apply(ctx context.Context, batch []sdk.Event) (res []sdk.Result, err error) {
	res = make([]sdk.Result, len(batch))
	if s.db == nil {
		return res, errors.New("not configured")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	a := &applier{tx: tx, d: s.cfg.dialect, prog: map[string]progress{}, dirty: map[string]bool{}}
	for i, ev := range batch {
		res[i], err = a.event(ctx, ev)
		if err != nil {
			return res, fmt.Errorf("event %d: %w", ev.ID, err)
		}
	}
	if err = a.saveProgress(ctx); err != nil {
		return res, err
	}
	if err = tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// Shutdown closes the database.
func (s *sink) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}
