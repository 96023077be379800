package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The quick start of README.md's "Try it offline" section, as written
// there. TestE2EQuickStart fails if the README stops showing them, so the
// README cannot drift from what the test runs.
const (
	quickstartTestnet = "go run ./cmd/tap testnet --accounts 3 --records 20 --rate 2"
	quickstartDB      = "TAP_DATABASE_URL=sqlite://./offline.db"
	quickstartRun     = "go run ./cmd/tap run"
	quickstartCurl    = "curl -X POST localhost:2480/repos/add -H 'Content-Type: application/json' \\\n" +
		"  -d '{\"dids\":[\"%s\"]}'"
	quickstartTail = "go run ./cmd/tap tail"
)

// TestE2EQuickStart runs README.md's offline quick start start to finish,
// the way a user in three terminals would:
//
//  1. `tap testnet --accounts 3 --records 20 --rate 2` in a fresh directory;
//     the TAP_* lines and DIDs are taken from its stdout as a user copies
//     them.
//  2. `tap run` in another fresh directory with exactly those lines plus
//     TAP_DATABASE_URL=sqlite://./offline.db (relative to that directory).
//  3. POST /repos/add with the curl's body and Content-Type for the first
//     DID, `tap stats`, then `tap tail`, whose lines must be JSON events of
//     that DID: the backfill ("live":false), then a live write ("live":true).
//
// Two substitutions keep it hermetic and fast: the compiled tap binary
// (tapBinary, built once by TestMain) stands in for `go run ./cmd/tap`, and
// tap binds 127.0.0.1:0 instead of the README's default :2480 (which may be
// taken on a CI machine); the test reads the bound address from the
// "startup complete" log line and points curl's request and TAP_URL at it.
// tail gets --limit so it exits by itself: the outbox size `tap stats`
// reports once the backfill is in, plus one, so the last event it prints is
// necessarily a live write made after the backfill.
func TestE2EQuickStart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	for _, cmd := range []string{quickstartTestnet, quickstartDB, quickstartRun, quickstartTail,
		strings.SplitN(quickstartCurl, "%s", 2)[0]} {
		require.Contains(t, string(readme), cmd, "README.md's quick start changed; update this test with it")
	}

	// Terminal 1: the testnet.
	args := strings.Fields(strings.TrimPrefix(quickstartTestnet, "go run ./cmd/tap "))
	_, netOut, netErr := startTapProcess(t, t.TempDir(), nil, args...)
	var env, dids []string
	require.Eventually(t, func() bool {
		env, dids = parseTestnetOutput(netOut.String())
		return len(dids) == 3
	}, 20*time.Second, 10*time.Millisecond, "testnet printed no 3 DIDs; stdout:\n%s\nstderr:\n%s", netOut, netErr)
	var names []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		names = append(names, k)
		require.Regexp(t, `^(http://)?127\.0\.0\.1:\d+$`, v, "testnet serves on loopback only")
	}
	require.Equal(t, []string{"TAP_RELAY_URL", "TAP_PLC_URL", "TAP_IDENT_DNS_RESOLVER"}, names)
	for _, d := range dids {
		require.Regexp(t, `^did:plc:[a-z2-7]{24}$`, d)
	}

	// Terminal 2: tap run with the copied lines and its own database.
	runDir := t.TempDir()
	runEnv := append(env, quickstartDB, "TAP_BIND=127.0.0.1:0")
	_, tapOut, tapErr := startTapProcess(t, runDir, runEnv, "run")
	line := logLine(t, tapOut, "startup complete")
	require.Equal(t, "sqlite://./offline.db", line["database"])
	require.FileExists(t, filepath.Join(runDir, "offline.db"))
	base := "http://" + line["addr"].(string)
	clientEnv := []string{"TAP_URL=" + base}

	// Terminal 3: the curl, as written.
	did := dids[0]
	body := strings.SplitN(quickstartCurl, "-d '", 2)[1]
	body = strings.Replace(strings.TrimSuffix(body, "'"), "%s", did, 1)
	resp, err := http.Post(base+"/repos/add", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Wait for the backfill: tap marks the repo active only after its
	// snapshot and buffered live commits are committed to the outbox.
	require.Eventually(t, func() bool {
		var info struct{ State string }
		return getJSON(t, base+"/info/"+did, &info) && info.State == "active"
	}, 20*time.Second, 20*time.Millisecond, "%s never became active; tap log:\n%s\n%s", did, tapOut, tapErr)

	// tap saves its firehose cursor every TAP_CURSOR_SAVE_INTERVAL (1 s).
	var saved struct{ Firehose int64 }
	require.Eventually(t, func() bool {
		return getJSON(t, base+"/stats/cursors", &saved) && saved.Firehose > 0
	}, 20*time.Second, 20*time.Millisecond, "tap never saved a firehose cursor")

	stats := runTapStats(t, clientEnv)
	require.Equal(t, "1", stats["repos"], "tap stats counts the added repo")
	records, err := strconv.Atoi(stats["records"])
	require.NoError(t, err)
	require.Positive(t, records, "the backfill indexed records")
	outbox, err := strconv.Atoi(stats["outbox buffer"])
	require.NoError(t, err)
	require.Greater(t, outbox, records/2, "the backfill's events wait in the outbox (no client yet)")
	require.Equal(t, "0", stats["resync buffer"])
	cursor, err := strconv.ParseInt(stats["firehose cursor"], 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, cursor, saved.Firehose, "tap stats shows the saved firehose cursor")

	// tap tail: everything queued so far (identity and backfill, maybe live
	// writes) and one more event, which can only be a live write.
	limit := outbox + 1
	tail, tailOut, tailErr := startTapProcess(t, t.TempDir(), clientEnv, "tail", "--limit", strconv.Itoa(limit))
	waitExit(t, tail, 20*time.Second, tailErr)
	require.Zero(t, tail.ProcessState.ExitCode(), "tail stderr: %s", tailErr)
	lines := strings.Split(strings.TrimSpace(tailOut.String()), "\n")
	require.Len(t, lines, limit)
	var backfill, live int
	for i, l := range lines {
		var ev struct {
			ID     int64
			Type   string
			Record *struct {
				DID, Action string
				Live        bool
			}
			Identity *struct{ DID string }
		}
		require.NoError(t, json.Unmarshal([]byte(l), &ev), "line %d is not JSON: %s", i+1, l)
		require.Positive(t, ev.ID, l)
		switch ev.Type {
		case "identity":
			require.Equal(t, did, ev.Identity.DID, l)
		case "record":
			require.Equal(t, did, ev.Record.DID, l)
			if ev.Record.Live {
				live++
			} else {
				require.Zero(t, live, "a backfill record after a live one: %s", l)
				require.Equal(t, "create", ev.Record.Action, l)
				backfill++
			}
		default:
			t.Fatalf("line %d: unexpected event type %q: %s", i+1, ev.Type, l)
		}
	}
	require.Positive(t, backfill, "tail printed the backfill")
	require.Positive(t, live, "tail printed a live write after the backfill")
	require.Contains(t, lines[len(lines)-1], `"live":true`, "the event after the queue is a live write")

	// tail acked what it printed: the outbox drops below what was queued
	// (tap applies acks asynchronously, and new live writes keep coming at
	// about one every two seconds, far too slow to refill it meanwhile).
	require.Eventually(t, func() bool {
		var ob struct {
			OutboxBuffer int `json:"outbox_buffer"`
		}
		return getJSON(t, base+"/stats/outbox-buffer", &ob) && ob.OutboxBuffer < outbox
	}, 20*time.Second, 20*time.Millisecond, "the acked events never left the outbox")
	stats = runTapStats(t, clientEnv)
	require.Equal(t, "1", stats["repos"])
	after, err := strconv.Atoi(stats["outbox buffer"])
	require.NoError(t, err)
	require.Less(t, after, outbox, "tap stats shows the outbox without the acked events")
	t.Logf("quick start: %d backfill and %d live records of %s tailed, %d records indexed", backfill, live, did, records)
}

