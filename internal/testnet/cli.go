package testnet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// cliConfig is what RunCLI's flags set.
type cliConfig struct {
	accounts, records, pdsCount int
	rate                        float64
	seed                        int64
	listen, didsFile            string
	eventLimit                  int
	verbose                     bool
}

func parseCLI(args []string, stderr io.Writer) (cliConfig, error) {
	var c cliConfig
	fs := flag.NewFlagSet("testnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.accounts, "accounts", 10, "number of accounts to create")
	fs.IntVar(&c.records, "records", 100, "generated history records per account (not emitted on the firehose)")
	fs.Float64Var(&c.rate, "rate", 0, "live commits per second after start (0 = none)")
	fs.Int64Var(&c.seed, "seed", 1, "seed for DIDs, keys and handles")
	fs.StringVar(&c.listen, "listen", "127.0.0.1", "listen host of every server (loopback only)")
	fs.IntVar(&c.pdsCount, "pds-count", 1, "number of PDS hosts")
	fs.StringVar(&c.didsFile, "dids-file", "", "write the DIDs to this file instead of stdout")
	fs.IntVar(&c.eventLimit, "event-limit", 1_000_000, "firehose events kept for cursor replay (0 = all)")
	fs.BoolVar(&c.verbose, "verbose", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("testnet: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.accounts < 0 || c.records < 0 || c.rate < 0 || c.pdsCount < 1 {
		return c, errors.New("testnet: --accounts, --records and --rate must be >= 0 and --pds-count >= 1")
	}
	if c.rate > 0 && c.accounts == 0 {
		return c, errors.New("testnet: --rate needs --accounts > 0")
	}
	return c, nil
}

// RunCLI runs `tap testnet`: it starts a network, creates --accounts
// accounts with --records history records each, prints the environment
// for tap (TAP_RELAY_URL, TAP_PLC_URL, TAP_IDENT_DNS_RESOLVER) and the
// DIDs (or writes them to --dids-file), keeps writing live commits at
// --rate, and returns nil when ctx is cancelled.
func RunCLI(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseCLI(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	n, err := Start(ctx, Options{Seed: cfg.seed, PDSCount: cfg.pdsCount, Host: cfg.listen, EventLimit: cfg.eventLimit, Logger: logger})
	if err != nil {
		return err
	}
	defer n.Close()
	accts, err := populate(ctx, n, cfg)
	if err != nil {
		return err
	}
	if err := printEnv(n, accts, cfg, stdout); err != nil {
		return err
	}
	return serveCLI(ctx, n, cfg)
}

// populate creates the accounts and their history.
func populate(ctx context.Context, n *Network, cfg cliConfig) ([]*Account, error) {
	accts, err := n.CreateAccounts(cfg.accounts)
	if err != nil {
		return nil, err
	}
	if cfg.records > 0 {
		if err := n.GenerateHistory(ctx, accts, cfg.records); err != nil {
			return nil, err
		}
	}
	return accts, nil
}

// printEnv prints the lines to give tap, then the DIDs.
func printEnv(n *Network, accts []*Account, cfg cliConfig, w io.Writer) error {
	if cfg.didsFile != "" { // written first: the printed lines mean "ready"
		if err := os.WriteFile(cfg.didsFile, []byte(didList(accts)), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "TAP_RELAY_URL=%s\n", n.RelayURL())
	fmt.Fprintf(w, "TAP_PLC_URL=%s\n", n.PLCURL())
	fmt.Fprintf(w, "TAP_IDENT_DNS_RESOLVER=%s\n", n.DNSAddr())
	fmt.Fprintf(w, "# PDS hosts: %s\n", strings.Join(n.PDSURLs(), " "))
	if cfg.didsFile != "" {
		_, err := fmt.Fprintf(w, "# %d DIDs written to %s\n", len(accts), cfg.didsFile)
		return err
	}
	fmt.Fprintf(w, "# %d DIDs:\n", len(accts))
	_, err := io.WriteString(w, didList(accts))
	return err
}

func didList(accts []*Account) string {
	var b strings.Builder
	for _, a := range accts {
		b.WriteString(a.DID().String())
		b.WriteByte('\n')
	}
	return b.String()
}

// serveCLI keeps the network up (writing live commits at cfg.rate) until
// ctx ends.
func serveCLI(ctx context.Context, n *Network, cfg cliConfig) error {
	if cfg.rate <= 0 {
		<-ctx.Done()
		return nil
	}
	start := time.Now()
	st, err := n.RunLoad(ctx, LoadOptions{Rate: cfg.rate})
	n.log.Info("live load stopped", "commits", st.Commits, "elapsed", time.Since(start))
	return err
}
