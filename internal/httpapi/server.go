package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/identity"

	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
)

// DefaultMaxBodyBytes is the request body limit used when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 16 << 20

// DefaultReadBodyTimeout is the request body deadline used when Options.ReadBodyTimeout is zero.
const DefaultReadBodyTimeout = time.Minute

// Store is the part of the database the API reads and writes. *store.DB implements it.
type Store interface {
	AddRepos(ctx context.Context, dids []string) (int64, error)
	RemoveRepos(ctx context.Context, dids []string) error
	GetRepo(ctx context.Context, did string) (store.Repo, error)
	ListRepos(ctx context.Context, q store.ListReposQuery) ([]store.Repo, error)
	CountRepos(ctx context.Context) (int64, error)
	CountRecords(ctx context.Context) (int64, error)
	CountOutbox(ctx context.Context) (int64, error)
	CountResyncBuffer(ctx context.Context) (int64, error)
	CountRecordsForDID(ctx context.Context, did string) (int64, error)
	GetFirehoseCursor(ctx context.Context, url string) (int64, error)
	GetListReposCursor(ctx context.Context, url string) (string, error)
	GetCollectionCursor(ctx context.Context, url, collection string) (string, error)
}

var _ Store = (*store.DB)(nil)

// Options configures the handler returned by New.
type Options struct {
	// Store is the database. Required.
	Store Store
	// Directory resolves DIDs for /resolve. Required.
	Directory identity.Directory
	// AdminPassword, when not empty, guards every path with HTTP Basic auth (user "admin").
	AdminPassword string
	// Logger receives the access log (debug) and admin actions (info). Nil discards.
	Logger *slog.Logger
	// Channel serves GET /channel (websocket delivery, or a 400 in webhook mode). Nil answers
	// 503 {"message":"event delivery is not available yet"}.
	Channel http.Handler
	// RelayURL keys the saved firehose and crawler cursors shown by /stats/cursors.
	RelayURL string
	// SignalCollection, when set, makes /stats/cursors show the listReposByCollection cursor.
	SignalCollection string
	// FullNetwork makes /stats/cursors show the listRepos cursor (when SignalCollection is empty).
	FullNetwork bool
	// FirehoseSeq returns the last processed firehose seq held in memory. Nil reads the cursor
	// saved for RelayURL from the store instead.
	FirehoseSeq func() int64
	// MaxBodyBytes bounds request bodies; larger ones answer 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadBodyTimeout bounds the read of a request body, from the handler's start: a body that
	// has not fully arrived by then answers 408 and nothing of it is applied (slow-body
	// clients). Zero means DefaultReadBodyTimeout.
	ReadBodyTimeout time.Duration
	// Extra mounts more handlers, by ServeMux pattern (without method), inside the admin auth:
	// tap puts /metrics and /debug/pprof/ here when they are served on the API's port. A
	// pattern that is also an API route panics in New.
	Extra map[string]http.Handler
	// Control serves /config/collection-filters, /config/signal-collections and POST
	// /repos/resync. Nil answers 503 there.
	Control *runtimecfg.Control
}

// Route is one method and path pattern of the API, as listed by Routes.
type Route struct {
	Method  string
	Pattern string
}

// Routes lists every route the API serves (GET routes also answer HEAD), for tests that must
// cover each one: a new route appears here without further changes.
func Routes() []Route {
	var out []Route
	for _, rt := range (&server{}).routes() {
		out = append(out, Route{rt.method, rt.pattern})
	}
	return out
}

// server holds the dependencies of the route handlers.
type server struct {
	opts        Options
	log         *slog.Logger
	maxBod      int64
	bodyTimeout time.Duration
}

// route is one method and handler on a ServeMux pattern (without method).
type route struct {
	method  string
	pattern string
	handler http.HandlerFunc
}

// New returns the HTTP API handler. It panics if Store or Directory is nil.
func New(opts Options) http.Handler {
	if opts.Store == nil || opts.Directory == nil {
		panic("httpapi: Options.Store and Options.Directory are required")
	}
	s := &server{opts: opts, log: opts.Logger, maxBod: opts.MaxBodyBytes}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBod <= 0 {
		s.maxBod = DefaultMaxBodyBytes
	}
	s.bodyTimeout = opts.ReadBodyTimeout
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = DefaultReadBodyTimeout
	}
	var h http.Handler = s.mux()
	h = refuseCrossOrigin(h)
	h = recoverPanics(h, s.log)
	if opts.AdminPassword != "" {
		h = auth.AdminAuthMiddleware(h.ServeHTTP, []string{opts.AdminPassword})
	}
	return accessLog(h, s.log)
}

