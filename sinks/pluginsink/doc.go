// Package pluginsink is the "plugin" sink: it runs a sink plugin built with
// package plugins/sdk as a child process (hashicorp/go-plugin over gRPC,
// mutual TLS) and delivers events to it.
//
// Start verifies the binary (when sha256 is set), starts it and passes it
// the sink's "config" map; a Configure error fails Start with the plugin's
// message. Deliver cuts the batch into chunks of batch_size events, sends up
// to max_in_flight chunks at once and maps the plugin's per-event results:
// Acked is delivered, Retry is a retryable error, Failed is
// pipeline.Permanent. The plugin's stderr goes to tap's log.
//
// If the plugin crashes (or its connection breaks), the events in flight
// fail with a retryable error, so the engine delivers them again (at least
// once). The next Deliver restarts the plugin, waiting first for a capped,
// exponential backoff that grows with consecutive crashes.
package pluginsink
