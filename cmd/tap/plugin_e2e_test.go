package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// buildPlugin compiles an example plugin into the test's temp dir.
func buildPlugin(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tap-"+name)
	out, err := exec.Command("go", "build", "-o", bin, "../../plugins/examples/"+name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// A real tap on testnet data delivers through the jsonl example plugin (a
// subprocess over go-plugin gRPC) next to the websocket-less default: every
// event lands in the file and leaves the outbox.
func TestE2EPluginSinkJSONL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary; skipped with -short")
	}
	bin := buildPlugin(t, "jsonl")
	file := filepath.Join(t.TempDir(), "events.jsonl")
	net, accts := startNetwork(t, 2, 10)
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), func(c *config.Config) {
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "plugin/jsonl", Config: map[string]any{
			"path": bin, "config": map[string]any{"path": file, "fsync": "never"},
		}}}
	})
	ti.addRepos(accts...)
	ti.waitFor("backfill", func() bool { return len(jsonlIDs(t, file)) >= 2*10+2 })
	_, err := accts[0].CreateRecord(post, "live", rec("through a plugin"))
	require.NoError(t, err)
	want := 2*10 + 2 + 1
	ti.waitFor("every event in the file and acked", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		return err == nil && n == 0 && len(jsonlIDs(t, file)) >= want
	})
	ids := jsonlIDs(t, file)
	require.Len(t, ids, want, "each event once (no failure, so no redelivery)")
	var live int
	for _, l := range jsonlLines(t, file) {
		if bytes.Contains(l, []byte(`"live":true`)) {
			live++
		}
	}
	require.Equal(t, 1, live)
}

func jsonlLines(t *testing.T, file string) [][]byte {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

func jsonlIDs(t *testing.T, file string) map[int64]bool {
	ids := map[int64]bool{}
	for _, l := range jsonlLines(t, file) {
		var ev struct {
			ID int64 `json:"id"`
		}
		require.NoError(t, json.Unmarshal(l, &ev), "%s", l)
		ids[ev.ID] = true
	}
	return ids
}
