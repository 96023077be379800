package pluginsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

func delivery(id uint64, did string) pipeline.Delivery {
	return pipeline.Delivery{ID: id, DID: did, Live: true,
		JSON: fmt.Appendf(nil, `{"id":%d,"type":"identity","identity":{"did":%q,"handle":"a.test","is_active":true,"status":"active"}}`, id, did)}
}

func TestLifecycle(t *testing.T) {
	pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
		s, _, _ := newTestSink(t, nil)
		return s
	})
}

func TestDeliverMapsResults(t *testing.T) {
	s, logs, logPath := newTestSink(t, func(c *Config) { c.BatchSize, c.MaxInFlight = 2, 2 })
	if err := s.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	batch := []pipeline.Delivery{
		delivery(1, "did:plc:ok"), delivery(2, "did:plc:retry"), delivery(3, "did:plc:fail"),
		delivery(4, "did:plc:ok"), delivery(5, "did:plc:ok"),
	}
	err := s.Deliver(t.Context(), batch)
	var be *pipeline.BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(batch) {
		t.Fatalf("Deliver = %v, want a BatchError of %d", err, len(batch))
	}
	for _, i := range []int{0, 3, 4} {
		if be.Errs[i] != nil {
			t.Errorf("event %d: %v, want acked", i+1, be.Errs[i])
		}
	}
	if e := be.Errs[1]; e == nil || pipeline.IsPermanent(e) || !strings.Contains(e.Error(), "busy") {
		t.Errorf("retried event: %v, want a retryable error with the plugin's message", e)
	}
	if e := be.Errs[2]; !pipeline.IsPermanent(e) || !strings.Contains(e.Error(), "bad event") {
		t.Errorf("failed event: %v, want a permanent error with the plugin's message", e)
	}
	if got := ackedIDs(t, logPath); len(got) != 3 || got[1] != 1 || got[4] != 1 || got[5] != 1 {
		t.Errorf("plugin acked %v, want 1, 4 and 5 once", got)
	}
	if err := s.Deliver(t.Context(), batch[3:]); err != nil {
		t.Errorf("Deliver of acked events: %v", err)
	}
	if !strings.Contains(logs.String(), "test plugin configured") {
		t.Errorf("the plugin's stderr is not in the log:\n%s", logs)
	}
}

func TestCrashRedelivers(t *testing.T) {
	s, logs, logPath := newTestSink(t, nil)
	if err := s.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var batch []pipeline.Delivery
	for id := uint64(1); id <= 6; id++ {
		did := "did:plc:ok"
		if id == 4 {
			did = "did:plc:crash"
		}
		batch = append(batch, delivery(id, did))
	}
	err := s.Deliver(t.Context(), batch)
	if err == nil {
		t.Fatal("Deliver succeeded although the plugin crashed")
	}
	var be *pipeline.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Deliver = %v, want a BatchError", err)
	}
	for i, e := range be.Errs {
		if e == nil || pipeline.IsPermanent(e) {
			t.Fatalf("event %d: %v, want a retryable error", i+1, e)
		}
	}
	// The engine redelivers; the plugin is restarted (after its backoff).
	if err := s.Deliver(t.Context(), batch); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	got := ackedIDs(t, logPath)
	for id := uint64(1); id <= 6; id++ {
		if got[id] < 1 {
			t.Errorf("event %d lost (acked %v)", id, got)
		}
	}
	if !strings.Contains(logs.String(), "the plugin crashed") || !strings.Contains(logs.String(), "restarting the plugin") {
		t.Errorf("crash and restart not logged:\n%s", logs)
	}
}

func TestConfigureErrorFailsStart(t *testing.T) {
	s, _, _ := newTestSink(t, func(c *Config) { c.Config = map[string]any{"fail_configure": "endpoint is required"} })
	err := s.Start(t.Context(), pipelinetest.NopHost{})
	if err == nil || !strings.Contains(err.Error(), "endpoint is required") {
		t.Fatalf("Start = %v, want the plugin's message", err)
	}
}

func TestSHA256(t *testing.T) {
	raw, err := os.ReadFile(testBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	good, _, _ := newTestSink(t, func(c *Config) { c.SHA256 = strings.ToUpper(hex.EncodeToString(sum[:])) })
	if err := good.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start with the right sha256: %v", err)
	}
	bad, _, _ := newTestSink(t, func(c *Config) { c.SHA256 = strings.Repeat("ab", 32) })
	if err := bad.Start(t.Context(), pipelinetest.NopHost{}); err == nil || !strings.HasPrefix(err.Error(), "sha256:") {
		t.Fatalf("Start with a wrong sha256 = %v, want an error naming sha256", err)
	}
}

func TestDeliverAfterShutdown(t *testing.T) {
	s, _, _ := newTestSink(t, nil)
	if err := s.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Deliver(t.Context(), []pipeline.Delivery{delivery(1, "did:plc:ok")}); !errors.Is(err, pipeline.ErrClosed) {
		t.Fatalf("Deliver after Shutdown = %v, want ErrClosed", err)
	}
}

func TestValidateNamesKeys(t *testing.T) {
	c := Config{SHA256: "xyz", BatchSize: 0, MaxInFlight: 0}
	err := c.Validate()
	for _, key := range []string{"path", "sha256", "batch_size", "max_in_flight"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate = %v, want a message naming %s", err, key)
		}
	}
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type != Type {
		t.Fatalf("Type = %q", f.Type)
	}
	if _, err := f.Create(t.Context(), pipeline.Settings{ID: pipeline.ID{Type: Type}}, f.CreateDefaultConfig()); err == nil || !strings.Contains(err.Error(), "path") {
		t.Fatalf("Create without path = %v, want an error naming path", err)
	}
}
