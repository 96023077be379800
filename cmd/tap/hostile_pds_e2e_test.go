package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

// hostileMaxCAR is the max_car_bytes of the hostile-PDS test: well under
// the gigantic CAR, so the limit, not the CAR's end, stops its download.
const hostileMaxCAR = 24 << 20

// hostileCase is one hostile getRepo answer and the error tap must record.
type hostileCase struct {
	name string
	kind testnet.PDSFaultKind
	msg  string
}

var hostileCases = []hostileCase{
	{"hang", testnet.PDSFaultHang, "timeout: no answer within fetch_timeout"},
	{"stall-body", testnet.PDSFaultStallBody, "timeout: CAR not complete within fetch_timeout"},
	{"gigantic-car", testnet.PDSFaultGiganticCAR, fmt.Sprintf("CAR exceeds max_car_bytes (%d bytes)", hostileMaxCAR)},
	{"infinite-car", testnet.PDSFaultInfiniteCAR, fmt.Sprintf("CAR exceeds max_car_bytes (%d bytes)", hostileMaxCAR)},
	{"redirect-loop", testnet.PDSFaultRedirectLoop, "too many redirects"},
	{"html", testnet.PDSFaultHTMLContentType, "unexpected content type text/html"},
	{"json-200", testnet.PDSFaultJSONError200, "unexpected content type application/json with HTTP 200, want application/vnd.ipld.car: XRPC error InternalServerError"},
}

// hostileHeap samples the live heap (after a forced GC) until stopped and
// keeps the peak.
type hostileHeap struct {
	base, peak atomic.Uint64
	samples    atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

func hostileLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func startHostileHeap() *hostileHeap {
	h := &hostileHeap{stop: make(chan struct{}), done: make(chan struct{})}
	h.base.Store(hostileLiveHeap())
	go func() {
		defer close(h.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			if v := hostileLiveHeap(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			h.samples.Add(1)
		}
	}()
	return h
}

func (h *hostileHeap) finish() { close(h.stop); <-h.done }

// hostileProber polls tap's API until stopped, counting answers that are
// not 200.
type hostileProber struct {
	probes, failures atomic.Int64
	lastFailure      atomic.Value
	stop             chan struct{}
	wg               sync.WaitGroup
}

func startHostileProber(addr string, paths []string) *hostileProber {
	p := &hostileProber{stop: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	p.wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			path := paths[i%len(paths)]
			resp, err := client.Get("http://" + addr + path)
			p.probes.Add(1)
			if err != nil {
				p.failures.Add(1)
				p.lastFailure.Store(path + ": " + err.Error())
				continue
			}
			var body map[string]any
			derr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || derr != nil {
				p.failures.Add(1)
				p.lastFailure.Store(fmt.Sprintf("%s: HTTP %d %v", path, resp.StatusCode, derr))
			}
		}
	})
	return p
}

func (p *hostileProber) finish() { close(p.stop); p.wg.Wait() }

