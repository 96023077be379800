package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tapkit/tap/internal/testnet"
)

// buildTap compiles ./cmd/tap into dir.
func buildTap(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tap")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

// tapProc is a running tap subprocess.
type tapProc struct {
	cmd  *exec.Cmd
	base string
	dir  string
	log  *os.File
}

// startTap runs `bin run` against net with the SQLite database in dir.
func startTap(ctx context.Context, bin, dir string, net *testnet.Network, extra ...string) (*tapProc, error) {
	return startTapArgs(ctx, bin, dir, net, []string{"run"}, extra...)
}

// startTapArgs is startTap with the command line given.
func startTapArgs(ctx context.Context, bin, dir string, net *testnet.Network, args []string, extra ...string) (*tapProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "tap.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TAP_DATABASE_URL=sqlite://"+filepath.Join(dir, "tap.db"),
		"TAP_BIND=127.0.0.1:"+strconv.Itoa(port),
		"TAP_RELAY_URL="+net.RelayURL(), "TAP_PLC_URL="+net.PLCURL(),
		"TAP_IDENT_DNS_RESOLVER="+net.DNSAddr(), "TAP_LOG_LEVEL=warn",
		"TAP_CURSOR_SAVE_INTERVAL=100ms")
	if os.Getenv("BENCH_PPROF") != "" {
		mport, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "TAP_METRICS_LISTEN=127.0.0.1:"+strconv.Itoa(mport))
		pprofBase = fmt.Sprintf("http://127.0.0.1:%d", mport)
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &tapProc{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, log: logf}
	for range 200 {
		if resp, err := http.Get(p.base + "/health"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("tap did not start; see %s", logf.Name())
}

// pprofBase is tap's metrics server when BENCH_PPROF names a directory
// for CPU profiles.
var pprofBase string

// profile saves a CPU profile of tap over d into $BENCH_PPROF/name.pprof,
// in the background.
func profile(name string, d time.Duration) {
	dir := os.Getenv("BENCH_PPROF")
	if dir == "" || pprofBase == "" {
		return
	}
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pprofBase, int(d.Seconds())))
		if err != nil {
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop terminates tap (SIGTERM) and waits.
func (p *tapProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

// addRepos registers dids in batches.
func (p *tapProc) addRepos(dids []string) error {
	for start := 0; start < len(dids); start += 5000 {
		body, _ := json.Marshal(map[string]any{"dids": dids[start:min(start+5000, len(dids))]})
		resp, err := http.Post(p.base+"/repos/add", "application/json", strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/repos/add: HTTP %d", resp.StatusCode)
		}
	}
	return nil
}

// stat reads one number from a /stats route.
func (p *tapProc) stat(route, key string) (int64, error) {
	resp, err := http.Get(p.base + route)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return 0, err
	}
	n, _ := m[key].(float64)
	return int64(n), nil
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func (p *tapProc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// dbSize is the size of tap.db and its WAL.
func (p *tapProc) dbSize() int64 {
	var total int64
	matches, _ := filepath.Glob(filepath.Join(p.dir, "tap.db*"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			total += fi.Size()
		}
	}
	return total
}

// waitUntil polls cond every 50 ms until it holds or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
