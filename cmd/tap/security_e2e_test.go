package main

// The security suite (issue 8 part 4), against a real tap on testnet:
//
//   - TestE2ESecurityRoutes: every API route (httpapi.Routes, so a new route
//     cannot escape), the /channel websocket upgrade, /metrics and
//     /debug/pprof/ on the main port (server.metrics_listen = server.bind),
//     the status page (`/`, /status.json) and an unknown path answer 401 without credentials, with a wrong
//     password and with a wrong user, and not 401 with the admin password; a
//     cross-origin browser POST is refused even with it.
//   - TestE2ESecuritySeparateMetrics: a metrics_listen other than bind is a
//     separate server without auth, as in the reference Tap (spec B§1, B§13:
//     "separate server: /metrics + /debug/pprof/* (DefaultServeMux)"); the API
//     port does not serve /metrics then. TestSecurityRedactArgs: its
//     /debug/pprof/cmdline hides --admin-password and URL passwords.
//   - TestE2ESecurityWebhookCredentials: every webhook POST carries Basic
//     admin:<password>, and none without a password.
//   - TestE2ESecuritySecretsNeverLeak (security_leak_e2e_test.go): the real
//     binary's logs, API answers, --print-config and startup errors never
//     contain the admin, database or webhook password or the hmac_secret.
//     TestSecurityTailHidesURLPassword: nor do `tap tail`'s errors.
//   - TestE2ESecurityLimits: body over server.max_body_bytes → 413 and nothing
//     added; headers over 64 KiB → 431; a slow-header client is cut after
//     server.read_header_timeout, a slow body answers 408 after
//     server.read_body_timeout.
//   - TestE2ESecurityStalledWebsocket, TestE2ESecurityNonReaderDroppedByPongTimeout
//     (security_ws_e2e_test.go): a websocket client that never reads is
//     dropped after the sink's write_timeout (or pong_timeout) and its events
//     reach a healthy client; nothing is lost.
//   - TestE2ESecurityPluginPin: a plugin whose sha256 does not match its pin
//     stops tap from starting, with an error naming the pin.
//   - TestSecurityWarnIfOpen: no admin password beyond loopback is warned.
//
// Short form: go test -race -run 'TestE2ESecurity|TestSecurity' ./cmd/tap/
// (with TAP_TEST_POSTGRES_URL for the Postgres leak run). TAP_SOAK=1 runs the
// long form: near-miss credentials on every route, more accounts and
// records, 20 slow-header clients.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/statuspage"
	"github.com/tapkit/tap/pipeline"
)

// secSoak reports whether the long form runs (TAP_SOAK=1).
func secSoak() bool { return os.Getenv("TAP_SOAK") == "1" }

// secCred is one way of presenting (or not) Basic credentials.
type secCred struct {
	name       string
	user, pass string
	none       bool
}

// secCreds are the credentials every route is tried with: none, a wrong
// password, a wrong user and the right one (index 3); the long form adds
// near misses (prefixes, one byte off, empty, other case).
func secCreds(pw string) []secCred {
	creds := []secCred{
		{name: "none", none: true},
		{name: "wrong password", user: "admin", pass: pw + "x"},
		{name: "wrong user", user: "root", pass: pw},
		{name: "right", user: "admin", pass: pw},
	}
	if secSoak() {
		for n := range len(pw) {
			creds = append(creds, secCred{name: fmt.Sprintf("prefix %d", n), user: "admin", pass: pw[:n]},
				secCred{name: fmt.Sprintf("byte %d off", n), user: "admin", pass: pw[:n] + "\x00" + pw[n+1:]})
		}
		creds = append(creds, secCred{name: "upper", user: "admin", pass: strings.ToUpper(pw)},
			secCred{name: "Admin", user: "Admin", pass: pw}, secCred{name: "empty user", user: "", pass: pw})
	}
	return creds
}

func (c secCred) header() http.Header {
	h := http.Header{}
	if !c.none {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)))
	}
	return h
}

// secDo sends one request to tap and returns the status and body.
func secDo(t *testing.T, method, url, body string, h http.Header) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// secProbe is one request of the route table.
type secProbe struct{ method, path, body string }

