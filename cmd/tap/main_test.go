package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var tapBinary string

// TestMain builds the tap binary once for the process-level tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tap-bin-")
	if err != nil {
		panic(err)
	}
	tapBinary = filepath.Join(dir, "tap")
	out, err := exec.Command("go", "build", "-o", tapBinary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tap: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loopbackEnv points every network setting at loopback: tests never reach
// the public relay or PLC directory.
func loopbackEnv(t *testing.T) []string {
	return []string{
		"TAP_DATABASE_URL=sqlite://" + filepath.Join(t.TempDir(), "tap.db"),
		"TAP_BIND=127.0.0.1:0",
		"TAP_RELAY_URL=http://127.0.0.1:1",
		"TAP_PLC_URL=http://127.0.0.1:1",
	}
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLine finds the first JSON log line with msg, waiting up to 20 s.
func logLine(t *testing.T, out fmt.Stringer, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
				found = m
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "no %q log line in:\n%s", msg, out)
	return found
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"--version"}, &out, io.Discard))
	require.Regexp(t, `^tap \S+\n  go: go1\.\S+ \w+/\w+\n(  commit: [0-9a-f]{40} \(.*\)\n)?  module: github\.com/tapkit/tap\n$`, out.String())
	out.Reset()
	require.NoError(t, run(t.Context(), nil, &out, io.Discard))
	require.Contains(t, out.String(), "tap run")
	require.ErrorContains(t, run(t.Context(), []string{"frobnicate"}, io.Discard, io.Discard), `unknown command "frobnicate"`)
	require.ErrorIs(t, run(t.Context(), []string{"run", "--help"}, io.Discard, io.Discard), errHelpShown)
}

func TestPrintConfig(t *testing.T) {
	t.Setenv("TAP_RESYNC_PARALLELISM", "3")
	t.Setenv("TAP_ADMIN_PASSWORD", "hunter2")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"run", "--print-config", "--bind", "127.0.0.1:7777"}, &out, io.Discard))
	s := out.String()
	require.Contains(t, s, "bind: 127.0.0.1:7777")
	require.Contains(t, s, "parallelism: 3")
	require.NotContains(t, s, "hunter2")
}

func TestInvalidConfigFails(t *testing.T) {
	err := run(t.Context(), []string{"run", "--firehose-parallelism", "0"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "invalid configuration: pipeline.lanes: must be at least 1")
	err = run(t.Context(), []string{"run", "--config", "does-not-exist.yaml"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "config file does-not-exist.yaml")
	err = run(t.Context(), []string{"run", "stray"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "unexpected arguments")
}

// tap run serves the API in-process and stops cleanly when its context ends.
func TestRunServesAndStops(t *testing.T) {
	for _, kv := range loopbackEnv(t) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--log-level", "debug"}, out, io.Discard) }()
	line := logLine(t, out, "startup complete")
	resp, err := http.Get("http://" + line["addr"].(string) + "/health")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(body))
	require.Equal(t, "tap", line["system"])
	cancel()
	require.NoError(t, <-done)
	logLine(t, out, "shutting down")
}

// With no configuration at all tap listens on :2480 with sqlite://./tap.db
// (only the network URLs are pointed at loopback).
func TestRunDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TAP_RELAY_URL", "http://127.0.0.1:1")
	t.Setenv("TAP_PLC_URL", "http://127.0.0.1:1")
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, out, io.Discard) }()
	line := logLine(t, out, "startup complete")
	require.Equal(t, "[::]:2480", line["addr"])
	require.Equal(t, "sqlite://./tap.db", line["database"])
	require.FileExists(t, filepath.Join(dir, "tap.db"))
	cancel()
	require.NoError(t, <-done)
}

func startTapProcess(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(tapBinary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, stdout, stderr
}

// SIGTERM and SIGINT shut the process down gracefully with exit code 0.
func TestProcessGracefulShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, stdout, _ := startTapProcess(t, t.TempDir(), loopbackEnv(t), "run")
			logLine(t, stdout, "startup complete")
			require.NoError(t, cmd.Process.Signal(sig))
			require.NoError(t, cmd.Wait())
			logLine(t, stdout, "shutting down")
		})
	}
}

// A taken port fails startup with a non-zero exit and a clear message.
func TestProcessBindFailure(t *testing.T) {
	cmd, stdout, _ := startTapProcess(t, t.TempDir(), loopbackEnv(t), "run")
	addr := logLine(t, stdout, "startup complete")["addr"].(string)
	env := append(loopbackEnv(t), "TAP_BIND="+addr)
	second, out2, errOut := startTapProcess(t, t.TempDir(), env, "run")
	err := second.Wait()
	require.Error(t, err)
	require.NotZero(t, second.ProcessState.ExitCode())
	require.Contains(t, errOut.String(), "listening on "+addr+" (server.bind)")
	line := logLine(t, out2, "exiting process")
	require.Contains(t, line["error"], "address already in use")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}

func TestProcessInvalidConfig(t *testing.T) {
	env := append(loopbackEnv(t), "TAP_RELAY_URL=relay.example")
	cmd, _, stderr := startTapProcess(t, t.TempDir(), env, "run")
	require.Error(t, cmd.Wait())
	require.Equal(t, 1, cmd.ProcessState.ExitCode())
	require.Contains(t, stderr.String(), `relay.url: "relay.example" must start with http:// or https://`)
}

// A .env file in the working directory is loaded; real variables win.
func TestProcessDotEnv(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("TAP_OUTBOX_CAPACITY=1234\nTAP_RESYNC_PARALLELISM=6\n"), 0o600))
	cmd, stdout, _ := startTapProcess(t, dir, []string{"TAP_RESYNC_PARALLELISM=2"}, "run", "--print-config")
	require.NoError(t, cmd.Wait())
	require.Contains(t, stdout.String(), "capacity: 1234")
	require.Contains(t, stdout.String(), "parallelism: 2")
}

func TestProcessVersion(t *testing.T) {
	out, err := exec.Command(tapBinary, "--version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "tap "))
}
