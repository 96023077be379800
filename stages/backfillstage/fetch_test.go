package backfillstage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
)

// fetchFixture is a stage that can only run getRepo, against a testnet PDS
// with one account.
type fetchFixture struct {
	s   *Stage
	net *testnet.Network
	a   *testnet.Account
	pds *url.URL
}

func newFetchFixture(t *testing.T, timeout time.Duration) *fetchFixture {
	t.Helper()
	n, err := testnet.Start(t.Context(), testnet.Options{})
	require.NoError(t, err)
	t.Cleanup(n.Close)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	require.NoError(t, n.GenerateHistory(t.Context(), accts, 5))
	u, err := url.Parse(accts[0].PDSURL())
	require.NoError(t, err)
	s := &Stage{cfg: Config{FetchTimeout: timeout, HostBackoff: time.Second}, client: newHTTPClient(), hosts: map[string]time.Time{}}
	return &fetchFixture{s: s, net: n, a: accts[0], pds: u}
}

// fetch runs getRepo under fetch_timeout, as resync does, and reads the
// whole body.
func (fx *fetchFixture) fetch(t *testing.T) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), fx.s.cfg.FetchTimeout)
	defer cancel()
	body, err := fx.s.getRepo(ctx, fx.pds, fx.a.DID())
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

func (fx *fetchFixture) fault(kind testnet.PDSFaultKind) {
	fx.net.Faults().ClearPDSFaults()
	fx.net.Faults().SetRepoFault(fx.a.DID(), testnet.PDSFault{Kind: kind})
}

func TestGetRepoHostileAnswers(t *testing.T) {
	fx := newFetchFixture(t, 300*time.Millisecond)
	f := fx.net.Faults()

	car, err := fx.fetch(t)
	require.NoError(t, err, "a healthy PDS")
	require.NotEmpty(t, car)

	fx.fault(testnet.PDSFaultRedirectLoop)
	served := f.Hostile().Served
	_, err = fx.fetch(t)
	require.ErrorContains(t, err, "too many redirects (more than 5)")
	require.Equal(t, maxRedirects+1, f.Hostile().Served-served, "the first request and 5 redirects")

	fx.fault(testnet.PDSFaultHTMLContentType)
	_, err = fx.fetch(t)
	require.ErrorContains(t, err, "unexpected content type text/html with HTTP 200")

	fx.fault(testnet.PDSFaultJSONError200)
	_, err = fx.fetch(t)
	require.ErrorContains(t, err, "unexpected content type application/json with HTTP 200, want application/vnd.ipld.car: XRPC error InternalServerError: injected fault")

	fx.fault(testnet.PDSFaultHang)
	_, err = fx.fetch(t)
	require.EqualError(t, err, "getRepo from "+fx.pds.Host+": timeout: no answer within fetch_timeout (300ms)")

	fx.fault(testnet.PDSFaultStallBody)
	_, err = fx.fetch(t)
	require.ErrorContains(t, err, "getRepo from "+fx.pds.Host+": timeout: CAR not complete within fetch_timeout (300ms)")

	f.ClearPDSFaults()
	again, err := fx.fetch(t)
	require.NoError(t, err)
	require.Equal(t, car, again, "recovered")
}

// A redirect within the limit is followed; CAR, octet-stream and missing
// content types are accepted.
func TestGetRepoAcceptedAnswers(t *testing.T) {
	fx := newFetchFixture(t, 5*time.Second)
	fx.net.Faults().SetRepoFault(fx.a.DID(), testnet.PDSFault{Kind: testnet.PDSFaultRedirectLoop, Times: maxRedirects})
	_, err := fx.fetch(t)
	require.NoError(t, err, "%d redirects are followed", maxRedirects)

	for _, ct := range []string{"application/vnd.ipld.car", "application/vnd.ipld.car; version=1", "application/octet-stream", ""} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{ct}
			_, _ = w.Write([]byte("car bytes"))
		}))
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		body, err := fx.s.getRepo(t.Context(), u, fx.a.DID())
		require.NoError(t, err, "content type %q", ct)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, "car bytes", string(got))
		body.Close()
		srv.Close()
	}
}
