package main

// Hostile relay and PLC directory, end to end (issue 8 part 3, network
// half A): an in-process tap follows a testnet whose relay stalls, floods
// old-seq replays and seq rewinds, sends oversized frames, drops every
// connection after a few frames and refuses subscribes, and whose PLC
// directory answers garbage. Throughout, tap serves its HTTP API, logs
// each fault, keeps its heap bounded and, once the faults clear, converges
// to the testnet's ground truth for every account with nothing lost or
// reordered.
//
// Short form (CI):  go test -race -count=1 -run 'TestE2EHostile(Relay|PLC)' ./cmd/tap/
// Long form:        TAP_SOAK=1 go test -race -count=1 -timeout 30m -run 'TestE2EHostile(Relay|PLC)' ./cmd/tap/
// (TAP_SOAK=1: more accounts, a faster load, 20000 replays, 40 rewinds,
// 500 oversized frames, 40 dropped connections; four broken repos per PLC
// fault kind.)

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

// hostileRelayPlan sizes the hostile relay suite.
type hostileRelayPlan struct {
	accounts, history int
	rate              float64 // live commits per second during the faults
	replays           int     // old-seq frames in the replay flood
	rewinds           int     // new commits sent under a rewound seq
	oversized         int     // garbage oversized frames
	oversizedCommits  int     // well-formed oversized #commit frames
	drops             int     // connections cut after dropAfter frames
	dropAfter         int
	refusals          int // refused subscribes to wait for
	heapBound         uint64
}

func hostileRelayPlanFromEnv() hostileRelayPlan {
	p := hostileRelayPlan{accounts: 6, history: 5, rate: 25, replays: 2000, rewinds: 5, oversized: 50,
		oversizedCommits: 3, drops: 10, dropAfter: 5, refusals: 3, heapBound: 384 << 20}
	if os.Getenv("TAP_SOAK") == "1" {
		p.accounts, p.history, p.rate = 20, 10, 80
		p.replays, p.rewinds, p.oversized, p.oversizedCommits, p.drops, p.refusals = 20000, 40, 500, 20, 40, 10
	}
	return p
}

// Firehose timings of the suite: a silent relay is given up after
// hostileReadTimeout; frames over hostileMaxFrame are skipped.
const (
	hostileReadTimeout = 600 * time.Millisecond
	hostileMaxFrame    = 256 << 10
	hostileJunkFrame   = 1 << 20 // garbage frames: four times the limit
)

// hostileRelayTweak sets the firehose source's timeouts, reconnect delays
// and frame limit small.
func hostileRelayTweak(cfg *config.Config) {
	for i := range cfg.Pipeline.Sources {
		if cfg.Pipeline.Sources[i].ID == "firehose" {
			cfg.Pipeline.Sources[i].Config = map[string]any{
				"ping_interval": "100ms", "read_timeout": hostileReadTimeout.String(),
				"reconnect_delay": "20ms", "reconnect_max_delay": "200ms", "max_frame_bytes": hostileMaxFrame,
			}
		}
	}
}

// hostileProbe polls tap's API (and the test heap) in the background while
// faults run.
type hostileProbe struct {
	ok, failed atomic.Int64
	maxHeap    atomic.Uint64
	lastErr    atomic.Value // string
	stop       context.CancelFunc
	done       chan struct{}
}

