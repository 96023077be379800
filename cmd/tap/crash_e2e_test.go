package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/internal/testnet"
)

// consumer is an acking websocket client that records every delivery and
// reconnects whenever tap goes away.
type consumer struct {
	mu   sync.Mutex
	byID map[int64]string // id → payload (the first one seen)
	dups int
	bad  []string
}

func (c *consumer) run(ctx context.Context, url func() string) {
	for ctx.Err() == nil {
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, url(), nil)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				break
			}
			var ev struct {
				ID int64 `json:"id"`
			}
			if json.Unmarshal(msg, &ev) != nil {
				c.mu.Lock()
				c.bad = append(c.bad, "undecodable delivery: "+string(msg))
				c.mu.Unlock()
				continue
			}
			c.record(ev.ID, string(msg))
			if conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"ack","id":%d}`, ev.ID))) != nil {
				break
			}
		}
		stop()
		conn.Close()
	}
}

func (c *consumer) record(id int64, payload string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.byID[id]; ok {
		c.dups++
		if prev != payload {
			c.bad = append(c.bad, fmt.Sprintf("id %d reused:\n%s\n%s", id, prev, payload))
		}
		return
	}
	c.byID[id] = payload
}

// events returns the distinct deliveries in id order.
func (c *consumer) events() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]int64, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]event, 0, len(ids))
	for _, id := range ids {
		var e event
		_ = json.Unmarshal([]byte(c.byID[id]), &struct {
			Type     *string         `json:"type"`
			Record   **recordEvent   `json:"record"`
			Identity **identityEvent `json:"identity"`
		}{&e.Type, &e.Record, &e.Identity})
		e.ID, e.raw = id, c.byID[id]
		out = append(out, e)
	}
	return out
}

// crashPlan sizes one crash loop.
type crashPlan struct {
	kills    int     // SIGKILLs; the process is started kills+1 times
	accounts int     // repos tracked from the first start
	batches  int     // further batches of repos added partway through
	perBatch int     // repos per batch
	records  int     // history records of every repo
	extra    int     // further history records of the batches' repos (over 500: a snapshot spans several commits)
	rate     float64 // live commits per second over all repos
}

// crashPlanFromEnv is the short (CI) plan, the soak plan under TAP_SOAK=1,
// and TAP_CRASH_KILLS overrides the number of kills of either.
func crashPlanFromEnv(t *testing.T) crashPlan {
	p := crashPlan{kills: 20, accounts: 16, batches: 4, perBatch: 5, records: 20, extra: 1200, rate: 100}
	if os.Getenv("TAP_SOAK") == "1" {
		p = crashPlan{kills: 100, accounts: 40, batches: 10, perBatch: 8, records: 40, extra: 1500, rate: 150}
	}
	if s := os.Getenv("TAP_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "TAP_CRASH_KILLS")
		require.GreaterOrEqual(t, n, 1, "TAP_CRASH_KILLS")
		p.kills = n
	}
	return p
}

// crashBackfillYAML keeps the default pipeline but gives the backfill stage
// test timings (a poll every 20 ms, retries after 200 ms–1 s instead of
// 1 min–1 h), as startTap does in-process.
const crashBackfillYAML = `pipeline:
  stages:
    - id: filter/scope
    - id: backfill
      config: {poll_interval: 20ms, min_backoff: 200ms, max_backoff: 1s, host_backoff: 200ms}
    - id: verify
    - id: filter/collections
    - id: order
