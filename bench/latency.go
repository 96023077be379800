package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"time"

	"github.com/tapkit/tap/internal/testnet"
)

// runLatency backfills the repos with an acking consumer attached, reports
// the delivered events/s, then writes live commits at --rate (signed on the
// fly) and reports the delivery latency from the relay's emission to the
// consumer's receipt.
func runLatency(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	repos := fs.Int("repos", 1000, "repos (accounts)")
	records := fs.Int("records", 10, "records per repo")
	clients := fs.Int("clients", 1, "acking websocket clients")
	rate := fs.Float64("rate", 1000, "live commits per second")
	duration := fs.Duration("duration", 20*time.Second, "length of the live phase")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Backfill with nobody connected, so the outbox fills (keep repos ×
	// records below outbox.capacity), then time its delivery alone.
	s, err := prepare(ctx, *repos, *records)
	if err != nil {
		return err
	}
	defer s.close()
	s.reportBackfill(*records)
	want := int64(*repos**records + *repos) // records + one identity event per repo
	start := time.Now()
	c := startConsumer(cctx, s.tap.base, *clients)
	if err := waitUntil(ctx, 30*time.Minute, func() (bool, error) { return c.distinct.Load() >= want, nil }); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	el := time.Since(start)
	fmt.Printf("delivery: %d queued events acked by %d client(s) in %s = %.0f events/s; peak RSS %s\n",
		want, *clients, el.Round(time.Millisecond), float64(want)/el.Seconds(), mib(s.tap.peakRSS()))
	firstSeq := s.net.LastSeq()
	st, err := s.net.RunLoad(ctx, testnet.LoadOptions{Rate: *rate, Accounts: s.accts, MaxCommits: int64(*rate * duration.Seconds())})
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let the tail arrive
	var lat []time.Duration
	missing := 0
	for _, e := range s.net.Events() {
		if e.Seq <= firstSeq || e.Kind != testnet.KindCommit {
			continue
		}
		if t, ok := c.arrival(e.DID.String(), e.Rev.String()); ok {
			lat = append(lat, t.Sub(e.Time))
		} else {
			missing++
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no live event arrived")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("live %.0f commits/s for %s (%d commits): latency p50 %s, p99 %s, max %s; %d not delivered within 2 s of the end; peak RSS %s\n",
		*rate, *duration, st.Commits, q(0.5).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond),
		lat[len(lat)-1].Round(time.Millisecond), missing, mib(s.tap.peakRSS()))
	return nil
}
