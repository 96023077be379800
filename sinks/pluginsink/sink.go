package pluginsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/plugins/sdk"
	"github.com/tapkit/tap/plugins/sdk/host"
)

// Sink delivers events to a plugin process.
type Sink struct {
	cfg        Config
	logger     *slog.Logger
	restartMin time.Duration
	restartMax time.Duration

	sem     chan struct{} // bounds the calls in flight
	closing chan struct{} // closed when Shutdown begins
	ctx     context.Context
	cancel  context.CancelFunc

	lifeMu    sync.Mutex // guards closed and the Add of delivers
	closed    bool
	delivers  sync.WaitGroup
	closeOnce sync.Once

	mu        sync.Mutex // guards below; held while (re)starting the plugin
	started   bool
	proc      *process // nil before Start, after a crash and after Shutdown
	backoff   pipeline.Backoff
	lastCrash time.Time
}

var _ pipeline.Sink = (*Sink)(nil)

func newSink(cfg Config, logger *slog.Logger) *Sink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sink{
		cfg:        cfg,
		logger:     logger,
		restartMin: RestartMin,
		restartMax: RestartMax,
		sem:        make(chan struct{}, cfg.MaxInFlight),
		closing:    make(chan struct{}),
		ctx:        ctx,
		cancel:     cancel,
	}
}

// Start verifies and starts the plugin and configures it.
func (s *Sink) Start(ctx context.Context, _ pipeline.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
		return pipeline.ErrClosed
	default:
	}
	if s.started {
		return errors.New("plugin sink already started")
	}
	p, err := s.launch(ctx)
	if err != nil {
		return err
	}
	s.started, s.proc = true, p
	return nil
}

// Deliver sends batch to the plugin in chunks of batch_size, up to
// max_in_flight at once, and returns nil only when the plugin acked every
// event.
func (s *Sink) Deliver(ctx context.Context, batch []pipeline.Delivery) error {
	if len(batch) == 0 {
		return nil
	}
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return pipeline.ErrClosed
	}
	s.delivers.Add(1)
	s.lifeMu.Unlock()
	defer s.delivers.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	errs := make([]error, len(batch))
	var wg sync.WaitGroup
chunks:
	for off := 0; off < len(batch); off += s.cfg.BatchSize {
		end := min(off+s.cfg.BatchSize, len(batch))
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			for i := off; i < len(batch); i++ {
				errs[i] = ctx.Err()
			}
			break chunks
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.sem }()
			s.deliverChunk(ctx, batch[off:end], errs[off:end])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return &pipeline.BatchError{Errs: errs}
		}
	}
	return nil
}

// deliverChunk sends one call and sets errs[i] for every event not acked.
func (s *Sink) deliverChunk(ctx context.Context, chunk []pipeline.Delivery, errs []error) {
	fail := func(err error) {
		for i := range errs {
			errs[i] = err
		}
	}
	p, err := s.current(ctx)
	if err != nil {
		fail(err)
		return
	}
	events := make([]host.Event, len(chunk))
	for i, d := range chunk {
		events[i] = host.Event{ID: d.ID, DID: d.DID, Live: d.Live, JSON: d.JSON}
	}
	results, err := p.rpc.Deliver(ctx, events)
	if err != nil {
		if ctx.Err() == nil && (p.client.Exited() || status.Code(err) == codes.Unavailable) {
			s.crashed(p, err)
			err = fmt.Errorf("plugin crashed, it will be restarted: %w", err)
		}
		fail(fmt.Errorf("delivering to the plugin: %w", err))
		return
	}
	s.mu.Lock()
	s.backoff.Reset()
	s.mu.Unlock()
	for i, r := range results {
		switch r.Status {
		case sdk.Acked:
			errs[i] = nil
		case sdk.Failed:
			errs[i] = pipeline.Permanent(fmt.Errorf("the plugin failed the event: %s", r.Message))
		default:
			errs[i] = fmt.Errorf("the plugin asks to retry the event: %s", r.Message)
		}
	}
}

// current returns the running plugin, restarting it (after the backoff)
// when it crashed.
func (s *Sink) current(ctx context.Context) (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
		return nil, pipeline.ErrClosed
	default:
	}
	if !s.started {
		return nil, errors.New("plugin sink not started")
	}
	if s.proc != nil {
		return s.proc, nil
	}
	s.backoff.Base, s.backoff.Max = s.restartMin, s.restartMax
	if wait := s.backoff.Next() - time.Since(s.lastCrash); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closing:
			return nil, pipeline.ErrClosed
		}
	}
	s.logger.Info("restarting the plugin", "attempt", s.backoff.Attempts())
	p, err := s.launch(ctx)
	if err != nil {
		s.lastCrash = time.Now()
		return nil, fmt.Errorf("restarting the plugin: %w", err)
	}
	s.proc = p
	return p, nil
}

// crashed forgets p (if it is still the current process) and kills it.
func (s *Sink) crashed(p *process, cause error) {
	s.mu.Lock()
	if s.proc == p {
		s.proc = nil
		s.lastCrash = time.Now()
		s.logger.Warn("the plugin crashed", "error", cause)
	}
	s.mu.Unlock()
	p.kill()
}

// Shutdown waits for the calls in flight (until ctx ends, then cancels
// them), calls the plugin's Shutdown and stops the process.
func (s *Sink) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.lifeMu.Lock()
	s.closed = true
	s.lifeMu.Unlock()

	done := make(chan struct{})
	go func() {
		s.delivers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()

	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	err := p.rpc.Shutdown(ctx)
	p.kill()
	var pe *host.PluginError
	if errors.As(err, &pe) {
		return fmt.Errorf("plugin Shutdown: %s", pe.Message)
	}
	if err != nil {
		return fmt.Errorf("plugin Shutdown: %w", err)
	}
	return nil
}
