package testnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/dnsresolver"
)

func TestDeterministicIdentities(t *testing.T) {
	a := startNet(t, Options{Seed: 7})
	b := startNet(t, Options{Seed: 7})
	c := startNet(t, Options{Seed: 8})
	aa, bb, cc := createAccounts(t, a, 3), createAccounts(t, b, 3), createAccounts(t, c, 1)
	for i := range aa {
		assert.Equal(t, aa[i].DID(), bb[i].DID())
		assert.Equal(t, aa[i].Handle(), bb[i].Handle())
		assert.True(t, aa[i].PublicKey().Equal(bb[i].PublicKey()))
		_, err := syntax.ParseDID(aa[i].DID().String())
		require.NoError(t, err)
	}
	assert.NotEqual(t, aa[0].DID(), cc[0].DID())
	assert.NotEqual(t, aa[0].DID(), aa[1].DID())
}

func TestPLCResolvesWithIndigoDirectory(t *testing.T) {
	n := startNet(t, Options{PDSCount: 2})
	accts := createAccounts(t, n, 2)
	dir := n.Directory()
	for _, a := range accts {
		ident, err := dir.LookupDID(t.Context(), a.DID())
		require.NoError(t, err)
		assert.Equal(t, a.Handle(), ident.Handle, "handle verified through the testnet DNS")
		assert.Equal(t, a.PDSURL(), ident.PDSEndpoint())
		pub, err := ident.PublicKey()
		require.NoError(t, err)
		assert.True(t, pub.Equal(a.PublicKey()))
	}
	assert.NotEqual(t, accts[0].PDSURL(), accts[1].PDSURL(), "accounts spread over hosts")

	_, err := dir.LookupDID(t.Context(), "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
	assert.ErrorIs(t, err, identity.ErrDIDNotFound)

	ident, err := dir.LookupHandle(t.Context(), accts[1].Handle())
	require.NoError(t, err)
	assert.Equal(t, accts[1].DID(), ident.DID)
}

func TestRotateKeyAndHandleUpdateDocument(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	old := a.PublicKey()
	ev, err := a.RotateKey()
	require.NoError(t, err)
	assert.Equal(t, KindIdentity, ev.Kind)
	dir := n.Directory()
	ident, err := dir.LookupDID(t.Context(), a.DID())
	require.NoError(t, err)
	pub, err := ident.PublicKey()
	require.NoError(t, err)
	assert.False(t, pub.Equal(old))
	assert.True(t, pub.Equal(a.PublicKey()))
	fh := subscribe(t, n, fmt.Sprint(n.LastSeq()))
	_, err = a.CreateRecord(CollectionPost, "", map[string]any{"text": "after rotation"})
	require.NoError(t, err)
	msg := fh.next(t).evt.RepoCommit
	require.NoError(t, repo.VerifyCommitSignature(t.Context(), dir, msg), "signed with the new key")

	ev, err = a.SetHandle("renamed.test")
	require.NoError(t, err)
	assert.Equal(t, syntax.Handle("renamed.test"), ev.Handle)
	ident, err = dir.LookupDID(t.Context(), a.DID())
	require.NoError(t, err)
	assert.Equal(t, syntax.Handle("renamed.test"), ident.Handle)
	_, err = dir.ResolveHandle(t.Context(), "u0.test")
	assert.True(t, errors.Is(err, identity.ErrHandleNotFound), "old handle gone: %v", err)

	_, err = a.SetHandle("bad.example")
	assert.Error(t, err, "reserved TLD refused")
}

func TestBrokenHandleIsInvalid(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	require.NoError(t, n.Faults().BreakHandle(a.DID()))
	ident, err := n.Directory().LookupDID(t.Context(), a.DID())
	require.NoError(t, err)
	assert.Equal(t, syntax.HandleInvalid, ident.Handle)
}

func TestDNSResponderUDPAndTCP(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	r := &net.Resolver{PreferGo: true, Dial: dnsresolver.DialOnly(n.DNSAddr())}
	txt, err := r.LookupTXT(t.Context(), "_atproto."+a.Handle().String())
	require.NoError(t, err)
	assert.Equal(t, []string{"did=" + a.DID().String()}, txt)

	_, err = r.LookupTXT(t.Context(), "_atproto.nobody.test")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound)

	// A Dial that returns a stream conn makes Go's resolver use TCP framing.
	tcp := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", n.DNSAddr())
	}}
	txt, err = tcp.LookupTXT(t.Context(), "_atproto."+a.Handle().String())
	require.NoError(t, err)
	assert.Equal(t, []string{"did=" + a.DID().String()}, txt)
}

func TestWellKnownByHostHeader(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.PDSURL()+"/.well-known/atproto-did", nil)
	require.NoError(t, err)
	req.Host = a.Handle().String()
	resp, err := LoopbackHTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestLoopbackClientRefusesOtherHosts(t *testing.T) {
	_, err := LoopbackHTTPClient().Get("https://example.com/")
	var dnsErr *net.DNSError
	require.Error(t, err)
	assert.True(t, errors.As(err, &dnsErr) && dnsErr.IsNotFound, "refused as NXDOMAIN without resolving: %v", err)
	_, err = Start(context.Background(), Options{Host: "0.0.0.0"})
	assert.Error(t, err, "non-loopback listen host refused")
}
