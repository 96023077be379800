// Package metrics is tap's Prometheus registry: one per process (one per
// serve call, so that tests can run tap in-process many times), holding the
// reference Tap's metric names with their meanings, and tap's own. It is
// served together with the default registry (Go and process collectors,
// library metrics).
//
// Almost everything is read at scrape time from the components' counters
// (Stats methods) by a collector over the built pipeline graph; nothing in
// a hot path touches Prometheus except the two histograms, which the stages
// feed through small observer interfaces (backfillstage.ResyncObserver,
// orderstage.LatencyObserver) that *Metrics implements and the application
// passes as a pipeline resource. This package sits beside cmd/tap: it knows
// the concrete sources, stages and sinks, and nothing but cmd/tap imports it.
//
// Reference names (spec B§13), same meanings:
//
//	tap_firehose_events_received_total     firehose events read
//	tap_firehose_events_processed_total    firehose events that finished the pipeline
//	tap_firehose_events_skipped_total      events of untracked repos dropped by filter/scope
//	tap_firehose_last_seq                  seq of the last firehose event submitted
//	tap_event_cache_size                   events held in memory by the delivery engine (pending + in flight)
//	tap_resyncs_started_total, tap_resyncs_completed_total, tap_resyncs_failed_total
//	tap_resync_duration_seconds            histogram, buckets 0.1·2^k, k < 12
//	tap_events_delivered_total             events handed to sinks, retries included
//	tap_events_acked_total                 events acked by every sink
//	tap_webhook_requests_total{status}     success | non_2xx | error
//	tap_crawler_repos_discovered_total     DIDs listed by the crawler, new or not
//
// tap's own:
//
//	tap_stage_events_in_total{stage}, tap_stage_events_out_total{stage},
//	tap_stage_events_dropped_total{stage}, tap_stage_events_failed_total{stage}
//	tap_lanes_queue_depth, tap_lanes_queue_capacity, tap_lanes_dids
//	tap_order_pending_events, tap_order_inflight_events
//	tap_verify_failures_total{reason}      signature | commit | chain | ops | sync | snapshot
//	tap_repos{state}                       tracked repos by state (resync queue: all but active)
//	tap_backfill_repos_done, tap_backfill_repos_total, tap_backfill_records_total
//	tap_resyncs_rate_limited_total
//	tap_sink_events_delivered_total{sink}, tap_sink_events_acked_total{sink},
//	tap_sink_events_retried_total{sink}, tap_sink_events_failed_total{sink},
//	tap_sink_queued_events{sink}
//	tap_sink_last_error_timestamp_seconds{sink}   0 until the sink's first failure
//	tap_sink_last_error_info{sink,error}          1, with the latest error (truncated)
//	tap_outbox_events                      outbox rows, acked rows awaiting delete included
//	tap_outbox_oldest_event_age_seconds    age of the oldest event held for delivery
//	tap_delivery_latency_seconds           histogram: event entered delivery → acked by every sink
//	tap_websocket_clients                  websocket clients connected
//	tap_websocket_clients_{idle,full}      of which waiting for events / holding max_unacked
//	tap_websocket_{queued,inflight}_events events waiting for a client / for an ack
//
// The repo and outbox counts come from the database, at most once per
// dbCacheTTL however often /metrics is scraped.
package metrics
