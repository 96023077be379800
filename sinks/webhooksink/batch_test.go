package webhooksink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatching: with batch_size 3, seven events go out as JSON arrays of
// 3, 3 and 1 events, each array the events' JSON joined byte for byte, and
// all seven are acked.
func TestBatching(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := testConfig()
	cfg.BatchSize, cfg.MaxConcurrency = 3, 1 // one at a time: arrival order is id order
	s := sinkFor(t, rc, cfg)
	batch := events(7)
	require.NoError(t, s.Deliver(t.Context(), batch))

	reqs := rc.requests()
	require.Len(t, reqs, 3)
	for i, want := range [][]int{{0, 1, 2}, {3, 4, 5}, {6}} {
		exact := "["
		for j, k := range want {
			if j > 0 {
				exact += ","
			}
			exact += string(batch[k].JSON)
		}
		exact += "]"
		assert.Equal(t, exact, string(reqs[i].body), "request %d", i)
		var arr []json.RawMessage
		require.NoError(t, json.Unmarshal(reqs[i].body, &arr), "a JSON array")
		assert.Len(t, arr, len(want))
		assert.Equal(t, "application/json", reqs[i].header.Get("Content-Type"))
	}
	st := s.Stats()
	assert.Equal(t, uint64(7), st.Acked)
	assert.Equal(t, uint64(3), st.RequestsSuccess)
}

// TestBatchRetriedWhole: a failed array is sent again as it was.
func TestBatchRetriedWhole(t *testing.T) {
	rc := newReceiver(t, statusSequence(http.StatusInternalServerError))
	cfg := testConfig()
	cfg.BatchSize = 100
	s := sinkFor(t, rc, cfg)
	require.NoError(t, s.Deliver(t.Context(), events(5)))
	reqs := rc.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].body, reqs[1].body)
	assert.Equal(t, uint64(5), s.Stats().Acked)
	assert.Equal(t, uint64(1), s.Stats().Retries)
}

// TestHMACSignature: the receiver recomputes the HMAC over the raw body, as
// the package documentation tells receivers to, for single events and
// arrays alike; another secret does not verify.
func TestHMACSignature(t *testing.T) {
	const secret = "s3cret"
	for _, size := range []int{1, 4} {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			if !verify(secret, []byte(bodyOf(r)), r.Header.Get("X-Tap-Signature")) {
				http.Error(w, "bad signature", http.StatusUnauthorized)
			}
		})
		cfg := testConfig()
		cfg.HMACSecret, cfg.BatchSize = secret, size
		s := sinkFor(t, rc, cfg)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a bad signature would be retried for ever
		require.NoError(t, s.Deliver(ctx, events(4)))
		cancel()
		assert.Zero(t, s.Stats().RequestsNon2xx, "every signature verified (batch_size %d)", size)
		for _, r := range rc.requests() {
			assert.False(t, verify("other", r.body, r.header.Get(SignatureHeader)))
			assert.Regexp(t, `^sha256=[0-9a-f]{64}$`, r.header.Get(SignatureHeader))
		}
	}
}

// TestSignKnownVector pins the signature format with the widely published
// HMAC-SHA256 example (key "key", the quick brown fox).
func TestSignKnownVector(t *testing.T) {
	assert.Equal(t, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog")))
}

// verify is a receiver's signature check.
func verify(secret string, body []byte, header string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}
