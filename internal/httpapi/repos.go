package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tapkit/tap/internal/store"
)

// Paging bounds of GET /repos.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// repoStates lists the valid values of the state filter of GET /repos, for error messages.
var repoStates = []store.RepoState{
	store.RepoStatePending,
	store.RepoStateResyncing,
	store.RepoStateActive,
	store.RepoStateDesynchronized,
	store.RepoStateError,
}

// RepoItem is one repo of GET /repos, as the API answers it and tap repos list reads it.
type RepoItem struct {
	DID     string `json:"did"`
	Handle  string `json:"handle"`
	State   string `json:"state"`
	Status  string `json:"status"`
	Rev     string `json:"rev"`
	Error   string `json:"error"`
	Retries int    `json:"retries"`
}

// listReposResponse is the answer of GET /repos; Cursor is set only when the page was full.
type listReposResponse struct {
	Repos  []RepoItem `json:"repos"`
	Cursor string     `json:"cursor,omitempty"`
}

// addRepos tracks the DIDs of the body as pending repos; existing repos are left untouched.
func (s *server) addRepos(w http.ResponseWriter, r *http.Request) {
	dids, herr := s.bodyDIDs(w, r)
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	if len(dids) > 0 {
		inserted, err := s.opts.Store.AddRepos(r.Context(), dids)
		if err != nil {
			s.log.Error("failed to add repos", "count", len(dids), "error", err)
			writeError(w, r, http.StatusInternalServerError, "")
			return
		}
		s.log.Info("added dids", "count", len(dids), "inserted", inserted)
	}
	w.WriteHeader(http.StatusOK)
}

// removeRepos stops tracking the DIDs of the body and deletes their records and buffers.
func (s *server) removeRepos(w http.ResponseWriter, r *http.Request) {
	dids, herr := s.bodyDIDs(w, r)
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	if len(dids) > 0 {
		if err := s.opts.Store.RemoveRepos(r.Context(), dids); err != nil {
			s.log.Error("failed to remove repos", "count", len(dids), "error", err)
			writeError(w, r, http.StatusInternalServerError, "")
			return
		}
		s.log.Info("removed dids", "count", len(dids))
	}
	w.WriteHeader(http.StatusOK)
}

// bodyDIDs reads and validates the DID list of an add or remove request.
func (s *server) bodyDIDs(w http.ResponseWriter, r *http.Request) ([]string, *httpError) {
	dids, herr := s.readDIDs(w, r)
	if herr != nil {
		return nil, herr
	}
	return checkDIDs(dids)
}

// listRepos pages through tracked repos by DID, optionally filtered by state.
func (s *server) listRepos(w http.ResponseWriter, r *http.Request) {
	q, herr := parseListQuery(r.URL.Query())
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	repos, err := s.opts.Store.ListRepos(r.Context(), q)
	if err != nil {
		s.log.Error("failed to list repos", "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to list repos")
		return
	}
	resp := listReposResponse{Repos: make([]RepoItem, 0, len(repos))}
	for _, repo := range repos {
		resp.Repos = append(resp.Repos, RepoItem{
			DID:     repo.DID,
			Handle:  repo.Handle,
			State:   string(repo.State),
			Status:  string(repo.Status),
			Rev:     repo.Rev,
			Error:   repo.ErrorMsg,
			Retries: repo.RetryCount,
		})
	}
	if len(repos) > 0 && len(repos) >= q.Limit {
		resp.Cursor = repos[len(repos)-1].DID
	}
	writeJSON(w, r, http.StatusOK, resp)
}

// parseListQuery reads state, cursor and limit of GET /repos.
func parseListQuery(v url.Values) (store.ListReposQuery, *httpError) {
	q := store.ListReposQuery{After: v.Get("cursor"), Limit: defaultListLimit}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxListLimit {
			return q, &httpError{http.StatusBadRequest, fmt.Sprintf(
				"invalid limit: %q (must be an integer from 1 to %d)", raw, maxListLimit)}
		}
		q.Limit = n
	}
	if raw := v.Get("state"); raw != "" {
		st, err := store.ParseRepoState(raw)
		if err != nil {
			return q, &httpError{http.StatusBadRequest, fmt.Sprintf(
				"invalid state: %q (must be one of %s)", raw, stateNames())}
		}
		q.State = st
	}
	return q, nil
}

// stateNames renders the valid repo states as "pending, resyncing, ...".
func stateNames() string {
	out := ""
	for i, st := range repoStates {
		if i > 0 {
			out += ", "
		}
		out += string(st)
	}
	return out
}