// secProbes is every route of the API (from httpapi.Routes, with did for
// {did}), the status page's (statuspage.Paths: `/`, /status.json) plus
// /metrics, /debug/pprof/ and an unknown path.
func secProbes(did string) []secProbe {
	var out []secProbe
	for _, rt := range httpapi.Routes() {
		p := secProbe{method: rt.Method, path: strings.ReplaceAll(rt.Pattern, "{did}", did)}
		if rt.Method == http.MethodPost {
			p.body = `{"dids":[]}`
		}
		out = append(out, p)
	}
	for _, p := range statuspage.Paths() {
		out = append(out, secProbe{http.MethodGet, p, ""}, secProbe{http.MethodPost, p, ""})
	}
	return append(out,
		secProbe{http.MethodGet, "/metrics", ""},
		secProbe{http.MethodGet, "/debug/pprof/", ""},
		secProbe{http.MethodGet, "/debug/pprof/cmdline", ""},
		secProbe{http.MethodGet, "/no/such/path", ""},
		secProbe{http.MethodPost, "/health", ""},
	)
}

const secUnauthorized = `{"error":"Unauthorized","message":"atproto admin auth required, but missing or incorrect password"}` + "\n"

func TestE2ESecurityRoutes(t *testing.T) {
	net, accts := startNetwork(t, 1, 2)
	const pw = "route-admin-pw"
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	env["TAP_METRICS_LISTEN"] = env["TAP_BIND"] // the same string: served on the API port
	ti := startTap(t, net, env, nil)
	base := "http://" + ti.addr
	probes := secProbes(accts[0].DID().String())
	require.GreaterOrEqual(t, len(probes), len(httpapi.Routes())+5)
	checked := 0
	for _, p := range probes {
		for _, c := range secCreds(pw) {
			status, body := secDo(t, p.method, base+p.path, p.body, c.header())
			if c.name == "right" {
				require.NotEqual(t, http.StatusUnauthorized, status, "%s %s with the admin password", p.method, p.path)
				require.Less(t, status, 500, "%s %s: %s", p.method, p.path, body)
			} else {
				require.Equal(t, http.StatusUnauthorized, status, "%s %s with %s", p.method, p.path, c.name)
				require.Equal(t, secUnauthorized, body)
			}
			checked++
		}
	}
	// The pprof handlers that run for seconds with the password (profile,
	// trace) are checked without it only.
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace", "/debug/pprof/symbol", "/debug/pprof/heap"} {
		for _, c := range secCreds(pw) {
			if c.name != "right" {
				status, body := secDo(t, http.MethodGet, base+path, "", c.header())
				require.Equal(t, http.StatusUnauthorized, status, "%s with %s: %s", path, c.name, body)
				checked++
			}
		}
	}

	// With the password, the extras answer what they serve.
	right := secCreds(pw)[3].header()
	status, body := secDo(t, http.MethodGet, base+"/metrics", "", right)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "go_goroutines")
	status, body = secDo(t, http.MethodGet, base+"/debug/pprof/", "", right)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "goroutine")
	status, body = secDo(t, http.MethodGet, base+"/", "", right)
	require.Equal(t, http.StatusOK, status, "the status page is behind auth")
	require.Contains(t, body, "<title>tap status</title>")
	status, _ = secDo(t, http.MethodGet, base+"/no/such/path", "", right)
	require.Equal(t, http.StatusNotFound, status, "the status page's / matches only itself")

	// A browser POST from another origin is refused even with the password
	// (a page could otherwise use credentials the browser cached).
	xo := right.Clone()
	xo.Set("Origin", "https://evil.example")
	status, body = secDo(t, http.MethodPost, base+"/repos/add", `{"dids":["`+accts[0].DID().String()+`"]}`, xo)
	require.Equal(t, http.StatusForbidden, status, body)

	// The websocket upgrade of /channel.
	for _, c := range secCreds(pw) {
		conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+ti.addr+"/channel", c.header())
		if c.name == "right" {
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			conn.Close()
		} else {
			require.ErrorIs(t, err, websocket.ErrBadHandshake, c.name)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, c.name)
			resp.Body.Close()
		}
		checked++
	}
	n, err := ti.db.CountRepos(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "no refused request changed anything")
	t.Logf("reliability: security routes=%d (+/channel upgrade) checked (x%d credentials each), requests=%d, metrics on main port behind auth",
		len(probes), len(secCreds(pw)), checked)
}

