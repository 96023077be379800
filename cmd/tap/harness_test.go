package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

// tapInstance is a tap service running in-process against a testnet.
type tapInstance struct {
	t      *testing.T
	net    *testnet.Network
	db     *store.DB // a second pool on tap's database, for assertions
	addr   string
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
	cfg    *config.Config
}

// startNetwork starts a testnet with n accounts, each with records history.
func startNetwork(t *testing.T, accounts, records int) (*testnet.Network, []*testnet.Account) {
	t.Helper()
	net, err := testnet.Start(t.Context(), testnet.Options{Seed: 7})
	require.NoError(t, err)
	t.Cleanup(net.Close)
	accts, err := net.CreateAccounts(accounts)
	require.NoError(t, err)
	if records > 0 {
		require.NoError(t, net.GenerateHistory(t.Context(), accts, records))
	}
	return net, accts
}

// testEnv is the environment of a tap pointed at net, with fast timings.
func testEnv(net *testnet.Network, dbURL string) map[string]string {
	return map[string]string{
		"TAP_DATABASE_URL":         dbURL,
		"TAP_BIND":                 "127.0.0.1:0",
		"TAP_RELAY_URL":            net.RelayURL(),
		"TAP_PLC_URL":              net.PLCURL(),
		"TAP_IDENT_DNS_RESOLVER":   net.DNSAddr(),
		"TAP_CURSOR_SAVE_INTERVAL": "50ms",
		"TAP_LOG_LEVEL":            "debug",
	}
}

