package main

// The delivery load suite (issue 8 part 5): many websocket clients churning
// while they ack, slow and stalled consumers next to fast ones, and a
// webhook receiver that flaps between 200, 500, hangs and dropped
// connections. Each scenario runs an in-process tap against a testnet with
// live load (testnet.RunLoad) and backfills of repos with history, and
// checks against the testnet's ground truth that every event was delivered
// at least once (the record events of every op and snapshot, the identity
// events), that ids are unique (one payload per id), that per-DID delivery
// follows the order stage's rules, that the outbox drains, that the heap
// stays bounded and that no goroutine outlives tap's graceful shutdown.
//
// Short form (CI): go test -race -run 'TestE2ELoad' ./cmd/tap/
// Long form:       TAP_SOAK=1 go test -race -timeout 30m -run 'TestE2ELoad' ./cmd/tap/
// (TAP_SOAK=1: 300 churning clients, more accounts, longer runs.)
// TAP_LOAD_HEAPPROFILE=FILE writes a heap profile to FILE each time the heap
// in use grew by 8 MiB, to see what a peak is made of.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
)

// loadSoak reports whether the long form runs (TAP_SOAK=1).
func loadSoak() bool { return os.Getenv("TAP_SOAK") == "1" }

// loadHeapBound is the generous bound on tap's (the whole test process's)
// heap in use during a scenario.
const loadHeapBound = 256 << 20

// loadLedger is what the consumers of one scenario saw, across all their
// connections: each id's payload, when it was first received and when it was
// first acknowledged (the client's ack about to be written, or the webhook's
// 200 about to be answered).
type loadLedger struct {
	mu         sync.Mutex
	payload    map[int64]string
	firstRecv  map[int64]time.Time
	firstAck   map[int64]time.Time
	deliveries int
	bad        []string
}

func newLoadLedger() *loadLedger {
	return &loadLedger{payload: map[int64]string{}, firstRecv: map[int64]time.Time{}, firstAck: map[int64]time.Time{}}
}

// received records a delivery of msg and returns its id (ok false: not an
// event with an id, which is itself recorded as a problem).
func (l *loadLedger) received(msg []byte) (int64, bool) {
	now := time.Now()
	var ev struct {
		ID int64 `json:"id"`
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := json.Unmarshal(msg, &ev); err != nil || ev.ID <= 0 {
		l.bad = append(l.bad, fmt.Sprintf("not an event: %q", msg))
		return 0, false
	}
	l.deliveries++
	if prev, ok := l.payload[ev.ID]; ok {
		if prev != string(msg) {
			l.bad = append(l.bad, fmt.Sprintf("id %d with two payloads:\n%s\n%s", ev.ID, prev, msg))
		}
		return ev.ID, true
	}
	l.payload[ev.ID] = string(msg)
	l.firstRecv[ev.ID] = now
	return ev.ID, true
}

// acking records that id is about to be acknowledged.
func (l *loadLedger) acking(id int64) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.firstAck[id]; !ok {
		l.firstAck[id] = now
	}
}

// loadEvent is a delivered event with what the ordering rules need.
type loadEvent struct {
	event
	live bool // a barrier: a live record event or an identity event
}

