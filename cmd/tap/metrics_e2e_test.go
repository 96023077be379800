package main

// Issue 9 (metrics): tap's /metrics on TAP_METRICS_LISTEN exposes the
// reference Tap's metric names (spec B§13) and tap's own, with sane values
// after real traffic; and the Grafana dashboard in deploy/grafana uses only
// names tap exposes.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// referenceMetrics are the reference Tap's names (spec B§13).
var referenceMetrics = []string{
	"tap_firehose_events_received_total", "tap_firehose_events_processed_total", "tap_firehose_events_skipped_total",
	"tap_firehose_last_seq", "tap_event_cache_size", "tap_resyncs_started_total", "tap_resyncs_completed_total",
	"tap_resyncs_failed_total", "tap_resync_duration_seconds_bucket", "tap_resync_duration_seconds_count",
	"tap_events_delivered_total", "tap_events_acked_total", "tap_webhook_requests_total",
	"tap_crawler_repos_discovered_total",
}

// ourMetrics are tap's own names (internal/metrics).
var ourMetrics = []string{
	"tap_stage_events_in_total", "tap_stage_events_out_total", "tap_stage_events_dropped_total", "tap_stage_events_failed_total",
	"tap_lanes_queue_depth", "tap_lanes_queue_capacity", "tap_lanes_dids", "tap_order_pending_events", "tap_order_inflight_events",
	"tap_verify_failures_total", "tap_repos", "tap_backfill_repos_done", "tap_backfill_repos_total", "tap_backfill_records_total",
	"tap_resyncs_rate_limited_total", "tap_sink_events_delivered_total", "tap_sink_events_acked_total",
	"tap_sink_events_retried_total", "tap_sink_events_failed_total", "tap_sink_queued_events",
	"tap_sink_last_error_timestamp_seconds", "tap_sink_last_error_info", "tap_outbox_events",
	"tap_outbox_oldest_event_age_seconds", "tap_delivery_latency_seconds_bucket", "tap_delivery_latency_seconds_count",
	"tap_websocket_clients",
	"tap_websocket_clients_idle",
	"tap_websocket_clients_full",
	"tap_websocket_queued_events",
	"tap_websocket_inflight_events",
}

// flakyHook answers 500 to its first failures requests, then 200.
type flakyHook struct{ failures, seen atomic.Int64 }

