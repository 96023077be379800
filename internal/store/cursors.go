package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetFirehoseCursor returns the saved firehose seq for the relay at url, or 0 if none was
// saved.
func (db *DB) GetFirehoseCursor(ctx context.Context, url string) (int64, error) {
	var c FirehoseCursor
	err := db.bun.NewSelect().Model(&c).Where("url = ?", url).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get firehose cursor: %w", err)
	}
	return c.Cursor, nil
}

// SaveFirehoseCursor stores seq as the firehose cursor of the relay at url.
func (db *DB) SaveFirehoseCursor(ctx context.Context, url string, seq int64) error {
	_, err := db.bun.NewInsert().Model(&FirehoseCursor{URL: url, Cursor: seq}).
		On("CONFLICT (url) DO UPDATE").
		Set("cursor = EXCLUDED.cursor").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("save firehose cursor: %w", err)
	}
	return nil
}

// GetListReposCursor returns the saved full-network crawl cursor for the relay at url, or ""
// if none was saved.
func (db *DB) GetListReposCursor(ctx context.Context, url string) (string, error) {
	var c ListReposCursor
	err := db.bun.NewSelect().Model(&c).Where("url = ?", url).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get listRepos cursor: %w", err)
	}
	return c.Cursor, nil
}

// SaveListReposCursor stores cursor as the full-network crawl cursor of the relay at url.
func (db *DB) SaveListReposCursor(ctx context.Context, url, cursor string) error {
	_, err := db.bun.NewInsert().Model(&ListReposCursor{URL: url, Cursor: cursor}).
		On("CONFLICT (url) DO UPDATE").
		Set("cursor = EXCLUDED.cursor").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("save listRepos cursor: %w", err)
	}
	return nil
}

// GetCollectionCursor returns the saved signal-collection crawl cursor of collection at the
// relay url, or "" if none was saved.
func (db *DB) GetCollectionCursor(ctx context.Context, url, collection string) (string, error) {
	var c CollectionCursor
	err := db.bun.NewSelect().Model(&c).
		Where("url = ?", url).
		Where("collection = ?", collection).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get collection cursor: %w", err)
	}
	return c.Cursor, nil
}

// SaveCollectionCursor stores cursor as the signal-collection crawl cursor of collection at
// the relay url.
func (db *DB) SaveCollectionCursor(ctx context.Context, url, collection, cursor string) error {
	_, err := db.bun.NewInsert().Model(&CollectionCursor{URL: url, Collection: collection, Cursor: cursor}).
		On("CONFLICT (url, collection) DO UPDATE").
		Set("cursor = EXCLUDED.cursor").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("save collection cursor: %w", err)
	}
	return nil
}