// events returns the distinct deliveries in id order.
func (l *loadLedger) events(t *testing.T) []loadEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]loadEvent, 0, len(l.payload))
	for id, p := range l.payload {
		var e struct {
			Type     string         `json:"type"`
			Record   *recordEvent   `json:"record"`
			Identity *identityEvent `json:"identity"`
		}
		require.NoError(t, json.Unmarshal([]byte(p), &e), p)
		ev := loadEvent{event: event{ID: id, Type: e.Type, Record: e.Record, Identity: e.Identity, raw: p}}
		ev.live = e.Identity != nil || (e.Record != nil && e.Record.Live)
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// loadProblems compares what the ledger holds with the testnet's ground
// truth and returns what is missing or wrong (nothing once every event was
// delivered):
//   - every tracked repo is active in tap, and has at least one identity event;
//   - its record events, applied in id order, give exactly its current
//     records;
//   - every op of every #commit the relay emitted for it after the snapshot
//     tap backfilled (rev above the snapshot's rev, the rev of its
//     historical events) has its record event (rev, path, action, cid).
func loadProblems(t *testing.T, ti *tapInstance, accts []*testnet.Account, evs []loadEvent) []string {
	var probs []string
	byDID := map[string][]event{}
	identities := map[string]int{}
	for _, e := range evs {
		switch {
		case e.Record != nil:
			byDID[e.Record.DID] = append(byDID[e.Record.DID], e.event)
		case e.Identity != nil:
			identities[e.Identity.DID]++
		}
	}
	type opKey struct{ did, rev, path, action, cid string }
	have := map[opKey]bool{}
	snapRev := map[string]string{}
	for did, list := range byDID {
		for _, e := range list {
			r := e.Record
			have[opKey{did, r.Rev, r.Collection + "/" + r.RKey, r.Action, r.CID}] = true
			if !r.Live && (snapRev[did] == "" || r.Rev < snapRev[did]) {
				snapRev[did] = r.Rev
			}
		}
	}
	tracked := map[string]bool{}
	for _, a := range accts {
		did := a.DID().String()
		tracked[did] = true
		if st := ti.state(a.DID()); st != store.RepoStateActive {
			probs = append(probs, fmt.Sprintf("%s is %q, not active", did, st))
			continue
		}
		if identities[did] == 0 {
			probs = append(probs, fmt.Sprintf("%s: no identity event", did))
		}
		if snapRev[did] == "" {
			probs = append(probs, fmt.Sprintf("%s: no historical record event (its backfill)", did))
		}
		var recs []recordEvent
		for _, e := range byDID[did] {
			recs = append(recs, *e.Record)
		}
		if got, want := current(recs), truth(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
			probs = append(probs, fmt.Sprintf("%s: delivered records %d differ from the ground truth %d", did, len(got), len(want)))
		}
	}
	for _, ev := range ti.net.Events() {
		did := ev.DID.String()
		if ev.Kind != testnet.KindCommit || !tracked[did] || snapRev[did] == "" || ev.Rev.String() <= snapRev[did] {
			continue
		}
		for _, op := range ev.Ops {
			k := opKey{did, ev.Rev.String(), op.Collection.String() + "/" + op.RKey.String(), string(op.Action), ""}
			if op.Action != testnet.ActionDelete {
				k.cid = op.CID.String()
			}
			if !have[k] {
				probs = append(probs, fmt.Sprintf("commit op not delivered: %+v", k))
			}
		}
	}
	return probs
}

// loadOrderViolations checks the order stage's delivery rules
// (stages/orderstage/doc.go, Delivery 1-3) on what the consumers saw: per
// DID, in id order, a live event (a live record or an identity event) is
// released only once every earlier event of its DID was acked, and nothing
// later is released before the live event was acked; historical events
// between two live ones may be in flight together. A release is observed
// as the first receipt of an event, an ack as the first ack written for it:
// tap can only have seen an ack after it was written, so if tap keeps the
// rules, the first receipt of E comes after the first ack written of every
// event E has to wait for.
func loadOrderViolations(evs []loadEvent, l *loadLedger) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	byDID := map[string][]loadEvent{}
	for _, e := range evs {
		did := ""
		if e.Record != nil {
			did = e.Record.DID
		} else if e.Identity != nil {
			did = e.Identity.DID
		}
		byDID[did] = append(byDID[did], e)
	}
	var out []string
	for did, list := range byDID {
		for j, later := range list {
			recv := l.firstRecv[later.ID]
			for _, earlier := range list[:j] {
				if !earlier.live && !later.live {
					continue // historical events may be in flight together
				}
				ack, ok := l.firstAck[earlier.ID]
				if !ok || !ack.Before(recv) {
					out = append(out, fmt.Sprintf("%s: event %d (live=%v) received at %s before event %d (live=%v) was acked (acked=%v at %s)",
						did, later.ID, later.live, recv.Format("15:04:05.000000"), earlier.ID, earlier.live, ok, ack.Format("15:04:05.000000")))
				}
			}
		}
	}
	return out
}

