package backfillstage

import "time"

// ResyncObserver receives the duration of every resync that ended (fetch,
// verify and commit of the snapshot, successful or not; a resync cut short
// by shutdown is not observed). The application passes one as a pipeline
// resource (the metrics registry); it must be safe for concurrent use.
type ResyncObserver interface {
	ObserveResyncDuration(d time.Duration)
}
