package orderstage

import "github.com/tapkit/tap/pipeline"

// WithReleaseHook makes fn see every release of the delivery engine, in release order, under
// the lock of the event's DID.
func WithReleaseHook(fn func(pipeline.Delivery)) Option {
	return func(s *Stage) { s.releaseHook = fn }
}

// TrackedDIDs returns how many DIDs have state in the delivery engine.
func (s *Stage) TrackedDIDs() int { return s.dl.Load().eng.trackedDIDs() }

// GateWaiters returns how many goroutines wait for room in the delivery engine.
func (s *Stage) GateWaiters() int { return int(s.dl.Load().eng.room.waiters.Load()) }

// FollowPolls returns how many polls the outbox follower has made.
func (s *Stage) FollowPolls() uint64 { return s.dl.Load().fol.polls.Load() }

// Releasing reports whether the delivery engine still releases events (Shutdown stops it).
func (s *Stage) Releasing() bool { return !s.dl.Load().eng.stopped.Load() }

// Settings returns the resolved configuration and whether the stage follows the outbox.
func (s *Stage) Settings() (Config, bool) { return s.cfg, s.outboxOnly }