// A metrics_listen other than bind is a separate server: like the
// reference Tap's, it has no auth (keep it on a private interface); the API
// port does not serve /metrics then.
func TestE2ESecuritySeparateMetrics(t *testing.T) {
	net, _ := startNetwork(t, 1, 0)
	port, err := freePortForTest()
	require.NoError(t, err)
	const pw = "metrics-admin-pw"
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	env["TAP_METRICS_LISTEN"] = fmt.Sprintf("127.0.0.1:%d", port)
	ti := startTap(t, net, env, nil)
	metrics := "http://" + env["TAP_METRICS_LISTEN"]
	status, body := secDo(t, http.MethodGet, metrics+"/metrics", "", nil)
	require.Equal(t, http.StatusOK, status, "the separate metrics server has no auth, as the reference's")
	require.Contains(t, body, "go_goroutines")
	status, _ = secDo(t, http.MethodGet, metrics+"/debug/pprof/", "", nil)
	require.Equal(t, http.StatusOK, status)
	status, _ = secDo(t, http.MethodGet, metrics+"/health", "", nil)
	require.Equal(t, http.StatusNotFound, status, "the metrics server serves no API route")

	status, _ = secDo(t, http.MethodGet, "http://"+ti.addr+"/metrics", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = secDo(t, http.MethodGet, "http://"+ti.addr+"/metrics", "", secCreds(pw)[3].header())
	require.Equal(t, http.StatusNotFound, status, "metrics are not on the API port when metrics_listen differs")
}

// secHookRecorder is a webhook receiver that checks the credentials of
// every request against want ("" means no Authorization header at all).
type secHookRecorder struct {
	want string
	mu   sync.Mutex
	ids  map[int64]bool
	bad  []string
	reqs int
}

func (h *secHookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs++
	if got := r.Header.Get("Authorization"); got != h.want {
		h.bad = append(h.bad, fmt.Sprintf("Authorization %q", got))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		h.bad = append(h.bad, "body "+string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.ids[ev.ID] = true
	w.WriteHeader(http.StatusOK)
}

func (h *secHookRecorder) counts() (ids, reqs, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids), h.reqs, len(h.bad)
}

func TestE2ESecurityWebhookCredentials(t *testing.T) {
	accounts, records := 2, 5
	if secSoak() {
		accounts, records = 10, 50
	}
	total := 0
	for _, pw := range []string{"hook-admin-pw", ""} {
		t.Run(fmt.Sprintf("password=%t", pw != ""), func(t *testing.T) {
			h := &secHookRecorder{ids: map[int64]bool{}}
			if pw != "" {
				h.want = "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+pw))
			}
			recv := httptest.NewServer(h)
			defer recv.Close()
			net, accts := startNetwork(t, accounts, records)
			env := testEnv(net, sqliteURL(t))
			env["TAP_WEBHOOK_URL"] = recv.URL + "/hook"
			if pw != "" {
				env["TAP_ADMIN_PASSWORD"] = pw
			}
			ti := startTap(t, net, env, func(c *config.Config) { c.Pipeline.Sinks = nil })
			ti.addRepos(accts...)
			_, err := accts[0].CreateRecord(post, "live-hook", rec("live through the webhook"))
			require.NoError(t, err)
			want := accounts*records + accounts + 1
			ti.waitFor("every event POSTed with the credentials", func() bool {
				ids, _, bad := h.counts()
				n, err := ti.db.CountOutbox(t.Context())
				return bad > 0 || (err == nil && n == 0 && ids >= want)
			})
			ids, reqs, bad := h.counts()
			h.mu.Lock()
			require.Empty(t, h.bad, "requests with the wrong credentials")
			h.mu.Unlock()
			require.Zero(t, bad)
			require.Equal(t, want, ids)
			total += reqs
		})
	}
	t.Logf("reliability: security webhook-credentials requests=%d wrong=0 (with and without admin password)", total)
}

// secRawRequest writes a raw request on a new connection and returns the
// status line of the answer.
func secRawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// secSlowloris sends a request's headers one byte per tick and returns how
// long the server kept the connection and what it answered. It runs on its
// own goroutine, so it reports problems as an error.
func secSlowloris(addr string, tick time.Duration) (time.Duration, string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		req := "GET /health HTTP/1.1\r\nHost: tap\r\nX-Slow: " + strings.Repeat("a", 10_000) + "\r\n\r\n"
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for i := 0; i < len(req); i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if _, err := c.Write([]byte{req[i]}); err != nil {
				return
			}
		}
	}()
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, "", err
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, "", errors.New("the slow client was not cut within 30 s")
	}
	return time.Since(start), string(got), nil
}

