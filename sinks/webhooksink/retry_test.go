package webhooksink

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

// TestRetryAfterIsHonoured: after a 429 or 503 with Retry-After the next
// attempt waits at least that long, although the backoff alone would retry
// within milliseconds.
func TestRetryAfterIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int
		value func() string
	}{
		{"429 seconds", http.StatusTooManyRequests, func() string { return "1" }},
		// An HTTP date has whole seconds: now+2s truncated is at least 1 s away.
		{"503 HTTP date", http.StatusServiceUnavailable, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.Header().Set("Retry-After", tc.value())
					w.WriteHeader(tc.code)
				}
			})
			s := sinkFor(t, rc, testConfig())
			require.NoError(t, s.Deliver(t.Context(), events(1)))
			reqs := rc.requests()
			require.Len(t, reqs, 2)
			assert.GreaterOrEqual(t, reqs[1].at.Sub(reqs[0].at), time.Second)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"3600", MaxRetryAfter, true},
		{"86400", MaxRetryAfter, true},
		{"99999999999999999999999999", MaxRetryAfter, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{now.Format(http.TimeFormat), 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		if tc.ok {
			assert.Equal(t, tc.want, got, "%q", tc.in)
		}
	}
}

// TestRetryAfterOnlyFor429And503: other statuses, or no usable header, get
// the normal backoff.
func TestRetryAfterOnlyFor429And503(t *testing.T) {
	for _, tc := range []struct {
		code   int
		header string
		marked bool
	}{
		{http.StatusTooManyRequests, "7", true},
		{http.StatusServiceUnavailable, "7", true},
		{http.StatusTooManyRequests, "", false},
		{http.StatusTooManyRequests, "later", false},
		{http.StatusInternalServerError, "7", false},
	} {
		s := newSink(testConfig(), deps{}, nil)
		resp := httptest.NewRecorder()
		if tc.header != "" {
			resp.Header().Set("Retry-After", tc.header)
		}
		resp.WriteHeader(tc.code)
		err := s.answer(resp.Result())
		require.Error(t, err)
		d, ok := pipeline.RetryDelay(err)
		assert.Equal(t, tc.marked, ok, "%d %q", tc.code, tc.header)
		if ok {
			assert.Equal(t, 7*time.Second, d)
		}
		assert.Contains(t, err.Error(), "HTTP "+strconv.Itoa(tc.code))
	}
}

// TestBackoffNeverOverflows: however many attempts fail, every delay stays
// within [retry_min, retry_max] (the reference's 2^n overflows after ~63),
// also at the largest retry_max Validate accepts.
func TestBackoffNeverOverflows(t *testing.T) {
	for _, bounds := range [][2]time.Duration{
		{DefaultRetryMin, DefaultRetryMax},
		{time.Nanosecond, MaxRetryMax},
		{MaxRetryMax, MaxRetryMax},
	} {
		b := pipeline.Backoff{Base: bounds[0], Max: bounds[1]}
		fail := errors.New("HTTP 500")
		for attempt := range 1000 {
			d := retryDelay(&b, fail)
			require.GreaterOrEqual(t, d, bounds[0], "attempt %d", attempt)
			require.LessOrEqual(t, d, bounds[1], "attempt %d", attempt)
			if attempt >= 100 {
				require.GreaterOrEqual(t, d, bounds[1]/2, "attempt %d: still near the cap", attempt)
			}
		}
	}
	// The default sequence is the reference's 1, 2, 4, 8, 10, 10 s (+ jitter).
	b := pipeline.Backoff{Base: DefaultRetryMin, Max: DefaultRetryMax}
	for _, lo := range []time.Duration{1, 2, 4, 8, 10, 10} {
		d := b.Next()
		assert.GreaterOrEqual(t, d, lo*time.Second)
		assert.LessOrEqual(t, d, min(lo*time.Second*3/2, DefaultRetryMax))
	}
}

// TestTransportErrorsAreRetried: connections reset before an answer, and a
// receiver that drops the connection mid-request, are retried until the
// receiver answers.
func TestTransportErrorsAreRetried(t *testing.T) {
	t.Run("connection reset", func(t *testing.T) {
		rc := newResettingReceiver(t, 2)
		s := sinkFor(t, rc, testConfig())
		require.NoError(t, s.Deliver(t.Context(), events(1)))
		st := s.Stats()
		assert.Equal(t, uint64(2), st.RequestsError)
		assert.Equal(t, uint64(1), st.RequestsSuccess)
		assert.Equal(t, uint64(2), st.Retries)
		assert.NotEmpty(t, st.LastError)
	})
	t.Run("receiver closes the connection", func(t *testing.T) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 0 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			}
		})
		s := sinkFor(t, rc, testConfig())
		require.NoError(t, s.Deliver(t.Context(), events(1)))
		assert.Equal(t, 2, rc.count())
		assert.Equal(t, uint64(1), s.Stats().RequestsError)
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
		cfg := testConfig()
		cfg.URL = url
		s := newTestSink(t, cfg, sinkOpts{})
		ctx, cancel := contextWithCancel(t)
		done := deliverAsync(ctx, s, events(2))
		eventually(t, func() bool { return s.Stats().RequestsError >= 4 }, "refused connections are retried")
		cancel()
		err = waitResult(t, done)
		var be *pipeline.BatchError
		require.ErrorAs(t, err, &be)
		require.Len(t, be.Errs, 2)
		for _, e := range be.Errs {
			assert.ErrorIs(t, e, errCanceled)
			assert.ErrorContains(t, e, "refused")
		}
		assert.Zero(t, s.Stats().Acked)
	})
}

// TestTimeoutIsRetried: a receiver that does not answer within timeout
// costs one attempt; the event is sent again.
func TestTimeoutIsRetried(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			hang(n, w, r)
		}
	})
	cfg := testConfig()
	cfg.Timeout = 100 * time.Millisecond
	s := sinkFor(t, rc, cfg)
	require.NoError(t, s.Deliver(t.Context(), events(1)))
	assert.Equal(t, 2, rc.count())
	st := s.Stats()
	assert.Equal(t, uint64(1), st.RequestsError)
	assert.Contains(t, st.LastError, "timeout")
}
