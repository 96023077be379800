package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tapkit/tap/internal/runtimecfg"
)

// settingBody renders v as {"<setting>":[...],"source":"..."}.
func settingBody(setting runtimecfg.Setting, v *runtimecfg.Value) map[string]any {
	return map[string]any{string(setting): v.List, "source": v.Source}
}

// getSetting answers GET /config/…: {"<setting>":[...],"source":"config|api"}.
func (s *server) getSetting(setting runtimecfg.Setting) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hasControl(w, r) {
			return
		}
		writeJSON(w, r, http.StatusOK, settingBody(setting, s.opts.Control.Get(setting)))
	}
}

// putSetting applies and persists the list of PUT /config/… {"<setting>":[...]} (an empty
// list is a value: no filters, or no signal collections) and answers like GET.
func (s *server) putSetting(setting runtimecfg.Setting) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hasControl(w, r) {
			return
		}
		var body map[string]json.RawMessage
		if herr := s.readJSON(w, r, &body); herr != nil {
			writeError(w, r, herr.status, herr.msg)
			return
		}
		raw, ok := body[string(setting)]
		if !ok {
			writeError(w, r, http.StatusBadRequest,
				`missing "`+string(setting)+`": send {"`+string(setting)+`":[...]} (DELETE returns to the configured value)`)
			return
		}
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil || list == nil && string(raw) != "[]" {
			writeError(w, r, http.StatusBadRequest, `"`+string(setting)+`" must be a list of strings`)
			return
		}
		v, err := s.opts.Control.Set(r.Context(), setting, list)
		if errors.Is(err, runtimecfg.ErrInvalid) {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		} else if err != nil {
			s.log.Error("failed to set runtime setting", "setting", setting, "error", err)
			writeError(w, r, http.StatusInternalServerError, "failed to save "+string(setting))
			return
		}
		writeJSON(w, r, http.StatusOK, settingBody(setting, v))
	}
}

// resetSetting answers DELETE /config/…: the configured value applies again; it answers
// like GET.
func (s *server) resetSetting(setting runtimecfg.Setting) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hasControl(w, r) {
			return
		}
		v, err := s.opts.Control.Reset(r.Context(), setting)
		if err != nil {
			s.log.Error("failed to reset runtime setting", "setting", setting, "error", err)
			writeError(w, r, http.StatusInternalServerError, "failed to reset "+string(setting))
			return
		}
		writeJSON(w, r, http.StatusOK, settingBody(setting, v))
	}
}

// resyncResponse is the answer of POST /repos/resync.
type resyncResponse struct {
	Queued  int      `json:"queued"`
	Unknown []string `json:"unknown"`
}

// resyncRepos queues a resync of the tracked repos of the body ({"dids":[...]}) and names the
// DIDs that are not tracked (they are not added). Their live commits are buffered until the
// fetched snapshot is applied, as for any resync.
func (s *server) resyncRepos(w http.ResponseWriter, r *http.Request) {
	if !s.hasControl(w, r) {
		return
	}
	dids, herr := s.bodyDIDs(w, r)
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	queued, unknown, err := s.opts.Control.RequestResync(r.Context(), dids)
	if err != nil {
		s.log.Error("failed to request resync", "count", len(dids), "error", err)
		writeError(w, r, http.StatusInternalServerError, "failed to request resync")
		return
	}
	if unknown == nil {
		unknown = []string{}
	}
	writeJSON(w, r, http.StatusOK, resyncResponse{Queued: len(queued), Unknown: unknown})
}

// hasControl answers 503 when the API runs without a runtime control.
func (s *server) hasControl(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Control == nil {
		writeError(w, r, http.StatusServiceUnavailable, "runtime control is not available")
		return false
	}
	return true
}