`

// A real tap process (the built binary) is killed with SIGKILL at random
// points of its lifecycle — while it starts (migrations, outbox backlog),
// just after "startup complete", while live load and backfills run, in the
// middle of a resync, and during a graceful shutdown — and restarted on the
// same database each time, on SQLite and on Postgres (TAP_TEST_POSTGRES_URL;
// skipped without it). Live load runs on every repo throughout; batches of
// repos with a longer history are added partway through and the run is
// killed once a fetch worker claimed one of them. Two acking websocket
// consumers (the second from the middle on) record every delivery. After
// the last restart converges, checked against the testnet's ground truth:
//   - every record event is delivered at least once: replaying each DID's
//     deliveries (the union of both consumers, in id order) gives its
//     current records, and every op of every live commit the relay emitted
//     after the repo's last snapshot arrives as a live event. Commits before
//     a later snapshot (a resync interrupted by a kill) may be folded into
//     that snapshot, which is a diff against the record index; the replay
//     check covers them;
//   - per DID, live events in id order have non-decreasing revs, record
//     events never go back in rev, and no live op is committed twice;
//   - ids are never reused for another payload, and the durable id
//     high-water mark lies above every delivered id;
//   - no repo is stuck: all active with no error, no resync buffer rows,
//     outbox drained after the acks;
//   - the database agrees with the ground truth: record index, rev and
//     prevData of every repo, no orphan rows in repo_records,
//     resync_buffers or outbox_buffers, a firehose cursor the relay emitted.
//
// Short form (CI): 20 kills per backend, 16 repos plus 4 batches of 5
// with 1,200 more records each (their snapshots span several commit
// batches, so a kill can land between two), 100 commits/s. TAP_SOAK=1:
// 100 kills, 40 repos plus 10 batches of 8 with 1,500 more records,
// 150 commits/s. TAP_CRASH_KILLS overrides the number of kills;
// TAP_CRASH_SEED replays a run (the seed is logged).
func TestE2ECrashLoop(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.NewURL(t)
			crashLoop(t, b.Name, url)
		})
	}
}

// crashProc is one run of the tap binary.
type crashProc struct {
	pid    int
	kill   func() error
	term   func() error
	exited chan struct{}
	err    error // Wait's result, once exited is closed
	stdout *syncBuffer
	stderr *syncBuffer
}

func crashStart(t *testing.T, dir string, env []string, cfgFile string) *crashProc {
	t.Helper()
	cmd, stdout, stderr := startTapProcess(t, dir, env, "run", "--config", cfgFile)
	p := &crashProc{pid: cmd.Process.Pid, exited: make(chan struct{}), stdout: stdout, stderr: stderr,
		kill: cmd.Process.Kill, term: func() error { return cmd.Process.Signal(syscall.SIGTERM) }}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	// Runs before startTapProcess's cleanup, which then finds the process
	// reaped and leaves Wait to the goroutine above.
	t.Cleanup(func() {
		_ = p.kill()
		<-p.exited
	})
	return p
}

// alive fails the test if the process ended on its own.
func (p *crashProc) alive(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("tap (pid %d) exited by itself %s: %v\nstderr:\n%s\nlog tail:\n%s", p.pid, what, p.err,
			tail(p.stderr.String(), 2000), tail(p.stdout.String(), 4000))
	default:
	}
}

// sigkill kills the process and waits for it; false if it had already
// exited (a SIGTERM'd run that finished its shutdown first, with success).
func (p *crashProc) sigkill(t *testing.T) bool {
	t.Helper()
	err := p.kill()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("tap (pid %d) did not die on SIGKILL", p.pid)
	}
	if errors.Is(err, os.ErrProcessDone) {
		require.NoError(t, p.err, "graceful stop; stderr:\n%s", tail(p.stderr.String(), 2000))
		return false
	}
	require.NoError(t, err)
	return true
}

// crashLoop runs the crash loop on the database at dbURL.
func crashLoop(t *testing.T, dbName, dbURL string) {
	plan := crashPlanFromEnv(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TAP_CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "TAP_CRASH_SEED")
	}
	t.Logf("crash loop db=%s seed=%d (TAP_CRASH_SEED=%d replays it) plan=%+v", dbName, seed, seed, plan)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	net, all := startNetwork(t, plan.accounts+plan.batches*plan.perBatch, plan.records)
	first := all[:plan.accounts]
	require.NoError(t, net.GenerateHistory(t.Context(), all[plan.accounts:], plan.extra))
	// Batch b is added by run batchAt[b] (by the last run if there are too
	// few kills), which is then killed while the batch backfills.
	batches := make([][]*testnet.Account, plan.batches)
	batchAt := map[int]int{} // run → batch
	for b := range batches {
		batches[b] = all[plan.accounts+b*plan.perBatch : plan.accounts+(b+1)*plan.perBatch]
		if at := (b + 1) * plan.kills / (plan.batches + 1); at > 0 && batchAt[at] == 0 {
			batchAt[at] = b + 1
		}
	}
	posted := make([]bool, len(batches))

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tap.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(crashBackfillYAML), 0o600))
	// Every run binds a fresh port (a fixed one could be taken by another
	// test while tap is down); the consumers dial the latest.
	var addrMu sync.Mutex
	addr := ""
	url := func() string { addrMu.Lock(); defer addrMu.Unlock(); return "ws://" + addr + "/channel" }
	ti := &tapInstance{t: t}
	started := func(p *crashProc) {
		a := logLine(t, p.stdout, "startup complete")["addr"].(string)
		addrMu.Lock()
		addr = a
		addrMu.Unlock()
		ti.addr = a
	}
	env := []string{
		"TAP_DATABASE_URL=" + dbURL, "TAP_BIND=127.0.0.1:0",
		"TAP_RELAY_URL=" + net.RelayURL(), "TAP_PLC_URL=" + net.PLCURL(),
		"TAP_IDENT_DNS_RESOLVER=" + net.DNSAddr(), "TAP_CURSOR_SAVE_INTERVAL=50ms",
		"TAP_RETRY_TIMEOUT=1s", "TAP_LOG_LEVEL=info",
	}

	// Live load on every repo, tracked or not yet: the later batches have
	// commits on the firehose before, during and after their backfill.
	loadCtx, stopLoad := context.WithCancel(t.Context())
	defer stopLoad()
	loadDone := make(chan struct{})
	var loadErr error
	go func() {
		defer close(loadDone)
		_, loadErr = net.RunLoad(loadCtx, testnet.LoadOptions{Rate: plan.rate, Accounts: all, Workers: 2})
	}()
	// One consumer from the start, a second one from the middle of the
	// kill sequence on: tap spreads deliveries over its clients, so the
	// checks look at the union of what both received.
	cs := []*consumer{{byID: map[int64]string{}}, {byID: map[int64]string{}}}
	cctx, stopConsumer := context.WithCancel(t.Context())
	defer stopConsumer()
	var cwg sync.WaitGroup
	consume := func(c *consumer) {
		cwg.Go(func() { c.run(cctx, url) })
	}
	consume(cs[0])

	var db *store.DB // opened once the first run migrated the database
	var logs []*crashProc
	modes := map[string]int{}
	inBackfill := 0  // kills that hit while some repo was not active
	interrupted := 0 // resyncs in progress when a kill hit
	start := time.Now()
	// A run that a SIGTERM stopped before its SIGKILL came does not count
	// as a kill: the loop goes on until plan.kills runs died by SIGKILL.
	killed := 0
	for i := 0; killed < plan.kills; i++ {
		if i == plan.kills/2 && i > 0 {
			consume(cs[1])
		}
		p := crashStart(t, dir, env, cfgFile)
		logs = append(logs, p)
		mode := "running"
		switch r := rng.IntN(10); {
		case i == 0:
		case batchAt[i] > 0:
			mode = "backfilling"
		case r < 1:
			mode = "starting" // killed before (or while) it reports startup complete
		case r < 3:
			mode = "just started"
		case r < 4:
			mode = "stopping" // SIGTERM, then SIGKILL during the graceful shutdown
		}
		modes[mode]++
		// The sleeps below pick random kill points; they synchronise nothing.
		switch mode {
		case "starting":
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		case "just started":
			started(p)
			time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		case "backfilling":
			started(p)
			b := batchAt[i] - 1
			ti.postRepos(batches[b])
			posted[b] = true
			// Kill mid-resync: once a fetch worker claimed a repo of the
			// batch (if none does within 2 s, whatever state it is in).
			dids := make([]string, len(batches[b]))
			for k, a := range batches[b] {
				dids[k] = a.DID().String()
			}
			for wait := time.Now(); time.Since(wait) < 2*time.Second; time.Sleep(2 * time.Millisecond) {
				n, err := db.Bun().NewSelect().Model((*store.Repo)(nil)).Where("did IN (?)", bun.List(dids)).
					Where("state = ?", store.RepoStateResyncing).Count(t.Context())
				require.NoError(t, err)
				if n > 0 {
					break
				}
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		case "running":
			started(p)
			if i == 0 {
				ti.postRepos(first)
				var err error
				db, err = store.Open(t.Context(), dbURL, store.Options{MaxConns: 2})
				require.NoError(t, err)
				defer db.Close()
			}
			time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		}
		if mode == "stopping" {
			started(p)
			time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
			p.alive(t, fmt.Sprintf("before SIGTERM %d", i+1))
			require.NoError(t, p.term())
			time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
			select {
			case <-p.exited:
				require.NoError(t, p.err, "graceful stop; stderr:\n%s", tail(p.stderr.String(), 2000))
				modes["stopped before the kill"]++
				continue
			default:
			}
		} else if mode != "starting" {
			p.alive(t, fmt.Sprintf("before kill %d", i+1))
			n, err := db.Bun().NewSelect().Model((*store.Repo)(nil)).Where("state <> ?", store.RepoStateActive).Count(t.Context())
			require.NoError(t, err)
			if n > 0 {
				inBackfill++
			}
			n, err = db.Bun().NewSelect().Model((*store.Repo)(nil)).Where("state = ?", store.RepoStateResyncing).Count(t.Context())
			require.NoError(t, err)
			interrupted += int(n)
		}
		if p.sigkill(t) {
			killed++
		} else {
			modes["stopped before the kill"]++
		}
	}
	killTime := time.Since(start)

	// The last run: stop the load, let it converge, then check everything.
	if plan.kills < 2 {
		consume(cs[1])
	}
	p := crashStart(t, dir, env, cfgFile)
	logs = append(logs, p)
	started(p)
	for b := range batches {
		if !posted[b] {
			ti.postRepos(batches[b])
		}
	}
	stopLoad()
	<-loadDone
	require.NoError(t, loadErr, "live load")
	gt, err := net.GroundTruth()
	require.NoError(t, err)
	converge := time.Now()
	for {
		why := crashConverged(t, db, gt, cs)
		if why == "" {
			break
		}
		if time.Since(converge) > 60*time.Second {
			t.Fatalf("no convergence after the last restart: %s\ntap log tail:\n%s", why, tail(p.stdout.String(), 6000))
		}
		p.alive(t, "while converging")
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	convergeTime := time.Since(converge)
	stopConsumer()
	cwg.Wait()
	require.NoError(t, p.term())
	<-p.exited
	require.NoError(t, p.err, "graceful stop after convergence; stderr:\n%s", tail(p.stderr.String(), 2000))

	st := crashCheck(t, db, net, gt, cs)
	desyncs := 0
	warnings := map[string]int{} // level: msg → lines, over every run
	for _, l := range logs {
		desyncs += strings.Count(l.stdout.String(), `"msg":"repo desynchronized"`)
		for line := range strings.Lines(l.stdout.String()) {
			var m struct{ Level, Msg string }
			if json.Unmarshal([]byte(line), &m) == nil && (m.Level == "WARN" || m.Level == "ERROR") {
				warnings[m.Level+": "+m.Msg]++
			}
		}
	}
	t.Logf("warnings and errors logged over all runs: %v", warnings)
	t.Logf("kill points %v; %d kills while a repo was not active, interrupting %d resyncs; %d repos resynced more than once; %d desynchronizations logged; kills took %s, convergence %s",
		modes, inBackfill, interrupted, st.multiSnap, desyncs, killTime.Round(time.Millisecond), convergeTime.Round(time.Millisecond))
	t.Logf("reliability: crash db=%s kills=%d seed=%d events=%d redelivered=%d lost=0 repos=%d live_ops=%d consumers=%v",
		dbName, plan.kills, seed, st.events, st.dups, len(gt), st.liveOps, st.perConsumer)
}

// crashConverged returns "" once every repo is active at the ground
// truth's rev, nothing waits in the resync buffer or the outbox, and
// replaying the deliveries of each DID gives its current records; else
// what is still missing.
func crashConverged(t *testing.T, db *store.DB, gt map[syntax.DID]testnet.RepoSnapshot, cs []*consumer) string {
	ctx := t.Context()
	for did, snap := range gt {
		r, err := db.GetRepo(ctx, did.String())
		if err != nil {
			return err.Error()
		}
		if r.State != store.RepoStateActive || r.Rev != snap.Rev.String() {
			return fmt.Sprintf("repo %s is %s at rev %q (error %q), want active at %s", did, r.State, r.Rev, r.ErrorMsg, snap.Rev)
		}
	}
	for name, model := range map[string]any{"resync_buffers": (*store.ResyncBuffer)(nil), "outbox_buffers": (*store.OutboxBuffer)(nil)} {
		if n, err := db.Bun().NewSelect().Model(model).Count(ctx); err != nil || n != 0 {
			return fmt.Sprintf("%s holds %d rows (%v)", name, n, err)
		}
	}
	evs, _, _ := crashUnion(cs)
	for did, snap := range gt {
		if got, want := current(recordsOf(evs, did)), snapRecords(snap); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("deliveries of %s replay to %d records, want %d; first difference: %s", did, len(got), len(want), firstDiff(got, want))
		}
	}
	return ""
}

// firstDiff names the first path (in order) where got and want differ.
func firstDiff(got, want map[string]string) string {
	paths := keys(got)
	for _, p := range keys(want) {
		if _, ok := got[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if got[p] != want[p] {
			return fmt.Sprintf("%s delivered %q, want %q", p, got[p], want[p])
		}
	}
	return "none"
}

func snapRecords(s testnet.RepoSnapshot) map[string]string {
	m := map[string]string{}
	for _, r := range s.Records {
		m[r.Path()] = r.CID.String()
	}
	return m
}

type crashStats struct {
	events, dups, liveOps, multiSnap int
	perConsumer                      []int // distinct events each consumer received
}

// crashUnion merges the deliveries of cs: the distinct events in id order,
// how many deliveries repeated an id, and every id that carried two
// different payloads (or a delivery that was not JSON).
func crashUnion(cs []*consumer) (evs []event, dups int, bad []string) {
	u := &consumer{byID: map[int64]string{}}
	for _, c := range cs {
		c.mu.Lock()
		dups += c.dups
		bad = append(bad, c.bad...)
		for id, payload := range c.byID {
			if prev, ok := u.byID[id]; ok {
				dups++
				if prev != payload {
					bad = append(bad, fmt.Sprintf("id %d reused:\n%s\n%s", id, prev, payload))
				}
				continue
			}
			u.byID[id] = payload
		}
		c.mu.Unlock()
	}
	return u.events(), dups, bad
}

// crashCheck runs the strict checks on a converged, stopped tap.
func crashCheck(t *testing.T, db *store.DB, net *testnet.Network, gt map[syntax.DID]testnet.RepoSnapshot, cs []*consumer) crashStats {
	ctx := t.Context()
	evs, dups, bad := crashUnion(cs)
	require.Empty(t, bad, "an id was reused for another event, or a delivery was not JSON")
	require.NotEmpty(t, evs)
	st := crashStats{events: len(evs), dups: dups}
	for _, c := range cs {
		c.mu.Lock()
		st.perConsumer = append(st.perConsumer, len(c.byID))
		c.mu.Unlock()
	}

	// Ids: each payload carries the id it was delivered under, the durable
	// high-water mark is above all of them (a restart can never hand one
	// out again), and no live op was committed under two ids.
	next, err := db.NextOutboxID(ctx)
	require.NoError(t, err)
	live := map[string]int64{} // did rev path action cid → id
	snapRevs := map[string]map[string]bool{}
	for _, e := range evs {
		var p struct {
			ID int64 `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.raw), &p), e.raw)
		require.Equal(t, e.ID, p.ID, "payload id differs from the delivered id")
		require.Less(t, e.ID, next, "delivered id %d not below the id high-water mark %d", e.ID, next)
		require.True(t, e.Record != nil || e.Identity != nil, "event neither record nor identity: %s", e.raw)
		if e.Record == nil {
			continue
		}
		r := e.Record
		if !r.Live {
			if snapRevs[r.DID] == nil {
				snapRevs[r.DID] = map[string]bool{}
			}
			snapRevs[r.DID][r.Rev] = true
			continue
		}
		k := strings.Join([]string{r.DID, r.Rev, r.Collection, r.RKey, r.Action, r.CID}, " ")
		if prev, ok := live[k]; ok {
			t.Fatalf("live op %s committed twice, as ids %d and %d", k, prev, e.ID)
		}
		live[k] = e.ID
	}

	// Every op of every live commit after a repo's last snapshot arrived as
	// a live event. A repo's snapshot (historical events, at the snapshot's
	// rev) is a diff against the record index, so commits before the last
	// snapshot may legitimately be folded into it; those are covered by the
	// replay check below.
	lastSnap := map[syntax.DID]string{}
	for did, revs := range snapRevs {
		for rev := range revs {
			if rev > lastSnap[syntax.DID(did)] {
				lastSnap[syntax.DID(did)] = rev
			}
		}
	}
	for did := range gt {
		require.NotEmpty(t, lastSnap[did], "no snapshot events for %s, which has history", did)
	}
	for _, ev := range net.Events() {
		if ev.Kind != testnet.KindCommit {
			continue
		}
		snap, tracked := lastSnap[ev.DID]
		if !tracked || ev.Rev.String() <= snap {
			continue
		}
		for _, op := range ev.Ops {
			cidStr := ""
			if op.Action != testnet.ActionDelete {
				cidStr = op.CID.String()
			}
			k := strings.Join([]string{ev.DID.String(), ev.Rev.String(), op.Collection.String(), op.RKey.String(), string(op.Action), cidStr}, " ")
			_, ok := live[k]
			require.True(t, ok, "live op lost: %s (seq %d, repo snapshot at rev %s)", k, ev.Seq, snap)
			st.liveOps++
		}
	}

	// Per DID: live events in id order have non-decreasing revs; state
	// replay equals the ground truth.
	for did, snap := range gt {
		recs := recordsOf(evs, did)
		last, lastAny := "", ""
		for _, r := range recs {
			if r.Live {
				require.GreaterOrEqual(t, r.Rev, last, "live events of %s out of rev order", did)
				last = r.Rev
			}
			// A snapshot is fetched after the commits applied before it,
			// so historical events never go back behind a live rev either.
			require.GreaterOrEqual(t, r.Rev, lastAny, "record events of %s go back in rev (live=%v)", did, r.Live)
			lastAny = r.Rev
		}
		require.Equal(t, snapRecords(snap), current(recs), "deliveries of %s do not replay to its records", did)
		if len(snapRevs[did.String()]) > 1 {
			st.multiSnap++
		}
	}

	// The database: exactly the tracked repos, each active at the ground
	// truth's rev and prevData with no error; its record index equals the
	// ground truth; no row of any table belongs to an untracked DID; the
	// resync buffer and the outbox are empty.
	var repos []store.Repo
	require.NoError(t, db.Bun().NewSelect().Model(&repos).Order("did").Scan(ctx))
	require.Len(t, repos, len(gt), "repos table")
	for _, r := range repos {
		snap, ok := gt[syntax.DID(r.DID)]
		require.True(t, ok, "untracked repo row %s", r.DID)
		require.Equal(t, store.RepoStateActive, r.State, r.DID)
		require.Equal(t, store.AccountStatusActive, r.Status, r.DID)
		require.Equal(t, snap.Rev.String(), r.Rev, "rev of %s", r.DID)
		require.Equal(t, snap.Data.String(), r.PrevData, "prev_data of %s", r.DID)
		require.Empty(t, r.ErrorMsg, r.DID)
		require.Zero(t, r.RetryCount, r.DID)

		var rows []store.RepoRecord
		require.NoError(t, db.Bun().NewSelect().Model(&rows).Where("did = ?", r.DID).Scan(ctx))
		idx := map[string]string{}
		for _, row := range rows {
			idx[row.Collection+"/"+row.RKey] = row.CID
		}
		require.Equal(t, snapRecords(snap), idx, "record index of %s", r.DID)
	}
	for table, model := range map[string]any{"repo_records": (*store.RepoRecord)(nil), "resync_buffers": (*store.ResyncBuffer)(nil), "outbox_buffers": (*store.OutboxBuffer)(nil)} {
		n, err := db.Bun().NewSelect().Model(model).Where("did NOT IN (SELECT did FROM repos)").Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "orphan rows in %s", table)
	}
	for table, model := range map[string]any{"resync_buffers": (*store.ResyncBuffer)(nil), "outbox_buffers": (*store.OutboxBuffer)(nil)} {
		n, err := db.Bun().NewSelect().Model(model).Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "%s not drained", table)
	}
	// The firehose cursor is a seq the relay emitted.
	cursor, err := db.GetFirehoseCursor(ctx, net.RelayURL())
	require.NoError(t, err)
	require.Positive(t, cursor, "firehose cursor")
	require.LessOrEqual(t, cursor, net.LastSeq(), "firehose cursor beyond the relay's last seq")
	return st
}
