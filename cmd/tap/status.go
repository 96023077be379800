package main

import (
	"maps"
	"net/http"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/statuspage"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/websocketsink"
	"github.com/tapkit/tap/sources/firehosesource"
	"github.com/tapkit/tap/stages/orderstage"
)

// newStatusPage returns the status page of the graph (served at / and /status.json).
func newStatusPage(cfg *config.Config, db *store.DB, g *pipeline.Graph, errs *statuspage.ErrorLog) *statuspage.Page {
	mode := statuspage.ModeTrackedRepos
	switch {
	case cfg.Scope.FullNetwork:
		mode = statuspage.ModeFullNetwork
	case cfg.Scope.SignalCollection != "":
		mode = statuspage.ModeSignalCollection
	}
	return statuspage.New(statuspage.Options{
		Store: db, Stats: statusStats(g), Errors: errs, Version: Version(),
		Mode: mode, SignalCollection: cfg.Scope.SignalCollection, RelayURL: config.RedactURL(cfg.Relay.URL),
	})
}

// statusStats returns the func that reads the graph's counters for the status page: the
// firehose source's, the order stage's (events committed, acked, per-sink delivery) and the
// websocket sinks' connected clients.
func statusStats(g *pipeline.Graph) func() statuspage.Stats {
	var fh *firehosesource.Source
	for _, s := range g.Sources() {
		if f, ok := s.(*firehosesource.Source); ok {
			fh = f
		}
	}
	var order *orderstage.Stage
	for _, s := range g.Stages() {
		if o, ok := s.Stage.(*orderstage.Stage); ok {
			order = o
		}
	}
	ws := map[string]*websocketsink.Sink{}
	for _, s := range g.Sinks() {
		if w, ok := s.Sink.(*websocketsink.Sink); ok {
			ws[s.ID.String()] = w
		}
	}
	return func() statuspage.Stats {
		var st statuspage.Stats
		if fh != nil {
			f := fh.Stats()
			st.Firehose, st.FirehoseSeq, st.FirehoseEvents = true, f.LastSeq, f.Events
		}
		if order == nil {
			return st
		}
		o := order.Stats()
		st.EventsIn, st.EventsOut, st.OldestPending = o.Outbox, o.Delivery.Acked, o.Delivery.OldestPending
		for _, s := range o.Delivery.Sinks {
			ss := statuspage.SinkStats{ID: s.ID.String(), Delivered: s.Delivered, Acked: s.Acked, Failed: s.Failed,
				Queued: s.Queued, LastError: s.LastError, LastErrorAt: s.LastErrorAt}
			if w := ws[ss.ID]; w != nil {
				n := w.Stats().Connected
				ss.Clients = &n
			}
			st.Sinks = append(st.Sinks, ss)
		}
		return st
	}
}

// withStatusPage adds the status page's handlers to the API's extra handlers.
func withStatusPage(extra map[string]http.Handler, page *statuspage.Page) map[string]http.Handler {
	out := maps.Clone(page.Handlers())
	maps.Copy(out, extra)
	return out
}
