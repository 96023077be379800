package pipeline

import (
	"context"
	"sync/atomic"
)

// StageStats are the counters the graph keeps for one stage of the chain.
// Out counts calls of next, so a stage that fans out (a snapshot becoming
// many record batches) may count more out than in.
type StageStats struct {
	// ID is the stage's configured id.
	ID ID
	// In counts Process calls (a retried event counts once per attempt).
	In uint64
	// Out counts events the stage passed on (calls of next).
	Out uint64
	// Dropped counts Process calls that returned nil without passing
	// anything on: filtered, replayed or buffered events.
	Dropped uint64
	// Failed counts Process calls that returned an error.
	Failed uint64
}

// NamedStage is a stage with the ID it was configured under.
type NamedStage struct {
	ID    ID
	Stage Stage
}

// countedStage counts what one stage of the chain takes in, passes on and
// drops; it is the stage as the lanes run it.
type countedStage struct {
	Stage
	in, out, dropped, failed atomic.Uint64
}

// Process runs the stage, counting its outcome.
func (c *countedStage) Process(ctx context.Context, ev *Event, next Next) error {
	c.in.Add(1)
	passed := false
	err := c.Stage.Process(ctx, ev, func(ctx context.Context, ev *Event) error {
		passed = true
		c.out.Add(1)
		return next(ctx, ev)
	})
	switch {
	case err != nil:
		c.failed.Add(1)
	case !passed:
		c.dropped.Add(1)
	}
	return err
}

// Stages returns the graph's stages in chain order, each with its ID.
func (g *Graph) Stages() []NamedStage {
	out := make([]NamedStage, len(g.stages))
	for i, s := range g.stages {
		out[i] = NamedStage{ID: s.id, Stage: s.c.(Stage)}
	}
	return out
}

// StageStats returns the counters of every stage, in chain order.
func (g *Graph) StageStats() []StageStats {
	out := make([]StageStats, len(g.counted))
	for i, c := range g.counted {
		out[i] = StageStats{ID: g.stages[i].id, In: c.in.Load(), Out: c.out.Load(),
			Dropped: c.dropped.Load(), Failed: c.failed.Load()}
	}
	return out
}

// Capacity returns how many events the lanes queue at most across all DIDs.
func (l *Lanes) Capacity() int { return l.cfg.Capacity }
