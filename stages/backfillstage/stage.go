package backfillstage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the stage's type name in the configuration.
const Type = "backfill"

// NewFactory returns the backfill stage factory.
func NewFactory() pipeline.StageFactory {
	return pipeline.StageFactory{Type: Type, CreateDefaultConfig: defaultConfig, Create: create}
}

func create(_ context.Context, set pipeline.Settings, c any) (pipeline.Stage, error) {
	cfg := *c.(*Config)
	global, err := pipeline.Resource[*config.Config](set)
	if err != nil {
		return nil, err
	}
	db, err := pipeline.Resource[*store.DB](set)
	if err != nil {
		return nil, err
	}
	dir, err := pipeline.Resource[identity.Directory](set)
	if err != nil {
		return nil, err
	}
	if cfg.Parallelism == 0 {
		cfg.Parallelism = global.Backfill.Parallelism
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = global.Backfill.RepoFetchTimeout
	}
	if global.Outbox.Only {
		cfg.Parallelism = 0 // outbox-only: no fetching
	}
	s := &Stage{cfg: cfg, db: db, dir: dir, logger: set.Logger, hosts: map[string]time.Time{}}
	s.client = newHTTPClient()
	if ua, err := pipeline.Resource[atproto.UserAgent](set); err == nil {
		s.UserAgent = string(ua)
	}
	if o, err := pipeline.Resource[ResyncObserver](set); err == nil {
		s.observer = o
	}
	return s, nil
}

// Stats counts what the stage did.
type Stats struct {
	Buffered, Released, Discarded, Started, Completed, Failed, RateLimited atomic.Uint64
}

// Stage is the backfill stage.
type Stage struct {
	cfg    Config
	db     *store.DB
	dir    identity.Directory
	logger *slog.Logger
	client *http.Client
	submit func(context.Context, *pipeline.Event) error
	// UserAgent is sent with getRepo requests.
	UserAgent string
	// Stats are the stage's counters.
	Stats Stats
	// observer, when set, sees the duration of every resync.
	observer ResyncObserver

	hostsMu sync.Mutex
	hosts   map[string]time.Time // PDS host → backed off until

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Process gates events by repo state; see the package documentation.
func (s *Stage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	switch ev.Kind {
	case pipeline.KindCommit, pipeline.KindSync:
		r, err := s.db.GetRepoHead(ctx, ev.DID.String())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if r.State == store.RepoStateActive {
			return next(ctx, ev)
		}
		if ev.Kind == pipeline.KindSync {
			return nil
		}
		return s.buffer(ctx, ev)
	case pipeline.KindSnapshot:
		return s.snapshot(ctx, ev, next)
	}
	return next(ctx, ev)
}

// bufferedCommit is the resync_buffers.data format tap writes: the raw
// firehose commit, so it is verified when released. Rows in the reference
// Tap's format (already decoded ops) cannot be verified and are discarded.
type bufferedCommit struct {
	Version int    `json:"v"`
	Seq     int64  `json:"seq"`
	Commit  string `json:"commit"` // base64 DAG-CBOR of the #commit message
}

func (s *Stage) buffer(ctx context.Context, ev *pipeline.Event) error {
	var raw bytesWriter
	if err := ev.Commit.MarshalCBOR(&raw); err != nil {
		return pipeline.Permanent(fmt.Errorf("encoding commit for the resync buffer: %w", err))
	}
	data, err := json.Marshal(bufferedCommit{Version: 2, Seq: ev.Seq, Commit: base64.StdEncoding.EncodeToString(raw)})
	if err != nil {
		return pipeline.Permanent(err)
	}
	if err := s.db.BufferCommit(ctx, ev.DID.String(), string(data)); err != nil {
		return err
	}
	s.Stats.Buffered.Add(1)
	return nil
}

// snapshot passes a fetched repo on, then releases the buffered commits and
// marks the repo active. Errors are permanent: the CAR stream is consumed,
// so the fetch worker records the failure and a later resync retries.
func (s *Stage) snapshot(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	if err := next(ctx, ev); err != nil {
		return pipeline.Permanent(err)
	}
	if err := s.release(ctx, ev, next); err != nil {
		return pipeline.Permanent(fmt.Errorf("releasing buffered commits: %w", err))
	}
	if err := s.db.FinishResync(ctx, ev.DID.String()); err != nil {
		return pipeline.Permanent(err)
	}
	return nil
}

// releasePage is how many buffered commits are read at a time.
const releasePage = 100

// release passes the repo's buffered commits on in arrival order.
func (s *Stage) release(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	var after int64
	for {
		rows, err := s.db.ResyncBufferPage(ctx, ev.DID.String(), after, releasePage)
		if err != nil {
			return err
		}
		for _, row := range rows {
			after = row.ID
			cev, err := decodeBuffered(row.Data)
			if err != nil {
				s.Stats.Discarded.Add(1)
				s.logger.Warn("discarding unusable buffered commit", "did", ev.DID, "id", row.ID, "error", err)
			} else {
				cev.DID, cev.Received = ev.DID, time.Now()
				if err := next(ctx, cev); err != nil {
					return err
				}
				s.Stats.Released.Add(1)
			}
			if err := s.db.DeleteResyncBuffer(ctx, row.ID); err != nil {
				return err
			}
		}
		if len(rows) < releasePage {
			return nil
		}
	}
}
