package pluginsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tapkit/tap/plugins/sdk"
)

// envPlugin makes the test binary serve testPlugin instead of running the
// tests: the plugin sink re-executes the test binary as its plugin.
const envPlugin = "TAP_PLUGINSINK_TEST_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(envPlugin) == "1" {
		sdk.Serve(&testPlugin{})
		os.Exit(0)
	}
	if err := os.Setenv(envPlugin, "1"); err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m)
}

// testPlugin appends the ids it acks to the file config["log"]. Events of
// did:plc:retry are retried, of did:plc:fail failed; an event of
// did:plc:crash makes the process exit, the first time only (it creates
// the file config["crash_marker"]). config["fail_configure"] is returned
// by Configure as an error.
type testPlugin struct {
	log, marker string
}

func (p *testPlugin) Configure(_ context.Context, cfg map[string]any) error {
	if msg, ok := cfg["fail_configure"].(string); ok {
		return errors.New(msg)
	}
	p.log, _ = cfg["log"].(string)
	p.marker, _ = cfg["crash_marker"].(string)
	fmt.Fprintln(os.Stderr, "test plugin configured")
	return nil
}

func (p *testPlugin) Deliver(_ context.Context, batch []sdk.Event) []sdk.Result {
	out := make([]sdk.Result, len(batch))
	var acked bytes.Buffer
	for i, ev := range batch {
		switch ev.DID {
		case "did:plc:retry":
			out[i] = sdk.RetryLater("busy")
		case "did:plc:fail":
			out[i] = sdk.Fail("bad event")
		case "did:plc:crash":
			if _, err := os.Stat(p.marker); errors.Is(err, os.ErrNotExist) {
				_ = os.WriteFile(p.marker, nil, 0o600)
				os.Exit(1)
			}
			fallthrough
		default:
			out[i] = sdk.Ack()
			fmt.Fprintf(&acked, "%d\n", ev.ID)
		}
	}
	if p.log != "" {
		f, err := os.OpenFile(p.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return make([]sdk.Result, len(batch)) // all Retry
		}
		defer f.Close()
		if _, err := f.Write(acked.Bytes()); err != nil {
			return make([]sdk.Result, len(batch))
		}
	}
	return out
}

func (p *testPlugin) Shutdown(context.Context) error { return nil }

// syncBuffer is a mutex-guarded log buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testBinary is the path of the test binary, the plugin of these tests.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	return exe
}

// newTestSink returns a sink on the test plugin, with a log file in a
// temporary directory, a fast restart, and a Shutdown at cleanup.
func newTestSink(t *testing.T, mutate func(*Config)) (*Sink, *syncBuffer, string) {
	t.Helper()
	dir := t.TempDir()
	logPath := dir + "/acked"
	cfg := *createDefaultConfig().(*Config)
	cfg.Path = testBinary(t)
	cfg.Config = map[string]any{"log": logPath, "crash_marker": dir + "/crashed"}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	logs := &syncBuffer{}
	s := newSink(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s.restartMin, s.restartMax = 10*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, logs, logPath
}

// ackedIDs reads the ids the test plugin acked, with their counts.
func ackedIDs(t *testing.T, path string) map[uint64]int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	ids := map[uint64]int{}
	for _, f := range strings.Fields(string(raw)) {
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("bad line %q in %s", f, path)
		}
		ids[id]++
	}
	return ids
}
