package webhooksink

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

func TestLifecycle(t *testing.T) {
	rc := newReceiver(t, nil)
	pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
		cfg := testConfig()
		cfg.URL = rc.URL
		s, err := NewFactory().Create(t.Context(), pipeline.Settings{
			ID: pipeline.ID{Type: Type}, Resources: []any{testGlobal()},
		}, &cfg)
		require.NoError(t, err)
		return s
	})
}

// TestDeliverPostsEventJSON: one POST per event, the body byte for byte,
// the reference's headers, Basic auth with the admin password.
func TestDeliverPostsEventJSON(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := testConfig()
	s := newTestSink(t, cfg, sinkOpts{globalURL: rc.URL, adminPassword: "hunter2"})
	batch := events(3)
	require.NoError(t, s.Deliver(t.Context(), batch))

	reqs := rc.requests()
	require.Len(t, reqs, 3)
	bodies := map[string]bool{}
	for _, r := range reqs {
		bodies[string(r.body)] = true
		assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		assert.Equal(t, testUserAgent, r.header.Get("User-Agent"))
		assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:hunter2")), r.header.Get("Authorization"))
		assert.Empty(t, r.header.Get(SignatureHeader), "no signature unless hmac_secret is set")
	}
	for _, ev := range batch {
		assert.True(t, bodies[string(ev.JSON)], "body of event %d sent byte for byte", ev.ID)
	}
	st := s.Stats()
	assert.Equal(t, uint64(3), st.Acked)
	assert.Equal(t, map[string]uint64{StatusSuccess: 3, StatusNon2xx: 0, StatusError: 0}, st.Requests())
	assert.Zero(t, st.Retries)
	assert.Empty(t, st.LastError)
}

// TestBasicAuth: Authorization only when a password is configured; the
// sink's basic_auth overrides the admin password, "" turns it off.
func TestBasicAuth(t *testing.T) {
	ptr := func(s string) *string { return &s }
	for _, tc := range []struct {
		name      string
		admin     string
		basicAuth *string
		want      string // password, "" for no header
	}{
		{"no admin password", "", nil, ""},
		{"admin password", "pw", nil, "pw"},
		{"own password", "pw", ptr("other"), "other"},
		{"own password without admin password", "", ptr("other"), "other"},
		{"turned off", "pw", ptr(""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			cfg := testConfig()
			cfg.URL, cfg.BasicAuth = rc.URL, tc.basicAuth
			s := newTestSink(t, cfg, sinkOpts{adminPassword: tc.admin})
			require.NoError(t, s.Deliver(t.Context(), events(1)))
			h := rc.requests()[0].header
			if tc.want == "" {
				_, present := h["Authorization"]
				assert.False(t, present, "no Authorization header")
				return
			}
			r := &http.Request{Header: h}
			user, pass, ok := r.BasicAuth()
			require.True(t, ok)
			assert.Equal(t, "admin", user)
			assert.Equal(t, tc.want, pass)
		})
	}
}

func TestAny2xxAcks(t *testing.T) {
	for _, code := range []int{http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
			s := sinkFor(t, rc, testConfig())
			require.NoError(t, s.Deliver(t.Context(), events(2)))
			assert.Equal(t, 2, rc.count())
			assert.Equal(t, uint64(2), s.Stats().Acked)
		})
	}
}

func TestEmptyBatch(t *testing.T) {
	rc := newReceiver(t, nil)
	s := sinkFor(t, rc, testConfig())
	require.NoError(t, s.Deliver(t.Context(), nil))
	assert.Zero(t, rc.count())
}

// TestNon2xxIsRetried: the event is sent again until a 2xx, and Deliver
// returns only then.
func TestNon2xxIsRetried(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newReceiver(t, statusSequence(code, code))
			s := sinkFor(t, rc, testConfig())
			batch := events(1)
			require.NoError(t, s.Deliver(t.Context(), batch))
			reqs := rc.requests()
			require.Len(t, reqs, 3)
			for _, r := range reqs {
				assert.Equal(t, string(batch[0].JSON), string(r.body))
			}
			st := s.Stats()
			assert.Equal(t, uint64(1), st.Acked)
			assert.Equal(t, uint64(2), st.Retries)
			assert.Equal(t, map[string]uint64{StatusSuccess: 1, StatusNon2xx: 2, StatusError: 0}, st.Requests())
			assert.Contains(t, st.LastError, "HTTP "+strconv.Itoa(code))
			assert.False(t, st.LastErrorAt.IsZero())
		})
	}
}

// TestRedirectsThatDropTheBodyAreNotFollowed: a 302 would turn the POST into
// a bodyless GET; it counts as a failure instead, and a 307 is followed with
// the body.
func TestRedirectsThatDropTheBodyAreNotFollowed(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost:
			w.WriteHeader(http.StatusOK) // would wrongly ack
		case n == 0:
			http.Redirect(w, r, "/moved", http.StatusFound)
		case n == 1:
			http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	s := sinkFor(t, rc, testConfig())
	batch := events(1)
	require.NoError(t, s.Deliver(t.Context(), batch))
	reqs := rc.requests()
	require.Len(t, reqs, 3, "302 (not followed), 307, then the redirected POST")
	assert.Equal(t, string(batch[0].JSON), string(reqs[2].body))
	assert.Equal(t, uint64(1), s.Stats().RequestsNon2xx)
}

// TestDeliverAfterShutdown refuses the batch.
func TestDeliverAfterShutdown(t *testing.T) {
	rc := newReceiver(t, nil)
	s := sinkFor(t, rc, testConfig())
	require.NoError(t, s.Shutdown(t.Context()))
	require.ErrorIs(t, s.Deliver(t.Context(), events(1)), pipeline.ErrClosed)
	assert.Zero(t, rc.count())
}

// testGlobal is a global configuration without webhook URL or password.
func testGlobal() *config.Config { return &config.Config{} }