// loadHeap samples the heap in use while a scenario runs.
type loadHeap struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func loadWatchHeap() *loadHeap {
	h := &loadHeap{stop: make(chan struct{}), done: make(chan struct{})}
	runtime.GC() // not the garbage of an earlier scenario
	go func() {
		defer close(h.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var lastProf uint64
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				if ms.HeapInuse > lastProf+(8<<20) && os.Getenv("TAP_LOAD_HEAPPROFILE") != "" {
					lastProf = ms.HeapInuse
					if f, err := os.Create(os.Getenv("TAP_LOAD_HEAPPROFILE")); err == nil {
						_ = pprof.WriteHeapProfile(f)
						_ = f.Close()
					}
				}
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// finish stops sampling and returns the peak in MiB.
func (h *loadHeap) finish() float64 {
	close(h.stop)
	<-h.done
	return float64(h.peak.Load()) / (1 << 20)
}

// loadLeaks stops tap gracefully (its assertion pool too) and returns how
// many goroutines outlived it compared to base, failing with their stacks,
// and how many belong to idle keep-alive HTTP connections of tap's clients
// (identity directory, backfill fetches) to the testnet, which tap does
// not close on shutdown: they end after the transport's idle timeout (90 s)
// or with the process, so they are reported, not failed. The cleanup
// goroutine of golang-lru's expirable cache (tap's identity cache) never
// ends, by that library's design (v2.0.7 has no Close): it is ignored.
func loadLeaks(t *testing.T, ti *tapInstance, base goleak.Option) (leaked, idleHTTP int) {
	t.Helper()
	ti.stop()
	_ = ti.db.Close()
	lru := goleak.IgnoreTopFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1")
	idle := []goleak.Option{base, lru,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	}
	var err error
	if !assertEventually(10*time.Second, func() bool { err = goleak.Find(idle...); return err == nil }) {
		t.Errorf("goroutines outlived tap's shutdown: %v", err)
		leaked = max(1, strings.Count(err.Error(), "Goroutine "))
	}
	if err := goleak.Find(base, lru); err != nil {
		idleHTTP = strings.Count(err.Error(), "Goroutine ") - leaked
	}
	// Idle connections are capped by the transports' per-host idle limits,
	// whatever the load: many more would be connections that are not idle.
	require.LessOrEqual(t, idleHTTP, 64, "goroutines of HTTP connections left after shutdown")
	return leaked, idleHTTP
}

// loadStartTap starts tap for a scenario: info logs (debug lines for every
// client would dominate), the given extra environment and configuration.
func loadStartTap(t *testing.T, net *testnet.Network, env map[string]string, tweak func(*config.Config)) *tapInstance {
	e := testEnv(net, sqliteURL(t))
	e["TAP_LOG_LEVEL"] = "info"
	e["TAP_METRICS_LISTEN"] = e["TAP_BIND"] // on the API port, for loadStuck
	for k, v := range env {
		e[k] = v
	}
	return startTap(t, net, e, tweak)
}

// loadRunLoad runs live load on accts until the returned stop is called.
func loadRunLoad(net *testnet.Network, accts []*testnet.Account, rate float64) (stop func() testnet.LoadStats) {
	ctx, cancel := context.WithCancel(context.Background())
	var st testnet.LoadStats
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err = net.RunLoad(ctx, testnet.LoadOptions{Rate: rate, Accounts: accts, Workers: 2})
	}()
	return func() testnet.LoadStats {
		cancel()
		<-done
		if err != nil {
			panic(fmt.Sprintf("testnet load: %v", err))
		}
		return st
	}
}

// loadDial opens a websocket to tap's /channel; rcvBuf > 0 shrinks the
// socket's receive buffer (a consumer that does not read then blocks tap's
// writes soon).
func loadDial(ctx context.Context, ti *tapInstance, rcvBuf int) (*websocket.Conn, error) {
	d := *websocket.DefaultDialer
	if rcvBuf > 0 {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(rcvBuf)
			}
			return c, err
		}
	}
	conn, _, err := d.DialContext(ctx, "ws://"+ti.addr+"/channel", nil)
	return conn, err
}

