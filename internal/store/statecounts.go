package store

import (
	"context"
	"fmt"
)

// CountReposByState returns the number of tracked repos in each state; every
// state tap writes is present, zero when no repo is in it. A state tap does
// not write (from a foreign database) is counted under its own name.
func (db *DB) CountReposByState(ctx context.Context) (map[RepoState]int64, error) {
	var rows []struct {
		State RepoState `bun:"state"`
		N     int64     `bun:"n"`
	}
	err := db.bun.NewSelect().Model((*Repo)(nil)).
		ColumnExpr("state").ColumnExpr("count(*) AS n").
		Group("state").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count repos by state: %w", err)
	}
	out := make(map[RepoState]int64, len(repoStates))
	for _, st := range repoStates {
		out[st] = 0
	}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}
