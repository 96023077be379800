package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
)

// cursorsResponse is the answer of GET /stats/cursors.
type cursorsResponse struct {
	Firehose  int64  `json:"firehose"`
	ListRepos string `json:"list_repos"`
}

// countHandler answers {"<key>":N} with N from count, or 500 {"message":errMsg}.
func (s *server) countHandler(key, errMsg string, count func(Store, context.Context) (int64, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := count(s.opts.Store, r.Context())
		if err != nil {
			s.log.Error(errMsg, "error", err)
			writeError(w, r, http.StatusInternalServerError, errMsg)
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]int64{key: n})
	}
}

// statCursors answers the firehose seq and the crawler cursor of the configured discovery mode.
func (s *server) statCursors(w http.ResponseWriter, r *http.Request) {
	seq, err := s.firehoseSeq(r.Context())
	if err != nil {
		s.log.Error("failed to get firehose cursor", "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to get firehose cursor")
		return
	}
	listRepos, err := s.crawlerCursor(r.Context())
	if err != nil {
		s.log.Error("failed to get list repos cursor", "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to get list repos cursor")
		return
	}
	writeJSON(w, r, http.StatusOK, cursorsResponse{Firehose: seq, ListRepos: listRepos})
}

// firehoseSeq is the in-memory seq when available, else the cursor saved for the relay.
func (s *server) firehoseSeq(ctx context.Context) (int64, error) {
	if s.opts.FirehoseSeq != nil {
		return s.opts.FirehoseSeq(), nil
	}
	seq, err := s.opts.Store.GetFirehoseCursor(ctx, s.opts.RelayURL)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return seq, err
}

// crawlerCursor is the saved listReposByCollection cursor (of the first signal collection)
// in signal-collection mode, the
// listRepos cursor in full-network mode, else "".
func (s *server) crawlerCursor(ctx context.Context) (string, error) {
	var (
		cur string
		err error
	)
	signal := s.opts.SignalCollection
	if s.opts.Control != nil { // the signal collections may have changed at runtime: show the first
		signal = ""
		if list := s.opts.Control.Get(runtimecfg.SettingSignalCollections).List; len(list) > 0 {
			signal = list[0]
		}
	}
	switch {
	case signal != "":
		cur, err = s.opts.Store.GetCollectionCursor(ctx, s.opts.RelayURL, signal)
	case s.opts.FullNetwork:
		cur, err = s.opts.Store.GetListReposCursor(ctx, s.opts.RelayURL)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return cur, err
}
