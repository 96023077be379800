package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tapkit/tap/internal/store"
)

// Defaults of Options.
const (
	// DefaultSampleInterval is how often the event counters are sampled.
	DefaultSampleInterval = 2 * time.Second
	// DefaultSamples is how many intervals the chart shows (5 minutes at 2 s).
	DefaultSamples = 150
)

// Store is the part of the database the page reads. *store.DB implements it.
type Store interface {
	CountReposByState(ctx context.Context) (map[store.RepoState]int64, error)
	CountOutbox(ctx context.Context) (int64, error)
}

var _ Store = (*store.DB)(nil)

// Stats are the live counters of the running pipeline, as Options.Stats reads them.
type Stats struct {
	// Firehose is true when a firehose source runs; FirehoseSeq is then the seq of its last
	// event read and FirehoseEvents the events it read.
	Firehose       bool
	FirehoseSeq    int64
	FirehoseEvents uint64
	// EventsIn counts events committed to the outbox; EventsOut events acked by every sink.
	// Both only grow.
	EventsIn, EventsOut uint64
	// OldestPending is the age of the oldest event held for delivery; 0 when none.
	OldestPending time.Duration
	// Sinks are the sinks in configuration order.
	Sinks []SinkStats
}

// SinkStats are one sink's delivery counters.
type SinkStats struct {
	ID                       string
	Delivered, Acked, Failed uint64
	Queued                   int
	LastError                string
	LastErrorAt              time.Time
	// Clients is the number of connected clients of a sink that has clients (websocket); nil
	// for others.
	Clients *int
}

// Options configures a Page.
type Options struct {
	// Store is the database. Required.
	Store Store
	// Stats reads the live counters. Nil shows zeros.
	Stats func() Stats
	// Errors holds the recent warnings and errors. Nil shows none.
	Errors *ErrorLog
	// Version is tap's version.
	Version string
	// Mode is the network boundary (empty means ModeTrackedRepos); SignalCollection the
	// collection of ModeSignalCollection.
	Mode             Mode
	SignalCollection string
	// RelayURL is shown as given: pass it with its password hidden (config.RedactURL).
	RelayURL string
	// SampleInterval is how often the counters are sampled; zero means DefaultSampleInterval.
	SampleInterval time.Duration
	// Samples is how many intervals are kept for the chart; zero means DefaultSamples.
	Samples int
	// Logger receives errors of writing a response. Nil discards.
	Logger *slog.Logger
}

// Page is the status page: GET / (HTML) and GET /status.json, and the sampler that keeps
// the event rates for its chart.
type Page struct {
	opts     Options
	started  time.Time
	interval time.Duration
	samples  *sampler
	log      *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Page. It panics if Options.Store is nil.
func New(opts Options) *Page {
	if opts.Store == nil {
		panic("statuspage: Options.Store is required")
	}
	p := &Page{opts: opts, started: time.Now(), interval: opts.SampleInterval, log: opts.Logger}
	if p.opts.Mode == "" {
		p.opts.Mode = ModeTrackedRepos
	}
	if p.interval <= 0 {
		p.interval = DefaultSampleInterval
	}
	n := opts.Samples
	if n <= 0 {
		n = DefaultSamples
	}
	p.samples = newSampler(n + 1) // n intervals need n+1 readings
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// Start samples the counters now and then every SampleInterval until Close (or ctx ends).
// Calling it again does nothing.
func (p *Page) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.sample(ctx)
}

// Close stops the sampler and waits for it. It is idempotent and works without Start.
func (p *Page) Close() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (p *Page) sample(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		st := p.stats()
		p.samples.add(counters{at: time.Now(), in: st.EventsIn, out: st.EventsOut, firehose: st.FirehoseEvents})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Page) stats() Stats {
	if p.opts.Stats == nil {
		return Stats{}
	}
	return p.opts.Stats()
}

// Paths are the paths the page serves, for tests that must cover every route.
func Paths() []string { return []string{"/", "/status.json"} }

// Handlers returns the page's handlers by ServeMux pattern (without method): "/{$}" matches
// only "/", so that other unknown paths still reach the API's 404.
func (p *Page) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/{$}":         getOnly(http.HandlerFunc(p.serveHTML)),
		"/status.json": getOnly(http.HandlerFunc(p.serveJSON)),
	}
}

// getOnly answers 405 to methods other than GET and HEAD.
func getOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "")
			return
		}
		h.ServeHTTP(w, r)
	})
}

//go:embed page.html
var pageHTML string

// pageTemplate renders the first snapshot into the page, so that it reads without JS.
var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// csp allows nothing external: the page's inline style and script, and fetches to itself.
const csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (p *Page) serveHTML(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	s := p.snapshot(r.Context())
	if err := pageTemplate.Execute(&buf, s); err != nil {
		p.log.Error("rendering the status page", "error", err)
		writeJSONError(w, http.StatusInternalServerError, "failed to render the status page")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (p *Page) serveJSON(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(p.snapshot(r.Context()))
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "failed to encode the status")
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}

// contentTypeJSON is the Content-Type of JSON answers, as the API's.
const contentTypeJSON = "application/json; charset=UTF-8"

// writeJSONError answers {"message": msg} as the API's errors do; an empty msg becomes the
// status text.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{msg})
}
