package orderstage

import "time"

// LatencyObserver receives the delivery latency of every event: the time
// from its entering the delivery engine (right after its outbox row was
// committed, or when it was loaded from the outbox backlog) until every
// sink acked it. The application passes one as a pipeline resource (the
// metrics registry); it must be cheap and safe for concurrent use.
type LatencyObserver interface {
	ObserveDeliveryLatency(d time.Duration)
}

// WithLatencyObserver makes o see the delivery latency of every event
// acked by every sink.
func WithLatencyObserver(o LatencyObserver) Option {
	return func(s *Stage) { s.latency = o }
}
