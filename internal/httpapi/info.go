package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/store"
)

// infoResponse is the answer of GET /info/{did}. Its fields are in alphabetical order, the key
// order of the reference (a Go map); Status is our addition.
type infoResponse struct {
	DID     string `json:"did"`
	Error   string `json:"error"`
	Handle  string `json:"handle"`
	Records int64  `json:"records"`
	Retries int    `json:"retries"`
	Rev     string `json:"rev"`
	State   string `json:"state"`
	Status  string `json:"status"`
}

// info answers the tracking state of one repo.
func (s *server) info(w http.ResponseWriter, r *http.Request) {
	did, ok := pathDID(r, "/info/")
	if !ok {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("invalid DID: %q", r.PathValue("did")))
		return
	}
	repo, err := s.opts.Store.GetRepo(r.Context(), did.String())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "repo not found")
		return
	}
	var records int64
	if err == nil {
		records, err = s.opts.Store.CountRecordsForDID(r.Context(), did.String())
	}
	if err != nil {
		s.log.Error("failed to get repo", "did", did, "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to get repo")
		return
	}
	writeJSON(w, r, http.StatusOK, infoResponse{
		DID:     repo.DID,
		Error:   repo.ErrorMsg,
		Handle:  repo.Handle,
		Records: records,
		Retries: repo.RetryCount,
		Rev:     repo.Rev,
		State:   string(repo.State),
		Status:  string(repo.Status),
	})
}

// resolve answers the DID document reconstructed from the resolved identity.
func (s *server) resolve(w http.ResponseWriter, r *http.Request) {
	did, ok := pathDID(r, "/resolve/")
	if !ok {
		writeError(w, r, http.StatusBadRequest, "improperly formatted DID")
		return
	}
	ident, err := s.opts.Directory.LookupDID(r.Context(), did)
	if errors.Is(err, identity.ErrDIDNotFound) {
		writeError(w, r, http.StatusNotFound, "DID not found")
		return
	}
	if err == nil && ident == nil {
		err = errors.New("directory returned no identity")
	}
	if err != nil {
		s.log.Warn("failed to resolve DID", "did", did, "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to resolve DID")
		return
	}
	writeJSON(w, r, http.StatusOK, didDocument(ident))
}

// didDocument rebuilds a DID document from an identity (no @context, key ids absolute,
// service ids relative, empty lists omitted), its entries sorted by id for stable answers.
func didDocument(ident *identity.Identity) identity.DIDDocument {
	doc := ident.DIDDocument()
	slices.SortFunc(doc.VerificationMethod, func(a, b identity.DocVerificationMethod) int {
		return cmp.Compare(a.ID, b.ID)
	})
	slices.SortFunc(doc.Service, func(a, b identity.DocService) int {
		return cmp.Compare(a.ID, b.ID)
	})
	return doc
}

// pathDID reads the DID that follows prefix in the request path. The value is taken as sent
// (escapes kept, as Echo does, so "did:web:host%3A8080" stays that DID); a value that is not
// a DID as sent is percent-decoded once and tried again.
func pathDID(r *http.Request, prefix string) (syntax.DID, bool) {
	raw, found := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !found || strings.Contains(raw, "/") {
		raw = r.PathValue("did")
	}
	if did, err := syntax.ParseDID(raw); err == nil {
		return did, true
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil || decoded == raw {
		return "", false
	}
	did, err := syntax.ParseDID(decoded)
	return did, err == nil
}
