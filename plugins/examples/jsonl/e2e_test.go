package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/sinks/pluginsink"
)

// TestThroughPluginSink builds the plugin into a temporary directory and
// runs it through tap's plugin sink.
func TestThroughPluginSink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tap-jsonl")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "events.jsonl")

	f := pluginsink.NewFactory()
	cfg := f.CreateDefaultConfig().(*pluginsink.Config)
	cfg.Path = bin
	cfg.BatchSize = 2
	cfg.Config = map[string]any{"path": out, "fsync": "always"}
	s, err := f.Create(t.Context(), pipeline.Settings{ID: pipeline.ID{Type: pluginsink.Type, Name: "jsonl"}}, cfg)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var batch []pipeline.Delivery
	for id := uint64(1); id <= 5; id++ {
		ev := event(id)
		batch = append(batch, pipeline.Delivery{ID: id, DID: ev.DID, JSON: ev.JSON})
	}
	if err := s.Deliver(t.Context(), batch); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := lines(t, out)
	if len(got) != len(batch) {
		t.Fatalf("%s has %d lines, want %d", out, len(got), len(batch))
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for _, d := range batch {
		if !seen[string(d.JSON)] {
			t.Errorf("event %d missing from %s", d.ID, out)
		}
	}

	// A bad config fails Start with the plugin's message.
	cfg.Config = map[string]any{"fsync": "sometimes", "path": out}
	bad, err := f.Create(t.Context(), pipeline.Settings{ID: pipeline.ID{Type: pluginsink.Type}}, cfg)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer bad.Shutdown(context.Background())
	if err := bad.Start(t.Context(), pipelinetest.NopHost{}); err == nil || !strings.Contains(err.Error(), "fsync must be") {
		t.Fatalf("Start with fsync: sometimes = %v, want the plugin's message", err)
	}
}
