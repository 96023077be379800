package testnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// dnsServer answers `_atproto.<handle>` TXT queries with "did=<did>" on
// UDP and TCP. Every other name is NXDOMAIN; other record types of a known
// name get an empty answer. It implements just enough of RFC 1035 for Go's
// resolver.
type dnsServer struct {
	addr   string
	lookup func(syntax.Handle) (syntax.DID, bool)
	log    *slog.Logger
	udp    net.PacketConn
	tcp    net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

const (
	dnsTypeTXT = 16
	dnsClassIN = 1
	dnsRcodeOK = 0
	dnsRcodeNX = 3 // NXDOMAIN
	dnsTTL     = 5

	dnsIdleTimeout = 5 * time.Second
)

// dnsListenAttempts bounds the retries of startDNS when the TCP port that
// matches a fresh UDP port is already taken by another process.
const dnsListenAttempts = 20

// startDNS listens on host:0 for UDP and the same port for TCP. The UDP
// port is chosen by the kernel; if its TCP twin is in use, another UDP port
// is tried.
func startDNS(ctx context.Context, host string, lookup func(syntax.Handle) (syntax.DID, bool), log *slog.Logger) (*dnsServer, error) {
	var lc net.ListenConfig
	var udp net.PacketConn
	var tcp net.Listener
	var err error
	for range dnsListenAttempts {
		if udp, err = lc.ListenPacket(ctx, "udp", net.JoinHostPort(host, "0")); err != nil {
			return nil, err
		}
		if tcp, err = lc.Listen(ctx, "tcp", udp.LocalAddr().String()); err == nil {
			break
		}
		_ = udp.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("testnet: DNS responder: %w", err)
	}
	s := &dnsServer{addr: udp.LocalAddr().String(), lookup: lookup, log: log, udp: udp, tcp: tcp, conns: make(map[net.Conn]struct{})}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

func (s *dnsServer) close() {
	_ = s.udp.Close()
	_ = s.tcp.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// track registers an open TCP connection; false means the server closed.
func (s *dnsServer) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

func (s *dnsServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			_, _ = s.udp.WriteTo(resp, from)
		}
	}
}

func (s *dnsServer) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		if !s.track(c, true) {
			_ = c.Close()
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer s.track(c, false)
			s.serveConn(c)
		}()
	}
}

// serveConn answers length-prefixed queries until the client hangs up.
func (s *dnsServer) serveConn(c net.Conn) {
	defer c.Close()
	for {
		_ = c.SetReadDeadline(time.Now().Add(dnsIdleTimeout))
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		resp := s.answer(q)
		if resp == nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// answer builds the response to one query message, or nil to drop it.
func (s *dnsServer) answer(q []byte) []byte {
	name, qtype, qend, err := parseQuestion(q)
	if err != nil {
		return nil
	}
	resp := append([]byte(nil), q[:qend]...)
	flags := uint16(0x8000 | 0x0400 | 0x0080)         // QR, AA, RA
	flags |= binary.BigEndian.Uint16(q[2:4]) & 0x0100 // echo RD
	did, known := s.handleDID(name)
	rcode := uint16(dnsRcodeOK)
	if !known {
		rcode = dnsRcodeNX
	}
	binary.BigEndian.PutUint16(resp[2:4], flags|rcode)
	binary.BigEndian.PutUint16(resp[6:8], 0)   // ANCOUNT
	binary.BigEndian.PutUint16(resp[8:10], 0)  // NSCOUNT
	binary.BigEndian.PutUint16(resp[10:12], 0) // ARCOUNT
	if known && qtype == dnsTypeTXT {
		binary.BigEndian.PutUint16(resp[6:8], 1)
		resp = appendTXT(resp, "did="+did.String())
	}
	return resp
}

// handleDID maps "_atproto.<handle>" to the handle's DID.
func (s *dnsServer) handleDID(name string) (syntax.DID, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	rest, ok := strings.CutPrefix(name, "_atproto.")
	if !ok {
		return "", false
	}
	h, err := syntax.ParseHandle(rest)
	if err != nil {
		return "", false
	}
	return s.lookup(h)
}

var errBadQuery = errors.New("testnet: malformed DNS query")

// parseQuestion reads the first question: its name, type, and the offset
// just past it.
func parseQuestion(q []byte) (string, uint16, int, error) {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:6]) < 1 {
		return "", 0, 0, errBadQuery
	}
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return "", 0, 0, errBadQuery
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return "", 0, 0, errBadQuery
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return "", 0, 0, errBadQuery
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	// QDCOUNT is forced to 1 by copying only the first question.
	binary.BigEndian.PutUint16(q[4:6], 1)
	return strings.Join(labels, "."), qtype, i + 4, nil
}

// appendTXT appends one TXT answer for the question name (compressed
// pointer to offset 12).
func appendTXT(b []byte, text string) []byte {
	b = append(b, 0xc0, 12)
	b = binary.BigEndian.AppendUint16(b, dnsTypeTXT)
	b = binary.BigEndian.AppendUint16(b, dnsClassIN)
	b = binary.BigEndian.AppendUint32(b, dnsTTL)
	b = binary.BigEndian.AppendUint16(b, uint16(len(text)+1))
	b = append(b, byte(len(text)))
	return append(b, text...)
}
