package atproto

import (
	"net/http"
	"time"
)

// maxIdlePerHost is how many idle connections are kept per host. Backfill
// fetches repos from one PDS host and resolves DIDs at one PLC directory,
// several at a time; Go's default of 2 closed and redialled the others on
// every round (net/http dialConn showed in the backfill CPU profile).
const maxIdlePerHost = 64

// NewTransport returns an HTTP transport for tap's outbound atproto
// requests (PDS getRepo, PLC, crawler): the default transport's settings
// with connections kept for reuse per host.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.IdleConnTimeout = 90 * time.Second
	return t
}
