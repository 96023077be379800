package carstream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// bigResult is what the measuring subprocess reports.
type bigResult struct {
	Records    int64   `json:"records"`
	CARBytes   int64   `json:"car_bytes"`
	Blocks     int     `json:"blocks"`
	Nodes      int64   `json:"nodes"`
	OpenSec    float64 `json:"open_s"`
	WalkSec    float64 `json:"walk_s"`
	OpenHWMKiB int64   `json:"open_vmhwm_kib"`
	VmHWMKiB   int64   `json:"vmhwm_kib"`
	HeapSys    uint64  `json:"heap_sys"`
	TotalAlloc uint64  `json:"total_alloc"`
	NumGC      uint32  `json:"num_gc"`
}

// TestBigRepoMemory generates a repo CAR (1,000,000 records by default,
// TAP_BIG_REPO_RECORDS to change) and opens, verifies and walks it,
// reading every record, in a fresh subprocess that reports its own peak
// RSS (VmHWM), so that generation memory does not count. (The child's
// rusage Maxrss is not used: Linux carries the forking parent's peak over
// the exec into it.) TAP_BIG_REPO_INDIGO=1 also measures indigo's
// repo.LoadRepoFromCAR on the same CAR, for comparison.
//
//	TAP_BIG_REPO=1 go test -run TestBigRepoMemory -v ./internal/atproto/carstream/
func TestBigRepoMemory(t *testing.T) {
	if os.Getenv("TAP_BIG_REPO") == "" {
		t.Skip("set TAP_BIG_REPO=1 to generate and walk a 1,000,000-record repo")
	}
	n := 1_000_000
	if v := os.Getenv("TAP_BIG_REPO_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "repo.car")
	start := time.Now()
	info := genRepoFile(t, n, path, dir)
	t.Logf("generated %d records, %.1f MiB CAR in %s", n, float64(info.bytes)/(1<<20), time.Since(start).Round(time.Millisecond))

	modes := []string{"carstream"}
	if os.Getenv("TAP_BIG_REPO_INDIGO") != "" {
		modes = append(modes, "indigo")
	}
	for _, mode := range modes {
		res := runBigChild(t, mode, path, info, dir)
		if res.Records != int64(n) {
			t.Fatalf("%s: walked %d records, want %d", mode, res.Records, n)
		}
		total := res.OpenSec + res.WalkSec
		if res.Blocks > 0 {
			t.Logf("%s: CAR %.1f MiB, %d blocks, %d MST nodes", mode, float64(info.bytes)/(1<<20), res.Blocks, res.Nodes)
		}
		t.Logf("%s: open+verify %.2fs, walk reading every record %.2fs, total %.2fs: %.0f records/s, %.0f MiB/s",
			mode, res.OpenSec, res.WalkSec, total, float64(n)/total, float64(info.bytes)/(1<<20)/total)
		t.Logf("%s: peak RSS (VmHWM) %.1f MiB after open, %.1f MiB after the walk; heap sys %.1f MiB, %d GCs, %.0f MiB allocated",
			mode, float64(res.OpenHWMKiB)/1024, float64(res.VmHWMKiB)/1024, float64(res.HeapSys)/(1<<20), res.NumGC, float64(res.TotalAlloc)/(1<<20))
	}
}

func genRepoFile(t *testing.T, n int, path, scratch string) repoInfo {
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	info := genRepoCAR(t, n, w, scratch)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return info
}

// runBigChild re-executes the test binary as TestBigRepoChild.
func runBigChild(t *testing.T, mode, path string, info repoInfo, dir string) bigResult {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBigRepoChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TAP_BIG_REPO_CAR="+path, "TAP_BIG_REPO_KEY="+info.pub.Multibase(),
		"TAP_BIG_REPO_DIR="+dir, "TAP_BIG_REPO_MODE="+mode)
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s child: %v\n%s", mode, err, stdout)
	}
	for _, line := range strings.Split(string(stdout), "\n") {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			var res bigResult
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("%s child reported nothing:\n%s", mode, stdout)
	return bigResult{}
}

// TestBigRepoChild is the measured half of TestBigRepoMemory; it only runs
// as its subprocess.
func TestBigRepoChild(t *testing.T) {
	path := os.Getenv("TAP_BIG_REPO_CAR")
	if path == "" {
		t.Skip("runs only as the subprocess of TestBigRepoMemory")
	}
	pub, err := atcrypto.ParsePublicMultibase(os.Getenv("TAP_BIG_REPO_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	walk := walkCarstream
	if os.Getenv("TAP_BIG_REPO_MODE") == "indigo" {
		walk = walkIndigo
	}
	res, err := walk(t.Context(), f, pub)
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.VmHWMKiB, res.HeapSys, res.TotalAlloc, res.NumGC = vmHWM(t), ms.HeapSys, ms.TotalAlloc, ms.NumGC
	j, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("RESULT " + string(j))
}

// walkCarstream opens, verifies and walks the CAR, reading every record.
func walkCarstream(ctx context.Context, f *os.File, pub atcrypto.PublicKey) (bigResult, error) {
	start := time.Now()
	s, err := carstream.Open(ctx, f, carstream.Options{Dir: os.Getenv("TAP_BIG_REPO_DIR")})
	if err != nil {
		return bigResult{}, err
	}
	defer s.Close()
	if err := s.VerifySignature(pub); err != nil {
		return bigResult{}, err
	}
	opened, hwm := time.Now(), vmHWM(nil)
	var recBytes int64
	err = s.WalkRecords(ctx, func(_ string, _ cid.Cid, data []byte) error {
		recBytes += int64(len(data))
		return nil
	})
	st := s.Stats()
	return bigResult{
		Records: st.Records, CARBytes: st.Bytes, Blocks: st.Blocks, Nodes: st.Nodes, OpenHWMKiB: hwm,
		OpenSec: opened.Sub(start).Seconds(), WalkSec: time.Since(opened).Seconds(),
	}, err
}

// walkIndigo does the same with indigo's in-memory repo.LoadRepoFromCAR.
func walkIndigo(ctx context.Context, f *os.File, pub atcrypto.PublicKey) (bigResult, error) {
	start := time.Now()
	commit, r, err := repo.LoadRepoFromCAR(ctx, f)
	if err != nil {
		return bigResult{}, err
	}
	if err := commit.VerifySignature(pub); err != nil {
		return bigResult{}, err
	}
	opened, hwm := time.Now(), vmHWM(nil)
	var res bigResult
	err = r.MST.Walk(func(_ []byte, c cid.Cid) error {
		b, err := r.RecordStore.Get(ctx, c)
		if err == nil && len(b.RawData()) > 0 {
			res.Records++
		}
		return err
	})
	res.OpenHWMKiB, res.OpenSec, res.WalkSec = hwm, opened.Sub(start).Seconds(), time.Since(opened).Seconds()
	return res, err
}

// vmHWM reads the peak resident set size (KiB) from /proc/self/status, or
// -1 where there is none.
func vmHWM(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil && t != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return -1
}
