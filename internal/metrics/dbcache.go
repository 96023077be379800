package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/tapkit/tap/internal/store"
)

// dbCacheTTL is how long database counts are reused across scrapes.
const dbCacheTTL = 2 * time.Second

// dbQueryTimeout bounds the count queries of one scrape.
const dbQueryTimeout = 5 * time.Second

// DB is what the metrics read from the database (*store.DB).
type DB interface {
	CountReposByState(ctx context.Context) (map[store.RepoState]int64, error)
	CountOutbox(ctx context.Context) (int64, error)
}

// dbCounts are the database's counts at one time.
type dbCounts struct {
	repos  map[store.RepoState]int64
	outbox int64
}

// dbCache queries the counts at most once per dbCacheTTL; concurrent
// scrapes share one query.
type dbCache struct {
	db DB

	mu   sync.Mutex
	at   time.Time
	last dbCounts
}

func newDBCache(db DB) *dbCache { return &dbCache{db: db} }

// get returns counts at most dbCacheTTL old.
func (c *dbCache) get() (dbCounts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < dbCacheTTL {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbQueryTimeout)
	defer cancel()
	repos, err := c.db.CountReposByState(ctx)
	if err != nil {
		return dbCounts{}, err
	}
	outbox, err := c.db.CountOutbox(ctx)
	if err != nil {
		return dbCounts{}, err
	}
	c.last, c.at = dbCounts{repos: repos, outbox: outbox}, time.Now()
	return c.last, nil
}
