// Package dnsresolver pins DNS resolution to one server, for private
// networks and tests (tap's identity.dns_resolver, the testnet's handles).
// It depends on the standard library only.
package dnsresolver

import (
	"context"
	"net"
)

// DialOnly returns a net.Resolver Dial function that ignores the server
// the resolver picked and dials addr (host:port) over the same network
// (udp or tcp): every DNS query goes to addr and nowhere else, neither the
// machine's resolv.conf servers nor the system library (use it with
// PreferGo). Build the Resolver in place: a net.Resolver must not be
// copied.
func DialOnly(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}
