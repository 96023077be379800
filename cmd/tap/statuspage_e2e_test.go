package main

// The status page (issue 9) against a real tap on testnet:
//
//   - TestE2EStatusPage: GET / and /status.json answer 401 without the admin
//     password; with it / is server-rendered HTML (readable without JS) and
//     /status.json has the Snapshot's shape.
//   - TestE2EStatusPageChromium: headless Chromium loads / (admin password in
//     the URL), runs its script and dumps the DOM, which shows the boundary
//     mode, the relay URL with its password hidden, the repos by state and
//     the backfill progress, the outbox depth, the websocket sink with its
//     connected client, the warning of a repo whose PDS fails, and the chart
//     the script drew. Chromium may resolve no name and reach nothing but
//     127.0.0.1 (--host-resolver-rules). Without chromium the test skips,
//     and fails when CI=1 or TAP_REQUIRE_CHROMIUM=1.
//
// go test -race -count=1 -run TestE2EStatusPage ./cmd/tap/

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/statuspage"
	"github.com/tapkit/tap/internal/testnet"
)

// statusGet fetches path from tap with the admin password pw (none when
// empty) and returns the answer's status, Content-Type and body.
func statusGet(t *testing.T, ti *tapInstance, path, pw string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ti.addr+path, nil)
	require.NoError(t, err)
	if pw != "" {
		req.SetBasicAuth("admin", pw)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// statusSnapshot reads /status.json.
func statusSnapshot(t *testing.T, ti *tapInstance, pw string) statuspage.Snapshot {
	t.Helper()
	status, _, body := statusGet(t, ti, "/status.json", pw)
	require.Equal(t, http.StatusOK, status, body)
	var s statuspage.Snapshot
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	return s
}

func TestE2EStatusPage(t *testing.T) {
	net, accts := startNetwork(t, 1, 3)
	const pw = "status-admin-pw"
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	env["TAP_SIGNAL_COLLECTION"] = "app.bsky.feed.post"
	ti := startTap(t, net, env, nil)
	ti.addRepos(accts...)
	ti.waitFor("repo active", func() bool { return ti.state(accts[0].DID()) == "active" })

	for _, path := range statuspage.Paths() {
		status, _, body := statusGet(t, ti, path, "")
		require.Equal(t, http.StatusUnauthorized, status, path)
		require.Equal(t, secUnauthorized, body)
	}
	status, ctype, html := statusGet(t, ti, "/", pw)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "text/html; charset=utf-8", ctype)
	require.Contains(t, html, `data-mode="signal_collection">Signal collection (<code>app.bsky.feed.post</code>)`)
	require.Contains(t, html, `<tr data-state="active"><th scope="row">active</th><td class="num">1</td></tr>`,
		"the first snapshot is in the HTML: readable without JS")
	require.Contains(t, html, `<span id="version">`+Version()+`</span>`)

	var raw map[string]any
	status, ctype, body := statusGet(t, ti, "/status.json", pw)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/json; charset=UTF-8", ctype)
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	for _, k := range []string{"version", "started_at", "uptime", "uptime_seconds", "boundary", "relay", "repos",
		"events", "outbox", "sinks", "recent_errors"} {
		require.Contains(t, raw, k)
	}
	s := statusSnapshot(t, ti, pw)
	require.Equal(t, statuspage.ModeSignalCollection, s.Boundary.Mode)
	require.Equal(t, net.RelayURL(), s.Relay.URL)
	require.True(t, s.Relay.Firehose)
	require.EqualValues(t, 1, s.Repos.Total)
	require.EqualValues(t, 1, s.Repos.Backfilled)
	require.Len(t, s.Sinks, 1)
	require.Equal(t, "websocket", s.Sinks[0].ID)
	require.NotNil(t, s.Sinks[0].Clients)
}

// chromiumBinary returns the chromium to run, or skips the test without
// one (fails when CI=1 or TAP_REQUIRE_CHROMIUM=1).
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (Debian: apt-get install -y chromium)"
	if os.Getenv("CI") == "1" || os.Getenv("TAP_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + "; CI=1 or TAP_REQUIRE_CHROMIUM=1 requires it")
	}
	t.Skip(msg)
	return ""
}

// dumpDOM loads url in headless chromium, lets its scripts run for 5 s of
// virtual time and returns the DOM. Chromium resolves no name and so
// reaches only 127.0.0.1; its process group is killed if it overruns.
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--virtual-time-budget=5000", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
		"--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
		"--dump-dom", url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", tail(stderr.String(), 4000))
	return string(out)
}

// statusNoAckReader reads the event frames of a /channel connection and
// never acks, so that the outbox keeps every event (the live barrier holds
// back the rest of each DID).
type statusNoAckReader struct {
	mu  sync.Mutex
	ids map[int64]bool
}

func (r *statusNoAckReader) run(conn *websocket.Conn) {
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if id, ok := secEventID(msg); ok {
			r.mu.Lock()
			r.ids[id] = true
			r.mu.Unlock()
		}
	}
}

