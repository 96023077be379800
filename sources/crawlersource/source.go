package crawlersource

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// mode is what the crawler enumerates.
type mode int

const (
	modeNone        mode = iota // dynamic: repos are added by the API and the firehose only
	modeCollection              // every repo with records in the signal collection
	modeFullNetwork             // every active repo on the relay
)

func (m mode) String() string {
	return [...]string{"none", "signal_collection", "full_network"}[m]
}

// Stats are the crawler's counters since it was created.
type Stats struct {
	Discovered uint64 // valid DIDs listed (and handed to AddRepos), new or not
	Added      uint64 // repos that were not tracked before
	Pages      uint64 // pages fetched
	Passes     uint64 // complete passes
	Errors     uint64 // failed passes (each retried after a backoff delay)
	Skipped    uint64 // entries skipped: inactive or with an invalid DID
}

// Source is the running crawler.
type Source struct {
	cfg        Config
	relayURL   string
	mode       mode
	collection syntax.NSID
	disabled   bool // outbox-only mode
	db         *store.DB
	client     *atproto.CrawlClient
	log        *slog.Logger

	discovered, added, pages, passes, errors, skipped atomic.Uint64

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	stopped  bool
	stopOnce sync.Once
	stopErr  error
}

func (s *Source) init() *Source {
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Start launches the crawl loop and returns. In outbox-only mode, and when
// the scope leaves nothing to enumerate, it only logs.
func (s *Source) Start(_ context.Context, _ pipeline.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.stopped {
		return nil
	}
	switch {
	case s.disabled:
		s.log.Info("outbox-only mode: network not enumerated")
		return nil
	case s.mode == modeNone:
		s.log.Info("no network boundary to enumerate (neither scope.signal_collection nor scope.full_network): crawler idle")
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() { defer close(s.done); s.run(ctx) }()
	return nil
}

// run crawls pass after pass until ctx ends.
func (s *Source) run(ctx context.Context) {
	s.log.Info("enumerating network", "mode", s.mode, "collection", s.collection, "relay", store.RedactURL(s.relayURL))
	retry := pipeline.Backoff{Base: s.cfg.RetryDelay, Max: s.cfg.RetryMaxDelay}
	for {
		err := s.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		delay := s.cfg.RecrawlInterval
		if err != nil {
			s.errors.Add(1)
			delay = retry.Next()
			s.log.Warn("enumerating network failed, retrying from the saved cursor", "error", err, "delay", delay)
		} else {
			retry.Reset()
			s.passes.Add(1)
			s.log.Info("finished enumerating network", "discovered", s.discovered.Load(), "added", s.added.Load(), "next_pass_in", delay)
		}
		if pipeline.Sleep(ctx, delay) != nil {
			return
		}
	}
}

// Shutdown stops the crawl loop and waits for it, within ctx. It is
// idempotent and works without Start.
func (s *Source) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		cancel, done := s.cancel, s.done
		s.mu.Unlock()
		if cancel == nil {
			return
		}
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			s.stopErr = ctx.Err()
		}
	})
	return s.stopErr
}

// Stats returns the crawler's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Discovered: s.discovered.Load(), Added: s.added.Load(), Pages: s.pages.Load(),
		Passes: s.passes.Load(), Errors: s.errors.Load(), Skipped: s.skipped.Load(),
	}
}
