// Package statuspage serves tap's status page: GET / is one HTML page (embedded, inline CSS
// and JS, nothing external; its Content-Security-Policy allows nothing else) and GET
// /status.json is the Snapshot the page polls every sample interval. The page shows the
// network boundary, the relay and firehose cursor, tracked repos by state with a backfill
// progress bar, events per second in and out with a live chart, the outbox depth and the
// age of its oldest pending event, the sinks and their health, recent warnings and errors,
// the version and the uptime.
//
// The first snapshot is rendered into the HTML, so the page reads without JavaScript; the
// script then refreshes it and draws the chart (an inline SVG) from the samples.
//
// The package knows nothing of the pipeline: tap passes a Store, a Stats func reading its
// components' counters, and an ErrorLog whose Handler tees the warnings and errors off its
// logger. The Page samples the monotonic counters every SampleInterval into a fixed ring
// (DefaultSamples intervals, 5 minutes at 2 s), so its memory is bounded; the ErrorLog keeps
// a fixed number of records with bounded values.
//
// The handlers carry no auth of their own: tap mounts them inside the API's admin auth
// (httpapi.Options.Extra), so they answer 401 without the admin password like every route.
package statuspage