// refuseCrossOrigin answers 403 to a state-changing request (any method but GET, HEAD and
// OPTIONS) that a browser sends from another origin, same-site included
// (Sec-Fetch-Site, or an Origin whose host is not the Host): a page must not add or remove
// repos with the admin credentials a browser cached. Clients that are not browsers (curl,
// the @atproto/tap client) send neither header and pass, as do GET and HEAD.
func refuseCrossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusForbidden, "cross-origin request refused")
	}))
	return cop.Handler(next)
}

// routes lists every route of the API. It must not use s.opts.Store yet (Routes calls it on
// an empty server): count routes take Store method expressions.
func (s *server) routes() []route {
	return []route{
		{http.MethodGet, "/health", s.health},
		{http.MethodGet, "/channel", s.channel},
		{http.MethodPost, "/repos/add", s.addRepos},
		{http.MethodPost, "/repos/remove", s.removeRepos},
		{http.MethodGet, "/repos", s.listRepos},
		{http.MethodGet, "/resolve/{did}", s.resolve},
		{http.MethodGet, "/info/{did}", s.info},
		{http.MethodGet, "/stats/repo-count",
			s.countHandler("repo_count", "failed to get repo count", Store.CountRepos)},
		{http.MethodGet, "/stats/record-count",
			s.countHandler("record_count", "failed to get record count", Store.CountRecords)},
		{http.MethodGet, "/stats/outbox-buffer",
			s.countHandler("outbox_buffer", "failed to get outbox buffer size", Store.CountOutbox)},
		{http.MethodGet, "/stats/resync-buffer",
			s.countHandler("resync_buffer", "failed to get resync buffer size", Store.CountResyncBuffer)},
		{http.MethodGet, "/stats/cursors", s.statCursors},
		// Runtime control (control.go).
		{http.MethodPost, "/repos/resync", s.resyncRepos},
		{http.MethodGet, "/config/collection-filters", s.getSetting(runtimecfg.SettingCollectionFilters)},
		{http.MethodPut, "/config/collection-filters", s.putSetting(runtimecfg.SettingCollectionFilters)},
		{http.MethodDelete, "/config/collection-filters", s.resetSetting(runtimecfg.SettingCollectionFilters)},
		{http.MethodGet, "/config/signal-collections", s.getSetting(runtimecfg.SettingSignalCollections)},
		{http.MethodPut, "/config/signal-collections", s.putSetting(runtimecfg.SettingSignalCollections)},
		{http.MethodDelete, "/config/signal-collections", s.resetSetting(runtimecfg.SettingSignalCollections)},
	}
}

// mux registers every pattern once with a dispatcher over its methods, so that a wrong
// method answers a JSON 405 and an unknown path a JSON 404 (ServeMux's own are plain text).
func (s *server) mux() *http.ServeMux {
	byPattern := map[string]map[string]http.HandlerFunc{}
	var order []string
	for _, rt := range s.routes() {
		if byPattern[rt.pattern] == nil {
			byPattern[rt.pattern] = map[string]http.HandlerFunc{}
			order = append(order, rt.pattern)
		}
		byPattern[rt.pattern][rt.method] = rt.handler
		if rt.method == http.MethodGet {
			byPattern[rt.pattern][http.MethodHead] = rt.handler
		}
	}
	mux := http.NewServeMux()
	for _, p := range order {
		mux.Handle(p, methodDispatch(byPattern[p]))
	}
	for p, h := range s.opts.Extra {
		if byPattern[p] != nil {
			panic("httpapi: Options.Extra pattern " + p + " is an API route")
		}
		mux.Handle(p, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "")
	})
	return mux
}

// methodDispatch calls the handler registered for the request method, or answers 405.
func methodDispatch(handlers map[string]http.HandlerFunc) http.Handler {
	allowed := make([]string, 0, len(handlers))
	for m := range handlers {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.Method]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", allow)
		writeError(w, r, http.StatusMethodNotAllowed, "")
	})
}

// health answers {"status":"ok"} without touching the database.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, struct {
		Status string `json:"status"`
	}{"ok"})
}

// channel hands the request to the delivery handler, or answers 503 without one.
func (s *server) channel(w http.ResponseWriter, r *http.Request) {
	if s.opts.Channel == nil {
		writeError(w, r, http.StatusServiceUnavailable, "event delivery is not available yet")
		return
	}
	s.opts.Channel.ServeHTTP(w, r)
}