func TestE2ESecurityLimits(t *testing.T) {
	tn, accts := startNetwork(t, 1, 0)
	const pw = "limits-admin-pw"
	const maxBody = 4096
	const headerTimeout = 300 * time.Millisecond
	const bodyTimeout = 500 * time.Millisecond
	env := testEnv(tn, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	ti := startTap(t, tn, env, func(c *config.Config) {
		c.Server.MaxBodyBytes = maxBody
		c.Server.ReadHeaderTimeout = headerTimeout
		c.Server.ReadBodyTimeout = bodyTimeout
	})
	base := "http://" + ti.addr
	right := secCreds(pw)[3].header()

	// A body over max_body_bytes: 413 JSON, nothing added, with a
	// Content-Length and chunked.
	var dids []string
	for i := 0; len(strings.Join(dids, `","`)) < 2*maxBody; i++ {
		dids = append(dids, fmt.Sprintf("did:plc:%024d", i))
	}
	big, err := json.Marshal(map[string]any{"dids": dids})
	require.NoError(t, err)
	status, body := secDo(t, http.MethodPost, base+"/repos/add", string(big), right)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.JSONEq(t, `{"message":"Request Entity Too Large"}`, body)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/repos/add",
		io.MultiReader(strings.NewReader(string(big)))) // a reader of unknown length: sent chunked
	require.NoError(t, err)
	req.Header = right.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(b))
	n, err := ti.db.CountRepos(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "a refused body adds nothing")
	// Just under the limit is accepted.
	status, body = secDo(t, http.MethodPost, base+"/repos/add", `{"dids":["`+accts[0].DID().String()+`"]}`, right)
	require.Equal(t, http.StatusOK, status, body)

	// Headers over 64 KiB: 431.
	line := secRawRequest(t, ti.addr, "GET /health HTTP/1.1\r\nHost: tap\r\nX-Big: "+strings.Repeat("b", 80<<10)+"\r\n\r\n")
	require.Equal(t, "HTTP/1.1 431 Request Header Fields Too Large", line)
	line = secRawRequest(t, ti.addr, "GET /health HTTP/1.1\r\nHost: tap\r\nAuthorization: "+right.Get("Authorization")+
		"\r\nX-Ok: "+strings.Repeat("b", 32<<10)+"\r\nConnection: close\r\n\r\n")
	require.Equal(t, "HTTP/1.1 200 OK", line, "32 KiB of headers are fine")

	// Slow-header clients are cut after read_header_timeout; a byte every
	// 20 ms would take over 3 minutes to finish.
	clients := 2
	if secSoak() {
		clients = 20
	}
	type cut struct {
		held time.Duration
		got  string
		err  error
	}
	cuts := make(chan cut, clients)
	for range clients {
		go func() {
			d, got, err := secSlowloris(ti.addr, 20*time.Millisecond)
			cuts <- cut{d, got, err}
		}()
	}
	var longest time.Duration
	for range clients {
		c := <-cuts
		require.NoError(t, c.err)
		require.NotContains(t, c.got, "200 OK", "a request whose headers never finished was served")
		longest = max(longest, c.held)
	}
	require.GreaterOrEqual(t, longest, headerTimeout)

	// A slow body (headers at once, then a byte now and then) answers 408
	// after read_body_timeout and adds nothing.
	slowBody := `{"dids":["` + accts[0].DID().String() + `","did:plc:slowslowslowslowslowslow"]}`
	c, err := net.Dial("tcp", ti.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /repos/remove HTTP/1.1\r\nHost: tap\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		right.Get("Authorization"), len(slowBody), slowBody[:5])
	require.NoError(t, err)
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		answered <- strings.TrimSpace(line)
	}()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var bodyLine string
	for i := 5; bodyLine == ""; i++ {
		select {
		case bodyLine = <-answered:
		case <-tick.C:
			if i < len(slowBody)-1 { // never the last byte
				_, _ = c.Write([]byte{slowBody[i]})
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a slow body was not cut within 30 s")
		}
	}
	require.Equal(t, "HTTP/1.1 408 Request Timeout", bodyLine)
	require.GreaterOrEqual(t, time.Since(start), bodyTimeout)
	require.NotEmpty(t, ti.state(accts[0].DID()), "the slow /repos/remove applied nothing")
	status, body = secDo(t, http.MethodPost, base+"/repos/add", `{"dids":["`+accts[0].DID().String()+`"]}`, right)
	require.Equal(t, http.StatusOK, status, "a body in time is read: %s", body)
	status, _ = secDo(t, http.MethodGet, base+"/health", "", right)
	require.Equal(t, http.StatusOK, status, "tap still serves after the slow clients")
	t.Logf("reliability: security limits body>%dB=413 (length and chunked) headers>64KiB=431 slowloris=%d cut (read_header_timeout=%s, longest held %s) slow-body=408 (read_body_timeout=%s)",
		maxBody, clients, headerTimeout, longest.Round(time.Millisecond), bodyTimeout)
}