func (r *statusNoAckReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func TestE2EStatusPageChromium(t *testing.T) {
	chromium := chromiumBinary(t)
	const pw = "status-chromium-pw"
	const relayPW = "status-relay-secret"
	net, accts := startNetwork(t, 3, 4)
	bad := accts[2]
	net.Faults().SetRepoFault(bad.DID(), testnet.PDSFault{Kind: testnet.PDSFaultServerError})
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	env["TAP_RELAY_URL"] = strings.Replace(env["TAP_RELAY_URL"], "://", "://relayuser:"+relayPW+"@", 1)
	ti := startTap(t, net, env, func(c *config.Config) {
		for i := range c.Pipeline.Stages {
			if c.Pipeline.Stages[i].ID == "backfill" {
				// The failed repo stays in error (no retry) while the page is read.
				c.Pipeline.Stages[i].Config["min_backoff"] = "1h"
				c.Pipeline.Stages[i].Config["max_backoff"] = "1h"
			}
		}
	})
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+ti.addr+"/channel", secCreds(pw)[3].header())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	reader := &statusNoAckReader{ids: map[int64]bool{}}
	go reader.run(conn)

	ti.addRepos(accts...)
	ti.waitFor("2 repos active, 1 in error", func() bool {
		return ti.state(accts[0].DID()) == "active" && ti.state(accts[1].DID()) == "active" &&
			ti.state(bad.DID()) == "error" && ti.repo(bad.DID()).RetryCount > 0
	})
	var s statuspage.Snapshot
	var why string
	if !assert.Eventually(t, func() bool {
		s = statusSnapshot(t, ti, pw)
		n, err := ti.db.CountOutbox(t.Context())
		require.NoError(t, err)
		why = fmt.Sprintf("outbox %d, read %d, page depth %d, samples %d, sinks %+v", n, reader.count(), s.Outbox.Depth, len(s.Events.Samples), s.Sinks)
		return n > 0 && reader.count() > 0 && s.Outbox.Depth == n && len(s.Events.Samples) >= 3 &&
			len(s.Sinks) == 1 && s.Sinks[0].Clients != nil && *s.Sinks[0].Clients == 1
	}, 30*time.Second, 50*time.Millisecond) {
		t.Fatalf("events sent and unacked, 3 samples: %s\n--- tap log tail:\n%s", why, tail(ti.out.String(), 3000))
	}
	depth := s.Outbox.Depth
	require.EqualValues(t, len(ti.events()), depth)

	url := strings.Replace("http://"+ti.addr+"/", "://", "://admin:"+pw+"@", 1)
	dom := dumpDOM(t, chromium, url)
	t.Logf("reliability: status page DOM %d bytes, outbox depth %d, samples %d", len(dom), depth, len(s.Events.Samples))

	require.NotContains(t, dom, relayPW, "the relay password is hidden")
	for what, want := range map[string]string{
		"boundary mode":     `data-mode="tracked_repos">Tracked repos only</dd>`,
		"relay URL":         `<code id="relay-url">` + strings.Replace(net.RelayURL(), "://", "://relayuser:xxxxx@", 1) + `</code>`,
		"active repos":      `<tr data-state="active"><th scope="row">active</th><td class="num">2</td></tr>`,
		"repos in error":    `<tr data-state="error"><th scope="row">error</th><td class="num">1</td></tr>`,
		"pending repos":     `<tr data-state="pending"><th scope="row">pending</th><td class="num">0</td></tr>`,
		"total":             `<td class="num" id="repos-total">3</td>`,
		"progress bar":      `<progress id="backfill" max="3" value="2">66.6%</progress>`,
		"progress text":     `2 of 3 repos in sync (66.6%)`,
		"outbox depth":      `<dd id="outbox-depth">` + strconv.FormatInt(depth, 10) + `</dd>`,
		"websocket sink":    `<tr data-sink="websocket"><th scope="row">websocket</th><td class="health-ok">ok</td><td class="num" data-field="clients">1</td>`,
		"the provoked warn": `<span class="msg">resync failed</span>`,
		"its repo":          "did=" + bad.DID().String(),
		"its error":         "HTTP 500",
		"chart drawn by JS": `<svg id="chart-svg"`,
		"refreshed by JS":   `<span id="refresh">updated `,
	} {
		require.Contains(t, dom, want, "the page shows the %s\n--- DOM:\n%s", what, dom)
	}
	require.NotContains(t, dom, "The live chart needs JavaScript.")
	for _, series := range []string{"in", "out"} {
		m := regexp.MustCompile(`<polyline class="` + series + `" data-points="(\d+)" points="([^"]*)"`).FindStringSubmatch(dom)
		require.NotNil(t, m, "the %s series is drawn\n%s", series, dom)
		n, _ := strconv.Atoi(m[1])
		require.GreaterOrEqual(t, n, 3, "one point per sample")
		require.Len(t, strings.Fields(m[2]), n, fmt.Sprintf("%s points", series))
	}
}
