package atproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/gorilla/websocket"

	"github.com/tapkit/tap/pipeline"
)

// Firehose defaults; FirehoseOptions fields left zero take these.
const (
	// DefaultPingInterval is how often a ping is sent to the relay.
	DefaultPingInterval = 30 * time.Second
	// DefaultReadTimeout is how long the stream may stay silent (no frame,
	// no pong) before the connection is given up and re-dialled.
	DefaultReadTimeout = 60 * time.Second
	// DefaultMaxFrameBytes bounds one firehose message; a bigger one is
	// skipped as malformed (Sync 1.1 bounds a #commit's blocks to 2 MB).
	DefaultMaxFrameBytes = 8 << 20
	// DefaultDialBackoffBase is the first delay before re-dialling after a
	// failure; it doubles (with jitter) up to DefaultDialBackoffMax.
	DefaultDialBackoffBase = time.Second
	// DefaultDialBackoffMax caps the delay between re-dials.
	DefaultDialBackoffMax = 30 * time.Second

	subscribeReposPath = "/xrpc/com.atproto.sync.subscribeRepos"
	handshakeTimeout   = 30 * time.Second
	controlWriteWait   = 10 * time.Second
	malformedLogEvery  = 10 * time.Second
)

// UserAgent is the User-Agent tap sends to relays and PDS hosts
// ("tap/<version>"). The application passes one as a pipeline resource; a
// component that finds none uses DefaultUserAgent.
type UserAgent string

// DefaultUserAgent returns "tap/<version>" with the main module's version
// from the build info ("tap/dev" when there is none).
func DefaultUserAgent() UserAgent {
	v := "dev"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	return UserAgent("tap/" + v)
}

// FirehoseOptions configure a firehose consumer.
type FirehoseOptions struct {
	// RelayURL is the relay's http(s) base URL; its path is replaced by the
	// subscribeRepos endpoint and the scheme by ws(s).
	RelayURL string
	// Cursor is read at every (re)connect: the seq to resume after, or 0 to
	// start at the live head. nil means always 0. An error is treated like
	// a failed dial (logged, retried with backoff).
	Cursor func(ctx context.Context) (int64, error)
	// UserAgent is sent on the upgrade request; empty means
	// DefaultUserAgent.
	UserAgent string
	// Logger receives the consumer's logs; nil discards them.
	Logger *slog.Logger
	// Backoff paces re-dials after a failed dial, an error frame or a
	// connection that ended before delivering anything; zero fields mean
	// DefaultDialBackoffBase and DefaultDialBackoffMax.
	Backoff pipeline.Backoff
	// PingInterval is how often to ping the relay; zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// ReadTimeout is how long the stream may be silent before it is
	// re-dialled; zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxFrameBytes bounds one message, in bytes; zero means
	// DefaultMaxFrameBytes.
	MaxFrameBytes int
}

// FirehoseEvent is one repo event read from the firehose. Exactly one of
// Commit, Sync, Identity and Account is set.
type FirehoseEvent struct {
	// Seq is the relay's sequence number of the event.
	Seq int64
	// DID is the repo the event is about (validated).
	DID syntax.DID
	// Received is when the frame was read.
	Received time.Time

	Commit   *comatproto.SyncSubscribeRepos_Commit
	Sync     *comatproto.SyncSubscribeRepos_Sync
	Identity *comatproto.SyncSubscribeRepos_Identity
	Account  *comatproto.SyncSubscribeRepos_Account
}

// FirehoseStats are the consumer's counters since it was created.
type FirehoseStats struct {
	Events      uint64 // repo events handed to the handler
	Malformed   uint64 // binary frames skipped: bad CBOR, unknown op, invalid DID, too big
	Replayed    uint64 // events skipped because their seq was not above the last seen on the connection
	Timeouts    uint64 // connections given up after ReadTimeout of silence (stalled relay)
	NonBinary   uint64 // text frames skipped
	Ignored     uint64 // well-formed messages of types tap does not consume (#labels, …)
	Infos       uint64 // #info messages (logged)
	ErrorFrames uint64 // error frames (each ends the connection)
	Connects    uint64 // successful dials
	DialErrors  uint64 // failed dials
	LastSeq     int64  // seq of the last event handed to the handler
}

// Firehose consumes com.atproto.sync.subscribeRepos from one relay,
// reconnecting until its context ends. See Run.
type Firehose struct {
	opts    FirehoseOptions
	log     *slog.Logger
	backoff pipeline.Backoff
	// limiters rate-limit the skipped-frame logs, one per message, so
	// that a flood of one kind does not hide another (read loop only).
	limiters map[string]*logLimiter

	events, malformed, replayed, nonBinary, ignored, infos, errorFrames, connects, dialErrors, timeouts atomic.Uint64
	lastSeq                                                                                             atomic.Int64
}

// NewFirehose returns a consumer; nothing happens until Run.
func NewFirehose(opts FirehoseOptions) *Firehose {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = string(DefaultUserAgent())
	}
	opts.PingInterval = orDefault(opts.PingInterval, DefaultPingInterval)
	opts.ReadTimeout = orDefault(opts.ReadTimeout, DefaultReadTimeout)
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	b := opts.Backoff
	b.Base = orDefault(b.Base, DefaultDialBackoffBase)
	b.Max = orDefault(b.Max, DefaultDialBackoffMax)
	return &Firehose{opts: opts, log: opts.Logger, backoff: b, limiters: map[string]*logLimiter{}}
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// RunFirehose is NewFirehose(opts).Run(ctx, handle).
func RunFirehose(ctx context.Context, opts FirehoseOptions, handle func(ctx context.Context, ev FirehoseEvent) error) error {
	return NewFirehose(opts).Run(ctx, handle)
}

