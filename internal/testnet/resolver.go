package testnet

import (
	"context"
	"net"
)

// ResolverFor returns a pure-Go resolver that sends every DNS query to
// addr (host:port) and to nothing else: not the machine's resolv.conf
// servers, not the system library. It has no dependency beyond the
// standard library.
func ResolverFor(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: DialOnly(addr)}
}

// DialOnly returns a net.Resolver Dial func that ignores the server the
// resolver picked and dials addr over the same network (udp or tcp). Use
// it to build a Resolver value in place (net.Resolver must not be copied).
func DialOnly(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}