func loadAck(conn *websocket.Conn, l *loadLedger, id int64) error {
	l.acking(id)
	return conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","id":%d}`, id))
}

// loadDrain runs a steady client that reads and acks everything until ctx
// ends; it returns when its connection is closed.
func loadDrain(ctx context.Context, ti *tapInstance, l *loadLedger) {
	for ctx.Err() == nil {
		conn, err := loadDial(ctx, ti, 0)
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
			if id, ok := l.received(msg); ok && loadAck(conn, l, id) != nil {
				break
			}
		}
		stop()
		conn.Close()
	}
}

// loadWaitDelivered waits until the outbox is empty and the ledger holds
// every event of the ground truth, failing with what is missing.
func loadWaitDelivered(t *testing.T, ti *tapInstance, accts []*testnet.Account, l *loadLedger, within time.Duration) []loadEvent {
	t.Helper()
	var probs []string
	var evs []loadEvent
	ok := assertEventually(within, func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		if err != nil || n != 0 {
			probs = []string{fmt.Sprintf("outbox holds %d events (%v)", n, err)}
			return false
		}
		evs = l.events(t)
		probs = loadProblems(t, ti, accts, evs)
		return len(probs) == 0
	})
	if !ok {
		if len(probs) > 20 {
			probs = append(probs[:20], fmt.Sprintf("... and %d more", len(probs)-20))
		}
		t.Fatalf("not every event delivered:\n%s\n%s--- tap log tail:\n%s", strings.Join(probs, "\n"), loadStuck(t, ti, l), tail(ti.out.String(), 3000))
	}
	return evs
}

// loadStuck describes the events left in the outbox (whether a client got
// and acked them) and writes the goroutine stacks to a file, to find where
// they are held.
func loadStuck(t *testing.T, ti *tapInstance, l *loadLedger) string {
	var b strings.Builder
	var rows []store.OutboxBuffer
	if err := ti.db.Bun().NewSelect().Model(&rows).Order("id").Limit(50).Scan(t.Context()); err == nil {
		l.mu.Lock()
		for _, r := range rows {
			recv, got := l.firstRecv[r.ID]
			ack, acked := l.firstAck[r.ID]
			fmt.Fprintf(&b, "left in the outbox: id %d received=%v (%s) acked=%v (%s)\n", r.ID, got, recv.Format("15:04:05.000"), acked, ack.Format("15:04:05.000"))
		}
		l.mu.Unlock()
	}
	// the delivery gauges: whether events wait for a client or clients wait
	// for events (metrics are on the API port: metrics_listen == bind)
	if resp, err := http.Get("http://" + ti.addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			for _, p := range []string{"tap_websocket_", "tap_order_", "tap_sink_queued", "tap_outbox_"} {
				if strings.HasPrefix(line, p) {
					fmt.Fprintln(&b, line)
				}
			}
		}
	}
	if f, err := os.CreateTemp("", "tap-load-stacks-*.txt"); err == nil {
		_ = pprof.Lookup("goroutine").WriteTo(f, 2)
		_ = f.Close()
		fmt.Fprintf(&b, "goroutine stacks: %s\n", f.Name())
	}
	return b.String()
}

// assertEventually polls cond every 50 ms until it holds or within passed.
func assertEventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// loadCheckLedger fails on duplicate payloads, non-events and order
// violations.
func loadCheckLedger(t *testing.T, evs []loadEvent, l *loadLedger) {
	t.Helper()
	l.mu.Lock()
	bad := slices.Clone(l.bad)
	l.mu.Unlock()
	require.Empty(t, bad, "ids must be unique: one payload per id")
	v := loadOrderViolations(evs, l)
	if len(v) > 20 {
		v = append(v[:20], fmt.Sprintf("... and %d more", len(v)-20))
	}
	require.Empty(t, v, "per-DID delivery order")
}

