package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/atproto/carstream"
)

// hostileNet is a one-host network with one account of 20 records.
func hostileNet(t *testing.T) (*Network, *Account) {
	t.Helper()
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	require.NoError(t, n.GenerateHistory(t.Context(), []*Account{a}, 20))
	return n, a
}

// waitIdle waits until no hostile response is still running.
func waitIdle(t *testing.T, f *Faults) {
	t.Helper()
	require.Eventually(t, func() bool { return f.Hostile().Active == 0 }, 10*time.Second, 5*time.Millisecond)
}

// openCAR verifies a CAR with carstream and returns its paths in order.
func openCAR(t *testing.T, r io.Reader, maxBytes int64) ([]string, carstream.Stats, error) {
	t.Helper()
	snap, err := carstream.Open(t.Context(), r, carstream.Options{Dir: t.TempDir(), MaxBytes: maxBytes})
	if err != nil {
		return nil, carstream.Stats{}, err
	}
	defer snap.Close()
	var paths []string
	err = snap.Walk(t.Context(), func(path string, _ cid.Cid) error { paths = append(paths, path); return nil })
	return paths, snap.Stats(), err
}

func truthPaths(t *testing.T, a *Account) []string {
	t.Helper()
	recs, err := a.Records()
	require.NoError(t, err)
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Path()
	}
	sort.Strings(out)
	return out
}

func TestPDSHangFault(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()

	t.Run("no headers until the client gives up", func(t *testing.T) {
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultHang})
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, getRepoURL(a), nil)
		require.NoError(t, err)
		resp, err := LoopbackHTTPClient().Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, context.DeadlineExceeded, "no response at all")
		waitIdle(t, f)
		assert.Equal(t, int64(0), f.Hostile().MaxBytes)
		status, _, _ := get(t, a.PDSURL()+"/xrpc/com.atproto.sync.getLatestCommit?did="+a.DID().String())
		assert.Equal(t, http.StatusOK, status, "other routes answer")
		f.ClearPDSFaults()
	})

	t.Run("clearing answers the held request", func(t *testing.T) {
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultHang})
		type result struct {
			status int
			body   []byte
		}
		got := make(chan result, 1)
		go func() {
			resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
			if err != nil {
				got <- result{}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			got <- result{resp.StatusCode, body}
		}()
		require.Eventually(t, func() bool { return f.Hostile().Active == 1 }, 10*time.Second, 5*time.Millisecond)
		f.ClearPDSFaults()
		r := <-got
		require.Equal(t, http.StatusOK, r.status)
		paths, _, err := openCAR(t, bytes.NewReader(r.body), 0)
		require.NoError(t, err)
		assert.Equal(t, truthPaths(t, a), paths)
	})
}

func TestPDSStallBodyFault(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()
	_, _, whole := loadCAR(t, a)

	t.Run("headers and half the CAR, then nothing", func(t *testing.T) {
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultStallBody})
		defer f.ClearPDSFaults()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, getRepoURL(a), nil)
		require.NoError(t, err)
		resp, err := LoopbackHTTPClient().Do(req)
		require.NoError(t, err, "the headers arrive")
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/vnd.ipld.car", resp.Header.Get("Content-Type"))
		half := make([]byte, len(whole)/2)
		_, err = io.ReadFull(resp.Body, half)
		require.NoError(t, err)
		assert.Equal(t, whole[:len(half)], half)
		more := make(chan error, 1)
		go func() { _, err := resp.Body.Read(make([]byte, 1)); more <- err }()
		select {
		case err := <-more:
			t.Fatalf("the body went on: %v", err)
		case <-time.After(100 * time.Millisecond): // a stall cannot be shown without waiting
		}
		cancel()
		require.Error(t, <-more)
		waitIdle(t, f)
	})

	t.Run("clearing sends the rest", func(t *testing.T) {
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultStallBody})
		resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
		require.NoError(t, err)
		defer resp.Body.Close()
		half := make([]byte, len(whole)/2)
		_, err = io.ReadFull(resp.Body, half)
		require.NoError(t, err)
		f.ClearPDSFaults()
		rest, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, whole, append(half, rest...))
	})
}

