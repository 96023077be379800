package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
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
			Record   **recordEvent   `json:"record"`
			Identity **identityEvent `json:"identity"`
		}{&e.Record, &e.Identity})
		e.ID = id
		out = append(out, e)
	}
	return out
}

// A real tap process is killed with SIGKILL at random points while live
// load and backfills run, and restarted each time on the same database.
// Every record event is delivered at least once, ids are never reused for
// another event, per-DID live order follows the repos' revs, and every
// repo converges to the testnet's ground truth. TAP_CRASH_KILLS sets the
// number of kills (default 5).
func TestE2ECrashLoop(t *testing.T) {
	kills := 5
	if s := os.Getenv("TAP_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	net, accts := startNetwork(t, 20, 20)
	dir := t.TempDir()
	env := []string{
		"TAP_DATABASE_URL=sqlite://" + filepath.Join(dir, "tap.db"),
		"TAP_RELAY_URL=" + net.RelayURL(), "TAP_PLC_URL=" + net.PLCURL(),
		"TAP_IDENT_DNS_RESOLVER=" + net.DNSAddr(), "TAP_CURSOR_SAVE_INTERVAL=50ms",
		"TAP_RETRY_TIMEOUT=1s", "TAP_LOG_LEVEL=info",
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		_, _ = net.RunLoad(ctx, testnet.LoadOptions{Rate: 100, Accounts: accts, Workers: 2})
	}()
	var addrMu sync.Mutex
	addr := ""
	c := &consumer{byID: map[int64]string{}}
	var cwg sync.WaitGroup
	cwg.Go(func() {
		c.run(ctx, func() string { addrMu.Lock(); defer addrMu.Unlock(); return "ws://" + addr + "/channel" })
	})
	rng := rand.New(rand.NewPCG(1, 2))
	port := freeTCPPort(t)
	procEnv := append(env, "TAP_BIND=127.0.0.1:"+strconv.Itoa(port))
	for i := 0; i <= kills; i++ {
		cmd, stdout, _ := startTapProcess(t, dir, procEnv, "run")
		logLine(t, stdout, "startup complete")
		addrMu.Lock()
		addr = "127.0.0.1:" + strconv.Itoa(port)
		addrMu.Unlock()
		if i == 0 {
			ti := &tapInstance{t: t, addr: addr}
			ti.postRepos(accts)
		}
		if i == kills {
			cancel() // stop the load, then let the last run converge
			<-loadDone
			ctx2 := t.Context()
			db, err := store.Open(ctx2, "sqlite://"+filepath.Join(dir, "tap.db"), store.Options{MaxConns: 1})
			require.NoError(t, err)
			defer db.Close()
			c2 := &consumer{byID: map[int64]string{}}
			cctx, ccancel := context.WithCancel(ctx2)
			var wg sync.WaitGroup
			wg.Go(func() { c2.run(cctx, func() string { return "ws://" + addr + "/channel" }) })
			require.Eventually(t, func() bool { return converged(t, db, accts, c, c2) }, 60*time.Second, 100*time.Millisecond,
				"no convergence; tap log tail:\n%s", tail(stdout.String(), 4000))
			ccancel()
			wg.Wait()
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, cmd.Wait())
			break
		}
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond) // let it run a random while before the kill
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
	}
	cwg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.bad, "an id was reused for another event")
	t.Logf("%d kills survived; %d distinct events delivered, %d redeliveries", kills, len(c.byID), c.dups)
}

// converged reports whether every repo is active and the union of what
// both consumers received, applied per DID in id order, equals the ground
// truth, with live events of each DID in rev order.
func converged(t *testing.T, db *store.DB, accts []*testnet.Account, cs ...*consumer) bool {
	all := map[int64]event{}
	for _, c := range cs {
		for _, e := range c.events() {
			all[e.ID] = e
		}
	}
	ids := make([]int64, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	evs := make([]event, len(ids))
	for i, id := range ids {
		evs[i] = all[id]
	}
	for _, a := range accts {
		r, err := db.GetRepo(t.Context(), a.DID().String())
		if err != nil || r.State != store.RepoStateActive {
			return false
		}
		recs := recordsOf(evs, a.DID())
		lastRev := ""
		for _, rec := range recs {
			if rec.Live {
				require.GreaterOrEqual(t, rec.Rev, lastRev, "live events of %s out of rev order", a.DID())
				lastRev = rec.Rev
			}
		}
		if fmt.Sprint(current(recs)) != fmt.Sprint(truth(t, a)) {
			return false
		}
	}
	return true
}

func freeTCPPort(t *testing.T) int {
	port, err := freePortForTest()
	require.NoError(t, err)
	return port
}