// loadChurnStats counts what the churning clients did.
type loadChurnStats struct {
	connects, abrupt, clean, outOfOrder, dupAcks, unackedTails atomic.Int64
}

// loadChurnClient connects, reads a random number of events, acks them in
// one of four ways (in order, shuffled, some twice, all but the last few),
// disconnects abruptly (TCP close, no close frame) or cleanly (close frame),
// and starts again, until ctx ends.
func loadChurnClient(ctx context.Context, ti *tapInstance, seed uint64, l *loadLedger, st *loadChurnStats) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for ctx.Err() == nil {
		conn, err := loadDial(ctx, ti, 0)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		st.connects.Add(1)
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		want := 1 + rng.IntN(20)
		mode := rng.IntN(4)
		var got []int64
		for len(got) < want {
			_ = conn.SetReadDeadline(time.Now().Add(time.Duration(100+rng.IntN(300)) * time.Millisecond))
			_, msg, err := conn.ReadMessage()
			if err != nil {
				break
			}
			id, ok := l.received(msg)
			if !ok {
				continue
			}
			got = append(got, id)
			if mode == 0 || mode == 2 {
				_ = loadAck(conn, l, id)
				if mode == 2 && rng.IntN(3) == 0 {
					st.dupAcks.Add(1)
					_ = loadAck(conn, l, id)
				}
			}
		}
		switch mode {
		case 1:
			st.outOfOrder.Add(1)
			rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
			for _, id := range got {
				_ = loadAck(conn, l, id)
			}
		case 3:
			st.unackedTails.Add(1)
			keep := min(len(got), 1+rng.IntN(3))
			for _, id := range got[:len(got)-keep] {
				_ = loadAck(conn, l, id)
			}
		}
		if rng.IntN(2) == 0 {
			st.clean.Add(1)
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		} else {
			st.abrupt.Add(1)
		}
		stop()
		_ = conn.Close()
	}
}

// Websocket churn: many clients connect, read and ack a random number of
// events in various ways (in order, out of order, some twice, leaving the
// last ones unacked) and disconnect abruptly or cleanly, over and over,
// while tap backfills repos with history and follows live load; then one
// steady client drains. Every event reaches some client, ids are unique,
// per-DID order follows the order stage's rules, the outbox drains, the
// heap stays bounded and shutdown leaves no goroutine behind.
// TAP_SOAK=1: 300 clients, 60 accounts, a 20 s run.
func TestE2ELoadWebsocketChurn(t *testing.T) {
	clients, accounts, history, run, rate := 50, 16, 8, 3*time.Second, 40.0
	if loadSoak() {
		clients, accounts, history, run, rate = 300, 60, 20, 20*time.Second, 100
	}
	net, accts := startNetwork(t, accounts, history)
	base := goleak.IgnoreCurrent()
	heap := loadWatchHeap()
	ti := loadStartTap(t, net, map[string]string{"TAP_RETRY_TIMEOUT": "500ms"}, nil)
	ti.addRepos(accts...)
	stopLoad := loadRunLoad(net, accts, rate)

	l := newLoadLedger()
	var st loadChurnStats
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { loadChurnClient(ctx, ti, uint64(i), l, &st) })
	}
	time.Sleep(run) // the length of the churn, not a synchronisation
	loadStats := stopLoad()
	cancel()
	wg.Wait()

	dctx, dcancel := context.WithCancel(t.Context())
	var dwg sync.WaitGroup
	dwg.Go(func() { loadDrain(dctx, ti, l) })
	evs := loadWaitDelivered(t, ti, accts, l, 60*time.Second)
	dcancel()
	dwg.Wait()
	loadCheckLedger(t, evs, l)
	require.Positive(t, st.abrupt.Load())
	require.Positive(t, st.clean.Load())
	require.Positive(t, st.outOfOrder.Load())
	require.Positive(t, st.unackedTails.Load())

	peak := heap.finish()
	leaked, idleHTTP := loadLeaks(t, ti, base)
	require.Less(t, peak, float64(loadHeapBound>>20), "peak heap in use (MiB)")
	t.Logf("reliability: load ws-churn clients=%d connects=%d abrupt=%d clean=%d live_commits=%d events=%d deliveries=%d redelivered=%d lost=0 peak_heap=%.0fMiB goroutines_leaked=%d idle_http_goroutines=%d",
		clients, st.connects.Load(), st.abrupt.Load(), st.clean.Load(), loadStats.Commits, len(evs), l.deliveries, l.deliveries-len(evs), peak, leaked, idleHTTP)
}

