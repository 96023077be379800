package testnet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Options configure a Network. The zero value is usable.
type Options struct {
	// Seed makes DIDs, keys and handles reproducible: the same seed gives
	// the same accounts. Zero is a valid seed.
	Seed int64
	// PDSCount is how many PDS hosts to run; accounts are spread over them
	// round-robin. Zero or less means 1.
	PDSCount int
	// Host is the listen address of every server; empty means 127.0.0.1.
	// It must be a loopback address.
	Host string
	// EventLimit caps how many firehose events the relay keeps for cursor
	// replay and for Events(); older ones are dropped (a cursor older than
	// the oldest kept event gets #info OutdatedCursor). Zero means no cap.
	EventLimit int
	// Logger receives the network's logs (component "testnet"); nil
	// discards them.
	Logger *slog.Logger
	// UndeclaredHandles leaves the handle out of every DID document (no
	// alsoKnownAs), so a service never resolves one: handles show as
	// handle.invalid without any lookup. Benchmarks use it to run a
	// service that cannot be pointed at the testnet DNS responder (the
	// reference Tap) without a query leaving the machine.
	UndeclaredHandles bool
}

// Network is a running loopback atproto network: PLC directory, PDS
// hosts, relay and DNS responder, plus the accounts living on it. All
// methods are safe for concurrent use.
type Network struct {
	opts   Options
	log    *slog.Logger
	events *eventLog
	faults *Faults
	plc    *httpServer
	relay  *relay
	pds    []*pdsHost
	dns    *dnsServer
	stop   closers

	// relayFaults is the state of the hostile relay and PLC faults
	// (relayfaults.go).
	relayFaults hostileFaults

	mu       sync.RWMutex
	loads    int64 // load runs so far (under mu): each one draws fresh records
	accounts []*Account
	byDID    map[syntax.DID]*Account
	byHandle map[syntax.Handle]*Account
}

// Start runs a network on loopback listeners. ctx bounds only the start;
// call Close to stop it.
func Start(ctx context.Context, opts Options) (*Network, error) {
	if err := normalizeOptions(&opts); err != nil {
		return nil, err
	}
	n := &Network{
		opts:     opts,
		log:      opts.Logger.With("component", "testnet"),
		events:   newEventLog(opts.EventLimit),
		byDID:    make(map[syntax.DID]*Account),
		byHandle: make(map[syntax.Handle]*Account),
	}
	n.faults = &Faults{net: n}
	if err := n.startServers(ctx); err != nil {
		n.Close()
		return nil, err
	}
	n.log.Info("testnet started", "plc", n.PLCURL(), "relay", n.RelayURL(), "dns", n.DNSAddr(), "pds_count", len(n.pds))
	return n, nil
}

func normalizeOptions(o *Options) error {
	if o.PDSCount <= 0 {
		o.PDSCount = 1
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if !isLoopbackHost(o.Host) {
		return fmt.Errorf("testnet: host %q is not a loopback address", o.Host)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

func (n *Network) startServers(ctx context.Context) error {
	var err error
	if n.plc, err = listenHTTP(n.opts.Host, n.plcHandler(), n.log.With("server", "plc")); err != nil {
		return err
	}
	n.stop.add(n.plc.close)
	for i := 0; i < n.opts.PDSCount; i++ {
		p, err := startPDS(n, i)
		if err != nil {
			return err
		}
		n.pds = append(n.pds, p)
	}
	if n.relay, err = startRelay(n); err != nil {
		return err
	}
	n.stop.add(n.relay.close)
	if n.dns, err = startDNS(ctx, n.opts.Host, n.lookupHandleDID, n.log.With("server", "dns")); err != nil {
		return err
	}
	n.stop.add(n.dns.close)
	return nil
}

// Close stops every server and closes open firehose connections. It is
// idempotent.
func (n *Network) Close() {
	n.stop.run()
}

// PLCURL is the PLC directory's base URL (for TAP_PLC_URL).
func (n *Network) PLCURL() string { return n.plc.URL() }

// RelayURL is the relay's base URL (for TAP_RELAY_URL): subscribeRepos,
// listRepos and listReposByCollection live under it.
func (n *Network) RelayURL() string { return n.relay.srv.URL() }

// DNSAddr is the host:port of the DNS responder (UDP and TCP).
func (n *Network) DNSAddr() string { return n.dns.addr }

// PDSURLs returns the base URL of each PDS host, in host order.
func (n *Network) PDSURLs() []string {
	out := make([]string, len(n.pds))
	for i, p := range n.pds {
		out[i] = p.srv.URL()
	}
	return out
}

// Seed returns the seed the network derives identities from.
func (n *Network) Seed() int64 { return n.opts.Seed }

// Faults returns the fault injector of this network.
func (n *Network) Faults() *Faults { return n.faults }

// Accounts returns every account created so far, in creation order.
func (n *Network) Accounts() []*Account {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Account(nil), n.accounts...)
}

// Account returns the account with did, or nil.
func (n *Network) Account(did syntax.DID) *Account {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byDID[did]
}

// lookupHandleDID answers DNS and well-known handle queries.
func (n *Network) lookupHandleDID(h syntax.Handle) (syntax.DID, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	a := n.byHandle[h.Normalize()]
	if a == nil {
		return "", false
	}
	return a.did, true
}
