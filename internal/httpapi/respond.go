package httpapi

import (
	"encoding/json"
	"net/http"
)

// contentTypeJSON is the Content-Type of every JSON answer (Echo's MIMEApplicationJSONCharsetUTF8).
const contentTypeJSON = "application/json; charset=UTF-8"

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Message string `json:"message"`
}

// writeJSON encodes v as the answer, newline-terminated, indented when the query has "pretty".
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if _, pretty := r.URL.Query()["pretty"]; pretty {
		enc.SetIndent("", "  ")
	}
	// A failed write means the client went away; there is nobody left to tell.
	_ = enc.Encode(v)
}

// writeError answers {"message":msg}; an empty msg becomes the status text, as in Echo.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeJSON(w, r, status, errorBody{Message: msg})
}