// startTap runs tap in-process with env (see testEnv) and waits until it
// serves. tweak may adjust the loaded configuration.
func startTap(t *testing.T, net *testnet.Network, env map[string]string, tweak func(*config.Config)) *tapInstance {
	t.Helper()
	loaded, err := config.Load(config.Sources{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	cfg := &loaded.Config
	for i := range cfg.Pipeline.Stages {
		if cfg.Pipeline.Stages[i].ID == "backfill" {
			cfg.Pipeline.Stages[i].Config = map[string]any{"poll_interval": "20ms", "min_backoff": "200ms", "max_backoff": "1s", "host_backoff": "200ms"}
		}
	}
	if tweak != nil {
		tweak(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ti := &tapInstance{t: t, net: net, cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, cfg: cfg}
	go func() { ti.done <- serve(ctx, cfg, newLogger(ti.out, cfg.LogLevel)) }()
	line := logLine(t, ti.out, "startup complete")
	ti.addr = line["addr"].(string)
	ti.db, err = store.Open(t.Context(), cfg.Database.URL, store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { ti.stop(); ti.db.Close() })
	return ti
}

// stop shuts tap down gracefully (idempotent).
func (ti *tapInstance) stop() {
	if ti.cancel == nil {
		return
	}
	ti.cancel()
	ti.cancel = nil
	select {
	case err := <-ti.done:
		require.NoError(ti.t, err)
	case <-time.After(60 * time.Second):
		ti.t.Fatal("tap did not stop")
	}
}

func sqliteURL(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "tap.db") }

func (ti *tapInstance) addRepos(accts ...*testnet.Account) {
	dids := make([]string, len(accts))
	for i, a := range accts {
		dids[i] = a.DID().String()
	}
	_, err := ti.db.AddRepos(ti.t.Context(), dids)
	require.NoError(ti.t, err)
}

// event is a delivered event as parsed from its JSON.
type event struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Record   *recordEvent
	Identity *identityEvent
	raw      string
}

type recordEvent struct {
	Live       bool           `json:"live"`
	DID        string         `json:"did"`
	Rev        string         `json:"rev"`
	Collection string         `json:"collection"`
	RKey       string         `json:"rkey"`
	Action     string         `json:"action"`
	Record     map[string]any `json:"record"`
	CID        string         `json:"cid"`
}

type identityEvent struct {
	DID      string `json:"did"`
	Handle   string `json:"handle"`
	IsActive bool   `json:"is_active"`
	Status   string `json:"status"`
}

// events returns every event in the outbox, by id.
func (ti *tapInstance) events() []event {
	var rows []store.OutboxBuffer
	require.NoError(ti.t, ti.db.Bun().NewSelect().Model(&rows).Order("id").Scan(ti.t.Context()))
	out := make([]event, len(rows))
	for i, r := range rows {
		var e struct {
			ID       int64          `json:"id"`
			Type     string         `json:"type"`
			Record   *recordEvent   `json:"record"`
			Identity *identityEvent `json:"identity"`
		}
		require.NoError(ti.t, json.Unmarshal([]byte(r.Data), &e), r.Data)
		require.Equal(ti.t, r.ID, e.ID)
		out[i] = event{ID: e.ID, Type: e.Type, Record: e.Record, Identity: e.Identity, raw: r.Data}
	}
	return out
}

// recordsOf returns the record events of did, by id.
func recordsOf(evs []event, did syntax.DID) []recordEvent {
	var out []recordEvent
	for _, e := range evs {
		if e.Record != nil && e.Record.DID == did.String() {
			out = append(out, *e.Record)
		}
	}
	return out
}

// waitFor waits until cond holds, failing with what after 30 s.
func (ti *tapInstance) waitFor(what string, cond func() bool) {
	ti.t.Helper()
	require.Eventually(ti.t, cond, 30*time.Second, 20*time.Millisecond, "%s\n--- tap log tail:\n%s", what, tail(ti.out.String(), 4000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (ti *tapInstance) repo(did syntax.DID) store.Repo {
	r, err := ti.db.GetRepo(ti.t.Context(), did.String())
	require.NoError(ti.t, err)
	return r
}

func (ti *tapInstance) state(did syntax.DID) store.RepoState {
	r, err := ti.db.GetRepo(ti.t.Context(), did.String())
	if err != nil {
		return ""
	}
	return r.State
}

// current replays the record events of did into the set of current
// records (path → cid), as a consumer applying them would hold.
func current(recs []recordEvent) map[string]string {
	m := map[string]string{}
	for _, r := range recs {
		p := r.Collection + "/" + r.RKey
		if r.Action == "delete" {
			delete(m, p)
		} else {
			m[p] = r.CID
		}
	}
	return m
}

// truth returns the testnet's current records of a (path → cid).
func truth(t *testing.T, a *testnet.Account) map[string]string {
	recs, err := a.Records()
	require.NoError(t, err)
	m := map[string]string{}
	for _, r := range recs {
		m[r.Path()] = r.CID.String()
	}
	return m
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// getJSON fetches an API path and decodes the JSON object it returns.
func (ti *tapInstance) getJSON(path string) map[string]any {
	ti.t.Helper()
	resp, err := http.Get("http://" + ti.addr + path)
	require.NoError(ti.t, err)
	defer resp.Body.Close()
	require.Equal(ti.t, http.StatusOK, resp.StatusCode)
	var m map[string]any
	require.NoError(ti.t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

// postRepos adds repos through the HTTP API.
func (ti *tapInstance) postRepos(accts []*testnet.Account) {
	ti.t.Helper()
	dids := make([]string, len(accts))
	for i, a := range accts {
		dids[i] = a.DID().String()
	}
	body, err := json.Marshal(map[string]any{"dids": dids})
	require.NoError(ti.t, err)
	resp, err := http.Post("http://"+ti.addr+"/repos/add", "application/json", bytes.NewReader(body))
	require.NoError(ti.t, err)
	resp.Body.Close()
	require.Equal(ti.t, http.StatusOK, resp.StatusCode)
}

func freePortForTest() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startTapBinary runs the built tap binary (`tap run --config FILE`) with
// env and the YAML configuration yaml, and waits until it serves.
func startTapBinary(t *testing.T, net *testnet.Network, env map[string]string, yaml string) *tapInstance {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tap.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(yaml), 0o600))
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	cmd, stdout, _ := startTapProcess(t, dir, envList, "run", "--config", cfgFile)
	line := logLine(t, stdout, "startup complete")
	ti := &tapInstance{t: t, net: net, addr: line["addr"].(string), out: stdout, done: make(chan error, 1)}
	ti.cancel = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		go func() { ti.done <- cmd.Wait() }()
	}
	var err error
	ti.db, err = store.Open(t.Context(), env["TAP_DATABASE_URL"], store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { ti.stop(); ti.db.Close() })
	return ti
}
