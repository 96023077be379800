// Command tap turns the atproto network into a verified, filtered,
// per-repo-ordered stream of simple JSON events. `tap run` starts the
// service; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errHelpShown) {
		fmt.Fprintf(os.Stderr, "tap: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for a usage error, else 1.
func exitCode(err error) int {
	var uerr *usageError
	if errors.As(err, &uerr) {
		return 2
	}
	return 1
}

var errHelpShown = errors.New("help shown")

const usage = `tap - a verified, filtered, per-repo-ordered atproto event stream

Usage:
  tap run [flags]          start the service (tap run --help lists the flags)
  tap testnet [flags]      run a loopback atproto network for development
  tap tail [flags]         print (and ack) the events of a running tap
  tap repos add DID...     track repos (-f FILE, - for stdin; batched, with progress)
  tap repos remove DID...  stop tracking repos and delete their records
  tap repos list           list tracked repos (--state, --all, --json)
  tap repos info DID       show one repo's state, rev, record count and error
  tap stats                show repo, record, outbox and resync counts and cursors
  tap resolve DID          print the DID document tap resolves
  tap health               check a running tap: exit 0 when healthy, 1 otherwise
  tap --version            print the version

The client commands (tail, repos, stats, resolve, health) talk to a running tap at
--url or TAP_URL (default http://127.0.0.1:2480) with --admin-password or
TAP_ADMIN_PASSWORD; tap CMD --help lists a command's flags. Exit status: 0
ok, 1 error, 2 usage error.

Configuration: the embedded defaults, a --config FILE, TAP_* environment
variables and flags, in increasing precedence. See the README.
`

// run dispatches the subcommand; it is main without the process exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "--version", "-version", "version", "-v":
		printVersion(stdout)
		return nil
	case "--help", "-help", "-h", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "run":
		return runServer(ctx, args[1:], stdout, stderr)
	case "testnet":
		return runTestnet(ctx, args[1:], stdout)
	case "tail":
		return runTail(ctx, args[1:], stdout, stderr)
	case "repos":
		return runRepos(ctx, args[1:], os.Stdin, stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], stdout, stderr)
	case "resolve":
		return runResolve(ctx, args[1:], stdout, stderr)
	case "health":
		return runHealth(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", args[0])
}