func (h *flakyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if h.seen.Add(1) <= h.failures.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestE2EMetrics(t *testing.T) {
	const accounts, history = 2, 10
	net, accts := startNetwork(t, accounts, history)
	port, err := freePortForTest()
	require.NoError(t, err)
	env := testEnv(net, sqliteURL(t))
	env["TAP_METRICS_LISTEN"] = fmt.Sprintf("127.0.0.1:%d", port)
	hook := &flakyHook{}
	hook.failures.Store(3)
	recv := httptest.NewServer(hook)
	defer recv.Close()
	ti := startTap(t, net, env, func(c *config.Config) {
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "websocket"}, {ID: "webhook", Config: map[string]any{
			"url": recv.URL, "retry_min": "10ms", "retry_max": "50ms",
		}}}
	})
	url := "http://" + env["TAP_METRICS_LISTEN"] + "/metrics"

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &consumer{byID: map[int64]string{}}
	go c.run(ctx, func() string { return "ws://" + ti.addr + "/channel" })
	ti.addRepos(accts...)
	backfilled := accounts*history + accounts // records and one identity event per repo
	ti.waitFor("backfill acked", func() bool {
		return scrapeMetrics(t, url).sum("tap_events_acked_total") >= float64(backfilled)
	})
	_, err = accts[0].CreateRecord(post, "live", rec("metrics"))
	require.NoError(t, err)

	want := backfilled + 1 // and the live record
	var m scrape
	ti.waitFor("every event acked by both sinks and the outbox empty", func() bool {
		m = scrapeMetrics(t, url)
		// the database counts are cached for a moment: wait for them too
		return m.sum("tap_events_acked_total") >= float64(want) && m.sum("tap_event_cache_size") == 0 &&
			m.get("tap_backfill_repos_done") == accounts && m.get("tap_outbox_events") == 0
	})
	for _, name := range append(slices.Clone(referenceMetrics), ourMetrics...) {
		require.Contains(t, m, name, "metric %s is exposed", name)
	}
	require.Contains(t, m, "go_goroutines", "the default registry (Go, process) is served too")

	require.Positive(t, m.sum("tap_firehose_last_seq"))
	require.Positive(t, m.sum("tap_firehose_events_received_total"))
	require.Positive(t, m.sum("tap_firehose_events_processed_total"))
	require.GreaterOrEqual(t, m.sum("tap_events_delivered_total"), 2*float64(want), "two sinks")
	require.Equal(t, float64(accounts), m.sum("tap_resyncs_completed_total"))
	require.Equal(t, float64(accounts), m.sum("tap_resync_duration_seconds_count"))
	require.Equal(t, float64(accounts*history), m.sum("tap_backfill_records_total"))
	require.Equal(t, float64(accounts), m.get("tap_backfill_repos_done"))
	require.Equal(t, float64(accounts), m.get("tap_backfill_repos_total"))
	require.Equal(t, float64(accounts), m.get("tap_repos", `state="active"`))
	require.Zero(t, m.get("tap_repos", `state="pending"`))
	require.GreaterOrEqual(t, m.sum("tap_delivery_latency_seconds_count"), float64(want))
	require.Zero(t, m.sum("tap_verify_failures_total"))
	require.Len(t, m["tap_verify_failures_total"], 6, "every reason is exposed")
	require.Equal(t, float64(1), m.get("tap_websocket_clients"))
	require.Equal(t, float64(1), m.get("tap_websocket_clients_idle"), "everything acked: the client waits")
	require.Zero(t, m.get("tap_websocket_clients_full"))
	require.Zero(t, m.get("tap_websocket_queued_events"))
	require.Zero(t, m.get("tap_websocket_inflight_events"))
	require.Equal(t, float64(3), m.get("tap_webhook_requests_total", `status="non_2xx"`))
	require.Positive(t, m.get("tap_webhook_requests_total", `status="success"`))
	require.Positive(t, m.get("tap_sink_last_error_timestamp_seconds", `sink="webhook"`))
	require.Zero(t, m.get("tap_sink_last_error_timestamp_seconds", `sink="websocket"`))
	require.Len(t, m["tap_sink_last_error_info"], 1, "only the webhook failed")
	require.Contains(t, m["tap_sink_last_error_info"][0].labels, `sink="webhook"`)
	require.Equal(t, float64(want), m.get("tap_sink_events_acked_total", `sink="websocket"`))
	require.Equal(t, float64(want), m.get("tap_sink_events_acked_total", `sink="webhook"`))
	require.Zero(t, m.sum("tap_lanes_queue_depth"))
	require.Positive(t, m.get("tap_lanes_queue_capacity"))
	require.Positive(t, m.get("tap_stage_events_in_total", `stage="verify"`))
	require.Positive(t, m.get("tap_stage_events_out_total", `stage="order"`)+m.get("tap_stage_events_dropped_total", `stage="order"`))

	t.Run("dashboard uses only exposed names", func(t *testing.T) {
		for _, name := range dashboardMetrics(t, "../../deploy/grafana/tap.json") {
			require.Contains(t, m, name, "deploy/grafana/tap.json uses %s, which tap does not expose", name)
		}
	})
}

// sample is one line of the exposition format.
type sample struct {
	labels string // the label set as written, without braces
	value  float64
}

// scrape holds the samples of one scrape by metric name.
type scrape map[string][]sample

// sum returns the sum of every sample of name.
func (s scrape) sum(name string) float64 {
	var v float64
	for _, x := range s[name] {
		v += x.value
	}
	return v
}

// get returns the value of the sample of name whose labels contain every
// one of labels (name="value" strings), or NaN-free 0 when there is none.
func (s scrape) get(name string, labels ...string) float64 {
	for _, x := range s[name] {
		if ok := !slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(x.labels, l) }); ok {
			return x.value
		}
	}
	return 0
}

// scrapeMetrics GETs url and parses the Prometheus text format.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := scrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, rest := line, "", ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			require.Greater(t, j, i, line)
			name, labels, rest = line[:i], line[i+1:j], line[j+1:]
		} else {
			name, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		require.NotEmpty(t, fields, line)
		v, err := strconv.ParseFloat(fields[0], 64)
		require.NoError(t, err, line)
		out[name] = append(out[name], sample{labels: labels, value: v})
	}
	require.NoError(t, sc.Err())
	return out
}

// metricName matches a tap metric name in a PromQL expression.
var metricName = regexp.MustCompile(`\btap_[a-z0-9_]+\b`)

// dashboardMetrics returns the tap metric names the expressions of the
// dashboard at path use.
func dashboardMetrics(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var dash struct {
		SchemaVersion int              `json:"schemaVersion"`
		Panels        []dashboardPanel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.GreaterOrEqual(t, dash.SchemaVersion, 36)
	seen := map[string]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				require.Equal(t, "${DS_PROMETHEUS}", tg.Datasource.UID, "panel %q", p.Title)
				for _, n := range metricName.FindAllString(tg.Expr, -1) {
					seen[n] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	require.GreaterOrEqual(t, len(names), 20, "the dashboard uses tap's metrics")
	return names
}

// dashboardPanel is the part of a Grafana panel the check reads.
type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}
