package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cliResult is the outcome of one run of the tap binary.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built tap binary with args, env (KEY=VALUE) and stdin,
// and waits for it to exit.
func runCLI(t *testing.T, env []string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tapBinary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TAP_URL=", "TAP_ADMIN_PASSWORD=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{stdout.String(), stderr.String(), code}
}

// cliArgs are the connection flags of a client command for ti.
func (ti *tapInstance) cliArgs(args ...string) []string {
	return append(args, "--url", "http://"+ti.addr, "--admin-password", "pw")
}

// cli runs a client command in-process, failing the test on an error.
func (ti *tapInstance) cli(stdin io.Reader, args ...string) (string, string) {
	ti.t.Helper()
	var stdout, stderr bytes.Buffer
	err := runClient(ti.t.Context(), ti.cliArgs(args...), stdin, &stdout, &stderr)
	require.NoError(ti.t, err, "tap %s\nstderr: %s", strings.Join(args, " "), stderr.String())
	return stdout.String(), stderr.String()
}

// runClient is run with a chosen stdin for `tap repos`.
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if args[0] == "repos" {
		return runRepos(ctx, args[1:], stdin, stdout, stderr)
	}
	return run(ctx, args, stdout, stderr)
}

func (ti *tapInstance) repoCount() int64 {
	n, err := ti.db.CountRepos(ti.t.Context())
	require.NoError(ti.t, err)
	return n
}

// tap repos add|remove|list against a live tap: a bad line fails the whole
// file with its line number; thousands of DIDs from stdin go in batches
// with progress; adding again changes nothing; list pages through all.
func TestE2ECLIReposBulk(t *testing.T) {
	net, _ := startNetwork(t, 0, 0)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "pw"
	env["TAP_OUTBOX_ONLY"] = "true" // the generated DIDs exist nowhere: nothing should try to fetch them
	ti := startTap(t, net, env, nil)

	file := filepath.Join(t.TempDir(), "dids.txt")
	require.NoError(t, os.WriteFile(file, []byte("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa\n# a comment\n\nnot-a-did\ndid:web:example.com\n"), 0o600))
	var stderr bytes.Buffer
	err := runRepos(t.Context(), ti.cliArgs("add", "-f", file), nil, io.Discard, &stderr)
	var uerr *usageError
	require.ErrorAs(t, err, &uerr)
	require.ErrorContains(t, err, file+`:4: invalid DID "not-a-did"`)
	require.ErrorContains(t, err, "nothing was sent")
	require.Zero(t, ti.repoCount())

	const n = 2500
	var in strings.Builder
	in.WriteString("# generated\n")
	for i := range n {
		fmt.Fprintf(&in, "did:plc:cli%021d\n", i)
	}
	auth := []string{"TAP_URL=http://" + ti.addr, "TAP_ADMIN_PASSWORD=pw"}
	res := runCLI(t, auth, strings.NewReader(in.String()), "repos", "add", "-f", "-", "--progress")
	require.Zero(t, res.code, res.stderr)
	require.Contains(t, res.stderr, "added 1000/2500 (40%) ")
	require.Contains(t, res.stderr, "added 2500/2500 (100%) ")
	require.Regexp(t, `^added 2500 DIDs in \S+\n$`, res.stdout)
	require.EqualValues(t, n, ti.repoCount())

	// Idempotent: the same input again succeeds and adds nothing.
	res = runCLI(t, auth, strings.NewReader(in.String()), "repos", "add", "-")
	require.Zero(t, res.code, res.stderr)
	require.NotContains(t, res.stderr, "added 1000/", "no progress without --progress or a terminal")
	require.EqualValues(t, n, ti.repoCount())

	out, _ := ti.cli(nil, "repos", "list", "--all", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, n)
	var row repoRow
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &row))
	require.Equal(t, repoRow{DID: "did:plc:cli000000000000000000000", State: "pending", Status: "active"}, row)

	out, errOut := ti.cli(nil, "repos", "list", "--limit", "3", "--state", "pending")
	require.Equal(t, 4, strings.Count(out, "\n"), out) // header and 3 rows
	require.Regexp(t, `(?m)^DID\s+HANDLE\s+STATE\s+STATUS\s+REV\s+RETRIES\s+ERROR$`, out)
	require.Regexp(t, `(?m)^did:plc:cli000000000000000000002\s+-\s+pending\s+active\s+-\s+0\s+-$`, out)
	require.Contains(t, errOut, "3 repos (more may follow")

	var errBuf bytes.Buffer
	err = runRepos(t.Context(), ti.cliArgs("list", "--state", "sleepy"), nil, io.Discard, &errBuf)
	require.ErrorContains(t, err, "GET http://"+ti.addr+"/repos?limit=100&state=sleepy: HTTP 400 Bad Request: invalid state")

	_, errOut = ti.cli(strings.NewReader(in.String()), "repos", "remove", "-", "--batch", "700", "--progress")
	require.Contains(t, errOut, "removed 700/2500 (28%)")
	require.Zero(t, ti.repoCount())

	err = runRepos(t.Context(), ti.cliArgs("add", "--batch", "0", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), nil, io.Discard, io.Discard)
	require.ErrorAs(t, err, &uerr)
	require.ErrorContains(t, err, "--batch: must be from 1 to 5000")
}

