package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// runPlugin compares delivery of a queued outbox through the jsonl example
// plugin with the built-in websocket sink: tap backfills with no consumer
// (the outbox fills; keep repos × records below outbox.capacity), stops,
// and restarts in outbox-only mode delivering through each sink in turn.
func runPlugin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugin", flag.ContinueOnError)
	repos := fs.Int("repos", 1000, "repos (accounts)")
	records := fs.Int("records", 50, "records per repo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := prepare(ctx, *repos, *records)
	if err != nil {
		return err
	}
	defer s.close()
	want := *repos**records + *repos
	s.tap.stop()
	snapshot := filepath.Join(s.dir, "snapshot.db")
	if err := copyFile(filepath.Join(s.dir, "tap.db"), snapshot); err != nil {
		return err
	}
	plugin := filepath.Join(s.dir, "tap-jsonl")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", plugin, "./plugins/examples/jsonl").CombinedOutput(); err != nil {
		return fmt.Errorf("building the jsonl plugin: %v\n%s", err, out)
	}
	events := filepath.Join(s.dir, "events.jsonl")
	cfg := filepath.Join(s.dir, "plugin.yaml")
	yaml := fmt.Sprintf("pipeline:\n  sinks:\n    - id: plugin/jsonl\n      config:\n        path: %s\n        config: {path: %s, fsync: never}\n", plugin, events)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return err
	}
	bin := filepath.Join(s.dir, "tap")
	start := time.Now()
	p, err := startTapArgs(ctx, bin, s.dir, s.net, []string{"run", "--config", cfg}, "TAP_OUTBOX_ONLY=true")
	if err != nil {
		return err
	}
	err = waitUntil(ctx, 10*time.Minute, func() (bool, error) { return countLines(events) >= want, nil })
	el := time.Since(start)
	p.stop()
	if err != nil {
		return fmt.Errorf("jsonl plugin: %w", err)
	}
	fmt.Printf("jsonl plugin: %d queued events delivered in %s = %.0f events/s (from process start)\n", want, el.Round(time.Millisecond), float64(want)/el.Seconds())
	// websocket sink, same outbox
	if err := copyFile(snapshot, filepath.Join(s.dir, "tap.db")); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start = time.Now()
	p, err = startTap(ctx, bin, s.dir, s.net, "TAP_OUTBOX_ONLY=true")
	if err != nil {
		return err
	}
	defer p.stop()
	c := startConsumer(cctx, p.base, 1)
	if err := waitUntil(ctx, 10*time.Minute, func() (bool, error) { return c.distinct.Load() >= int64(want), nil }); err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	el = time.Since(start)
	fmt.Printf("websocket sink (1 acking client): %d queued events delivered in %s = %.0f events/s (from process start)\n", want, el.Round(time.Millisecond), float64(want)/el.Seconds())
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		n++
	}
	return n
}
