package testnet

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	didsFile := filepath.Join(t.TempDir(), "dids.txt")
	done := make(chan error, 1)
	go func() {
		done <- RunCLI(ctx, []string{"--accounts", "3", "--records", "5", "--rate", "200", "--seed", "4", "--pds-count", "2", "--dids-file", didsFile}, pw)
		pw.Close()
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() && len(env) < 3 {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	go io.Copy(io.Discard, pr)
	require.Contains(t, env, "TAP_RELAY_URL")
	require.Contains(t, env, "TAP_PLC_URL")
	require.Contains(t, env, "TAP_IDENT_DNS_RESOLVER")

	b, err := os.ReadFile(didsFile)
	require.NoError(t, err)
	dids := strings.Fields(string(b))
	require.Len(t, dids, 3)
	dir := NewDirectory(env["TAP_PLC_URL"], env["TAP_IDENT_DNS_RESOLVER"])
	ident, err := dir.LookupDID(t.Context(), didOf(t, dids[0]))
	require.NoError(t, err)
	assert.Equal(t, "u0.test", ident.Handle.String())

	// live commits flow on the printed relay URL
	url := env["TAP_RELAY_URL"] + "/xrpc/com.atproto.sync.getLatestCommit?did=" + dids[0]
	var first struct{ Rev string }
	getJSON(t, url, &first)
	for deadline := time.Now().Add(10 * time.Second); ; {
		var latest struct{ Rev string }
		getJSON(t, url, &latest)
		if latest.Rev != first.Rev {
			break
		}
		require.True(t, time.Now().Before(deadline), "no live commit")
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
		}
	}

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("RunCLI did not return after cancel")
	}
}

func TestRunCLIRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--pds-count", "0"}, {"--listen", "0.0.0.0"}, {"extra"}, {"--rate", "5", "--accounts", "0"}} {
		err := RunCLI(t.Context(), args, io.Discard)
		assert.Error(t, err, "%v", args)
	}
}
