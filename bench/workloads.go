package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

// setup is what every workload starts from: a built tap, a testnet with
// accounts and history, and a tap tracking them, backfilled.
type setup struct {
	dir     string
	net     *testnet.Network
	accts   []*testnet.Account
	tap     *tapProc
	fill    time.Duration // backfill time
	started time.Time     // when the repos were added
}

func commonFlags(name string) (*flag.FlagSet, *int, *int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	repos := fs.Int("repos", 2000, "repos (accounts)")
	records := fs.Int("records", 50, "records per repo")
	return fs, repos, records
}

// prepare builds tap, generates the network and backfills it.
func prepare(ctx context.Context, repos, records int, env ...string) (*setup, error) {
	return prepareWith(ctx, repos, records, nil, env...)
}

// prepareWith is prepare with a hook run once tap is up, before the repos
// are added (e.g. to attach consumers).
func prepareWith(ctx context.Context, repos, records int, started func(*tapProc), env ...string) (*setup, error) {
	dir, err := os.MkdirTemp("", "tap-bench-")
	if err != nil {
		return nil, err
	}
	bin, err := buildTap(ctx, dir)
	if err != nil {
		return nil, err
	}
	net, err := testnet.Start(ctx, testnet.Options{Seed: 1})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	accts, err := net.CreateAccounts(repos)
	if err == nil && records > 0 {
		err = net.GenerateHistory(ctx, accts, records)
	}
	if err != nil {
		net.Close()
		return nil, err
	}
	fmt.Printf("testnet: %d repos × %d records generated in %s\n", repos, records, time.Since(start).Round(time.Millisecond))
	p, err := startTap(ctx, bin, dir, net, env...)
	if err != nil {
		net.Close()
		return nil, err
	}
	s := &setup{dir: dir, net: net, accts: accts, tap: p}
	if started != nil {
		started(p)
	}
	dids := make([]string, len(accts))
	for i, a := range accts {
		dids[i] = a.DID().String()
	}
	start = time.Now()
	s.started = start
	profile("backfill", 5*time.Second)
	if err := p.addRepos(dids); err != nil {
		s.close()
		return nil, err
	}
	want := int64(repos * records)
	err = waitUntil(ctx, 60*time.Minute, func() (bool, error) {
		n, err := p.stat("/stats/record-count", "record_count")
		return n >= want, err
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("backfill: %w (log: %s)", err, p.log.Name())
	}
	s.fill = time.Since(start)
	return s, nil
}

func (s *setup) close() {
	s.tap.stop()
	s.net.Close()
	_ = os.RemoveAll(s.dir)
}

func (s *setup) reportBackfill(records int) {
	n := float64(len(s.accts) * records)
	fmt.Printf("backfill: %d records in %s = %.0f records/s; tap peak RSS %s; database %s\n",
		int(n), s.fill.Round(time.Millisecond), n/s.fill.Seconds(), mib(s.tap.peakRSS()), mib(s.tap.dbSize()))
}

func runBackfill(ctx context.Context, args []string) error {
	fs, repos, records := commonFlags("backfill")
	clients := fs.Int("clients", 1, "acking websocket clients consuming while the backfill runs (0: none; the outbox must then hold everything)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var c *consumer
	s, err := prepareWith(ctx, *repos, *records, func(p *tapProc) {
		if *clients > 0 {
			c = startConsumer(cctx, p.base, *clients)
		}
	})
	if err != nil {
		return err
	}
	defer s.close()
	s.reportBackfill(*records)
	if c != nil {
		want := int64(*repos**records + *repos)
		if err := waitUntil(ctx, 10*time.Minute, func() (bool, error) { return c.distinct.Load() >= want, nil }); err != nil {
			return fmt.Errorf("delivery: %w", err)
		}
		fmt.Printf("delivered: all %d events acked by %d client(s) %s after the backfill was committed\n",
			want, *clients, (time.Since(s.started) - s.fill).Round(time.Millisecond))
	}
	return nil
}

func runBigRepo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bigrepo", flag.ContinueOnError)
	records := fs.Int("records", 1_000_000, "records in the one repo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// An acking consumer drains the outbox as it fills: a repo larger than
	// outbox.capacity cannot be committed otherwise (back-pressure).
	s, err := prepareWith(ctx, 1, *records, func(p *tapProc) { startConsumer(cctx, p.base, 1) })
	if err != nil {
		return err
	}
	defer s.close()
	s.reportBackfill(*records)
	return nil
}

// runLive backfills the repos, then releases pre-generated commits at each
// rate and reports whether tap kept up and how long it took to catch up.
func runLive(ctx context.Context, args []string) error {
	fs, repos, records := commonFlags("live")
	rates := fs.String("rates", "1000,2000,5000", "commit rates to try, per second")
	duration := fs.Duration("duration", 20*time.Second, "length of each step")
	*repos, *records = 1000, 10
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := prepare(ctx, *repos, *records)
	if err != nil {
		return err
	}
	defer s.close()
	s.reportBackfill(*records)
	db, err := store.Open(ctx, "sqlite://"+s.dir+"/tap.db", store.Options{MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, r := range strings.Split(*rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil {
			return fmt.Errorf("--rates: %w", err)
		}
		if err := liveStep(ctx, s, db, rate, *duration); err != nil {
			return err
		}
	}
	return nil
}

func liveStep(ctx context.Context, s *setup, db *store.DB, rate float64, d time.Duration) error {
	commits := int64(rate * d.Seconds())
	staged, err := s.net.StageLoad(ctx, testnet.LoadOptions{Rate: rate, Accounts: s.accts, MaxCommits: commits})
	if err != nil {
		return err
	}
	profile(fmt.Sprintf("live-%.0f", rate), d*3/4)
	st, err := staged.Release(ctx, rate)
	if err != nil {
		return err
	}
	released := time.Now()
	last := s.net.LastSeq()
	lag, _ := db.GetFirehoseCursor(ctx, s.net.RelayURL())
	err = waitUntil(ctx, 10*time.Minute, func() (bool, error) {
		c, err := db.GetFirehoseCursor(ctx, s.net.RelayURL())
		return c >= last, err
	})
	if err != nil {
		return err
	}
	catchUp := time.Since(released)
	total := st.Elapsed + catchUp
	verdict := "kept up"
	if catchUp > 2*time.Second {
		verdict = "fell behind"
	}
	fmt.Printf("live %5.0f commits/s for %s: %d commits emitted in %s; behind by %d seqs at the end, caught up %s later; %.0f commits/s committed (%s); peak RSS %s\n",
		rate, d, st.Commits, st.Elapsed.Round(time.Millisecond), last-lag, catchUp.Round(time.Millisecond),
		float64(st.Commits)/total.Seconds(), verdict, mib(s.tap.peakRSS()))
	return nil
}
