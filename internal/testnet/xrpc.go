package testnet

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

var (
	errSlowConsumer = errors.New("testnet: subscriber fell behind the replay window")
	errDropped      = errors.New("testnet: connection dropped by fault injection")
)

const (
	defaultListLimit = 500
	maxListLimit     = 1000
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeXRPCError answers with the standard XRPC error body.
func writeXRPCError(w http.ResponseWriter, status int, name, message string) {
	writeJSON(w, status, map[string]string{"error": name, "message": message})
}

// parseLimit reads ?limit= (1..1000, default 500).
func parseLimit(w http.ResponseWriter, req *http.Request) (int, bool) {
	raw := req.URL.Query().Get("limit")
	if raw == "" {
		return defaultListLimit, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxListLimit {
		writeXRPCError(w, http.StatusBadRequest, "InvalidRequest", "limit must be between 1 and 1000")
		return 0, false
	}
	return n, true
}

// sortedAccounts returns the accounts (of host, or all when host is nil)
// ordered by DID, which is the listing order and cursor space.
func (n *Network) sortedAccounts(host *pdsHost) []*Account {
	all := n.Accounts()
	out := all[:0:0]
	for _, a := range all {
		if host == nil || a.pds == host {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].did < out[j].did })
	return out
}

// page returns the accounts after cursor (a DID) that pass keep, at most
// limit, and the cursor of the next page ("" at the end).
func page(accts []*Account, cursor string, limit int, keep func(*Account) bool) ([]*Account, string) {
	i := sort.Search(len(accts), func(i int) bool { return accts[i].did.String() > cursor })
	var out []*Account
	for ; i < len(accts) && len(out) < limit; i++ {
		if keep(accts[i]) {
			out = append(out, accts[i])
		}
	}
	if i >= len(accts) || len(out) == 0 {
		return out, ""
	}
	return out, out[len(out)-1].did.String()
}

// handleListRepos serves com.atproto.sync.listRepos for host (nil = relay).
func (n *Network) handleListRepos(host *pdsHost) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		limit, ok := parseLimit(w, req)
		if !ok {
			return
		}
		accts, next := page(n.sortedAccounts(host), req.URL.Query().Get("cursor"), limit, func(a *Account) bool {
			return a.Status() != StatusDeleted
		})
		out := comatproto.SyncListRepos_Output{Repos: make([]*comatproto.SyncListRepos_Repo, 0, len(accts))}
		for _, a := range accts {
			out.Repos = append(out.Repos, a.listEntry())
		}
		if next != "" {
			out.Cursor = &next
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *Account) listEntry() *comatproto.SyncListRepos_Repo {
	a.mu.Lock()
	defer a.mu.Unlock()
	active := a.status == StatusActive
	e := &comatproto.SyncListRepos_Repo{Did: a.did.String(), Head: a.repo.commitCID.String(), Rev: a.repo.rev.String(), Active: &active}
	if !active {
		s := string(a.status)
		e.Status = &s
	}
	return e
}

// handleListReposByCollection serves the relay's listReposByCollection.
func (n *Network) handleListReposByCollection(w http.ResponseWriter, req *http.Request) {
	coll, err := syntax.ParseNSID(req.URL.Query().Get("collection"))
	if err != nil {
		writeXRPCError(w, http.StatusBadRequest, "InvalidRequest", "collection must be an NSID")
		return
	}
	limit, ok := parseLimit(w, req)
	if !ok {
		return
	}
	accts, next := page(n.sortedAccounts(nil), req.URL.Query().Get("cursor"), limit, func(a *Account) bool {
		return a.hasCollection(coll)
	})
	out := comatproto.SyncListReposByCollection_Output{Repos: make([]*comatproto.SyncListReposByCollection_Repo, 0, len(accts))}
	for _, a := range accts {
		out.Repos = append(out.Repos, &comatproto.SyncListReposByCollection_Repo{Did: a.did.String()})
	}
	if next != "" {
		out.Cursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Account) hasCollection(coll syntax.NSID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status != StatusDeleted && a.repo.collections[coll] > 0
}

// handleGetLatestCommit serves com.atproto.sync.getLatestCommit.
func (n *Network) handleGetLatestCommit(host *pdsHost) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		a, ok := n.repoParam(w, req, host, "did")
		if !ok {
			return
		}
		a.mu.Lock()
		out := comatproto.SyncGetLatestCommit_Output{Cid: a.repo.commitCID.String(), Rev: a.repo.rev.String()}
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	}
}

// repoParam resolves the ?did= (or ?repo=) account, answering the XRPC
// error itself when it is unknown, on another host or not servable.
func (n *Network) repoParam(w http.ResponseWriter, req *http.Request, host *pdsHost, param string) (*Account, bool) {
	raw := req.URL.Query().Get(param)
	did, err := syntax.ParseDID(raw)
	if err != nil {
		writeXRPCError(w, http.StatusBadRequest, "InvalidRequest", param+" must be a DID")
		return nil, false
	}
	a := n.Account(did)
	if a == nil || (host != nil && a.pds != host) {
		writeXRPCError(w, http.StatusBadRequest, "RepoNotFound", "Could not find repo for DID: "+raw)
		return nil, false
	}
	switch st := a.Status(); st {
	case StatusActive:
		return a, true
	case StatusDeleted:
		writeXRPCError(w, http.StatusBadRequest, "RepoNotFound", "Could not find repo for DID: "+raw)
	default:
		writeXRPCError(w, http.StatusBadRequest, "Repo"+titleStatus(st), "Repo has been "+string(st))
	}
	return nil, false
}

// titleStatus turns "takendown" into "Takendown" (RepoTakendown, …).
func titleStatus(s AccountStatus) string {
	if s == "" {
		return ""
	}
	b := []byte(s)
	b[0] -= 'a' - 'A'
	return string(b)
}
