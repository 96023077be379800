package firehosesource

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Source is the running firehose source. Besides the Component lifecycle
// it reports its position for /stats/cursors.
type Source struct {
	cfg       Config
	relayURL  string
	noReplay  bool
	disabled  bool // outbox-only mode
	saveEvery time.Duration
	db        *store.DB
	submit    pipeline.Submit
	log       *slog.Logger
	tracker   *atproto.CursorTracker
	firehose  *atproto.Firehose

	lastSubmitted atomic.Int64

	saveMu sync.Mutex
	saved  int64 // last cursor written (guarded by saveMu)

	mu       sync.Mutex
	cancel   context.CancelFunc // set by Start
	stopped  bool
	done     chan struct{} // closed when the goroutines ended
	stopOnce sync.Once
	stopErr  error
}

func newSource(c Config, global *config.Config, db *store.DB, submit pipeline.Submit, ua string, set pipeline.Settings) *Source {
	s := &Source{
		cfg:       c,
		relayURL:  c.RelayURL,
		noReplay:  global.Relay.NoReplay,
		disabled:  global.Outbox.Only,
		saveEvery: c.CursorSaveInterval,
		db:        db,
		submit:    submit,
		log:       set.Logger,
		tracker:   atproto.NewCursorTracker(0),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.relayURL == "" {
		s.relayURL = global.Relay.URL
	}
	if s.saveEvery <= 0 {
		s.saveEvery = global.Relay.CursorSaveInterval
	}
	if s.saveEvery <= 0 {
		s.saveEvery = fallbackSaveInterval
	}
	s.firehose = atproto.NewFirehose(atproto.FirehoseOptions{
		RelayURL:      s.relayURL,
		Cursor:        s.cursor,
		UserAgent:     ua,
		Logger:        s.log,
		Backoff:       pipeline.Backoff{Base: c.ReconnectDelay, Max: c.ReconnectMaxDelay},
		PingInterval:  c.PingInterval,
		ReadTimeout:   c.ReadTimeout,
		MaxFrameBytes: c.MaxFrameBytes,
	})
	return s
}

// Start launches the read loop and the cursor saver and returns. In
// outbox-only mode it only logs that the firehose is off.
func (s *Source) Start(_ context.Context, _ pipeline.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.stopped {
		return nil
	}
	if s.disabled {
		s.log.Info("outbox-only mode: firehose not followed")
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.run(ctx) }()
	go func() { defer wg.Done(); s.saveLoop(ctx) }()
	go func() { wg.Wait(); close(s.done) }()
	return nil
}

// run follows the firehose until ctx ends or the lanes close.
func (s *Source) run(ctx context.Context) {
	s.log.Info("following firehose", "relay", store.RedactURL(s.relayURL), "no_replay", s.noReplay)
	err := s.firehose.Run(ctx, s.handle)
	if err != nil && ctx.Err() == nil {
		s.log.Error("firehose stopped", "error", err)
	}
}

// cursor says where a (re)connect resumes: the live head with no_replay;
// else after the last seq submitted in this process, or after the saved
// cursor when nothing was submitted yet.
func (s *Source) cursor(ctx context.Context) (int64, error) {
	if s.noReplay {
		return 0, nil
	}
	if seq := s.lastSubmitted.Load(); seq > 0 {
		return seq, nil
	}
	return s.db.GetFirehoseCursor(ctx, s.relayURL)
}

// handle turns one firehose message into a live event and submits it,
// blocking while the lanes are full (back-pressure on the read loop).
func (s *Source) handle(ctx context.Context, fe atproto.FirehoseEvent) error {
	ev := &pipeline.Event{
		DID:      fe.DID,
		Seq:      fe.Seq,
		Live:     true,
		Received: fe.Received,
		Commit:   fe.Commit,
		Sync:     fe.Sync,
		Identity: fe.Identity,
		Account:  fe.Account,
	}
	switch {
	case fe.Commit != nil:
		ev.Kind = pipeline.KindCommit
	case fe.Sync != nil:
		ev.Kind = pipeline.KindSync
	case fe.Identity != nil:
		ev.Kind = pipeline.KindIdentity
	default:
		ev.Kind = pipeline.KindAccount
	}
	ev.Done = s.tracker.Track(fe.Seq)
	if err := s.submit(ctx, ev); err != nil {
		ev.Done(err) // never submitted: not done, the cursor stays below it
		return err
	}
	s.lastSubmitted.Store(fe.Seq)
	return nil
}

// saveLoop saves the cursor every saveEvery when it changed.
func (s *Source) saveLoop(ctx context.Context) {
	t := time.NewTicker(s.saveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.save(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("saving firehose cursor failed", "error", err)
			}
		}
	}
}

// save writes the tracked cursor if it moved since the last write.
func (s *Source) save(ctx context.Context) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	c := s.tracker.Committed()
	if c <= 0 || c == s.saved {
		return nil
	}
	if err := s.db.SaveFirehoseCursor(ctx, s.relayURL, c); err != nil {
		return err
	}
	s.saved = c
	return nil
}

// Shutdown stops the read loop and the saver, waits up to shutdown_drain
// for submitted events to finish, and saves the cursor one last time on
// ctx. It is idempotent and works without Start.
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
			return
		}
		s.drain(ctx)
		if err := s.save(ctx); err != nil {
			s.stopErr = err
			s.log.Error("final firehose cursor save failed", "error", err)
			return
		}
		s.log.Info("firehose stopped", "cursor", s.tracker.Committed(), "last_seq", s.lastSubmitted.Load())
	})
	return s.stopErr
}

// drain waits until the submitted events are done, for at most
// shutdown_drain and at most half of what is left of ctx (the rest is for
// the final save).
func (s *Source) drain(ctx context.Context) {
	wait := s.cfg.ShutdownDrain
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.tracker.Drained():
	case <-t.C:
		s.log.Info("firehose events still in flight at shutdown; they will be replayed", "in_flight", s.tracker.InFlight())
	case <-ctx.Done():
	}
}

// LastSeq returns the seq of the last event submitted (0 before the first),
// for /stats/cursors.
func (s *Source) LastSeq() int64 { return s.lastSubmitted.Load() }

// Cursor returns the cursor that is safe to save now: every event up to it
// is done.
func (s *Source) Cursor() int64 { return s.tracker.Committed() }

// Processed returns how many events submitted by this source finished
// their run through the pipeline (committed, filtered out, or failed
// permanently), the value of tap_firehose_events_processed_total.
func (s *Source) Processed() uint64 { return s.tracker.Finished() }

// Stats returns the firehose consumer's counters.
func (s *Source) Stats() atproto.FirehoseStats { return s.firehose.Stats() }
