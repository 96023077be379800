package webhooksink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// SignatureHeader carries the body's HMAC-SHA256 when hmac_secret is set:
// "sha256=" followed by the lowercase hex digest.
const SignatureHeader = "X-Tap-Signature"

const (
	// maxRedirects bounds the 307/308 redirects followed for one request.
	maxRedirects = 10
	// maxDrainBytes is how much of an answer's body is read so that its
	// connection can be reused; a longer body costs the connection.
	maxDrainBytes = 64 << 10
	// maxErrorBody is how much of a non-2xx body goes into the error.
	maxErrorBody = 256
	// maxErrorLen bounds a stored or reported error message.
	maxErrorLen = 1024
)

// statusError is a non-2xx answer.
type statusError struct {
	code int
	body string // an excerpt
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
}

// newClient returns an HTTP client that keeps a connection per concurrent
// request alive and follows only redirects that keep the POST and its body.
func newClient(maxConcurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxConcurrency
	t.MaxIdleConns = max(t.MaxIdleConns, maxConcurrency)
	return &http.Client{Transport: t, CheckRedirect: keepPost}
}

// keepPost refuses redirects that would turn the POST into a GET (301, 302,
// 303): the 3xx answer then counts as a failure instead of a bodyless GET
// being taken for an acknowledgement.
func keepPost(req *http.Request, via []*http.Request) error {
	if req.Method != http.MethodPost {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// post makes one attempt: it waits for a concurrency slot, sends body and
// returns nil for a 2xx answer. A 429 or 503 with Retry-After comes back
// marked with pipeline.RetryAfter. Attempts cut short by ctx are not
// counted as requests.
func (s *Sink) post(ctx context.Context, body []byte) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-s.sem }()

	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	s.setHeaders(req.Header, body)
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		s.stats.errs.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within timeout %s: %w", s.cfg.Timeout, err)
		}
		return err
	}
	return s.answer(resp)
}

// setHeaders sets the headers of a request carrying body.
func (s *Sink) setHeaders(h http.Header, body []byte) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.ua)
	if s.auth != "" {
		h.Set("Authorization", s.auth)
	}
	if len(s.secret) > 0 {
		h.Set(SignatureHeader, sign(s.secret, body))
	}
}

// sign returns the X-Tap-Signature value of body.
func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// answer classifies a response and releases its body.
func (s *Sink) answer(resp *http.Response) error {
	defer drain(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		s.stats.success.Add(1)
		return nil
	}
	s.stats.non2xx.Add(1)
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	err := error(&statusError{code: resp.StatusCode, body: cleanExcerpt(excerpt)})
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return pipeline.RetryAfter(err, d)
		}
	}
	return err
}

// drain reads what is left of a body, up to maxDrainBytes, and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrainBytes))
	_ = body.Close()
}

// cleanExcerpt makes a body excerpt safe for one log line.
func cleanExcerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "�")
	s = strings.Join(strings.Fields(s), " ")
	return s
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date,
// as a wait from now capped at MaxRetryAfter. ok is false when there is no
// usable value (absent, malformed, zero or in the past).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if errors.Is(err, strconv.ErrRange) || secs >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, secs > 0
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return min(d, MaxRetryAfter), d > 0
}
