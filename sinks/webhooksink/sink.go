package webhooksink

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// deadLetterStore is where given-up events go (*store.DB).
type deadLetterStore interface {
	AddDeadLetters(ctx context.Context, rows []store.DeadLetter) error
}

// deps are what create resolves from tap's global configuration and
// resources.
type deps struct {
	url         string
	password    string // "" means no Authorization header
	userAgent   string
	deadLetters deadLetterStore // nil unless dead_letter_after > 0
}

// Sink POSTs events to a webhook. It is safe for concurrent use; see the
// package documentation for the delivery rules.
type Sink struct {
	cfg    Config
	url    string
	auth   string // the Authorization header value, or ""
	ua     string
	secret []byte
	dead   deadLetterStore
	client *http.Client
	sem    chan struct{} // one slot per request in flight
	log    *slog.Logger
	stats  counters

	// life ends when Shutdown is called (cause pipeline.ErrClosed); every
	// Deliver call and its requests run under it.
	life    context.Context
	end     context.CancelCauseFunc
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // Deliver calls in progress
}

var _ pipeline.Sink = (*Sink)(nil)

func newSink(cfg Config, d deps, log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{
		cfg: cfg, url: d.url, ua: d.userAgent, dead: d.deadLetters,
		secret: []byte(cfg.HMACSecret),
		client: newClient(cfg.MaxConcurrency),
		sem:    make(chan struct{}, cfg.MaxConcurrency),
		log:    log,
	}
	if d.password != "" {
		s.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+d.password))
	}
	s.life, s.end = context.WithCancelCause(context.Background())
	return s
}

// Start logs where events go; the sink has no background work of its own.
func (s *Sink) Start(context.Context, pipeline.Host) error {
	u, _ := url.Parse(s.url) // validated by create
	s.log.Info("delivering events by webhook", "url", u.Redacted(),
		"max_concurrency", s.cfg.MaxConcurrency, "batch_size", s.cfg.BatchSize,
		"signed", len(s.secret) > 0, "dead_letter_after", s.cfg.DeadLetterAfter)
	return nil
}

// Shutdown cancels every request and wait in progress (their Deliver calls
// return the events unacknowledged, with pipeline.ErrClosed), waits for them
// to return within ctx's deadline and closes idle connections. Deliver
// refuses new batches afterwards. It is idempotent and works without Start.
func (s *Sink) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.end(pipeline.ErrClosed)
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // finished just in time
		default:
			return ctx.Err()
		}
	}
	s.client.CloseIdleConnections()
	return nil
}

// enter registers a Deliver call, unless the sink is shut down.
func (s *Sink) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.running.Add(1)
	return true
}

// Deliver sends batch and returns nil once every event of it is
// acknowledged by a 2xx answer (or dead-lettered). Failed requests are
// retried in place with backoff. When ctx ends or the sink shuts down first
// it returns a *pipeline.BatchError: nil for the events that were
// acknowledged, the cause for the others, which the caller keeps.
func (s *Sink) Deliver(ctx context.Context, batch []pipeline.Delivery) error {
	if len(batch) == 0 {
		return nil
	}
	if !s.enter() {
		return pipeline.ErrClosed
	}
	defer s.running.Done()
	ctx, stop := s.bind(ctx)
	defer stop()

	chunks := split(batch, s.cfg.BatchSize)
	errs := make([]error, len(batch))
	failed := s.runChunks(ctx, chunks, func(c chunk, err error) {
		for i := c.lo; i < c.hi; i++ {
			errs[i] = err
		}
	})
	if !failed {
		return nil
	}
	return &pipeline.BatchError{Errs: errs}
}

// bind derives a context that ends with ctx or with the sink's life,
// whichever ends first, keeping the cause.
func (s *Sink) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(s.life, func() { cancel(context.Cause(s.life)) })
	return ctx, func() {
		unhook()
		cancel(nil)
	}
}

// runChunks delivers chunks on up to max_concurrency goroutines (each takes
// the next chunk when it is done with one), reports each chunk that could
// not be delivered to fail (never concurrently for the same chunk) and
// returns whether any was.
func (s *Sink) runChunks(ctx context.Context, chunks []chunk, fail func(chunk, error)) bool {
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	for range min(len(chunks), s.cfg.MaxConcurrency) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(chunks)); i = next.Add(1) - 1 {
				if err := s.deliverChunk(ctx, chunks[i]); err != nil {
					fail(chunks[i], err)
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return failed.Load()
}
