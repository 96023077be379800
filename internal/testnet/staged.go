package testnet

import (
	"context"
	"errors"
	"time"
)

// StagedLoad is a load generated ahead of time and held back from the
// firehose until Release. It separates the cost of building and signing
// commits (k256 signing alone is ~33 µs a commit here) from emitting them,
// so a benchmark can feed a consumer faster than live generation could
// on the same cores.
//
// While a load is staged, EVERY firehose emission is held (also those of
// other writers), and the repos already contain the staged commits:
// getRepo serves the state after the whole load.
type StagedLoad struct {
	n     *Network
	stats LoadStats
}

// StageLoad generates opts.MaxCommits commits (required) as RunLoad would,
// at full speed, and holds them back. Call Release to emit them.
func (n *Network) StageLoad(ctx context.Context, opts LoadOptions) (*StagedLoad, error) {
	if opts.MaxCommits <= 0 {
		return nil, errors.New("testnet: a staged load needs MaxCommits")
	}
	opts.Rate = 0
	n.events.hold()
	st, err := n.RunLoad(ctx, opts)
	if err != nil {
		n.events.release(-1)
		return nil, err
	}
	return &StagedLoad{n: n, stats: st}, nil
}

// Generated reports what StageLoad built (Elapsed = generation time).
func (s *StagedLoad) Generated() LoadStats { return s.stats }

// Release emits the held frames at rate frames per second (all at once if
// rate <= 0) and returns when all are out or ctx ends (the rest are then
// released at once, so the log never stays held). Elapsed is the release
// time.
func (s *StagedLoad) Release(ctx context.Context, rate float64) (LoadStats, error) {
	start := time.Now()
	st := s.stats
	defer func() { s.n.events.release(-1) }()
	if rate <= 0 {
		s.n.events.release(-1)
		st.Elapsed = time.Since(start)
		return st, nil
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		due := int(time.Since(start).Seconds() * rate)
		if s.n.events.release(due-sent) == 0 {
			st.Elapsed = time.Since(start)
			return st, nil
		}
		sent = due
		select {
		case <-tick.C:
		case <-ctx.Done():
			st.Elapsed = time.Since(start)
			return st, ctx.Err()
		}
	}
}
