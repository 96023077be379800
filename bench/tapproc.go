package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for bench databases

	"github.com/tapkit/tap/internal/testnet"
)

// buildTap compiles ./cmd/tap into dir.
func buildTap(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tap")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

// installReference installs the reference Tap at the indigo version this
// module requires into dir (go install, so a warm build cache makes it
// quick) and returns the binary's path.
func installReference(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "github.com/bluesky-social/indigo").Output()
	if err != nil {
		return "", fmt.Errorf("reading the indigo version from go.mod: %w", err)
	}
	version := strings.TrimSpace(string(out))
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/bluesky-social/indigo/cmd/tap@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("installing the reference Tap %s: %w", version, err)
	}
	fmt.Printf("reference: github.com/bluesky-social/indigo/cmd/tap@%s\n", version)
	return filepath.Join(dir, "tap"), nil
}

// target is a service under test: this checkout's tap or the reference
// Tap, on SQLite or Postgres. Both take the same TAP_* environment.
type target struct {
	name string // "tap" or "reference"
	bin  string
	db   string // "sqlite" or "postgres"
	pg   string // Postgres server URL (any database) when db is "postgres"
}

// targets builds tap (and installs the reference with ref) into dir.
func targets(ctx context.Context, dir string, ref bool, db, pg string) ([]target, error) {
	if db != "sqlite" && db != "postgres" {
		return nil, fmt.Errorf("--db: want sqlite or postgres, not %q", db)
	}
	bin, err := buildTap(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := []target{{name: "tap", bin: bin, db: db, pg: pg}}
	if ref {
		refDir := filepath.Join(dir, "reference")
		if err := os.MkdirAll(refDir, 0o755); err != nil {
			return nil, err
		}
		rbin, err := installReference(ctx, refDir)
		if err != nil {
			return nil, err
		}
		out = append(out, target{name: "reference", bin: rbin, db: db, pg: pg})
	}
	return out, nil
}

// tapProc is a running tap subprocess.
type tapProc struct {
	cmd    *exec.Cmd
	base   string
	dir    string
	log    *os.File
	dbURL  string
	pgDrop func() // drops the Postgres database, if one was made
}

// startTap runs `bin run` against net with the SQLite database in dir.
func startTap(ctx context.Context, bin, dir string, net *testnet.Network, extra ...string) (*tapProc, error) {
	return startTapArgs(ctx, bin, dir, net, []string{"run"}, extra...)
}

// startTapArgs is startTap with the command line given.
func startTapArgs(ctx context.Context, bin, dir string, net *testnet.Network, args []string, extra ...string) (*tapProc, error) {
	return startTarget(ctx, target{name: "tap", bin: bin, db: "sqlite"}, dir, net, args, extra...)
}

// startTarget runs t with a fresh database (a file in dir, or a new
// Postgres database dropped by stop) against net.
func startTarget(ctx context.Context, t target, dir string, net *testnet.Network, args []string, extra ...string) (*tapProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &tapProc{base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	p.dbURL = "sqlite://" + filepath.Join(dir, "tap.db")
	if t.db == "postgres" {
		if p.dbURL, p.pgDrop, err = createPostgres(ctx, t.pg); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(filepath.Join(dir, t.name+".log"))
	if err != nil {
		return nil, err
	}
	p.log = logf
	cmd := exec.Command(t.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TAP_DATABASE_URL="+p.dbURL,
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
		p.dropDB()
		return nil, err
	}
	p.cmd = cmd
	for range 600 {
		if resp, err := http.Get(p.base + "/health"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s did not start; see %s", t.name, logf.Name())
}

// createPostgres makes a fresh database on the server at server and
// returns its URL and a function that drops it.
func createPostgres(ctx context.Context, server string) (string, func(), error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, fmt.Errorf("--pg: %w", err)
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("tapbench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating the bench database on %s: %w", u.Host, err)
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

func (p *tapProc) dropDB() {
	if p.pgDrop != nil {
		p.pgDrop()
		p.pgDrop = nil
	}
}

// profiling serialises CPU profiles (the runtime takes one at a time).
var profiling sync.Mutex

// pprofBase is tap's metrics server when BENCH_PPROF names a directory
// for CPU profiles.
var pprofBase string

// profile saves a CPU profile of tap over d into $BENCH_PPROF/name.pprof,
// then a heap profile into name.heap.pprof, in the background.
func profile(name string, d time.Duration) {
	dir := os.Getenv("BENCH_PPROF")
	if dir == "" || pprofBase == "" {
		return
	}
	base := pprofBase
	go func() {
		save := func(path, file string) {
			resp, err := http.Get(base + path)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(dir, file))
			if err != nil {
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		}
		profiling.Lock() // one CPU profile at a time: a later one waits
		defer profiling.Unlock()
		save(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())), name+".pprof")
		save("/debug/pprof/heap", name+".heap.pprof")
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

// stop terminates tap (SIGTERM), waits, and drops its Postgres
// database. A second stop is a no-op.
func (p *tapProc) stop() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
	p.log.Close()
	p.dropDB()
}

// addBatch is how many DIDs one /repos/add request carries: the
// reference Tap answers HTTP 500 to 5,000 at once (one SQLite INSERT
// with too many variables).
const addBatch = 1000

// addRepos registers dids in batches.
func (p *tapProc) addRepos(dids []string) error {
	for start := 0; start < len(dids); start += addBatch {
		body, _ := json.Marshal(map[string]any{"dids": dids[start:min(start+addBatch, len(dids))]})
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

// cpuTime is the CPU time (user + system) the process has used so far:
// unlike wall-clock rates it hardly depends on what else the machine runs.
func (p *tapProc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// the fields after the parenthesised command name; utime and stime
	// are fields 14 and 15 of the whole line, in clock ticks (100 Hz)
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is the CPU time this process (testnet and consumers) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dbSize is the size of the database: tap.db and its WAL, or the
// Postgres database.
func (p *tapProc) dbSize() int64 {
	if strings.HasPrefix(p.dbURL, "postgres") {
		db, err := sql.Open("pgx", p.dbURL)
		if err != nil {
			return 0
		}
		defer db.Close()
		var n int64
		_ = db.QueryRow("SELECT pg_database_size(current_database())").Scan(&n)
		return n
	}
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

// logTail is the end of the service's log, for error messages (the work
// directory is removed afterwards).
func (p *tapProc) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
