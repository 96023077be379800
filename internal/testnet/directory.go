package testnet

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"

	"github.com/tapkit/tap/internal/dnsresolver"
)

// NewDirectory returns an indigo identity directory that resolves did:plc
// through plcURL, verifies handles with DNS TXT queries sent only to
// dnsAddr, and whose HTTP client reaches only loopback addresses (a
// request to any other host fails as NXDOMAIN without a DNS lookup). No
// lookup leaves the machine, and the machine's own resolver is never
// asked.
func NewDirectory(plcURL, dnsAddr string) *identity.BaseDirectory {
	return &identity.BaseDirectory{
		PLCURL:              plcURL,
		HTTPClient:          *LoopbackHTTPClient(),
		Resolver:            net.Resolver{PreferGo: true, Dial: dnsresolver.DialOnly(dnsAddr)},
		TryAuthoritativeDNS: false,
		UserAgent:           "tap-testnet",
	}
}

// Directory returns a fresh uncached directory for this network (see
// NewDirectory).
func (n *Network) Directory() *identity.BaseDirectory {
	return NewDirectory(n.PLCURL(), n.DNSAddr())
}

// LoopbackHTTPClient returns an HTTP client that connects only to
// loopback IP literals and "localhost"; any other host fails with a
// not-found *net.DNSError before any resolution happens.
func LoopbackHTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:         dialLoopback,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !isLoopbackHost(host) {
		return nil, &net.DNSError{Err: "no such host (testnet dials loopback only)", Name: host, IsNotFound: true}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// isLoopbackHost reports whether host is a loopback IP literal or
// "localhost".
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
