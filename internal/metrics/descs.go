package metrics

import "github.com/prometheus/client_golang/prometheus"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The reference Tap's metrics (spec B§13), read at scrape time.
var (
	firehoseReceived  = desc("tap_firehose_events_received_total", "Firehose events read.")
	firehoseProcessed = desc("tap_firehose_events_processed_total", "Firehose events that finished their run through the pipeline.")
	firehoseSkipped   = desc("tap_firehose_events_skipped_total", "Events of untracked repos dropped by the scope filter.")
	firehoseLastSeq   = desc("tap_firehose_last_seq", "Seq of the last firehose event submitted to the pipeline.")
	eventCacheSize    = desc("tap_event_cache_size", "Events held in memory for delivery (pending and in flight).")
	resyncsStarted    = desc("tap_resyncs_started_total", "Repo resyncs started.")
	resyncsCompleted  = desc("tap_resyncs_completed_total", "Repo resyncs completed.")
	resyncsFailed     = desc("tap_resyncs_failed_total", "Repo resyncs that failed (the repo goes to state error).")
	eventsDelivered   = desc("tap_events_delivered_total", "Events handed to sinks, retries included.")
	eventsAcked       = desc("tap_events_acked_total", "Events acked by every sink.")
	webhookRequests   = desc("tap_webhook_requests_total", "Webhook requests by outcome.", "status")
	crawlerDiscovered = desc("tap_crawler_repos_discovered_total", "Repos listed by the crawler, new or already tracked.")
)

// tap's own metrics, read at scrape time.
var (
	stageIn      = desc("tap_stage_events_in_total", "Events a stage processed (each retry counts).", "stage")
	stageOut     = desc("tap_stage_events_out_total", "Events a stage passed on; a stage that fans out passes on more than it takes in.", "stage")
	stageDropped = desc("tap_stage_events_dropped_total", "Events a stage ended without passing anything on (filtered, replayed, buffered).", "stage")
	stageFailed  = desc("tap_stage_events_failed_total", "Events whose processing by a stage returned an error.", "stage")

	lanesQueueDepth    = desc("tap_lanes_queue_depth", "Events queued or running in the lanes.")
	lanesQueueCapacity = desc("tap_lanes_queue_capacity", "Most events the lanes queue before the sources wait.")
	lanesDIDs          = desc("tap_lanes_dids", "DIDs with events queued or running in the lanes.")
	orderPending       = desc("tap_order_pending_events", "Committed events waiting behind their DID's ordering rules.")
	orderInFlight      = desc("tap_order_inflight_events", "Events released to sinks and not yet acked by every sink.")

	verifyFailures = desc("tap_verify_failures_total", "Events that failed verification, by reason.", "reason")

	reposByState       = desc("tap_repos", "Tracked repos by state; every state but active is the resync queue.", "state")
	backfillReposDone  = desc("tap_backfill_repos_done", "Tracked repos in state active (backfilled).")
	backfillReposTotal = desc("tap_backfill_repos_total", "Tracked repos.")
	backfillRecords    = desc("tap_backfill_records_total", "Records read from fetched repo snapshots.")
	resyncsRateLimited = desc("tap_resyncs_rate_limited_total", "Repo resyncs put off because their PDS rate-limited tap.")

	sinkDelivered     = desc("tap_sink_events_delivered_total", "Events handed to a sink, retries included.", "sink")
	sinkAcked         = desc("tap_sink_events_acked_total", "Events a sink acked.", "sink")
	sinkRetried       = desc("tap_sink_events_retried_total", "Events handed to a sink again after a failed attempt.", "sink")
	sinkFailed        = desc("tap_sink_events_failed_total", "Event delivery attempts that failed (each is retried).", "sink")
	sinkQueued        = desc("tap_sink_queued_events", "Released events waiting for one of a sink's workers.", "sink")
	sinkLastErrorAt   = desc("tap_sink_last_error_timestamp_seconds", "Unix time of a sink's latest delivery error; 0 if none.", "sink")
	sinkLastErrorInfo = desc("tap_sink_last_error_info", "1, labelled with a sink's latest delivery error (truncated); absent until the first error.", "sink", "error")

	outboxEvents     = desc("tap_outbox_events", "Outbox rows: events not yet acked by every sink, and acked rows awaiting deletion.")
	outboxOldestAge  = desc("tap_outbox_oldest_event_age_seconds", "Age of the oldest event held for delivery; 0 when none.")
	websocketClients = desc("tap_websocket_clients", "Websocket clients connected to /channel.")
	// websocketClientsIdle and websocketClientsFull split them: waiting for
	// events, and holding max_unacked events (taking none until they ack).
	websocketClientsIdle = desc("tap_websocket_clients_idle", "Websocket clients waiting for events.")
	websocketClientsFull = desc("tap_websocket_clients_full", "Websocket clients holding max_unacked unacknowledged events.")
	// websocketQueued and websocketInFlight are the websocket sink's events
	// waiting for a client to take them, and sent and waiting for an ack.
	websocketQueued   = desc("tap_websocket_queued_events", "Websocket events waiting for a client to take them.")
	websocketInFlight = desc("tap_websocket_inflight_events", "Websocket events sent and waiting for their ack.")
)