func TestPDSGiganticCARFault(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()

	t.Run("default size is exact, valid and streamed", func(t *testing.T) {
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultGiganticCAR, Times: 1})
		resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/vnd.ipld.car", resp.Header.Get("Content-Type"))
		cr := &countingReader{r: resp.Body}
		paths, stats, err := openCAR(t, cr, 2*DefaultGiganticCARSize)
		require.NoError(t, err, "a gigantic CAR is a valid CAR of the repo")
		assert.Equal(t, truthPaths(t, a), paths)
		assert.Equal(t, DefaultGiganticCARSize, cr.n)
		assert.Equal(t, DefaultGiganticCARSize, stats.Bytes)
		assert.Greater(t, stats.Blocks, int(DefaultGiganticCARSize/(padChunk+64)), "distinct padding blocks")
		waitIdle(t, f)
		assert.Equal(t, DefaultGiganticCARSize, f.Hostile().MaxBytes)
	})

	t.Run("a size limit stops it", func(t *testing.T) {
		const size, limit = 8 << 20, 1 << 20
		f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultGiganticCAR, Size: size, Times: 1})
		before := f.Hostile().Bytes
		resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
		require.NoError(t, err)
		cr := &countingReader{r: resp.Body}
		_, _, err = openCAR(t, cr, limit)
		require.ErrorIs(t, err, carstream.ErrTooLarge)
		resp.Body.Close()
		assert.Less(t, cr.n, int64(size/2))
		waitIdle(t, f)
		assert.Less(t, f.Hostile().Bytes-before, int64(size), "the server stopped writing when the client left")
	})

	t.Run("padding sizes", func(t *testing.T) {
		for _, size := range []int64{3 << 20, 3<<20 + 1, 5<<20 + 16386, 1<<20 + 129} {
			var buf bytes.Buffer
			cw := &countingWriter{w: &buf}
			_, err := cw.Write(make([]byte, 1000))
			require.NoError(t, err)
			require.NoError(t, writePadding(cw, size, func() bool { return false }))
			assert.Equal(t, size, int64(buf.Len()), "size %d", size)
		}
	})
}

func TestPDSInfiniteCARFault(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()
	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultInfiniteCAR})
	resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	const read = DefaultGiganticCARSize + 8<<20 // past the gigantic one: it does not end
	n64, err := io.CopyN(io.Discard, resp.Body, read)
	require.NoError(t, err)
	require.Equal(t, int64(read), n64)
	resp.Body.Close()
	waitIdle(t, f)
	assert.GreaterOrEqual(t, f.Hostile().MaxBytes, int64(read))

	// with a limit, carstream stops at it
	resp, err = LoopbackHTTPClient().Get(getRepoURL(a))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _, err = openCAR(t, resp.Body, 1<<20)
	require.ErrorIs(t, err, carstream.ErrTooLarge)
}

func TestPDSRedirectLoopFault(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()
	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultRedirectLoop})
	u := getRepoURL(a)
	hops := 0
	client := &http.Client{Transport: LoopbackHTTPClient().Transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops++
		assert.Equal(t, u, req.URL.String(), "redirected to itself")
		if len(via) >= 20 {
			return errors.New("loop")
		}
		return nil
	}}
	resp, err := client.Get(u)
	if resp != nil {
		resp.Body.Close()
	}
	var uerr *url.Error
	require.ErrorAs(t, err, &uerr)
	assert.Equal(t, 20, hops)
	assert.Equal(t, 20, f.Hostile().Served, "the first request and 19 redirected ones")

	f.ClearPDSFaults()
	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultRedirectLoop, Times: 3})
	hops = 0
	resp, err = client.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "three hops, then the CAR")
	assert.Equal(t, 3, hops)
	paths, _, err := openCAR(t, resp.Body, 0)
	require.NoError(t, err)
	assert.Equal(t, truthPaths(t, a), paths)
}

func TestPDSWrongContentTypeFaults(t *testing.T) {
	n, a := hostileNet(t)
	f := n.Faults()

	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultHTMLContentType, Times: 1})
	status, hdr, body := get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	assert.Contains(t, string(body), "<html>")

	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultJSONError200, Times: 1})
	status, hdr, body = get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	var xe struct{ Error, Message string }
	require.NoError(t, json.Unmarshal(body, &xe))
	assert.Equal(t, "InternalServerError", xe.Error)
	assert.NotEmpty(t, xe.Message)

	status, hdr, _ = get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/vnd.ipld.car", hdr.Get("Content-Type"), "Times: 1 cleared")
	assert.Equal(t, 2, f.Hostile().Served)
}

// Closing the network ends held and endless responses without waiting.
func TestPDSHostileFaultsEndOnClose(t *testing.T) {
	n, err := Start(t.Context(), Options{})
	require.NoError(t, err)
	a := createAccounts(t, n, 1)[0]
	n.Faults().SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultHang})
	errs := make(chan error, 1)
	go func() {
		resp, err := LoopbackHTTPClient().Get(getRepoURL(a))
		if err == nil {
			resp.Body.Close()
		}
		errs <- err
	}()
	require.Eventually(t, func() bool { return n.Faults().Hostile().Active == 1 }, 10*time.Second, 5*time.Millisecond)
	n.Close()
	assert.Equal(t, 0, n.Faults().Hostile().Active, "Close ended the held request")
	<-errs
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
