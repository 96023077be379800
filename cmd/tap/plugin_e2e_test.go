package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/plugins/sdk/host/hosttest"
)

// buildPlugin compiles an example plugin into the test's temp dir.
func buildPlugin(t *testing.T, name string) string {
	return hosttest.Build(t, "../../plugins/examples/"+name, "tap-"+name)
}

// A real `tap run` process on testnet data delivers through the jsonl
// example plugin (a subprocess of it, over go-plugin gRPC): every event lands
// in the file and leaves the outbox.
func TestE2EPluginSinkJSONL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary; skipped with -short")
	}
	bin := buildPlugin(t, "jsonl")
	file := filepath.Join(t.TempDir(), "events.jsonl")
	net, accts := startNetwork(t, 2, 10)
	ti := startTapBinary(t, net, testEnv(net, sqliteURL(t)), fmt.Sprintf(
		"pipeline:\n  sinks:\n    - id: plugin/jsonl\n      config:\n        path: %s\n        config: {path: %s, fsync: never}\n", bin, file))
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

// The sqlmirror example, run by tap on testnet data, ends with a table of
// current records equal to the testnet's ground truth, also after a live
// update and delete.
func TestE2EPluginSinkSQLMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary; skipped with -short")
	}
	bin := buildPlugin(t, "sqlmirror")
	mirror := filepath.Join(t.TempDir(), "mirror.db")
	net, accts := startNetwork(t, 2, 8)
	ti := startTapBinary(t, net, testEnv(net, sqliteURL(t)), fmt.Sprintf(
		"pipeline:\n  sinks:\n    - id: plugin/sqlmirror\n      config:\n        path: %s\n        config: {database_url: \"sqlite://%s\"}\n", bin, mirror))
	ti.addRepos(accts...)
	for _, a := range accts {
		ti.waitFor("active", func() bool { return ti.state(a.DID()) == "active" })
	}
	a := accts[0]
	recs, err := a.Records()
	require.NoError(t, err)
	_, err = a.UpdateRecord(recs[0].Collection, recs[0].RKey, map[string]any{"$type": recs[0].Collection.String(), "v": 2})
	require.NoError(t, err)
	_, err = a.DeleteRecord(recs[1].Collection, recs[1].RKey)
	require.NoError(t, err)
	db, err := sql.Open("sqlite3", mirror)
	require.NoError(t, err)
	defer db.Close()
	ti.waitFor("mirror equals ground truth", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		if err != nil || n != 0 {
			return false
		}
		for _, acct := range accts {
			got := map[string]string{}
			rows, err := db.Query(`SELECT collection, rkey, cid FROM records WHERE did = ?`, acct.DID().String())
			if err != nil {
				return false
			}
			for rows.Next() {
				var c, k, cid string
				_ = rows.Scan(&c, &k, &cid)
				got[c+"/"+k] = cid
			}
			rows.Close()
			if fmt.Sprint(got) != fmt.Sprint(truth(t, acct)) {
				return false
			}
		}
		return true
	})
}

// The nats example, run by tap on testnet data, publishes every event to
// JetStream exactly once per id (skipped without a NATS server on
// 127.0.0.1:4222).
func TestE2EPluginSinkNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary; skipped with -short")
	}
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.Timeout(time.Second))
	if err != nil {
		t.Skipf("no NATS server on 127.0.0.1:4222: skipping: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream := fmt.Sprintf("TAPE2E%d", time.Now().UnixNano())
	prefix := strings.ToLower(stream)
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	bin := buildPlugin(t, "nats")
	net, accts := startNetwork(t, 2, 6)
	ti := startTapBinary(t, net, testEnv(net, sqliteURL(t)), fmt.Sprintf(
		"pipeline:\n  sinks:\n    - id: plugin/nats\n      config:\n        path: %s\n        config: {stream: %s, prefix: %s}\n", bin, stream, prefix))
	ti.addRepos(accts...)
	want := uint64(2*6 + 2)
	ti.waitFor("every event published and acked", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		if err != nil || n != 0 {
			return false
		}
		s, err := js.Stream(t.Context(), stream)
		if err != nil {
			return false
		}
		info, err := s.Info(t.Context())
		return err == nil && info.State.Msgs == want
	})
	s, err := js.Stream(t.Context(), stream)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(t.Context(), prefix+".identity")
	require.NoError(t, err)
	require.Contains(t, string(msg.Data), `"type":"identity"`)
}
