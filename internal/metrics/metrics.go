package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the registry of one tap process. It implements
// backfillstage.ResyncObserver and orderstage.LatencyObserver; pass it to
// pipeline.Build as a resource, then Watch the built graph.
type Metrics struct {
	reg     *prometheus.Registry
	resync  prometheus.Histogram
	latency prometheus.Histogram
}

// ResyncBuckets are the reference's buckets of tap_resync_duration_seconds:
// 0.1 s doubling 12 times (to 204.8 s).
var ResyncBuckets = prometheus.ExponentialBuckets(0.1, 2, 12)

// LatencyBuckets are the buckets of tap_delivery_latency_seconds: 1 ms
// doubling 18 times (to about 131 s).
var LatencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 18)

// New returns a registry with tap's histograms; Watch adds the rest.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		resync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tap_resync_duration_seconds",
			Help:    "Duration of repo resyncs (fetch, verify and commit of the snapshot), successful or not.",
			Buckets: ResyncBuckets,
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tap_delivery_latency_seconds",
			Help:    "Time from an event entering delivery (its outbox row committed, or loaded from the backlog) until every sink acked it.",
			Buckets: LatencyBuckets,
		}),
	}
	m.reg.MustRegister(m.resync, m.latency)
	return m
}

// Registry returns the registry of tap's own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves, in the Prometheus exposition format, tap's metrics and
// those of the default registry: the Go and process collectors and the
// libraries' metrics (indigo's identity directory, ...), as the reference
// Tap does. A collector that fails (the database is unreachable) leaves its
// metrics out of the scrape rather than failing it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, m.reg},
		promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveResyncDuration records one resync's duration.
func (m *Metrics) ObserveResyncDuration(d time.Duration) { m.resync.Observe(d.Seconds()) }

// ObserveDeliveryLatency records one event's delivery latency.
func (m *Metrics) ObserveDeliveryLatency(d time.Duration) { m.latency.Observe(d.Seconds()) }
