package pluginsink

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

// TestRestartVerifiesBinary checks that a restart after a crash verifies
// the binary again: a plugin replaced on disk is not started.
func TestRestartVerifiesBinary(t *testing.T) {
	raw, err := os.ReadFile(testBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(bin, raw, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	s, _, _ := newTestSink(t, func(c *Config) { c.Path, c.SHA256 = bin, hex.EncodeToString(sum[:]) })
	if err := s.Start(t.Context(), pipelinetest.NopHost{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := s.Deliver(t.Context(), []pipeline.Delivery{delivery(1, "did:plc:crash")}); err == nil {
		t.Fatal("Deliver succeeded although the plugin crashed")
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = s.Deliver(t.Context(), []pipeline.Delivery{delivery(1, "did:plc:ok")})
	if err == nil || !strings.Contains(err.Error(), "sha256") || pipeline.IsPermanent(err) {
		t.Fatalf("Deliver after the binary changed = %v, want a retryable error naming sha256", err)
	}
}

func TestDeliverBeforeStart(t *testing.T) {
	s, _, _ := newTestSink(t, nil)
	if err := s.Deliver(t.Context(), []pipeline.Delivery{delivery(1, "did:plc:ok")}); err == nil {
		t.Fatal("Deliver before Start succeeded")
	}
}
