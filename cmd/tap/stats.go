package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

// tapStats is what `tap stats` gathers from the /stats/* routes.
type tapStats struct {
	RepoCount    int64 `json:"repo_count"`
	RecordCount  int64 `json:"record_count"`
	OutboxBuffer int64 `json:"outbox_buffer"`
	ResyncBuffer int64 `json:"resync_buffer"`
	Cursors      struct {
		Firehose  int64  `json:"firehose"`
		ListRepos string `json:"list_repos"`
	} `json:"cursors"`
}

// runStats is `tap stats`: one summary of every /stats/* route.
func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		co  clientOptions
		raw bool
	)
	fs := pflag.NewFlagSet("tap stats", pflag.ContinueOnError)
	addClientFlags(fs, &co)
	fs.BoolVar(&raw, "json", false, "print one JSON object")
	if err := parseFlags(fs, "Usage: tap stats [--json]", args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("tap stats: unexpected arguments %q", fs.Args())
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	var s tapStats
	for _, r := range []struct {
		path string
		out  any
	}{
		{"/stats/repo-count", &s},
		{"/stats/record-count", &s},
		{"/stats/outbox-buffer", &s},
		{"/stats/resync-buffer", &s},
		{"/stats/cursors", &s.Cursors},
	} {
		if err := c.get(ctx, r.path, nil, r.out); err != nil {
			return err
		}
	}
	if raw {
		return json.NewEncoder(stdout).Encode(s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 1, ' ', 0)
	for _, kv := range [][2]string{
		{"repos", strconv.FormatInt(s.RepoCount, 10)},
		{"records", strconv.FormatInt(s.RecordCount, 10)},
		{"outbox buffer", strconv.FormatInt(s.OutboxBuffer, 10)},
		{"resync buffer", strconv.FormatInt(s.ResyncBuffer, 10)},
		{"firehose cursor", strconv.FormatInt(s.Cursors.Firehose, 10)},
		{"crawler cursor", dash(s.Cursors.ListRepos)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// runResolve is `tap resolve DID`: the DID document tap resolves, as
// indented JSON.
func runResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var co clientOptions
	fs := pflag.NewFlagSet("tap resolve", pflag.ContinueOnError)
	addClientFlags(fs, &co)
	if err := parseFlags(fs, "Usage: tap resolve DID", args, stdout, stderr); err != nil {
		return err
	}
	did, err := oneDID("tap resolve", fs.Args())
	if err != nil {
		return err
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	var body []byte
	if err := c.get(ctx, "/resolve/"+did, nil, &body); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("GET /resolve/%s: the answer is not JSON: %w", did, err)
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(stdout)
	return err
}
