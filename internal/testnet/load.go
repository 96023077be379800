package testnet

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"
	"time"
)

// LoadOptions configure RunLoad.
type LoadOptions struct {
	// Rate is the target commits per second over all accounts; zero or
	// less means as fast as possible.
	Rate float64
	// Accounts receive the commits (default: every account at start).
	// Accounts that are not active are skipped.
	Accounts []*Account
	// MaxCommits stops the load after this many commits; zero means no
	// limit (run until ctx ends).
	MaxCommits int64
	// Workers is the number of writer goroutines (default GOMAXPROCS).
	// Accounts are partitioned among them, so one account's commits are
	// always in order.
	Workers int
	// CreatePct and UpdatePct set the op mix in percent (the rest are
	// deletes); both zero means 60% create, 25% update, 15% delete. An
	// account without records always gets a create.
	CreatePct, UpdatePct int
}

// LoadStats reports what RunLoad did.
type LoadStats struct {
	Commits, Creates, Updates, Deletes int64
	Elapsed                            time.Duration
}

// PerSecond returns commits per second.
func (s LoadStats) PerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Commits) / s.Elapsed.Seconds()
}

// RunLoad writes live single-op commits (mixed create/update/delete) at
// opts.Rate until ctx ends or MaxCommits is reached; each is a normal
// #commit on the firehose. It returns nil when stopped by ctx.
func (n *Network) RunLoad(ctx context.Context, opts LoadOptions) (LoadStats, error) {
	accts := opts.Accounts
	if accts == nil {
		accts = n.Accounts()
	}
	if len(accts) == 0 {
		return LoadStats{}, errors.New("testnet: load needs at least one account")
	}
	if opts.CreatePct == 0 && opts.UpdatePct == 0 {
		opts.CreatePct, opts.UpdatePct = 60, 25
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(accts))
	// Every run draws its own records: a second run seeded like the first
	// would rewrite the same records with identical content.
	n.mu.Lock()
	n.loads++
	seed := n.opts.Seed ^ n.loads<<32
	n.mu.Unlock()
	l := &loader{opts: opts, start: time.Now()}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		mine := make([]*Account, 0, len(accts)/workers+1)
		for i := w; i < len(accts); i += workers {
			mine = append(mine, accts[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = l.work(ctx, seed, w, mine)
		}()
	}
	wg.Wait()
	st := l.stats()
	return st, errors.Join(errs...)
}

// loader is the shared state of one RunLoad.
type loader struct {
	opts                      LoadOptions
	start                     time.Time
	issued                    atomic.Int64
	creates, updates, deletes atomic.Int64
}

func (l *loader) stats() LoadStats {
	c, u, d := l.creates.Load(), l.updates.Load(), l.deletes.Load()
	return LoadStats{Commits: c + u + d, Creates: c, Updates: u, Deletes: d, Elapsed: time.Since(l.start)}
}

// work runs one writer over its accounts.
func (l *loader) work(ctx context.Context, seed int64, w int, accts []*Account) error {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
	gens := make(map[*Account]*recordGen, len(accts))
	for ctx.Err() == nil && len(accts) > 0 {
		k := l.issued.Add(1)
		if l.opts.MaxCommits > 0 && k > l.opts.MaxCommits {
			return nil
		}
		if !l.pace(ctx, k) {
			return nil
		}
		i := rng.IntN(len(accts))
		a := accts[i]
		g := gens[a]
		if g == nil {
			g = newRecordGen(seed^int64(0x5eed), a.index)
			gens[a] = g
		}
		action, err := a.applyRandom(rng, g, l.opts.CreatePct, l.opts.UpdatePct)
		if errors.Is(err, errSkip) {
			// inactive account: give the slot back and stop writing to it
			l.issued.Add(-1)
			accts[i] = accts[len(accts)-1]
			accts = accts[:len(accts)-1]
			continue
		}
		if err != nil {
			return err
		}
		l.count(action)
	}
	return nil
}

// pace waits until commit k is due; false means ctx ended.
func (l *loader) pace(ctx context.Context, k int64) bool {
	if l.opts.Rate <= 0 {
		return true
	}
	due := l.start.Add(time.Duration(float64(k) / l.opts.Rate * float64(time.Second)))
	wait := time.Until(due)
	if wait < time.Millisecond {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *loader) count(a Action) {
	switch a {
	case ActionCreate:
		l.creates.Add(1)
	case ActionUpdate:
		l.updates.Add(1)
	case ActionDelete:
		l.deletes.Add(1)
	}
}

var errSkip = errors.New("testnet: account skipped")

// applyRandom applies one random write as one commit.
func (a *Account) applyRandom(rng *rand.Rand, g *recordGen, createPct, updatePct int) (Action, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status != StatusActive {
		return "", errSkip
	}
	w := a.randomWrite(rng, g, createPct, updatePct)
	for w.Action == ActionUpdate && a.repo.unchanged(w) {
		// A PDS makes no commit for a write that changes nothing, and
		// such a commit's CAR would lack the tree it claims to change.
		w.Record = g.record(w.Collection)
	}
	res, err := a.repo.applyWrites([]Write{w}, a.key)
	if err != nil {
		return "", err
	}
	_, err = a.emitCommitLocked(res, a.net.faults.takeCommitFault(a.did))
	return w.Action, err
}

func (a *Account) randomWrite(rng *rand.Rand, g *recordGen, createPct, updatePct int) Write {
	p := rng.IntN(100)
	if p < createPct || a.repo.count == 0 {
		coll, rec := g.next()
		return Create(coll, "", rec)
	}
	path := a.repo.ensurePaths().random(rng)
	coll, rkey := splitKnownPath(path)
	if p < createPct+updatePct {
		return Update(coll, rkey, g.record(coll))
	}
	return Delete(coll, rkey)
}

// pathIndex is a set of record paths with O(1) random choice.
type pathIndex struct {
	paths []string
	at    map[string]int
}

// ensurePaths builds the path index on first use.
func (r *repoState) ensurePaths() *pathIndex {
	if r.paths == nil {
		p := &pathIndex{at: make(map[string]int, r.count)}
		_ = r.tree.Walk(func(key []byte, _ cid.Cid) error {
			p.add(string(key))
			return nil
		})
		r.paths = p
	}
	return r.paths
}

func (p *pathIndex) add(path string) {
	if p == nil {
		return
	}
	p.at[path] = len(p.paths)
	p.paths = append(p.paths, path)
}

func (p *pathIndex) remove(path string) {
	if p == nil {
		return
	}
	i, ok := p.at[path]
	if !ok {
		return
	}
	last := len(p.paths) - 1
	p.paths[i] = p.paths[last]
	p.at[p.paths[i]] = i
	p.paths = p.paths[:last]
	delete(p.at, path)
}

func (p *pathIndex) random(rng *rand.Rand) string {
	return p.paths[rng.IntN(len(p.paths))]
}