// /debug/pprof/cmdline hides the secrets of the command line: the metrics
// server of metrics_listen has no auth.
func TestSecurityRedactArgs(t *testing.T) {
	got := redactArgs([]string{"tap", "run", "--admin-password", "pw1", "--admin-password=pw2",
		"--db-url=postgres://u:pw3@127.0.0.1:5432/db", "--db-url", "postgres://u:pw4@h/db",
		"--webhook-url=http://hook:pw5@h/x", "-admin-password", "pw6", "--bind", ":2480", "--disable-acks"})
	joined := strings.Join(got, " ")
	for _, pw := range []string{"pw1", "pw2", "pw3", "pw4", "pw5", "pw6"} {
		require.NotContains(t, joined, pw)
	}
	require.Equal(t, []string{"tap", "run", "--admin-password", config.Redacted, "--admin-password=" + config.Redacted,
		"--db-url=postgres://u:xxxxx@127.0.0.1:5432/db", "--db-url", "postgres://u:xxxxx@h/db",
		"--webhook-url=http://hook:xxxxx@h/x", "-admin-password", config.Redacted, "--bind", ":2480", "--disable-acks"}, got)
}

// secServeErr runs serve in-process with the configuration of env, edited
// by tweak, and returns the error it stops with (it must stop by itself).
func secServeErr(t *testing.T, env map[string]string, tweak func(*config.Config)) (string, error) {
	t.Helper()
	loaded, err := config.Load(config.Sources{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	tweak(&loaded.Config)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(t.Context(), &loaded.Config, newLogger(out, "debug")) }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(60 * time.Second):
		t.Fatalf("tap did not stop:\n%s", out)
	}
	return "", nil
}

// A plugin sink whose executable does not match its sha256 pin is not
// started: tap refuses to start, naming the file, its hash and the pin.
// With the right pin the file is run (here the tap binary, which is no
// plugin, so the handshake fails instead).
func TestE2ESecurityPluginPin(t *testing.T) {
	net, _ := startNetwork(t, 1, 0)
	raw, err := os.ReadFile(tapBinary)
	require.NoError(t, err)
	sum := sha256.Sum256(raw)
	good, bad := hex.EncodeToString(sum[:]), strings.Repeat("ab", 32)
	pin := func(p string) func(*config.Config) {
		return func(c *config.Config) {
			c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "plugin", Config: map[string]any{"path": tapBinary, "sha256": p}}}
		}
	}
	log, err := secServeErr(t, testEnv(net, sqliteURL(t)), pin(bad))
	require.Error(t, err)
	require.ErrorContains(t, err, fmt.Sprintf("sha256: %s has SHA-256 %s, the configuration says %s", tapBinary, good, bad))
	require.NotContains(t, log, "startup complete")

	_, err = secServeErr(t, testEnv(net, sqliteURL(t)), pin(good))
	require.Error(t, err, "the tap binary is not a plugin")
	require.NotContains(t, err.Error(), "the configuration says", "the right pin passes")
	require.ErrorContains(t, err, "starting plugin "+tapBinary)
}

// `tap tail --url` with user info: its errors (reconnect messages, a
// malformed URL) hide the password.
func TestSecurityTailHidesURLPassword(t *testing.T) {
	secret := secRandom(t, "tailpw")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--url", "http://admin:" + secret + "@127.0.0.1:1"}, io.Discard, stderr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reconnecting") },
		20*time.Second, 10*time.Millisecond, "no reconnect message")
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, stderr.String(), "admin:xxxxx@127.0.0.1:1")
	require.NotContains(t, stderr.String(), secret)
	err := run(t.Context(), []string{"tail", "--url", "http://admin:" + secret + "@[::1"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "is not a URL")
	require.NotContains(t, err.Error(), secret)
}

// Without an admin password tap warns when it listens beyond loopback.
func TestSecurityWarnIfOpen(t *testing.T) {
	for bind, warns := range map[string]bool{":2480": true, "0.0.0.0:2480": true, "[::]:2480": true,
		"192.0.2.1:2480": true, "127.0.0.1:2480": false, "[::1]:2480": false, "localhost:2480": false} {
		out := &syncBuffer{}
		cfg := &config.Config{Server: config.ServerConfig{Bind: bind}}
		warnIfOpen(cfg, newLogger(out, "info"))
		require.Equal(t, warns, strings.Contains(out.String(), "admin_password (TAP_ADMIN_PASSWORD) is empty"), bind)
		cfg.Server.AdminPassword = "pw"
		out = &syncBuffer{}
		warnIfOpen(cfg, newLogger(out, "info"))
		require.Empty(t, out.String(), bind)
	}
}
