package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
)

// tsClientDir installs the @atproto/tap client (testdata/tsclient) into a
// cache directory once per package.json, and returns it; it skips the test
// when npm is missing or the registry is unreachable.
func tsClientDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not available: skipping the @atproto/tap client test")
	}
	pkg, err := os.ReadFile("testdata/tsclient/package.json")
	require.NoError(t, err)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	dir := filepath.Join(cache, "tap-tests", "tsclient-"+strconv.FormatUint(uint64(fnv32(pkg)), 16))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@atproto", "tap")); err != nil {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644))
		out, err := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Skipf("npm install of @atproto/tap failed (no registry?): skipping: %v\n%s", err, out)
		}
	}
	script, err := os.ReadFile("testdata/tsclient/consume.mjs")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "consume.mjs"), script, 0o644))
	return dir
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// The official @atproto/tap TypeScript client adds repos, consumes a
// testnet stream through tap with acks, and receives every event; its
// strict parser accepts every event (it would reject and never ack one it
// did not), so the outbox empties.
func TestE2ETypeScriptClient(t *testing.T) {
	dir := tsClientDir(t)
	net, accts := startNetwork(t, 3, 10)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "s3cret"
	ti := startTap(t, net, env, nil)
	args := []string{filepath.Join(dir, "consume.mjs"), "http://" + ti.addr, "s3cret", strconv.Itoa(3*10 + 3)}
	for _, a := range accts {
		args = append(args, a.DID().String())
	}
	cmd := exec.CommandContext(t.Context(), "node", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "client failed:\n%s\n%s\n--- tap log tail:\n%s", stdout.String(), stderr.String(), tail(ti.out.String(), 3000))

	var records, identities int
	for _, line := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
		var ev struct {
			Type string `json:"type"`
			DID  string `json:"did"`
		}
		require.NoError(t, json.Unmarshal(line, &ev))
		switch ev.Type {
		case "record":
			records++
		case "identity":
			identities++
		}
	}
	require.Equal(t, 30, records)
	require.Equal(t, 3, identities)
	require.Contains(t, stderr.String(), `"state":"active"`)
	ti.waitFor("outbox drained by acks", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		return err == nil && n == 0
	})
	for _, a := range accts {
		require.Equal(t, store.RepoStateActive, ti.repo(a.DID()).State)
	}
}
