package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tapkit/tap/plugins/sdk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func event(id uint64) sdk.Event {
	j := fmt.Sprintf(`{"id":%d,"type":"identity","identity":{"did":"did:plc:a","handle":"a.test","is_active":true,"status":"active"}}`, id)
	return sdk.Event{ID: id, Type: sdk.TypeIdentity, DID: "did:plc:a", JSON: []byte(j)}
}

func newSink(t *testing.T, cfg map[string]any) *sink {
	t.Helper()
	s := &sink{}
	if err := s.Configure(t.Context(), cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func deliver(t *testing.T, s *sink, ids ...uint64) {
	t.Helper()
	batch := make([]sdk.Event, len(ids))
	for i, id := range ids {
		batch[i] = event(id)
	}
	for i, r := range s.Deliver(t.Context(), batch) {
		if r.Status != sdk.Acked {
			t.Fatalf("event %d: %v %s", ids[i], r.Status, r.Message)
		}
	}
}

// lines returns the lines of the file at path.
func lines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func TestAppendsLines(t *testing.T) {
	for _, fsync := range []string{fsyncAlways, fsyncNever, fsyncInterval} {
		t.Run(fsync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			s := newSink(t, map[string]any{"path": path, "fsync": fsync, "fsync_interval": "10ms"})
			deliver(t, s, 1, 2)
			deliver(t, s, 3)
			if err := s.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			got := lines(t, path)
			if len(got) != 3 || got[2] != string(event(3).JSON) {
				t.Fatalf("file lines = %q", got)
			}
			if r := s.Deliver(t.Context(), []sdk.Event{event(4)}); r[0].Status != sdk.Retry {
				t.Fatalf("Deliver after Shutdown = %v, want retry", r[0])
			}
		})
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	size := int64(len(event(1).JSON) + 1)
	s := newSink(t, map[string]any{"path": path, "max_bytes": float64(2 * size)})
	deliver(t, s, 1, 2) // fills the file
	deliver(t, s, 3)    // rotates to events.jsonl.1
	deliver(t, s, 4)
	deliver(t, s, 5) // rotates to events.jsonl.2
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for name, n := range map[string]int{path + ".1": 2, path + ".2": 2, path: 1} {
		if got := lines(t, name); len(got) != n {
			t.Errorf("%s has %d lines, want %d", name, len(got), n)
		}
	}
}

func TestConfigErrorsNameKeys(t *testing.T) {
	_, err := parseConfig(map[string]any{"fsync": "sometimes", "max_bytes": -1.0, "fsync_interval": "x", "bogus": 1})
	for _, key := range []string{"path", "fsync", "max_bytes", "fsync_interval", "bogus"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("parseConfig = %v, want a message naming %s", err, key)
		}
	}
	if _, err := parseConfig(map[string]any{"path": "/x", "max_bytes": 1.5}); err == nil {
		t.Error("max_bytes 1.5 accepted")
	}
}
