package metrics

import (
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/webhooksink"
	"github.com/tapkit/tap/sinks/websocketsink"
	"github.com/tapkit/tap/sources/crawlersource"
	"github.com/tapkit/tap/sources/firehosesource"
	"github.com/tapkit/tap/stages/backfillstage"
	"github.com/tapkit/tap/stages/filterstage"
	"github.com/tapkit/tap/stages/orderstage"
	"github.com/tapkit/tap/stages/verifystage"
)

// maxErrorLabel bounds the error label of tap_sink_last_error_info, in bytes.
const maxErrorLabel = 120

// Watch registers the collector that reads g's components and db at scrape
// time. Call it once per graph.
func (m *Metrics) Watch(g *pipeline.Graph, db DB) error {
	return m.reg.Register(&graphCollector{g: g, db: newDBCache(db)})
}

// graphCollector reads the counters of a built graph's components. It is an
// unchecked collector (Describe sends nothing): its label values (stages,
// sinks) are only known at scrape time.
type graphCollector struct {
	g  *pipeline.Graph
	db *dbCache
}

// Describe sends nothing: the collector is unchecked.
func (*graphCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every metric of the graph. Metrics of the reference Tap are
// always sent, zero when their component is not configured, so that its
// dashboards find them.
func (c *graphCollector) Collect(ch chan<- prometheus.Metric) {
	e := emitter{ch}
	c.collectSources(e)
	own := c.collectSinks(e)
	c.collectStages(e, own)
	c.collectLanes(e)
	c.collectDB(e)
}

func (c *graphCollector) collectSources(e emitter) {
	var received, processed, discovered uint64
	var lastSeq int64
	for _, s := range c.g.Sources() {
		switch s := s.(type) {
		case *firehosesource.Source:
			received += s.Stats().Events
			processed += s.Processed()
			lastSeq = max(lastSeq, s.LastSeq())
		case *crawlersource.Source:
			discovered += s.Stats().Discovered
		}
	}
	e.counter(firehoseReceived, received)
	e.counter(firehoseProcessed, processed)
	e.gauge(firehoseLastSeq, float64(lastSeq))
	e.counter(crawlerDiscovered, discovered)
}

func (c *graphCollector) collectStages(e emitter, own map[pipeline.ID]lastError) {
	for _, st := range c.g.StageStats() {
		id := st.ID.String()
		e.counter(stageIn, st.In, id)
		e.counter(stageOut, st.Out, id)
		e.counter(stageDropped, st.Dropped, id)
		e.counter(stageFailed, st.Failed, id)
	}
	var skipped, snapRecords, started, completed, failed, limited uint64
	var failures [verifystage.NumFailureReasons]uint64
	var order orderstage.Stats
	for _, ns := range c.g.Stages() {
		switch s := ns.Stage.(type) {
		case *filterstage.ScopeStage:
			skipped += s.Dropped.Load()
		case *verifystage.Stage:
			snapRecords += s.Stats.SnapshotRecords.Load()
			for r := range verifystage.NumFailureReasons {
				failures[r] += s.Stats.Failures(r)
			}
		case *backfillstage.Stage:
			started += s.Stats.Started.Load()
			completed += s.Stats.Completed.Load()
			failed += s.Stats.Failed.Load()
			limited += s.Stats.RateLimited.Load()
		case *orderstage.Stage:
			order = s.Stats()
		}
	}
	e.counter(firehoseSkipped, skipped)
	e.counter(backfillRecords, snapRecords)
	for r := range verifystage.NumFailureReasons {
		e.counter(verifyFailures, failures[r], r.String())
	}
	e.counter(resyncsStarted, started)
	e.counter(resyncsCompleted, completed)
	e.counter(resyncsFailed, failed)
	e.counter(resyncsRateLimited, limited)
	c.collectDelivery(e, order.Delivery, own)
}

// lastError is a sink's latest error and when it happened.
type lastError struct {
	msg string
	at  time.Time
}

// collectDelivery sends the order stage's delivery metrics, per sink too.
// A sink's last error is the later of the order stage's (a failed Deliver)
// and the one the sink reports itself (own: failures it retried inside
// Deliver, as the webhook sink does).
func (c *graphCollector) collectDelivery(e emitter, d orderstage.DeliveryStats, own map[pipeline.ID]lastError) {
	var delivered uint64
	for _, s := range d.Sinks {
		id := s.ID.String()
		delivered += s.Delivered
		e.counter(sinkDelivered, s.Delivered, id)
		e.counter(sinkAcked, s.Acked, id)
		e.counter(sinkRetried, s.Retried, id)
		e.counter(sinkFailed, s.Failed, id)
		e.gauge(sinkQueued, float64(s.Queued), id)
		last := lastError{s.LastError, s.LastErrorAt}
		if o := own[s.ID]; o.at.After(last.at) {
			last = o
		}
		var at float64
		if !last.at.IsZero() {
			at = float64(last.at.UnixNano()) / 1e9
		}
		e.gauge(sinkLastErrorAt, at, id)
		if last.msg != "" {
			e.gauge(sinkLastErrorInfo, 1, id, truncate(last.msg, maxErrorLabel))
		}
	}
	e.counter(eventsDelivered, delivered)
	e.counter(eventsAcked, d.Acked)
	e.gauge(eventCacheSize, float64(d.Pending+d.InFlight))
	e.gauge(orderPending, float64(d.Pending))
	e.gauge(orderInFlight, float64(d.InFlight))
	e.gauge(outboxOldestAge, d.OldestPending.Seconds())
}

// collectSinks sends the sinks' own metrics and returns the last errors the
// sinks report themselves.
func (c *graphCollector) collectSinks(e emitter) map[pipeline.ID]lastError {
	own := map[pipeline.ID]lastError{}
	requests := map[string]uint64{webhooksink.StatusSuccess: 0, webhooksink.StatusNon2xx: 0, webhooksink.StatusError: 0}
	clients, idle, full, queued, inflight := 0, 0, 0, 0, 0
	for _, ns := range c.g.Sinks() {
		switch s := ns.Sink.(type) {
		case *webhooksink.Sink:
			st := s.Stats()
			for status, n := range st.Requests() {
				requests[status] += n
			}
			own[ns.ID] = lastError{st.LastError, st.LastErrorAt}
		case *websocketsink.Sink:
			st := s.Stats()
			clients += st.Connected
			idle += st.Idle
			full += st.Full
			queued += st.Queued
			inflight += st.InFlight
		}
	}
	for status, n := range requests {
		e.counter(webhookRequests, n, status)
	}
	e.gauge(websocketClients, float64(clients))
	e.gauge(websocketClientsIdle, float64(idle))
	e.gauge(websocketClientsFull, float64(full))
	e.gauge(websocketQueued, float64(queued))
	e.gauge(websocketInFlight, float64(inflight))
	return own
}

func (c *graphCollector) collectLanes(e emitter) {
	l := c.g.Lanes()
	st := l.Stats()
	e.gauge(lanesQueueDepth, float64(st.Queued))
	e.gauge(lanesQueueCapacity, float64(l.Capacity()))
	e.gauge(lanesDIDs, float64(st.DIDs))
}

// collectDB sends the repo and outbox counts; when the database fails, an
// invalid metric reports the error and the rest of the scrape goes on.
func (c *graphCollector) collectDB(e emitter) {
	counts, err := c.db.get()
	if err != nil {
		e.ch <- prometheus.NewInvalidMetric(reposByState, err)
		return
	}
	var total int64
	for state, n := range counts.repos {
		total += n
		e.gauge(reposByState, float64(n), string(state))
	}
	e.gauge(backfillReposDone, float64(counts.repos[store.RepoStateActive]))
	e.gauge(backfillReposTotal, float64(total))
	e.gauge(outboxEvents, float64(counts.outbox))
}

// emitter sends const metrics.
type emitter struct{ ch chan<- prometheus.Metric }

func (e emitter) counter(d *prometheus.Desc, v uint64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
