package websocketsink

import (
	"encoding/json"
	"net/http"
)

// webhookModeMessage is the reference Tap's answer on /channel in webhook
// mode.
const webhookModeMessage = "websocket not available in webhook mode"

// WebhookModeHandler returns the GET /channel handler for when events are
// delivered by webhook instead: it answers 400
// {"message":"websocket not available in webhook mode"} as JSON (Echo's
// error rendering, newline-terminated, indented with ?pretty), like the
// reference Tap.
func WebhookModeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusBadRequest)
		enc := json.NewEncoder(w)
		if _, pretty := r.URL.Query()["pretty"]; pretty {
			enc.SetIndent("", "  ")
		}
		_ = enc.Encode(struct {
			Message string `json:"message"`
		}{webhookModeMessage})
	})
}