// TestE2EHostilePDS runs tap against PDS hosts that hang (before the
// headers and in the middle of the CAR), send a gigantic (64 MiB) or an
// endless CAR, loop on redirects, or answer 200 with HTML or an XRPC error
// in JSON. All faults are live at once, each on its own repo of PDS host 0,
// while healthy repos (on host 1 and host 0) backfill and receive live
// commits. It checks that tap keeps serving its API throughout, that its
// live heap does not grow with the CARs it refuses (sampled after a forced
// GC while several limit-sized downloads are refused), that each faulty repo is in state error with a message naming the
// cause, in the store and in GET /info/{did}, that healthy repos converge
// meanwhile, and that once the faults clear every repo recovers to active
// with exactly the ground truth's records.
//
// Short form: 6 healthy repos, 5 live rounds, a heap window of 3 refused
// 24 MiB downloads. TAP_SOAK=1: 30 healthy repos, 40 live rounds, the
// faults held over more retry rounds and a heap window of 20 downloads.
func TestE2EHostilePDS(t *testing.T) {
	healthyN, records, liveRounds, heldRetries, heapWindowCARs := 6, 10, 5, 1, 3
	if os.Getenv("TAP_SOAK") == "1" {
		healthyN, records, liveRounds, heldRetries, heapWindowCARs = 30, 40, 40, 4, 20
	}
	start := time.Now()
	net, err := testnet.Start(t.Context(), testnet.Options{Seed: 11, PDSCount: 2})
	require.NoError(t, err)
	t.Cleanup(net.Close)
	// accounts alternate between the hosts: even ones live on host 0
	accts, err := net.CreateAccounts(2 * max(len(hostileCases)+1, healthyN))
	require.NoError(t, err)
	require.NoError(t, net.GenerateHistory(t.Context(), accts, records))
	var victims, healthy []*testnet.Account
	for i, a := range accts {
		switch {
		case i%2 == 0 && len(victims) < len(hostileCases):
			victims = append(victims, a)
		case i%2 == 0 && len(victims) == len(hostileCases) && len(healthy) == 0:
			healthy = append(healthy, a) // a healthy repo on host 0, beside the victims
		}
	}
	for i, a := range accts {
		if i%2 == 1 && len(healthy) < healthyN+1 {
			healthy = append(healthy, a)
		}
	}
	f := net.Faults()
	for i, c := range hostileCases {
		f.SetRepoFault(victims[i].DID(), testnet.PDSFault{Kind: c.kind})
	}

	spillDir := t.TempDir()
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), func(cfg *config.Config) {
		for i := range cfg.Pipeline.Stages {
			switch cfg.Pipeline.Stages[i].ID {
			case "backfill":
				cfg.Pipeline.Stages[i].Config = map[string]any{"poll_interval": "20ms", "min_backoff": "300ms",
					"max_backoff": "1s", "host_backoff": "200ms", "fetch_timeout": "2s"}
			case "verify":
				cfg.Pipeline.Stages[i].Config = map[string]any{"max_car_bytes": hostileMaxCAR, "spill_dir": spillDir}
			}
		}
	})
	probe := startHostileProber(ti.addr, []string{"/health", "/repos?limit=100", "/info/" + victims[0].DID().String(), "/stats/repo-count"})
	ti.postRepos(append(append([]*testnet.Account(nil), victims...), healthy...))

	// live load on every repo while the faults hold
	for round := range liveRounds {
		for _, a := range append(append([]*testnet.Account(nil), healthy...), victims...) {
			_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("live-%d", round)), rec(fmt.Sprintf("round %d", round)))
			require.NoError(t, err)
		}
	}
	for _, a := range healthy {
		ti.converged(a) // healthy repos backfill and stream meanwhile
	}
	for i, c := range hostileCases {
		did := victims[i].DID()
		ti.waitFor(c.name+" recorded as an error", func() bool {
			r, err := ti.db.GetRepo(t.Context(), did.String())
			return err == nil && r.State == store.RepoStateError && r.RetryCount >= heldRetries && strings.Contains(r.ErrorMsg, c.msg)
		})
		// the API shows it too (read again until it does: a retry may
		// claim the repo between the two reads, showing "resyncing")
		ti.waitFor(c.name+" shown as an error by /info", func() bool {
			info := ti.getJSON("/info/" + did.String())
			msg, _ := info["error"].(string)
			return info["state"] == "error" && strings.Contains(msg, c.msg)
		})
		require.Empty(t, recordsOf(ti.events(), did), "%s: a refused snapshot delivers nothing", c.name)
	}
	ti.waitFor("a padded CAR download stopped by the limit", func() bool { return f.Hostile().MaxBytes >= hostileMaxCAR-1<<20 })

	// The heap window: with the repos loaded and the live load done, only
	// the hostile retries run (the test process also holds the testnet and
	// tap's log, which grow with the load). It lasts until tap has been sent
	// heapWindowCARs times max_car_bytes of padded CARs.
	heap := startHostileHeap()
	windowBytes := f.Hostile().Bytes
	ti.waitFor("padded CARs streamed during the heap window", func() bool {
		return f.Hostile().Bytes-windowBytes >= int64(heapWindowCARs)*hostileMaxCAR && heap.samples.Load() >= 5
	})
	heap.finish()
	windowBytes = f.Hostile().Bytes - windowBytes
	// one more live round: the healthy repos still stream
	for _, a := range healthy {
		_, err := a.CreateRecord(post, "during-faults", rec("still streaming"))
		require.NoError(t, err)
	}
	for _, a := range healthy {
		ti.converged(a)
	}
	probe.finish()
	hostile := f.Hostile()
	base, peak := heap.base.Load(), heap.peak.Load()
	growth := int64(peak) - int64(base)
	require.Less(t, hostile.MaxBytes, int64(hostileMaxCAR+16<<20),
		"no padded CAR was read much past max_car_bytes (socket buffers aside)")
	require.Less(t, hostile.MaxBytes, testnet.DefaultGiganticCARSize, "the gigantic CAR was never downloaded whole")
	require.Less(t, growth, int64(hostileMaxCAR/2), "live heap grew by %d MiB while refusing %d MiB of %d MiB CARs (base %d MiB, peak %d MiB)",
		growth>>20, windowBytes>>20, hostileMaxCAR>>20, base>>20, peak>>20)
	require.Positive(t, heap.samples.Load())
	left, err := os.ReadDir(spillDir)
	require.NoError(t, err)
	require.Empty(t, left, "refused CARs leave no spill file")
	require.Positive(t, probe.probes.Load())
	require.Zero(t, probe.failures.Load(), "API answers during the faults: last failure %v", probe.lastFailure.Load())

	// the faults clear: every repo recovers
	f.ClearPDSFaults()
	for _, a := range victims {
		ti.converged(a)
		require.Zero(t, ti.repo(a.DID()).RetryCount)
		require.Empty(t, ti.repo(a.DID()).ErrorMsg)
	}
	for _, a := range append(append([]*testnet.Account(nil), healthy...), victims...) {
		ti.converged(a)
	}
	evs := ti.events()
	lost, recordEvents := 0, 0
	for _, a := range append(append([]*testnet.Account(nil), healthy...), victims...) {
		got, want := current(recordsOf(evs, a.DID())), truth(t, a)
		recordEvents += len(recordsOf(evs, a.DID()))
		for p, c := range want {
			if got[p] != c {
				lost++
			}
		}
	}
	require.Zero(t, lost)
	t.Logf("reliability: hostile-pds faults=%d (hang x2, gigantic-car %dMiB, infinite-car, redirect-loop, wrong-content-type x2) "+
		"max_car_bytes=%dMiB peak_heap=%dMiB heap_growth=%dMiB heap_window_streamed=%dMiB hostile_responses=%d hostile_bytes=%dMiB max_download=%dMiB "+
		"healthy_repos=%d api_probes=%d api_failures=0 events=%d lost=%d wall=%s",
		len(hostileCases), testnet.DefaultGiganticCARSize>>20, hostileMaxCAR>>20, peak>>20, max(growth, 0)>>20, windowBytes>>20, hostile.Served,
		hostile.Bytes>>20, hostile.MaxBytes>>20, len(healthy), probe.probes.Load(), recordEvents, lost, time.Since(start).Round(time.Millisecond))
}