// tap repos add|info|list, stats and resolve show a live tap's state; a
// wrong password, an unreachable tap and a bad argument fail clearly with
// exit codes 1, 1 and 2.
func TestE2ECLIInspect(t *testing.T) {
	net, accts := startNetwork(t, 2, 5)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "pw"
	ti := startTap(t, net, env, nil)
	a, b := accts[0].DID(), accts[1].DID()

	out, _ := ti.cli(nil, "repos", "add", a.String(), b.String())
	require.Regexp(t, `^added 2 DIDs in `, out)
	ti.waitFor("both repos active", func() bool {
		return ti.state(a) == "active" && ti.state(b) == "active"
	})

	out, _ = ti.cli(nil, "repos", "info", a.String())
	require.Regexp(t, `(?m)^did:\s+`+a.String()+`$`, out)
	require.Regexp(t, `(?m)^state:\s+active$`, out)
	require.Regexp(t, `(?m)^records:\s+5$`, out)
	require.Regexp(t, `(?m)^handle:\s+`+accts[0].Handle().String()+`$`, out)
	require.Regexp(t, `(?m)^error:\s+-$`, out)
	out, _ = ti.cli(nil, "repos", "info", a.String(), "--json")
	var info map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Equal(t, float64(5), info["records"])
	require.Equal(t, accts[0].Rev().String(), info["rev"])

	out, _ = ti.cli(nil, "repos", "list")
	require.Regexp(t, `(?m)^`+a.String()+`\s+\S+\s+active\s+active\s+`+accts[0].Rev().String()+`\s+0\s+-$`, out)

	out, _ = ti.cli(nil, "stats", "--json")
	var st tapStats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.EqualValues(t, 2, st.RepoCount)
	require.EqualValues(t, 10, st.RecordCount)
	out, _ = ti.cli(nil, "stats")
	require.Regexp(t, `(?m)^repos:\s+2$`, out)
	require.Regexp(t, `(?m)^records:\s+10$`, out)
	require.Regexp(t, `(?m)^outbox buffer:\s+\d+$`, out)
	require.Regexp(t, `(?m)^firehose cursor:\s+\d+$`, out)

	out, _ = ti.cli(nil, "resolve", a.String())
	require.True(t, strings.HasPrefix(out, "{\n  \""), out)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Equal(t, a.String(), doc["id"])

	err := run(t.Context(), ti.cliArgs("resolve", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), io.Discard, io.Discard)
	var aerr *apiError
	require.ErrorAs(t, err, &aerr)
	require.Equal(t, 404, aerr.Status)
	require.ErrorContains(t, err, "HTTP 404 Not Found: DID not found")
	err = run(t.Context(), ti.cliArgs("repos", "info", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), io.Discard, io.Discard)
	require.ErrorContains(t, err, "HTTP 404 Not Found: repo not found")

	// Through the binary: exit codes and messages.
	res := runCLI(t, []string{"TAP_URL=http://" + ti.addr, "TAP_ADMIN_PASSWORD=wrong-pw"}, nil, "stats")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "tap: GET http://"+ti.addr+"/stats/repo-count: HTTP 401 Unauthorized: atproto admin auth required")
	require.Contains(t, res.stderr, "TAP_ADMIN_PASSWORD")
	require.NotContains(t, res.stderr, "wrong-pw")

	port, err := freePortForTest()
	require.NoError(t, err)
	dead := fmt.Sprintf("http://admin:secret-pw@127.0.0.1:%d", port)
	res = runCLI(t, nil, nil, "repos", "list", "--url", dead)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "connection refused")
	require.Contains(t, res.stderr, fmt.Sprintf("is tap running at http://admin:xxxxx@127.0.0.1:%d?", port))
	require.NotContains(t, res.stderr, "secret-pw")

	res = runCLI(t, nil, nil, "repos", "info", "not-a-did")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, `tap repos info: invalid DID "not-a-did"`)
	res = runCLI(t, nil, nil, "stats", "--frobnicate")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "unknown flag: --frobnicate")
	require.Contains(t, res.stderr, "Usage: tap stats")
}