// Slow consumers: fast clients, a slow one (pauses between reads) and a
// stalled one (tiny receive buffer, never reads, so tap cannot write to it
// nor get its pongs) share the queue while tap delivers a backlog far larger
// than its outbox capacity. The stalled client is cut (write_timeout or
// pong_timeout) and what it held goes to the others; the fast ones keep
// receiving; nothing is lost; the heap stays bounded (the engine holds at
// most outbox.capacity events, the rest waits in the database).
// TAP_SOAK=1: more accounts and history, a longer run.
func TestE2ELoadSlowConsumers(t *testing.T) {
	accounts, history, run, rate := 16, 20, 3*time.Second, 60.0
	if loadSoak() {
		accounts, history, run, rate = 60, 150, 20*time.Second, 150
	}
	net, accts := startNetwork(t, accounts, history)
	base := goleak.IgnoreCurrent()
	heap := loadWatchHeap()
	ti := loadStartTap(t, net, map[string]string{"TAP_RETRY_TIMEOUT": "1s", "TAP_OUTBOX_CAPACITY": "100"}, func(c *config.Config) {
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "websocket", Config: map[string]any{
			"write_timeout": "300ms", "ping_interval": "200ms", "pong_timeout": "1s",
		}}}
	})
	l := newLoadLedger()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var fast [2]atomic.Int64
	var slow, stalls atomic.Int64
	for i := range fast {
		wg.Go(func() {
			// A fast client: reads and acks at once.
			for ctx.Err() == nil {
				conn, err := loadDial(ctx, ti, 0)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // retry pause
					continue
				}
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				for {
					_, msg, err := conn.ReadMessage()
					if err != nil {
						break
					}
					if id, ok := l.received(msg); ok {
						fast[i].Add(1)
						if loadAck(conn, l, id) != nil {
							break
						}
					}
				}
				stop()
				conn.Close()
			}
		})
	}
	wg.Go(func() {
		// A slow client: 30 ms between reads, acks each.
		for ctx.Err() == nil {
			conn, err := loadDial(ctx, ti, 0)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // retry pause
				continue
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					break
				}
				if id, ok := l.received(msg); ok {
					slow.Add(1)
					time.Sleep(30 * time.Millisecond) // the consumer's slowness
					if loadAck(conn, l, id) != nil {
						break
					}
				}
			}
			stop()
			conn.Close()
		}
	})
	wg.Go(func() {
		// A stalled client: connects with a tiny receive buffer and never
		// reads; it gives up after 1.5 s (tap should have cut it after
		// pong_timeout) and connects again.
		for ctx.Err() == nil {
			conn, err := loadDial(ctx, ti, 2048)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // retry pause
				continue
			}
			stalls.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(1500 * time.Millisecond): // the stall
			}
			conn.Close()
		}
	})
	ti.addRepos(accts...)
	stopLoad := loadRunLoad(net, accts, rate)
	mid := make([]int64, len(fast))
	time.Sleep(run / 2) // half the run
	for i := range fast {
		mid[i] = fast[i].Load()
	}
	time.Sleep(run / 2) // the other half
	loadStats := stopLoad()
	for i := range fast {
		require.Positive(t, mid[i], "fast client %d received nothing in the first half", i)
		require.Greater(t, fast[i].Load(), mid[i], "fast client %d stopped receiving in the second half", i)
	}
	evs := loadWaitDelivered(t, ti, accts, l, 90*time.Second)
	cancel()
	wg.Wait()
	loadCheckLedger(t, evs, l)
	require.Positive(t, stalls.Load())
	require.Contains(t, ti.out.String(), "timed out (no pong or frame within pong_timeout, or a write exceeded write_timeout)",
		"the stalled client was never cut")

	peak := heap.finish()
	leaked, idleHTTP := loadLeaks(t, ti, base)
	require.Less(t, peak, float64(loadHeapBound>>20), "peak heap in use (MiB)")
	t.Logf("reliability: load ws-slow capacity=100 live_commits=%d events=%d fast=%d,%d slow=%d stalled_sessions=%d deliveries=%d redelivered=%d lost=0 peak_heap=%.0fMiB goroutines_leaked=%d idle_http_goroutines=%d",
		loadStats.Commits, len(evs), fast[0].Load(), fast[1].Load(), slow.Load(), stalls.Load(), l.deliveries, l.deliveries-len(evs), peak, leaked, idleHTTP)
}