// Run consumes the firehose until ctx ends (it then returns ctx.Err()) or
// handle returns an error (Run returns it). handle is called synchronously,
// in stream order: while it blocks, nothing more is read (back-pressure).
//
// Malformed, oversized and non-binary frames, and events whose seq is not
// above the last one seen on the connection (a relay replaying old frames
// or rewinding its seqs), are counted, logged (rate-limited) and skipped
// without disconnecting; messages of unknown types are ignored;
// #info is logged. An error frame is logged and the connection re-dialled
// after a backoff delay. A connection that ends after delivering at least
// one frame is re-dialled at once (the cursor is read again) and resets the
// backoff; failed dials and connections that delivered nothing wait for the
// next backoff delay, so a relay that accepts and hangs up cannot make Run
// spin. Run must not be called twice at once on one Firehose.
func (f *Firehose) Run(ctx context.Context, handle func(ctx context.Context, ev FirehoseEvent) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		delivered, err := f.session(ctx, handle)
		var herr handlerError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &herr):
			return herr.err
		case delivered && !errors.Is(err, errErrorFrame):
			f.backoff.Reset()
			level := slog.LevelInfo
			if errors.Is(err, errStreamSilent) {
				level = slog.LevelWarn // a stalled relay
			}
			f.log.Log(ctx, level, "firehose stream ended, reconnecting", "error", err)
			continue
		}
		delay := f.backoff.Next()
		f.log.Warn("firehose connection failed, retrying", "error", err, "delay", delay, "attempt", f.backoff.Attempts())
		if err := pipeline.Sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// Stats returns the consumer's counters.
func (f *Firehose) Stats() FirehoseStats {
	return FirehoseStats{
		Events: f.events.Load(), Malformed: f.malformed.Load(), Replayed: f.replayed.Load(), Timeouts: f.timeouts.Load(), NonBinary: f.nonBinary.Load(),
		Ignored: f.ignored.Load(), Infos: f.infos.Load(), ErrorFrames: f.errorFrames.Load(),
		Connects: f.connects.Load(), DialErrors: f.dialErrors.Load(), LastSeq: f.lastSeq.Load(),
	}
}

// LastSeq returns the seq of the last event handed to the handler (0 before
// the first).
func (f *Firehose) LastSeq() int64 { return f.lastSeq.Load() }

// handlerError wraps an error returned by the handler: it ends Run.
type handlerError struct{ err error }

func (e handlerError) Error() string { return "firehose handler: " + e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

// session dials once and reads until the connection ends. delivered reports
// whether any frame was read on it.
func (f *Firehose) session(ctx context.Context, handle func(context.Context, FirehoseEvent) error) (delivered bool, err error) {
	cursor := int64(0)
	if f.opts.Cursor != nil {
		if cursor, err = f.opts.Cursor(ctx); err != nil {
			return false, fmt.Errorf("reading firehose cursor: %w", err)
		}
	}
	u, err := SubscribeReposURL(f.opts.RelayURL, cursor)
	if err != nil {
		return false, err
	}
	conn, err := f.dial(ctx, u)
	if err != nil {
		f.dialErrors.Add(1)
		return false, err
	}
	f.connects.Add(1)
	f.log.Info("firehose connected", "url", redactedURL(u), "cursor", cursor)
	stop := make(chan struct{})
	kept := make(chan struct{})
	go func() { defer close(kept); f.keepalive(ctx, conn, stop) }()
	defer func() {
		close(stop)
		<-kept
		_ = conn.Close()
	}()
	return f.readLoop(ctx, conn, cursor, handle)
}

// dial opens the websocket with tap's User-Agent.
func (f *Firehose) dial(ctx context.Context, u string) (*websocket.Conn, error) {
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout}
	h := http.Header{"User-Agent": []string{f.opts.UserAgent}}
	conn, resp, err := d.DialContext(ctx, u, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dialling %s: %w (HTTP %d)", u, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dialling %s: %w", u, err)
	}
	return conn, nil
}

// keepalive pings the relay every PingInterval and closes conn when ctx
// ends (which unblocks the read loop), until stop is closed.
func (f *Firehose) keepalive(ctx context.Context, conn *websocket.Conn, stop <-chan struct{}) {
	t := time.NewTicker(f.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			_ = conn.Close()
			return
		case <-t.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(controlWriteWait)); err != nil {
				f.log.Debug("firehose ping failed", "error", err)
			}
		}
	}
}

// SubscribeReposURL returns the subscribeRepos websocket URL of the relay at
// relayURL (http→ws, https→wss, path replaced), with ?cursor= only when
// cursor > 0.
func SubscribeReposURL(relayURL string, cursor int64) (string, error) {
	u, err := url.Parse(relayURL)
	if err != nil {
		return "", fmt.Errorf("relay URL %q: %w", relayURL, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("relay URL %q: scheme must be http or https", relayURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("relay URL %q: no host", relayURL)
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment, u.User = subscribeReposPath, "", "", "", nil
	if cursor > 0 {
		u.RawQuery = "cursor=" + strconv.FormatInt(cursor, 10)
	}
	return u.String(), nil
}

// redactedURL is u with any password hidden, for logs.
func redactedURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return pu.Redacted()
}
