package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
)

// Batching of `tap repos add|remove`. A batch of the largest DIDs (2 KiB
// each) stays far below tap's 16 MiB body limit.
const (
	defaultRepoBatch = 1000
	maxRepoBatch     = 5000
)

const reposUsage = `Usage:
  tap repos add DID... [-f FILE]      track repos (FILE "-" is stdin: one DID a line, # comments)
  tap repos remove DID... [-f FILE]   stop tracking repos and delete their records
  tap repos list [--state S] [--all]  list tracked repos
  tap repos info DID                  show one repo's state

Each takes --url (TAP_URL) and --admin-password (TAP_ADMIN_PASSWORD);
tap repos CMD --help lists its flags.
`

// runRepos dispatches `tap repos CMD`.
func runRepos(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, reposUsage)
		return usageErrorf("tap repos: missing command (add, remove, list or info)")
	}
	switch args[0] {
	case "--help", "-h", "help":
		fmt.Fprint(stdout, reposUsage)
		return errHelpShown
	case "add":
		return runReposChange(ctx, "add", args[1:], stdin, stdout, stderr)
	case "remove":
		return runReposChange(ctx, "remove", args[1:], stdin, stdout, stderr)
	case "list":
		return runReposList(ctx, args[1:], stdout, stderr)
	case "info":
		return runReposInfo(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, reposUsage)
	return usageErrorf("tap repos: unknown command %q", args[0])
}

// runReposChange is `tap repos add` and `tap repos remove` (op): the DIDs
// are validated locally, then sent in batches. Both are idempotent, so a
// failed run can simply be repeated.
func runReposChange(ctx context.Context, op string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		co        clientOptions
		files     []string
		batch     int
		showProgr bool
	)
	fs := pflag.NewFlagSet("tap repos "+op, pflag.ContinueOnError)
	addClientFlags(fs, &co)
	fs.StringArrayVarP(&files, "file", "f", nil, `read DIDs from FILE, one a line ("-" is stdin); repeatable`)
	fs.IntVar(&batch, "batch", defaultRepoBatch, "DIDs per request")
	fs.BoolVar(&showProgr, "progress", false, "report progress on stderr (the default when stderr is a terminal)")
	synopsis := fmt.Sprintf("Usage: tap repos %s [DID...] [-f FILE]", op)
	if err := parseFlags(fs, synopsis, args, stdout, stderr); err != nil {
		return err
	}
	if batch < 1 || batch > maxRepoBatch {
		return usageErrorf("--batch: must be from 1 to %d, got %d", maxRepoBatch, batch)
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	dids, err := readDIDs(fs.Args(), files, stdin)
	if err != nil {
		return err
	}
	verb := op + "ed"
	if op == "remove" {
		verb = "removed"
	}
	start := time.Now()
	prog := newProgress(stderr, showProgr || isTerminal(stderr), verb, len(dids))
	for i := 0; i < len(dids); i += batch {
		chunk := dids[i:min(i+batch, len(dids))]
		if err := c.post(ctx, "/repos/"+op, map[string][]string{"dids": chunk}); err != nil {
			prog.fail()
			return fmt.Errorf("%w\n%s %d of %d DIDs before this; %s is idempotent, run it again to finish", err, verb, i, len(dids), op)
		}
		prog.update(i + len(chunk))
	}
	fmt.Fprintf(stdout, "%s %d DIDs in %s\n", verb, len(dids), time.Since(start).Round(time.Millisecond))
	return nil
}