func startHostileProbe(ti *tapInstance) *hostileProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &hostileProbe{stop: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(p.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			for _, path := range []string{"/health", "/stats/repo-count"} {
				resp, err := client.Get("http://" + ti.addr + path)
				switch {
				case err != nil:
					p.failed.Add(1)
					p.lastErr.Store(err.Error())
				case resp.StatusCode != http.StatusOK:
					p.failed.Add(1)
					p.lastErr.Store(fmt.Sprintf("%s: HTTP %d", path, resp.StatusCode))
				default:
					p.ok.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			for {
				cur := p.maxHeap.Load()
				if ms.HeapInuse <= cur || p.maxHeap.CompareAndSwap(cur, ms.HeapInuse) {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *hostileProbe) finish() {
	p.stop()
	<-p.done
}

// requireServing checks that every probe since the last call succeeded and
// at least one ran.
func (p *hostileProbe) requireServing(t *testing.T, phase string) {
	t.Helper()
	before := p.ok.Load()
	require.Eventually(t, func() bool { return p.ok.Load() >= before+2 }, 10*time.Second, 5*time.Millisecond,
		"%s: tap's API answers", phase)
	require.Zero(t, p.failed.Load(), "%s: API probe failed: %v", phase, p.lastErr.Load())
}

// logCount counts tap log lines containing substr.
func (ti *tapInstance) logCount(substr string) int {
	return strings.Count(ti.out.String(), substr)
}

// waitLog waits until tap has logged at least n lines containing substr.
func (ti *tapInstance) waitLog(substr string, n int) {
	ti.t.Helper()
	ti.waitFor(fmt.Sprintf("%d log lines with %s", n, substr), func() bool { return ti.logCount(substr) >= n })
}

// firehoseSeq is tap's firehose position (/stats/cursors).
func (ti *tapInstance) firehoseSeq() int64 {
	return int64(ti.getJSON("/stats/cursors")["firehose"].(float64))
}

// requireOrdered checks that each repo's record events never go back in
// rev and that no live event was delivered twice (an accepted replay
// would do either).
func requireOrdered(t *testing.T, evs []event) {
	t.Helper()
	lastRev := map[string]string{}
	seen := map[string]bool{}
	for _, e := range evs {
		r := e.Record
		if r == nil {
			continue
		}
		require.GreaterOrEqual(t, r.Rev, lastRev[r.DID], "event %d of %s goes back in rev", e.ID, r.DID)
		lastRev[r.DID] = r.Rev
		if r.Live {
			k := r.DID + " " + r.Rev + " " + r.Collection + "/" + r.RKey
			require.False(t, seen[k], "live event %d delivered twice: %s", e.ID, k)
			seen[k] = true
		}
	}
}

// hostileLost counts the records of accts whose delivered state differs
// from the testnet's ground truth (missing, stale or extra).
func hostileLost(t *testing.T, ti *tapInstance, accts []*testnet.Account) int {
	evs := ti.events()
	lost := 0
	for _, a := range accts {
		got, want := current(recordsOf(evs, a.DID())), truth(t, a)
		for p, c := range want {
			if got[p] != c {
				lost++
			}
		}
		for p := range got {
			if _, ok := want[p]; !ok {
				lost++
			}
		}
	}
	return lost
}

// The hostile relay: a replay flood, rewound seqs, oversized frames, a
// stall, repeated drops and refused subscribes, one after another under a
// steady live load.
func TestE2EHostileRelay(t *testing.T) {
	plan := hostileRelayPlanFromEnv()
	start := time.Now()
	net, accts := startNetwork(t, plan.accounts, plan.history)
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), hostileRelayTweak)
	ti.addRepos(accts...)
	for _, a := range accts {
		ti.waitFor("backfill", func() bool { return ti.state(a.DID()) == store.RepoStateActive })
	}
	probe := startHostileProbe(ti)
	defer probe.finish()
	f := net.Faults()

	loadCtx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan testnet.LoadStats, 1)
	go func() {
		st, err := net.RunLoad(loadCtx, testnet.LoadOptions{Rate: plan.rate, Workers: 2})
		assert.NoError(t, err)
		loadDone <- st
	}()
	defer stopLoad()
	progressed := func(phase string) { // tap follows the live stream again
		t.Helper()
		target := net.LastSeq()
		ti.waitFor(phase+": firehose position passes seq "+fmt.Sprint(target), func() bool { return ti.firehoseSeq() >= target })
		probe.requireServing(t, phase)
	}
	progressed("warm-up")
	connected := func() int { return ti.logCount(`"msg":"firehose connected"`) }

	// 1. Replay flood: thousands of already-sent frames with their old seqs.
	_, err := f.ReplayOldCommits(plan.replays)
	require.NoError(t, err)
	ti.waitLog(`"msg":"skipped replayed firehose frame: seq not above the last seen"`, 1)
	progressed("replay flood")

	// 2. New commits under a rewound seq.
	f.RewindNextSeqs(plan.rewinds, 1<<40)
	ti.waitFor("rewound commits sent", func() bool { return f.RelayFaultStats().Rewound == plan.rewinds })
	progressed("rewound seqs")

	// 3. Oversized frames: garbage, well-formed commits with padded blocks,
	// and a real commit whose record makes the frame too big.
	for range plan.oversized {
		_, err := f.EmitOversizedFrame(hostileJunkFrame)
		require.NoError(t, err)
	}
	for i := range plan.oversizedCommits {
		_, err := f.EmitOversizedCommit(accts[i%len(accts)].DID(), 2*hostileMaxFrame)
		require.NoError(t, err)
	}
	_, err = accts[0].CreateRecord(post, "oversized", rec(strings.Repeat("x", hostileMaxFrame+(16<<10))))
	require.NoError(t, err)
	ti.waitLog(`"msg":"skipped oversized firehose frame"`, 1)
	progressed("oversized frames")

	// 4. Stall: the connection stays open, silent, pongless.
	before := connected()
	f.StallRelay(0)
	ti.waitFor("tap gives up the stalled stream twice", func() bool { return connected() >= before+2 })
	probe.requireServing(t, "stall")
	require.Contains(t, ti.out.String(), "firehose stream silent for "+hostileReadTimeout.String()+" (no frame, no pong)",
		"the stall is logged as a silent stream")
	f.ResumeRelay()
	progressed("after stall")

	// 5. Repeated drops: each of the next connections is cut after a few
	// frames.
	before = connected()
	f.DropConnectionsRepeatedly(plan.dropAfter, plan.drops)
	ti.waitFor("tap re-dials every dropped connection", func() bool { return connected() >= before+plan.drops })
	progressed("repeated drops")

	// 6. Refused subscribes (HTTP 503) for a while.
	refusedBefore := ti.logCount("HTTP 503")
	f.RefuseSubscriptions(testnet.RelayRefusal{Status: http.StatusServiceUnavailable})
	f.DropConnections(0)
	ti.waitLog("HTTP 503", refusedBefore+plan.refusals)
	probe.requireServing(t, "refused dials")
	require.Contains(t, ti.out.String(), `"msg":"firehose connection failed, retrying"`)
	f.ClearRelayFaults()
	progressed("after refusals")

	// The faults are over: stop the load, give every account one more
	// commit (an account whose commit was skipped sees its chain break and
	// resyncs), and check convergence.
	stopLoad()
	load := <-loadDone
	for _, a := range accts {
		_, err := a.CreateRecord(post, "final", rec("after the faults"))
		require.NoError(t, err)
	}
	for _, a := range accts {
		ti.converged(a)
	}
	probe.requireServing(t, "converged")
	lost := hostileLost(t, ti, accts)
	require.Zero(t, lost)
	evs := ti.events()
	requireOrdered(t, evs)
	maxHeap := probe.maxHeap.Load()
	require.Less(t, maxHeap, plan.heapBound, "the test process heap stays bounded through the floods")

	st := f.RelayFaultStats()
	t.Logf("reliability: hostile-relay faults=6 (replay-flood x%d, rewound x%d, oversized x%d+%d commits+1 record, stall x%d, drops x%d, refused dials x%d) load=%d commits events=%d desyncs=%d lost=%d max_heap=%dMiB probes=%d failed=%d wall=%s",
		st.Replays, st.Rewound, plan.oversized, plan.oversizedCommits, st.Stalls, st.DropsArmed, st.Refused,
		load.Commits, len(evs), ti.logCount(`"msg":"repo desynchronized"`), lost, maxHeap>>20,
		probe.ok.Load(), probe.failed.Load(), time.Since(start).Round(time.Millisecond))
}

// plcFaultMessage is what a repo's error says for each PLC fault.
var plcFaultMessage = map[testnet.PLCFaultKind]string{
	testnet.PLCFaultInvalidJSON: "JSON DID document parse",
	testnet.PLCFaultWrongShape:  "JSON DID document parse",
	testnet.PLCFaultServerError: "PLC directory status 500",
	testnet.PLCFaultHugeBody:    "exceeds 1048576 bytes",
	testnet.PLCFaultOtherDID:    "document ID did not match DID",
}

// A PLC directory answering garbage: every repo it breaks is marked error
// with a clear message (store and GET /info/{did}) while the others keep
// syncing; once it is healthy, every repo recovers with all its records.
// Then garbage for every DID during a key rotation: the rotated repo
// cannot verify its commit, is marked, and recovers too.
func TestE2EHostilePLC(t *testing.T) {
	start := time.Now()
	perKind, history := 1, 5
	if os.Getenv("TAP_SOAK") == "1" {
		perKind, history = 4, 20
	}
	var kinds []testnet.PLCFaultKind // one per broken account
	for range perKind {
		kinds = append(kinds, testnet.PLCFaultKinds...)
	}
	net, accts := startNetwork(t, len(kinds)+1, history)
	broken, healthy := accts[:len(kinds)], accts[len(kinds)]
	for i, kind := range kinds {
		net.Faults().SetPLCFault(broken[i].DID(), testnet.PLCFault{Kind: kind})
	}
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), hostileRelayTweak)
	probe := startHostileProbe(ti)
	defer probe.finish()
	ti.postRepos(accts)

	for i, kind := range kinds {
		a := broken[i]
		ti.waitFor(kind.String()+" marks the repo error", func() bool {
			r, err := ti.db.GetRepo(t.Context(), a.DID().String())
			return err == nil && r.State == store.RepoStateError && r.RetryCount > 0
		})
		r := ti.repo(a.DID())
		require.Contains(t, r.ErrorMsg, "resolving identity", kind.String())
		require.Contains(t, r.ErrorMsg, plcFaultMessage[kind], kind.String())
		ti.waitFor(kind.String()+": GET /info shows the error", func() bool { // a retry may be under way
			info := ti.getJSON("/info/" + a.DID().String())
			msg, _ := info["error"].(string)
			return info["state"] == "error" && strings.Contains(msg, plcFaultMessage[kind])
		})
		require.Empty(t, recordsOf(ti.events(), a.DID()), "%s: nothing delivered for an unresolvable repo", kind)
	}
	ti.converged(healthy)
	_, err := healthy.CreateRecord(post, "during", rec("PLC garbage elsewhere"))
	require.NoError(t, err)
	ti.converged(healthy)
	probe.requireServing(t, "PLC garbage")

	// Still failing: retries keep the repos in error, not stuck elsewhere.
	retries := ti.repo(broken[0].DID()).RetryCount
	ti.waitFor("retries continue", func() bool { return ti.repo(broken[0].DID()).RetryCount > retries })

	net.Faults().ClearPLCFaults()
	for _, a := range broken {
		ti.converged(a)
		require.Zero(t, ti.repo(a.DID()).RetryCount)
		require.Empty(t, ti.repo(a.DID()).ErrorMsg)
	}

	// Garbage for every DID while one account rotates its key and commits.
	rot := healthy
	net.Faults().SetPLCFault("", testnet.PLCFault{Kind: testnet.PLCFaultInvalidJSON})
	_, err = rot.RotateKey()
	require.NoError(t, err)
	_, err = rot.CreateRecord(post, "rotated", rec("signed with the new key"))
	require.NoError(t, err)
	ti.waitFor("the rotated repo is marked", func() bool {
		r := ti.repo(rot.DID())
		return r.State != store.RepoStateActive && strings.Contains(r.ErrorMsg, "JSON DID document parse")
	})
	probe.requireServing(t, "PLC garbage for every DID")
	garbage := net.Faults().RelayFaultStats().PLCGarbage
	net.Faults().ClearPLCFaults()
	for _, a := range accts {
		ti.converged(a)
	}
	lost := hostileLost(t, ti, accts)
	require.Zero(t, lost)
	requireOrdered(t, ti.events())
	t.Logf("reliability: hostile-plc kinds=%d (%s) broken_repos=%d garbage_answers=%d repos=%d events=%d lost=%d probes=%d failed=%d wall=%s",
		len(testnet.PLCFaultKinds), plcKindNames(testnet.PLCFaultKinds), len(broken), garbage, len(accts), len(ti.events()), lost, probe.ok.Load(), probe.failed.Load(),
		time.Since(start).Round(time.Millisecond))
}

func plcKindNames(kinds []testnet.PLCFaultKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return strings.Join(names, ",")
}
