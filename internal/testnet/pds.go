package testnet

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// pdsHost is one PDS: a loopback HTTP server for the accounts assigned to
// it.
type pdsHost struct {
	net   *Network
	index int
	srv   *httpServer
}

func startPDS(n *Network, index int) (*pdsHost, error) {
	p := &pdsHost{net: n, index: index}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /xrpc/com.atproto.sync.getRepo", p.handleGetRepo)
	mux.HandleFunc("GET /xrpc/com.atproto.sync.listRepos", p.withFaults(n.handleListRepos(p)))
	mux.HandleFunc("GET /xrpc/com.atproto.sync.getLatestCommit", p.withFaults(n.handleGetLatestCommit(p)))
	mux.HandleFunc("GET /xrpc/com.atproto.repo.describeRepo", p.withFaults(p.handleDescribeRepo))
	mux.HandleFunc("GET /.well-known/atproto-did", p.handleWellKnown)
	srv, err := listenHTTP(n.opts.Host, mux, n.log.With("server", "pds", "pds", index))
	if err != nil {
		return nil, err
	}
	p.srv = srv
	n.stop.add(srv.close)
	n.stop.add(n.faults.stop) // runs first: held requests end before the server waits for them
	return p, nil
}

// withFaults applies the HTTP-level faults (500, 429, slow) of the host or
// of the requested DID before h runs.
func (p *pdsHost) withFaults(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if f, ok := p.net.faults.take(p.index, requestDID(req), httpFaultKinds); ok && p.applyHTTPFault(w, req, f) {
			return
		}
		h(w, req)
	}
}

// applyHTTPFault performs f; it reports whether the response was written.
func (p *pdsHost) applyHTTPFault(w http.ResponseWriter, req *http.Request, f PDSFault) bool {
	switch f.Kind {
	case PDSFaultServerError:
		writeXRPCError(w, http.StatusInternalServerError, "InternalServerError", "injected fault")
		return true
	case PDSFaultRateLimited:
		secs := max(1, int(f.RetryAfter.Round(time.Second)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("RateLimit-Remaining", "0")
		writeXRPCError(w, http.StatusTooManyRequests, "RateLimitExceeded", "injected fault")
		return true
	case PDSFaultSlow:
		select {
		case <-time.After(f.Delay):
		case <-req.Context().Done():
			return true
		}
	}
	return false
}

func requestDID(req *http.Request) syntax.DID {
	q := req.URL.Query()
	raw := q.Get("did")
	if raw == "" {
		raw = q.Get("repo")
	}
	did, _ := syntax.ParseDID(raw)
	return did
}

// handleGetRepo streams the account's whole repo as a CAR.
func (p *pdsHost) handleGetRepo(w http.ResponseWriter, req *http.Request) {
	fault, faulted := p.net.faults.take(p.index, requestDID(req), allPDSFaultKinds)
	if faulted && p.applyHTTPFault(w, req, fault) {
		return
	}
	if faulted && fault.Kind >= PDSFaultHang {
		if p.serveHostile(w, req, fault) {
			return
		}
		fault = PDSFault{} // a hang cleared: answer normally
	}
	a, ok := p.net.repoParam(w, req, p, "did")
	if !ok {
		return
	}
	snap, cw, err := a.snapshotForFault(fault.Kind)
	if err != nil {
		writeXRPCError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	defer snap.unpin()
	w.Header().Set("Content-Type", "application/vnd.ipld.car")
	w.WriteHeader(http.StatusOK)
	if err := snap.stream(w, cw); err != nil && !errors.Is(err, errCARTruncated) {
		p.net.log.Debug("getRepo stream ended", "did", a.did, "err", err)
	}
}

// handleDescribeRepo serves com.atproto.repo.describeRepo.
func (p *pdsHost) handleDescribeRepo(w http.ResponseWriter, req *http.Request) {
	a, ok := p.net.repoParam(w, req, p, "repo")
	if !ok {
		return
	}
	a.mu.Lock()
	out := comatproto.RepoDescribeRepo_Output{
		Did: a.did.String(), Handle: a.handle.String(), DidDoc: a.didDocLocked(),
		HandleIsCorrect: true, Collections: make([]string, 0, len(a.repo.collections)),
	}
	for c := range a.repo.collections {
		out.Collections = append(out.Collections, c.String())
	}
	a.mu.Unlock()
	sortStrings(out.Collections)
	writeJSON(w, http.StatusOK, out)
}

// handleWellKnown answers /.well-known/atproto-did for the handle named
// by the Host header.
func (p *pdsHost) handleWellKnown(w http.ResponseWriter, req *http.Request) {
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	h, err := syntax.ParseHandle(strings.ToLower(host))
	if err != nil {
		http.NotFound(w, req)
		return
	}
	did, ok := p.net.lookupHandleDID(h)
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(did.String()))
}