// loadFlappingReceiver is a webhook receiver that answers, in turn, 200,
// 500, 200, 500, hangs past the sink's timeout, 200, closes the
// connection without an answer.
type loadFlappingReceiver struct {
	l                               *loadLedger
	batch                           bool // batch_size > 1: bodies are arrays
	n                               atomic.Int64
	ok, fail, hang, closed, badBody atomic.Int64
	stop                            chan struct{}
}

func (rc *loadFlappingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// One event per POST, or with batch_size > 1 an array of them, each
	// element the event JSON byte for byte.
	var msgs []json.RawMessage
	if !rc.batch {
		msgs = []json.RawMessage{body}
	} else if json.Unmarshal(body, &msgs) != nil {
		msgs = nil
	}
	var ids []int64
	for _, m := range msgs {
		if id, ok := rc.l.received(m); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) != len(msgs) || (rc.batch && body[0] != '[') || (!rc.batch && body[0] != '{') {
		rc.badBody.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	switch rc.n.Add(1) % 7 {
	case 1, 3:
		rc.fail.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	case 4:
		rc.hang.Add(1)
		select {
		case <-r.Context().Done(): // the sink gave up on the request
		case <-rc.stop:
		}
	case 6:
		rc.closed.Add(1)
		if nc, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = nc.Close()
		}
	default:
		rc.ok.Add(1)
		for _, id := range ids {
			rc.l.acking(id)
		}
		w.WriteHeader(http.StatusOK)
	}
}

// Webhook flapping: the receiver alternates 200 and 500, sometimes hangs
// past the sink's request timeout, sometimes drops the connection. Every
// event ends up answered 200 at least once, a retried event carries the
// same payload, the per-DID order holds (a release follows the 200 of what
// it waits for), the outbox drains, the heap stays bounded and shutdown
// leaves no goroutine behind. TAP_SOAK=1: more accounts, a longer run.
func TestE2ELoadWebhookFlapping(t *testing.T) {
	for _, batch := range []int{1, 5} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { loadWebhookFlapping(t, batch) })
	}
}

