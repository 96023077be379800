package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store/storetest"
)

// secRandom is a distinct random string, for a secret no log line could
// contain by chance.
func secRandom(t *testing.T, prefix string) string {
	b := make([]byte, 9)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// secDBURL is a fresh Postgres database with password in its URL (trust
// auth accepts any), or, without TAP_TEST_POSTGRES_URL, a SQLite file.
func secDBURL(t *testing.T, password string) (string, bool) {
	if os.Getenv(storetest.PostgresURLEnv) == "" {
		t.Logf("%s not set: the running tap uses SQLite; the database password is checked on the failure paths only", storetest.PostgresURLEnv)
		return sqliteURL(t), false
	}
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String(), true
}

// secFlakyHook is a webhook receiver whose first requests have their
// connection closed (so tap logs client errors naming the URL); later ones
// are acked.
type secFlakyHook struct {
	mu    sync.Mutex
	drops int
	ids   map[string]bool
	auths map[string]int
}

func (h *secFlakyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auths[r.Header.Get("Authorization")]++
	if h.drops > 0 {
		h.drops--
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
			return
		}
	}
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		body.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	h.ids[body.String()] = true
	w.WriteHeader(http.StatusOK)
}

func (h *secFlakyHook) delivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

// secScan fails if any secret appears in text.
func secScan(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if i := strings.Index(text, s); i >= 0 {
			t.Fatalf("%s contains a secret: …%s…", what, text[max(0, i-200):min(len(text), i+len(s)+50)])
		}
	}
}

// secExit runs `tap run` with env and args, expects it to fail, and returns
// its stdout and stderr together.
func secExit(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd, stdout, stderr := startTapProcess(t, t.TempDir(), env, append([]string{"run"}, args...)...)
	require.Error(t, cmd.Wait(), "tap %v should fail", args)
	return stdout.String() + stderr.String()
}

