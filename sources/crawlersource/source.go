package crawlersource

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/runtimecfg"
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

// target is one listing a pass enumerates.
type target struct {
	mode       mode
	collection syntax.NSID // modeCollection only
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
	// ctl, when set, holds the signal collections (changed at runtime):
	// they replace mode and collection, and a change starts a pass at once.
	ctl    *runtimecfg.Control
	db     *store.DB
	client *atproto.CrawlClient
	log    *slog.Logger

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
	case s.mode == modeNone && s.ctl == nil:
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
	retry := pipeline.Backoff{Base: s.cfg.RetryDelay, Max: s.cfg.RetryMaxDelay}
	for {
		changed := s.changed() // before reading the targets: a change meanwhile is not missed
		targets := s.targets()
		if len(targets) == 0 {
			s.log.Info("no network boundary to enumerate (no signal collections, not full network): crawler idle until the signal collections change")
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue
			}
		}
		var err error
		for _, tg := range targets {
			s.log.Info("enumerating network", "mode", tg.mode, "collection", tg.collection, "relay", store.RedactURL(s.relayURL))
			if err = s.pass(ctx, tg); err != nil {
				break
			}
		}
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
		if !s.wait(ctx, delay, changed) {
			return
		}
	}
}

// targets returns the listings of a pass: one per signal collection, else
// the whole network in full-network mode, else none.
func (s *Source) targets() []target {
	if s.ctl == nil {
		if s.mode == modeNone {
			return nil
		}
		return []target{{s.mode, s.collection}}
	}
	var out []target
	for _, c := range s.ctl.Get(runtimecfg.SettingSignalCollections).List {
		out = append(out, target{modeCollection, syntax.NSID(c)}) // validated by runtimecfg
	}
	if len(out) == 0 && s.mode == modeFullNetwork {
		out = append(out, target{mode: modeFullNetwork})
	}
	return out
}

// changed returns a channel closed when the signal collections change; nil
// (never ready) without a runtime control.
func (s *Source) changed() <-chan struct{} {
	if s.ctl == nil {
		return nil
	}
	return s.ctl.Changed(runtimecfg.SettingSignalCollections)
}

// wait sleeps for delay, or until changed is closed; it reports false when
// ctx ended.
func (s *Source) wait(ctx context.Context, delay time.Duration, changed <-chan struct{}) bool {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-changed:
		s.log.Info("signal collections changed: enumerating again")
	}
	return true
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
