package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/components"
	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/metrics"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/statuspage"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/webhooksink"
	"github.com/tapkit/tap/sinks/websocketsink"
	"github.com/tapkit/tap/sources/firehosesource"
	"github.com/tapkit/tap/stages/verifystage"
)

// Shutdown budgets: the HTTP server as the reference Tap (10 s), then the
// pipeline, which flushes what it holds.
const (
	httpShutdownTimeout     = 10 * time.Second
	pipelineShutdownTimeout = 30 * time.Second
)

// maxHeaderBytes bounds a request's headers; larger ones answer 431.
const maxHeaderBytes = 64 << 10

// serve runs tap until ctx ends or a server fails: open the store, bind the
// listeners (so a taken port fails startup), start the pipeline, serve the
// API; then stop everything in reverse.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger) (err error) {
	errs := statuspage.NewErrorLog(0) // the status page's recent warnings and errors
	logger = slog.New(errs.Handler(logger.Handler()))
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxConns: cfg.Database.MaxConns, Logger: logger.With("component", "store")})
	if err != nil {
		return fmt.Errorf("opening database %s: %w", config.RedactURL(cfg.Database.URL), err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if n, err := db.ResetResyncing(ctx); err != nil {
		return fmt.Errorf("resetting interrupted resyncs: %w", err)
	} else if n > 0 {
		logger.Info("reset interrupted resyncs", "repos", n)
	}

	ctl, err := runtimecfg.New(ctx, db, runtimecfg.FromConfig(cfg), logger.With("component", "runtimecfg"))
	if err != nil {
		return fmt.Errorf("loading runtime settings: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Server.Bind)
	if err != nil {
		return fmt.Errorf("listening on %s (server.bind): %w", cfg.Server.Bind, err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if separateMetrics(cfg) {
		if metricsLn, err = net.Listen("tcp", cfg.Server.MetricsListen); err != nil {
			return fmt.Errorf("listening on %s (server.metrics_listen): %w", cfg.Server.MetricsListen, err)
		}
		defer metricsLn.Close()
	}

	dir := atproto.NewDirectory(atproto.DirectoryOptions{
		PLCURL: cfg.Identity.PLCURL, CacheSize: cfg.Identity.CacheSize,
		DNSResolver: cfg.Identity.DNSResolver, UserAgent: "tap/" + Version(),
	})
	factories, err := components.Factories()
	if err != nil {
		return err
	}
	pcfg := cfg.Pipeline
	pcfg.Sinks = defaultSinks(cfg)
	reg := metrics.New() // per serve call: tests run tap in-process many times
	graph, err := pipeline.Build(ctx, pcfg, factories, pipeline.BuildSettings{
		Logger: logger, Resources: []any{db, identity.Directory(dir), cfg, atproto.UserAgent("tap/" + Version()), ctl, reg},
	})
	if err != nil {
		return err
	}
	if err := reg.Watch(graph, db); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	warnIfUnverified(cfg, logger)
	warnIfOpen(cfg, logger)
	if err := graph.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pipelineShutdownTimeout)
		defer cancel()
		err = errors.Join(err, graph.Shutdown(sctx))
	}()
	status := newStatusPage(cfg, db, graph, errs)
	status.Start(ctx)
	defer status.Close()

	api := &http.Server{
		Handler: httpapi.New(httpapi.Options{
			Store: db, Directory: dir, AdminPassword: cfg.Server.AdminPassword,
			Logger: logger.With("component", "server"), RelayURL: cfg.Relay.URL,
			SignalCollection: cfg.Scope.SignalCollection, FullNetwork: cfg.Scope.FullNetwork,
			MaxBodyBytes: cfg.Server.MaxBodyBytes, FirehoseSeq: firehoseSeq(graph), Channel: channel(graph),
			ReadBodyTimeout: cfg.Server.ReadBodyTimeout, Extra: withStatusPage(mainPortMetrics(cfg, reg.Handler()), status),
			Control: ctl,
		}),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(errorLog(logger.With("component", "server")), "", 0),
	}
	servers := []*http.Server{api}
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("API server: %w", api.Serve(ln)) }()
	if metricsLn != nil {
		m := &http.Server{Handler: metricsMux(reg.Handler()), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: maxHeaderBytes,
			ErrorLog: log.New(errorLog(logger.With("component", "metrics")), "", 0)}
		servers = append(servers, m)
		go func() { errc <- fmt.Errorf("metrics server: %w", m.Serve(metricsLn)) }()
	}
	logger.Info("startup complete", "addr", ln.Addr().String(), "version", Version(),
		"database", config.RedactURL(cfg.Database.URL), "relay", config.RedactURL(cfg.Relay.URL))

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(sctx); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	return err
}

// warnIfUnverified states loudly that events are not verified when the
// configured pipeline has no verify stage (DESIGN invariant 1).
func warnIfUnverified(cfg *config.Config, logger *slog.Logger) {
	for _, s := range cfg.Pipeline.Stages {
		if id, err := pipeline.ParseID(s.ID); err == nil && id.Type == verifystage.Type {
			return
		}
	}
	if len(cfg.Pipeline.Stages) > 0 {
		logger.Warn("THE PIPELINE HAS NO VERIFY STAGE: events are delivered WITHOUT signature or MST verification")
	}
}

// warnIfOpen warns when the API has no admin password and listens beyond
// loopback: anyone who reaches it may add and remove repos and take events.
func warnIfOpen(cfg *config.Config, logger *slog.Logger) {
	if cfg.Server.AdminPassword != "" {
		return
	}
	host, _, err := net.SplitHostPort(cfg.Server.Bind)
	if ip := net.ParseIP(host); err == nil && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return
	}
	logger.Warn("server.admin_password (TAP_ADMIN_PASSWORD) is empty: every route, /repos/add and /channel included, is open to anyone who can reach server.bind",
		"bind", cfg.Server.Bind)
}

// defaultSinks returns the configured sinks, or, when pipeline.sinks is
// empty, the reference Tap's delivery mode: a webhook when
// delivery.webhook_url is set, else the /channel websocket (acked, or
// fire-and-forget with delivery.disable_acks).
func defaultSinks(cfg *config.Config) []pipeline.ComponentConfig {
	switch {
	case len(cfg.Pipeline.Sinks) > 0:
		return cfg.Pipeline.Sinks
	case cfg.Delivery.WebhookURL != "":
		return []pipeline.ComponentConfig{{ID: webhooksink.Type}}
	}
	return []pipeline.ComponentConfig{{ID: "websocket"}}
}

// channel returns the handler of GET /channel: the websocket sink, or the
// reference's 400 when only other sinks deliver.
func channel(g *pipeline.Graph) http.Handler {
	for _, s := range g.Sinks() {
		if h, ok := s.Sink.(http.Handler); ok {
			return h
		}
	}
	return websocketsink.WebhookModeHandler()
}

// firehoseSeq returns the last firehose seq read, for /stats/cursors, or
// nil when no firehose source is configured.
func firehoseSeq(g *pipeline.Graph) func() int64 {
	for _, s := range g.Sources() {
		if f, ok := s.(*firehosesource.Source); ok {
			return f.LastSeq
		}
	}
	return nil
}

// separateMetrics reports whether /metrics and pprof get their own listener:
// server.metrics_listen is set and is not the API's address.
func separateMetrics(cfg *config.Config) bool {
	return cfg.Server.MetricsListen != "" && cfg.Server.MetricsListen != cfg.Server.Bind
}

// mainPortMetrics returns the metrics (served by prom) and pprof handlers to
// mount on the API (behind its admin auth) when server.metrics_listen is the
// same string as server.bind, else nil.
func mainPortMetrics(cfg *config.Config, prom http.Handler) map[string]http.Handler {
	if cfg.Server.MetricsListen == "" || separateMetrics(cfg) {
		return nil
	}
	return metricsHandlers(prom)
}

// metricsMux serves Prometheus metrics (prom) and pprof without auth, as
// TAP_METRICS_LISTEN does in the reference Tap (a separate server on the
// DefaultServeMux).
func metricsMux(prom http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for p, h := range metricsHandlers(prom) {
		mux.Handle(p, h)
	}
	return mux
}

// metricsHandlers are the metrics (prom) and pprof handlers by ServeMux
// pattern.
func metricsHandlers(prom http.Handler) map[string]http.Handler {
	return map[string]http.Handler{
		"/metrics":             prom,
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(redactedCmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}

// redactedCmdline is pprof's /debug/pprof/cmdline with the secrets of the
// command line hidden (--admin-password's value, URL passwords such as
// --db-url's): the separate metrics server has no auth.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with the value of every flag whose name names a
// secret (password, secret, token) replaced by config.Redacted, and the
// password of every URL hidden.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	secretNext := false
	for i, a := range args {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isFlag := strings.HasPrefix(a, "-")
		secretFlag := isFlag && secretFlagName(name)
		switch {
		case secretNext && !isFlag:
			out[i] = config.Redacted
		case secretFlag && hasValue:
			out[i] = a[:strings.Index(a, "=")+1] + config.Redacted
		default:
			out[i] = config.RedactURL(a)
		}
		secretNext = secretFlag && !hasValue
	}
	return out
}

// secretFlagName reports whether a flag name names a secret.
func secretFlagName(name string) bool {
	name = strings.ToLower(name)
	return strings.Contains(name, "password") || strings.Contains(name, "secret") || strings.Contains(name, "token")
}