var (
	didsHeader = regexp.MustCompile(`^# \d+ DIDs:$`)
	envLine    = regexp.MustCompile(`^TAP_[A-Z_]+=\S+$`)
)

// parseTestnetOutput reads `tap testnet`'s stdout like a user copying it:
// the KEY=VALUE lines and, after "# N DIDs:", the DIDs.
func parseTestnetOutput(out string) (env, dids []string) {
	inDIDs := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case didsHeader.MatchString(l):
			inDIDs = true
		case inDIDs && strings.HasPrefix(l, "did:"):
			dids = append(dids, l)
		case envLine.MatchString(l):
			env = append(env, l)
		}
	}
	return env, dids
}

// runTapStats runs the `tap stats` binary and returns its "name: value"
// lines.
func runTapStats(t *testing.T, env []string) map[string]string {
	t.Helper()
	cmd, stdout, stderr := startTapProcess(t, t.TempDir(), env, "stats")
	waitExit(t, cmd, 10*time.Second, stderr)
	require.Zero(t, cmd.ProcessState.ExitCode(), "tap stats: %s", stderr)
	stats := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		k, v, ok := strings.Cut(l, ":")
		require.True(t, ok, "tap stats line without a colon: %q", l)
		stats[k] = strings.TrimSpace(v)
	}
	for _, k := range []string{"repos", "records", "outbox buffer", "resync buffer", "firehose cursor", "crawler cursor"} {
		require.Contains(t, stats, k, "tap stats output:\n%s", stdout)
	}
	return stats
}

// waitExit waits up to d for cmd to exit, killing it (and failing) after.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration, stderr *syncBuffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("%s did not exit within %s; stderr:\n%s", cmd.Args, d, stderr)
	}
}

// getJSON GETs url into out, reporting whether it answered 200 with JSON.
func getJSON(t *testing.T, url string, out any) bool {
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(out) == nil
}
