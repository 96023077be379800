package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// GetMeta returns the value stored under key in tap_meta, and whether there was one.
func (db *DB) GetMeta(ctx context.Context, key string) (string, bool, error) {
	var m Meta
	err := db.bun.NewSelect().Model(&m).Where("? = ?", bun.Ident("key"), key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get meta %q: %w", key, err)
	}
	return m.Value, true, nil
}

// SetMeta stores value under key in tap_meta, replacing any previous value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := db.bun.NewInsert().Model(&Meta{Key: key, Value: value}).
		On("CONFLICT (?) DO UPDATE", bun.Ident("key")).
		Set("? = EXCLUDED.?", bun.Ident("value"), bun.Ident("value")).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}