// The real binary, at debug level, with TAP_ADMIN_PASSWORD, a database URL
// with a password (--db-url, so it is on the command line) and a webhook URL
// with user info and an hmac_secret, a relay URL with user info: its whole log, every API answer (including the status
// page, /metrics and /debug/pprof/cmdline), `tap run --print-config`, and the errors of an
// unreachable or malformed database URL and a malformed webhook URL contain
// none of these secrets.
func TestE2ESecuritySecretsNeverLeak(t *testing.T) {
	adminPW, dbPW, hookPW := secRandom(t, "adm"), secRandom(t, "dbpw"), secRandom(t, "hookpw")
	hmacKey, relayPW := secRandom(t, "hmac"), secRandom(t, "relaypw")
	secrets := []string{adminPW, dbPW, hookPW, hmacKey, relayPW}
	logSecrets := append(secrets[:len(secrets):len(secrets)], base64.StdEncoding.EncodeToString([]byte("admin:"+adminPW)))
	net, accts := startNetwork(t, 3, 5)
	dbURL, postgres := secDBURL(t, dbPW)

	hook := &secFlakyHook{drops: 3, ids: map[string]bool{}, auths: map[string]int{}}
	recv := httptest.NewServer(hook)
	t.Cleanup(recv.Close)
	hookURL := strings.Replace(recv.URL+"/hook", "http://", "http://hookuser:"+hookPW+"@", 1)
	cfgYAML := fmt.Sprintf(`pipeline:
  sinks:
    - id: websocket
    - id: webhook
      config: {url: %q, hmac_secret: %q, retry_min: 20ms, retry_max: 100ms}
`, hookURL, hmacKey)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tap.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfgYAML), 0o600))
	envMap := testEnv(net, "")
	delete(envMap, "TAP_DATABASE_URL")
	envMap["TAP_ADMIN_PASSWORD"] = adminPW
	envMap["TAP_METRICS_LISTEN"] = envMap["TAP_BIND"]
	envMap["TAP_RELAY_URL"] = strings.Replace(envMap["TAP_RELAY_URL"], "://", "://relayuser:"+relayPW+"@", 1)
	var env []string
	for k, v := range envMap {
		env = append(env, k+"="+v)
	}
	cmd, stdout, stderr := startTapProcess(t, dir, env, "run", "--config", cfgFile, "--db-url", dbURL)
	addr := logLine(t, stdout, "startup complete")["addr"].(string)
	base := "http://" + addr
	right, wrong := secCreds(adminPW)[3].header(), secCreds(adminPW)[1].header()

	var answers []string
	do := func(method, path, body string, h http.Header, want int) string {
		status, got := secDo(t, method, base+path, body, h)
		require.Equal(t, want, status, "%s %s: %s", method, path, got)
		answers = append(answers, got)
		return got
	}
	ws, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+addr+"/channel", right)
	require.NoError(t, err)
	defer ws.Close()
	reader := &secWSReader{ids: map[int64]int{}}
	go reader.run(ws)
	_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+addr+"/channel", wrong)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	resp.Body.Close()

	dids := make([]string, len(accts))
	for i, a := range accts {
		dids[i] = `"` + a.DID().String() + `"`
	}
	do(http.MethodPost, "/repos/add", `{"dids":[`+strings.Join(dids, ",")+`]}`, right, http.StatusOK)
	do(http.MethodPost, "/repos/add", `{"dids":["not-a-did"]}`, right, http.StatusBadRequest)
	do(http.MethodPost, "/repos/add", `{"dids":[`, right, http.StatusBadRequest)
	do(http.MethodGet, "/health", "", wrong, http.StatusUnauthorized)
	do(http.MethodGet, "/health", "", secCreds(adminPW)[2].header(), http.StatusUnauthorized)
	want := 3*5 + 3
	require.Eventually(t, func() bool {
		ids, _ := reader.snapshot()
		return len(ids) >= want && hook.delivered() >= want
	}, 30*time.Second, 20*time.Millisecond, "every event over the websocket and the webhook\n%s", tail(stdout.String(), 4000))
	for _, p := range []string{"/repos", "/info/" + accts[0].DID().String(), "/resolve/" + accts[0].DID().String(),
		"/stats/repo-count", "/stats/record-count", "/stats/outbox-buffer", "/stats/resync-buffer",
		"/stats/cursors", "/health", "/", "/status.json", "/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		do(http.MethodGet, p, "", right, http.StatusOK)
	}
	cmdline := answers[len(answers)-1]
	require.Contains(t, cmdline, "--db-url")
	if postgres {
		require.Contains(t, cmdline, ":xxxxx@", "the database password is hidden, not dropped")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())

	log := stdout.String() + stderr.String()
	require.Contains(t, log, `"msg":"http request"`, "debug access log on")
	require.Contains(t, log, "hookuser:xxxxx@", "the webhook client errors name the URL, password hidden")
	secScan(t, "the log", log, logSecrets)
	secScan(t, "an API answer", strings.Join(answers, "\n"), secrets)
	hook.mu.Lock()
	require.Len(t, hook.auths, 1, "one Authorization value on every webhook request")
	require.Contains(t, hook.auths, "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:"+adminPW)))
	hook.mu.Unlock()

	// --print-config.
	pc, out, errOut := startTapProcess(t, dir, env, "run", "--config", cfgFile, "--db-url", dbURL, "--print-config")
	require.NoError(t, pc.Wait())
	printed := out.String() + errOut.String()
	require.Contains(t, printed, "admin_password: <redacted>")
	require.Contains(t, printed, "hookuser:xxxxx@")
	secScan(t, "--print-config", printed, secrets)

	// Errors: unreachable and malformed database URLs, malformed webhook URLs.
	closed, err := freePortForTest()
	require.NoError(t, err)
	base2 := append(loopbackEnv(t), "TAP_ADMIN_PASSWORD="+adminPW)
	badHook := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(badHook, []byte(
		"pipeline:\n  sinks:\n    - id: webhook\n      config: {url: \"http://hookuser:"+hookPW+"@[::1/hook\"}\n"), 0o600))
	failures := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unreachable database", base2, []string{"--db-url", fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/tap?sslmode=disable&connect_timeout=5", dbPW, closed)}, "database"},
		{"malformed port", base2, []string{"--db-url", "postgres://postgres:" + dbPW + "@127.0.0.1:notaport/tap"}, "database"},
		{"malformed escape", base2, []string{"--db-url", "postgresql://postgres:" + dbPW + "%zz@127.0.0.1:5432/tap"}, "database"},
		{"malformed webhook_url", append(base2, "TAP_WEBHOOK_URL=http://hookuser:"+hookPW+"@[::1/hook"), nil, "delivery.webhook_url"},
		{"non-http webhook_url", append(base2, "TAP_WEBHOOK_URL=ftp://hookuser:"+hookPW+"@127.0.0.1/hook"), nil, "delivery.webhook_url"},
		{"malformed webhook sink url", base2, []string{"--config", badHook}, "url"},
	}
	for _, f := range failures {
		out := secExit(t, f.env, f.args...)
		require.Contains(t, out, f.want, "%s: %s", f.name, out)
		secScan(t, f.name+" error", out, secrets)
	}
	t.Logf("reliability: security secrets-leak scans=%d (log %d KiB, %d API answers, print-config, %d failure outputs) db=%s leaks=0",
		3+len(failures), len(log)>>10, len(answers), len(failures), map[bool]string{true: "postgres", false: "sqlite"}[postgres])
}
