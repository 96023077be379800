package backfillstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Start launches the fetch workers (none in outbox-only mode).
func (s *Stage) Start(_ context.Context, host pipeline.Host) error {
	if s.cfg.Parallelism == 0 {
		return nil
	}
	s.submit = host.Submit
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for range s.cfg.Parallelism {
		s.wg.Go(func() { s.work(ctx) })
	}
	return nil
}

// Shutdown stops the workers and waits for them; a resync in progress is
// abandoned (its repo is reset to desynchronized at the next startup).
func (s *Stage) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// work claims and resyncs repos until ctx ends.
func (s *Stage) work(ctx context.Context) {
	for ctx.Err() == nil {
		r, ok, err := s.db.ClaimResync(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.logger.Error("claiming a resync", "error", err)
		}
		if err != nil || !ok {
			_ = pipeline.Sleep(ctx, s.cfg.PollInterval)
			continue
		}
		s.resync(ctx, r)
	}
}

// errRateLimited marks a PDS answering 429 (or in its backoff window).
type errRateLimited struct{ until time.Time }

func (e errRateLimited) Error() string {
	return "PDS rate-limited until " + e.until.Format(time.RFC3339)
}

// resync fetches one repo and waits until its snapshot went through the
// lane, then records the outcome.
func (s *Stage) resync(ctx context.Context, r store.Repo) {
	s.Stats.Started.Add(1)
	start := time.Now()
	did := syntax.DID(r.DID)
	fctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	snap, body, err := s.fetch(fctx, did)
	if err == nil {
		done := make(chan error, 1)
		ev := &pipeline.Event{Kind: pipeline.KindSnapshot, DID: did, Received: time.Now(), Snapshot: snap,
			Done: func(err error) { done <- err }}
		if err = s.submit(ctx, ev); err == nil {
			err = <-done
		}
		// at once: a CAR the verify stage refused (too large, say) stops
		// downloading now, not after the failure is recorded
		_ = body.Close()
	}
	if ctx.Err() != nil || errors.Is(err, pipeline.ErrClosed) {
		return // shutting down: the repo is reset at the next start
	}
	if s.observer != nil {
		s.observer.ObserveResyncDuration(time.Since(start))
	}
	s.record(ctx, r, err)
}

// record stores the outcome of a resync that did not succeed.
func (s *Stage) record(ctx context.Context, r store.Repo, err error) {
	if err == nil {
		s.Stats.Completed.Add(1)
		return
	}
	var rl errRateLimited
	if errors.As(err, &rl) {
		s.Stats.RateLimited.Add(1)
		err = s.db.MarkResyncFailed(ctx, r.DID, store.RepoStateDesynchronized, "", rl.until)
	} else {
		s.Stats.Failed.Add(1)
		s.logger.Warn("resync failed", "did", r.DID, "retries", r.RetryCount, "error", err)
		err = s.db.MarkResyncFailed(ctx, r.DID, store.RepoStateError, err.Error(), time.Now().Add(s.backoff(r.RetryCount)))
	}
	if err != nil {
		s.logger.Error("recording resync failure", "did", r.DID, "error", err)
	}
}

// backoff is the delay before retry n+1: MinBackoff·2ⁿ capped at MaxBackoff,
// plus up to 10% jitter, never overflowing.
func (s *Stage) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 0; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d + rand.N(d/10+1)
}

// fetch resolves the repo's PDS and opens its getRepo stream.
func (s *Stage) fetch(ctx context.Context, did syntax.DID) (*pipeline.Snapshot, io.ReadCloser, error) {
	if err := s.dir.Purge(ctx, did.AtIdentifier()); err != nil {
		s.logger.Warn("purging identity", "did", did, "error", err)
	}
	ident, err := s.dir.LookupDID(ctx, did)
	if err != nil {
		return nil, nil, fmt.Errorf("resolving identity: %w", err)
	}
	pds := ident.PDSEndpoint()
	if pds == "" {
		return nil, nil, fmt.Errorf("no PDS endpoint for DID: %s", did)
	}
	u, err := url.Parse(pds)
	if err != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("invalid PDS endpoint %q", pds)
	}
	if until, ok := s.hostBackedOff(u.Host); ok {
		return nil, nil, errRateLimited{until}
	}
	body, err := s.getRepo(ctx, u, did)
	if err != nil {
		return nil, nil, err
	}
	handle := ident.Handle
	if handle == "" {
		handle = syntax.HandleInvalid
	}
	return &pipeline.Snapshot{CAR: body, Source: u.Host, Handle: handle}, body, nil
}

