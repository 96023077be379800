package store

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// pgMigrationLockKey is the Postgres advisory lock held while migrating ("tapmigr" in ASCII).
const pgMigrationLockKey int64 = 0x7461706d69677200

// openPostgres opens a pgx pool for url and checks that the server answers.
func openPostgres(ctx context.Context, url string, maxConns int) (*bun.DB, error) {
	sqldb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	configurePool(sqldb, maxConns)
	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, err
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// withPgMigrationLock runs fn while holding a session-level advisory lock, so that tap
// processes starting together against one database migrate one after the other. Unlike
// bun's row-based migrate lock, the server releases it when a crashed process's session
// ends, so a kill -9 during migration cannot wedge later startups.
func withPgMigrationLock(ctx context.Context, db *bun.DB, fn func() error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", pgMigrationLockKey); err != nil {
		return fmt.Errorf("acquire migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx was cancelled.
		_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", pgMigrationLockKey)
		if uerr != nil && err == nil {
			err = fmt.Errorf("release migration lock: %w", uerr)
		}
	}()
	return fn()
}