func loadWebhookFlapping(t *testing.T, batch int) {
	accounts, history, run, rate := 10, 8, 2*time.Second, 30.0
	if loadSoak() {
		accounts, history, run, rate = 40, 20, 15*time.Second, 80
	}
	net, accts := startNetwork(t, accounts, history)
	l := newLoadLedger()
	rc := &loadFlappingReceiver{l: l, batch: batch > 1, stop: make(chan struct{})}
	recv := httptest.NewServer(rc)
	base := goleak.IgnoreCurrent()
	heap := loadWatchHeap()
	ti := loadStartTap(t, net, nil, func(c *config.Config) {
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "webhook", Config: map[string]any{
			"url": recv.URL + "/hook", "timeout": "300ms", "retry_min": "10ms", "retry_max": "100ms", "max_concurrency": 4, "batch_size": batch,
		}}}
	})
	ti.addRepos(accts...)
	stopLoad := loadRunLoad(net, accts, rate)
	time.Sleep(run) // the length of the load, not a synchronisation
	loadStats := stopLoad()

	// Only 200-answered events count as received: the check runs on the
	// acked subset of the ledger.
	acked := func() *loadLedger {
		l.mu.Lock()
		defer l.mu.Unlock()
		a := newLoadLedger()
		for id, at := range l.firstAck {
			a.payload[id], a.firstRecv[id], a.firstAck[id] = l.payload[id], l.firstRecv[id], at
		}
		return a
	}
	var evs []loadEvent
	var probs []string
	ok := assertEventually(60*time.Second, func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		if err != nil || n != 0 {
			probs = []string{fmt.Sprintf("outbox holds %d events (%v)", n, err)}
			return false
		}
		evs = acked().events(t)
		probs = loadProblems(t, ti, accts, evs)
		return len(probs) == 0
	})
	require.True(t, ok, "not every event answered 200:\n%s\n--- tap log tail:\n%s", strings.Join(probs[:min(len(probs), 20)], "\n"), tail(ti.out.String(), 3000))
	loadCheckLedger(t, evs, l)
	require.Zero(t, rc.badBody.Load())
	require.Positive(t, rc.fail.Load())
	require.Positive(t, rc.hang.Load())
	require.Positive(t, rc.closed.Load())

	close(rc.stop)
	peak := heap.finish()
	leaked, idleHTTP := loadLeaks(t, ti, base)
	recv.Close()
	require.Less(t, peak, float64(loadHeapBound>>20), "peak heap in use (MiB)")
	l.mu.Lock()
	deliveries := l.deliveries
	l.mu.Unlock()
	t.Logf("reliability: load webhook-flap batch=%d live_commits=%d events=%d requests=%d ok=%d failed=%d hung=%d closed=%d receipts=%d redelivered=%d lost=0 peak_heap=%.0fMiB goroutines_leaked=%d idle_http_goroutines=%d",
		batch, loadStats.Commits, len(evs), rc.n.Load(), rc.ok.Load(), rc.fail.Load(), rc.hang.Load(), rc.closed.Load(), deliveries, deliveries-len(evs), peak, leaked, idleHTTP)
}

// The order check of the load suite is not vacuous: it accepts historical
// events of a DID in flight together, and flags a live event received
// before the event ahead of it was acked, and a historical event received
// before the live event ahead of it was acked.
func TestE2ELoadOrderChecker(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rec := func(id int64, live bool) loadEvent {
		return loadEvent{event: event{ID: id, Record: &recordEvent{DID: "did:plc:a", Live: live}}, live: live}
	}
	evs := []loadEvent{rec(1, false), rec(2, false), rec(3, true), rec(4, false)}
	l := newLoadLedger()
	// H1, H2 together; L3 after both acks; H4 after L3's ack.
	for id, times := range map[int64][2]int{1: {0, 5}, 2: {1, 2}, 3: {6, 8}, 4: {9, 10}} {
		l.firstRecv[id], l.firstAck[id] = at(times[0]), at(times[1])
	}
	require.Empty(t, loadOrderViolations(evs, l))
	l.firstRecv[3] = at(4) // L3 released before H1 was acked
	require.Len(t, loadOrderViolations(evs, l), 1)
	l.firstRecv[3] = at(6)
	l.firstRecv[4] = at(7) // H4 released before L3 was acked
	require.Len(t, loadOrderViolations(evs, l), 1)
	delete(l.firstAck, 3) // L3 never acked: H4 must not have been released
	require.Len(t, loadOrderViolations(evs, l), 1)
}