// getRepo requests the repo export; the caller closes the body.
func (s *Stage) getRepo(ctx context.Context, pds *url.URL, did syntax.DID) (io.ReadCloser, error) {
	u := pds.JoinPath("/xrpc/com.atproto.sync.getRepo")
	u.RawQuery = url.Values{"did": {did.String()}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	req.Header.Set("Accept", "application/vnd.ipld.car")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("getRepo from %s: timeout: no answer within fetch_timeout (%s)", pds.Host, s.cfg.FetchTimeout)
		}
		return nil, fmt.Errorf("getRepo from %s: %w", pds.Host, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := checkCARType(resp); err != nil {
			return nil, fmt.Errorf("getRepo from %s: %w", pds.Host, err)
		}
		return &fetchBody{rc: resp.Body, ctx: ctx, host: pds.Host, timeout: s.cfg.FetchTimeout}, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode == http.StatusTooManyRequests {
		until := time.Now().Add(retryAfter(resp.Header.Get("Retry-After"), s.cfg.HostBackoff))
		s.backOffHost(pds.Host, until)
		return nil, errRateLimited{until}
	}
	return nil, fmt.Errorf("getRepo from %s: HTTP %d: %s", pds.Host, resp.StatusCode, msg)
}

// newHTTPClient returns the client of getRepo requests.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: atproto.NewTransport(), CheckRedirect: checkRedirect}
}

// maxRedirects is how many redirects a getRepo request follows.
const maxRedirects = 5

// checkRedirect stops a getRepo request after maxRedirects redirects (a
// loop would otherwise run until Go's default of 10 with a vaguer error).
func checkRedirect(_ *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("too many redirects (more than %d)", maxRedirects)
	}
	return nil
}

// checkCARType accepts a 200 answer whose Content-Type is a CAR's
// (application/vnd.ipld.car, or the generic application/octet-stream, or
// none). Anything else, such as the HTML page of a proxy or an XRPC error
// body sent with status 200, is refused before a byte is parsed as a CAR;
// the body is closed.
func checkCARType(resp *http.Response) error {
	raw := resp.Header.Get("Content-Type")
	if raw == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(raw)
	if err == nil && (mt == "application/vnd.ipld.car" || mt == "application/octet-stream") {
		return nil
	}
	if err != nil {
		mt = raw
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	detail := ""
	var xe struct{ Error, Message string }
	if mt == "application/json" && json.Unmarshal(head, &xe) == nil && xe.Error != "" {
		detail = fmt.Sprintf(": XRPC error %s: %s", xe.Error, xe.Message)
	}
	return fmt.Errorf("unexpected content type %s with HTTP 200, want application/vnd.ipld.car%s", truncate(mt, 100), truncate(detail, 300))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// fetchBody is a getRepo response body; a read that fails because the
// download ran out of fetch_timeout says so.
type fetchBody struct {
	rc      io.ReadCloser
	ctx     context.Context
	host    string
	timeout time.Duration
	n       int64
}

func (b *fetchBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("getRepo from %s: timeout: CAR not complete within fetch_timeout (%s), %d bytes read", b.host, b.timeout, b.n)
	}
	return n, err
}

func (b *fetchBody) Close() error { return b.rc.Close() }

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, fallback time.Duration) time.Duration {
	if secs, err := strconv.Atoi(h); err == nil && secs > 0 {
		return min(time.Duration(secs)*time.Second, time.Hour)
	}
	if t, err := http.ParseTime(h); err == nil && time.Until(t) > 0 {
		return min(time.Until(t), time.Hour)
	}
	return fallback
}

func (s *Stage) hostBackedOff(host string) (time.Time, bool) {
	s.hostsMu.Lock()
	defer s.hostsMu.Unlock()
	until, ok := s.hosts[host]
	if ok && time.Now().After(until) {
		delete(s.hosts, host)
		return time.Time{}, false
	}
	return until, ok
}

func (s *Stage) backOffHost(host string, until time.Time) {
	s.hostsMu.Lock()
	defer s.hostsMu.Unlock()
	s.hosts[host] = until
}
