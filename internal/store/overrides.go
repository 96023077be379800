package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// overrideKeyPrefix prefixes the tap_meta keys of runtime overrides, so that they cannot
// collide with other durable settings (migration 0003 made tap_meta for these and the
// event-id high-water mark).
const overrideKeyPrefix = "override."

// GetOverride returns the list set at runtime (through the admin API) for the setting name,
// and whether one is set. A set override may be an empty list, which differs from none.
func (db *DB) GetOverride(ctx context.Context, name string) ([]string, bool, error) {
	raw, ok, err := db.GetMeta(ctx, overrideKeyPrefix+name)
	if err != nil || !ok {
		return nil, false, err
	}
	var list []string
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, false, fmt.Errorf("override %q: stored value %q is not a JSON list of strings: %w", name, raw, err)
	}
	if list == nil {
		list = []string{}
	}
	return list, true, nil
}

// SetOverride stores list as the runtime value of the setting name, replacing any previous
// one; it wins over the configuration until DeleteOverride.
func (db *DB) SetOverride(ctx context.Context, name string, list []string) error {
	if list == nil {
		list = []string{}
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("override %q: %w", name, err)
	}
	return db.SetMeta(ctx, overrideKeyPrefix+name, string(raw))
}

// DeleteOverride removes the runtime value of the setting name (the configuration applies
// again). Deleting an override that is not set is a no-op.
func (db *DB) DeleteOverride(ctx context.Context, name string) error {
	_, err := db.bun.NewDelete().Model((*Meta)(nil)).
		Where("? = ?", bun.Ident("key"), overrideKeyPrefix+name).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete override %q: %w", name, err)
	}
	return nil
}

// RequestResync queues a resync of every tracked repo among dids: a repo that is active, in
// error or desynchronized becomes desynchronized with retry_after cleared (a fetch worker
// claims it next, and its live commits are buffered meanwhile); a repo being fetched
// (resyncing) becomes desynchronized too, so that it is fetched once more after the running
// fetch (whose result may predate the request); a pending repo is already queued and stays
// so. It returns the tracked DIDs it queued and the DIDs that are not tracked, both in the
// order of dids, repeats dropped.
func (db *DB) RequestResync(ctx context.Context, dids []string) (queued, unknown []string, err error) {
	dids = uniq(dids)
	err = db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		queued, unknown = nil, nil
		known := make(map[string]bool, len(dids))
		for chunk := range slices.Chunk(dids, batchSize) {
			var found []string
			if err := tx.NewSelect().Model((*Repo)(nil)).Column("did").
				Where("did IN (?)", bun.List(chunk)).Scan(ctx, &found); err != nil {
				return err
			}
			for _, d := range found {
				known[d] = true
			}
			if _, err := tx.NewUpdate().Model((*Repo)(nil)).
				Set("state = ?", RepoStateDesynchronized).Set("error_msg = ?", "resync requested").
				Set("retry_after = 0").
				Where("did IN (?)", bun.List(chunk)).Where("state <> ?", RepoStatePending).
				Exec(ctx); err != nil {
				return err
			}
		}
		for _, d := range dids {
			if known[d] {
				queued = append(queued, d)
			} else {
				unknown = append(unknown, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("request resync: %w", err)
	}
	return queued, unknown, nil
}

// uniq returns values without repeats, first occurrences kept in order.
func uniq(values []string) []string {
	seen := make(map[string]bool, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
