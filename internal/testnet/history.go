package testnet

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// historyChunk bounds how many writes one internal commit of a bulk build
// carries, so a 1,000,000-record repo never holds all its writes at once.
const historyChunk = 20000

// GenerateHistory adds perAccount generated records to each account,
// building the MSTs in bulk on all cores. It emits NOTHING on the
// firehose: the history predates it, as for repos a consumer must
// backfill with getRepo. A consumer already following these repos will
// see the next #commit break its prevData chain unless it is told by
// EmitSync. Each account ends with one new signed head commit.
func (n *Network) GenerateHistory(ctx context.Context, accounts []*Account, perAccount int) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(accounts)))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(accounts) {
					return
				}
				if err := accounts[i].generate(perAccount); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// generate bulk-writes count generated records into the repo.
func (a *Account) generate(count int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == StatusDeleted {
		return ErrAccountDeleted
	}
	gen := newRecordGen(a.net.opts.Seed, a.index)
	gen.n = a.repo.count
	a.repo.bulk = true
	defer func() { a.repo.bulk = false }()
	for done := 0; done < count; {
		k := min(historyChunk, count-done)
		writes := make([]Write, k)
		for i := range writes {
			coll, rec := gen.next()
			writes[i] = Create(coll, "", rec)
		}
		if _, err := a.repo.applyWrites(writes, a.key); err != nil {
			return err
		}
		done += k
	}
	a.repo.store.settle()
	return nil
}
