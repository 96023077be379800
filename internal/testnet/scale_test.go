package testnet

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The scale tests build the large histories the brief asks for and log
// time and peak RSS. They are slow, so they run only with
// TESTNET_SCALE=1:
//
//	TESTNET_SCALE=1 go test -run 'TestScale' -v -timeout 20m ./internal/testnet/
func scaleOnly(t *testing.T) {
	if os.Getenv("TESTNET_SCALE") == "" {
		t.Skip("set TESTNET_SCALE=1 to run the scale tests")
	}
}

// peakRSS returns the process's peak resident set size (VmHWM) in MiB.
func peakRSS(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb float64
			for _, c := range f[1] {
				kb = kb*10 + float64(c-'0')
			}
			return kb / 1024
		}
	}
	return 0
}

func TestScaleManyAccounts(t *testing.T) {
	scaleOnly(t)
	n := startNet(t, Options{PDSCount: 4})
	start := time.Now()
	accts := createAccounts(t, n, 10000)
	created := time.Since(start)
	require.NoError(t, n.GenerateHistory(t.Context(), accts, 100))
	total := time.Since(start)
	t.Logf("10,000 accounts x 100 records: accounts %v, total %v, peak RSS %.0f MiB, GOMAXPROCS %d",
		created.Round(time.Millisecond), total.Round(time.Millisecond), peakRSS(t), runtime.GOMAXPROCS(0))
	checkRepoCAR(t, n, accts[9999])
}

func TestScaleHugeRepo(t *testing.T) {
	scaleOnly(t)
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	start := time.Now()
	require.NoError(t, n.GenerateHistory(t.Context(), []*Account{a}, 1_000_000))
	built := time.Since(start)
	rss := peakRSS(t)
	start = time.Now()
	status, _, body := get(t, getRepoURL(a))
	require.Equal(t, 200, status)
	t.Logf("1,000,000-record repo: built in %v, peak RSS after build %.0f MiB; getRepo %d MiB CAR in %v",
		built.Round(time.Millisecond), rss, len(body)>>20, time.Since(start).Round(time.Millisecond))
}
