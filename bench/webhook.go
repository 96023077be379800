package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// runWebhook backfills the repos into the outbox with the webhook target
// down (503), then brings the receiver up and times the delivery of every
// queued event, one POST per event.
func runWebhook(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	repos := fs.Int("repos", 1000, "repos (accounts)")
	records := fs.Int("records", 50, "records per repo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mu sync.Mutex
	up := false
	seen := map[int64]bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(body, &ev) == nil {
			seen[ev.ID] = true
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	s, err := prepare(ctx, *repos, *records, "TAP_WEBHOOK_URL="+recv.URL)
	if err != nil {
		return err
	}
	defer s.close()
	s.reportBackfill(*records)
	want := *repos**records + *repos
	mu.Lock()
	up = true
	mu.Unlock()
	start := time.Now()
	err = waitUntil(ctx, 30*time.Minute, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= want, nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("webhook: %d queued events POSTed (one per request) and acked in %s = %.0f events/s; peak RSS %s\n",
		want, el.Round(time.Millisecond), float64(want)/el.Seconds(), mib(s.tap.peakRSS()))
	return nil
}
