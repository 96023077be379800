package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// maxNamedDIDs bounds how many invalid DIDs an error message names.
const maxNamedDIDs = 100

// didsRequest is the body of POST /repos/add and /repos/remove.
type didsRequest struct {
	DIDs []string `json:"dids"`
}

// httpError is a failure with the status and message to answer.
type httpError struct {
	status int
	msg    string
}

// readDIDs binds the request body the way Echo's DefaultBinder does (same order of checks,
// same messages), with a bounded read: Content-Length 0 is an empty list; a Content-Type other
// than JSON is 415 (a missing one is read as JSON); a body over the limit is 413; a body not
// read within the body timeout is 408.
func (s *server) readDIDs(w http.ResponseWriter, r *http.Request) ([]string, *httpError) {
	var req didsRequest
	if herr := s.readJSON(w, r, &req); herr != nil {
		return nil, herr
	}
	return req.DIDs, nil
}

// readJSON decodes the request body into v with the checks of readDIDs; an empty body
// (Content-Length 0) leaves v as it is.
func (s *server) readJSON(w http.ResponseWriter, r *http.Request, v any) *httpError {
	if r.ContentLength == 0 {
		return nil
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return &httpError{http.StatusUnsupportedMediaType, ""}
	}
	if r.ContentLength > s.maxBod {
		return &httpError{http.StatusRequestEntityTooLarge, ""}
	}
	// The deadline is cleared once the body is read: net/http's background read of the
	// connection would otherwise cancel the request when it passes. (net/http sets the
	// deadline anew for the connection's next request.) A writer that cannot set deadlines (a
	// test recorder) reads without one.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.bodyTimeout))
	body := http.MaxBytesReader(w, r.Body, s.maxBod)
	if err := json.NewDecoder(body).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return decodeError(err)
	}
	// Echo ignores what follows the first JSON value; read it anyway so that any body over the
	// limit is refused, also a chunked one, before anything is applied.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return decodeError(err)
	}
	_ = rc.SetReadDeadline(time.Time{})
	return nil
}

// isJSONContentType reports whether ct is application/json (any parameters) or missing.
func isJSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return false
	}
	return mt == "application/json"
}

// decodeError maps a JSON decode or body read error to Echo's answer for it.
func decodeError(err error) *httpError {
	var (
		tooBig  *http.MaxBytesError
		syntaxE *json.SyntaxError
		typeE   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &httpError{http.StatusRequestEntityTooLarge, ""}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &httpError{http.StatusRequestTimeout, ""}
	case errors.As(err, &syntaxE):
		return &httpError{http.StatusBadRequest,
			fmt.Sprintf("Syntax error: offset=%v, error=%v", syntaxE.Offset, syntaxE.Error())}
	case errors.As(err, &typeE):
		return &httpError{http.StatusBadRequest,
			fmt.Sprintf("Unmarshal type error: expected=%v, got=%v, field=%v, offset=%v",
				typeE.Type, typeE.Value, typeE.Field, typeE.Offset)}
	default:
		return &httpError{http.StatusBadRequest, err.Error()}
	}
}

// checkDIDs validates every DID and drops repeats (first occurrence kept). If any is invalid
// it returns a 400 naming the invalid values, quoted and comma separated.
func checkDIDs(dids []string) ([]string, *httpError) {
	seen := make(map[string]bool, len(dids))
	valid := make([]string, 0, len(dids))
	var bad []string
	badSeen := map[string]bool{}
	for _, d := range dids {
		if _, err := syntax.ParseDID(d); err != nil {
			if !badSeen[d] {
				badSeen[d] = true
				bad = append(bad, d)
			}
			continue
		}
		if !seen[d] {
			seen[d] = true
			valid = append(valid, d)
		}
	}
	if len(bad) > 0 {
		return nil, &httpError{http.StatusBadRequest, "invalid DIDs: " + quoteList(bad)}
	}
	return valid, nil
}

// quoteList renders values as "a", "b", naming at most maxNamedDIDs of them.
func quoteList(values []string) string {
	var b strings.Builder
	for i, v := range values {
		if i == maxNamedDIDs {
			fmt.Fprintf(&b, " (and %d more)", len(values)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(v))
	}
	return b.String()
}
