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
		os.Exit(1)
	}
}

var errHelpShown = errors.New("help shown")

const usage = `tap - a verified, filtered, per-repo-ordered atproto event stream

Usage:
  tap run [flags]       start the service (tap run --help lists the flags)
  tap testnet [flags]   run a loopback atproto network for development
  tap tail [flags]      print (and ack) the events of a running tap
  tap health [flags]    check that a running tap is healthy (exit 0) or not (exit 1)
  tap --version         print the version

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
	case "health":
		return runHealth(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
