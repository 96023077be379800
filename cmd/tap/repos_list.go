package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/spf13/pflag"

	"github.com/tapkit/tap/internal/httpapi"
)

// maxListPage is the largest page GET /repos serves.
const maxListPage = 1000

// repoRow is one repo of GET /repos.
type repoRow = httpapi.RepoItem

// runReposList is `tap repos list`: it pages through GET /repos and prints
// a table, or one JSON object a line with --json.
func runReposList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		co       clientOptions
		state    string
		limit    int
		all, raw bool
	)
	fs := pflag.NewFlagSet("tap repos list", pflag.ContinueOnError)
	addClientFlags(fs, &co)
	fs.StringVar(&state, "state", "", "only repos in this state (pending, resyncing, active, desynchronized, error)")
	fs.IntVar(&limit, "limit", 100, "print at most this many repos")
	fs.BoolVar(&all, "all", false, "print every repo (overrides --limit)")
	fs.BoolVar(&raw, "json", false, "print one JSON object a line")
	if err := parseFlags(fs, "Usage: tap repos list [--state S] [--limit N | --all] [--json]", args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("tap repos list: unexpected arguments %q", fs.Args())
	}
	if limit < 1 && !all {
		return usageErrorf("--limit: must be at least 1, got %d", limit)
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	if !raw {
		fmt.Fprintln(tw, "DID\tHANDLE\tSTATE\tSTATUS\tREV\tRETRIES\tERROR")
	}
	enc := json.NewEncoder(stdout)
	printed, cursor := 0, ""
	for {
		page := maxListPage
		if !all {
			page = min(page, limit-printed)
		}
		q := url.Values{"limit": {strconv.Itoa(page)}}
		if state != "" {
			q.Set("state", state)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Repos  []repoRow `json:"repos"`
			Cursor string    `json:"cursor"`
		}
		if err := c.get(ctx, "/repos", q, &resp); err != nil {
			return err
		}
		for _, r := range resp.Repos {
			if raw {
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.DID, dash(r.Handle), r.State, dash(r.Status), dash(r.Rev), r.Retries, dash(r.Error))
			}
		}
		printed += len(resp.Repos)
		cursor = resp.Cursor
		if cursor == "" || (!all && printed >= limit) {
			break
		}
	}
	if !raw {
		if err := tw.Flush(); err != nil {
			return err
		}
		more := ""
		if cursor != "" {
			more = " (more may follow: --all lists every repo)"
		}
		fmt.Fprintf(stderr, "%d repos%s\n", printed, more)
	}
	return nil
}

// runReposInfo is `tap repos info DID`: GET /info/{did}, as aligned
// fields or, with --json, as tap's JSON.
func runReposInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		co  clientOptions
		raw bool
	)
	fs := pflag.NewFlagSet("tap repos info", pflag.ContinueOnError)
	addClientFlags(fs, &co)
	fs.BoolVar(&raw, "json", false, "print tap's JSON answer")
	if err := parseFlags(fs, "Usage: tap repos info DID [--json]", args, stdout, stderr); err != nil {
		return err
	}
	did, err := oneDID("tap repos info", fs.Args())
	if err != nil {
		return err
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	var body []byte
	if err := c.get(ctx, "/info/"+did, nil, &body); err != nil {
		return err
	}
	if raw {
		_, err := stdout.Write(body)
		return err
	}
	var info struct {
		repoRow
		Records int64 `json:"records"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return fmt.Errorf("GET /info/%s: %w", did, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 1, ' ', 0)
	for _, kv := range [][2]string{
		{"did", info.DID}, {"handle", dash(info.Handle)}, {"state", info.State}, {"status", dash(info.Status)},
		{"rev", dash(info.Rev)}, {"records", strconv.FormatInt(info.Records, 10)},
		{"retries", strconv.Itoa(info.Retries)}, {"error", dash(info.Error)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// oneDID checks that args is exactly one valid DID.
func oneDID(cmd string, args []string) (string, error) {
	if len(args) != 1 {
		return "", usageErrorf("%s: want exactly one DID, got %d arguments", cmd, len(args))
	}
	if _, err := syntax.ParseDID(args[0]); err != nil {
		return "", usageErrorf("%s: invalid DID %q", cmd, args[0])
	}
	return args[0], nil
}

// dash renders an empty field as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
