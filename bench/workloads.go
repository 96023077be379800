package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tapkit/tap/internal/testnet"
)

// setup is one service under test on its own testnet: the network with
// accounts and history, the running service, and (optionally) acking
// websocket consumers attached before any repo was added.
type setup struct {
	t       target
	dir     string
	net     *testnet.Network
	accts   []*testnet.Account
	tap     *tapProc
	cons    *consumer     // nil without consumers
	stopC   func()        // ends the consumers
	fill    time.Duration // backfill: repos added → every record committed
	started time.Time     // when the repos were added
	// harness0 is this process's CPU time when the repos were added: the
	// testnet and the consumers share the machine with the service.
	harness0 time.Duration
}

// targetFlags are the flags every comparative workload takes.
type targetFlags struct {
	reference *bool
	db, pg    *string
}

func addTargetFlags(fs *flag.FlagSet) targetFlags {
	return targetFlags{
		reference: fs.Bool("reference", false, "also install the reference Tap (indigo cmd/tap at go.mod's version) and run the same workload against it"),
		db:        fs.String("db", "sqlite", "database: sqlite or postgres (a fresh database per run)"),
		pg:        fs.String("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres server for --db postgres"),
	}
}

// build makes the targets into a fresh work directory.
func (f targetFlags) build(ctx context.Context) ([]target, func(), error) {
	dir, err := os.MkdirTemp("", "tap-bench-bin-")
	if err != nil {
		return nil, nil, err
	}
	ts, err := targets(ctx, dir, *f.reference, *f.db, *f.pg)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return ts, func() { _ = os.RemoveAll(dir) }, nil
}

func commonFlags(name string) (*flag.FlagSet, *int, *int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	repos := fs.Int("repos", 2000, "repos (accounts)")
	records := fs.Int("records", 50, "records per repo")
	return fs, repos, records
}

// launch generates a testnet of repos × records and starts t on it with
// clients acking consumers attached; no repo is tracked yet. DID
// documents declare no handle, so neither service under test sends a DNS
// query (the reference cannot be pointed at the testnet's resolver).
func launch(ctx context.Context, t target, repos, records, clients int, env ...string) (*setup, error) {
	dir, err := os.MkdirTemp("", "tap-bench-")
	if err != nil {
		return nil, err
	}
	net, err := testnet.Start(ctx, testnet.Options{Seed: 1, UndeclaredHandles: true})
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
	fmt.Printf("[%s] testnet: %d repos × %d records generated in %s\n", t.name, repos, records, time.Since(start).Round(time.Millisecond))
	p, err := startTarget(ctx, t, dir, net, []string{"run"}, env...)
	if err != nil {
		net.Close()
		return nil, err
	}
	s := &setup{t: t, dir: dir, net: net, accts: accts, tap: p, stopC: func() {}}
	if clients > 0 {
		cctx, cancel := context.WithCancel(ctx)
		s.cons, s.stopC = startConsumer(cctx, p.base, clients), cancel
	}
	return s, nil
}

// backfill tracks every account and waits until all records are committed
// and, with consumers, delivered and acked.
func (s *setup) backfill(ctx context.Context, records int) error {
	dids := make([]string, len(s.accts))
	for i, a := range s.accts {
		dids[i] = a.DID().String()
	}
	s.started, s.harness0 = time.Now(), selfCPU()
	profile(s.t.name+"-backfill", 5*time.Second)
	if err := s.tap.addRepos(dids); err != nil {
		return err
	}
	want := int64(len(s.accts) * records)
	polls := 0
	err := waitUntil(ctx, 60*time.Minute, func() (bool, error) {
		// /stats/record-count is a COUNT over the record index: ask every
		// 0.5 s only, so the probe costs the service under test little.
		if polls++; s.fill == 0 && (polls%10 == 1 || s.cons == nil || s.cons.records.Load() >= want) {
			n, err := s.tap.stat("/stats/record-count", "record_count")
			if err != nil {
				return false, err
			}
			if n >= want {
				s.fill = time.Since(s.started)
			}
		}
		return s.fill > 0 && (s.cons == nil || s.cons.records.Load() >= want), nil
	})
	if err != nil {
		return fmt.Errorf("%s backfill: %w\n%s", s.t.name, err, s.tap.logTail())
	}
	return nil
}

// prepare builds tap, generates the network and backfills it with nobody
// consuming (the outbox keeps every event).
func prepare(ctx context.Context, repos, records int, env ...string) (*setup, error) {
	dir, err := os.MkdirTemp("", "tap-bench-bin-")
	if err != nil {
		return nil, err
	}
	bin, err := buildTap(ctx, dir)
	if err != nil {
		return nil, err
	}
	s, err := launch(ctx, target{name: "tap", bin: bin, db: "sqlite"}, repos, records, 0, env...)
	if err != nil {
		return nil, err
	}
	if err := s.backfill(ctx, records); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *setup) close() {
	s.stopC()
	s.tap.stop()
	s.net.Close()
	_ = os.RemoveAll(s.dir)
}

// delivered is the time from adding the repos until the consumers had
// acked every record event (the backfill time without consumers).
func (s *setup) delivered(records int) time.Duration {
	if s.cons == nil {
		return s.fill
	}
	return time.Since(s.started)
}

func (s *setup) reportBackfill(records int) {
	n := float64(len(s.accts) * records)
	fmt.Printf("[%s] backfill: %d records committed in %s = %.0f records/s; peak RSS %s; database %s\n",
		s.t.name, int(n), s.fill.Round(time.Millisecond), n/s.fill.Seconds(), mib(s.tap.peakRSS()), mib(s.tap.dbSize()))
}

// backfillFigures runs the backfill workload on t: repos × records, all
// delivered to one acking consumer.
func backfillFigures(ctx context.Context, t target, repos, records, clients int) ([]figure, error) {
	s, err := launch(ctx, t, repos, records, clients)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.backfill(ctx, records); err != nil {
		return nil, err
	}
	el := s.delivered(records)
	n := float64(repos * records)
	name := fmt.Sprintf("backfill %d×%d", repos, records)
	rss, db, cpu := s.tap.peakRSS(), s.tap.dbSize(), s.tap.cpuTime()
	harness := selfCPU() - s.harness0
	fmt.Printf("[%s] %s: %d records committed in %s, delivered and acked in %s = %.0f records/s; CPU %s (%.1f µs/record; the testnet and consumer in this process: %.1f µs/record); peak RSS %s; database %s\n",
		t.name, name, int(n), s.fill.Round(time.Millisecond), el.Round(time.Millisecond), n/el.Seconds(),
		cpu.Round(10*time.Millisecond), float64(cpu.Microseconds())/n, float64(harness.Microseconds())/n, mib(rss), mib(db))
	return []figure{
		{name + ": records/s delivered", n / el.Seconds(), "/s", true},
		{name + ": CPU time per record", float64(cpu.Nanoseconds()) / n / 1000, " µs", false},
		{name + ": peak RSS", float64(rss) / (1 << 20), " MiB", false},
		{name + ": database size", float64(db) / (1 << 20), " MiB", false},
	}, nil
}

func runBackfill(ctx context.Context, args []string) error {
	fs, repos, records := commonFlags("backfill")
	clients := fs.Int("clients", 1, "acking websocket clients consuming while the backfill runs (0: none; the outbox must then hold everything)")
	tf := addTargetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return compareEach(ctx, tf, func(t target) ([]figure, error) {
		return backfillFigures(ctx, t, *repos, *records, *clients)
	})
}

func runBigRepo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bigrepo", flag.ContinueOnError)
	records := fs.Int("records", 1_000_000, "records in the one repo")
	tf := addTargetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// An acking consumer drains the outbox as it fills: a repo larger than
	// outbox.capacity cannot be committed otherwise (back-pressure).
	return compareEach(ctx, tf, func(t target) ([]figure, error) {
		return backfillFigures(ctx, t, 1, *records, 1)
	})
}

// runLive backfills the repos, then releases pre-generated commits at each
// rate in turn and reports whether delivery kept up, and the latency.
func runLive(ctx context.Context, args []string) error {
	fs, repos, records := commonFlags("live")
	rates := fs.String("rates", "1000,2000,3000,4000,5000", "commit rates to step through, per second")
	duration := fs.Duration("duration", 60*time.Second, "length of each step")
	*repos, *records = 1000, 10
	tf := addTargetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	steps, err := parseRates(*rates)
	if err != nil {
		return err
	}
	return compareEach(ctx, tf, func(t target) ([]figure, error) {
		return liveFigures(ctx, t, *repos, *records, steps, *duration)
	})
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, r := range strings.Split(s, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || rate <= 0 {
			return nil, fmt.Errorf("--rates: bad rate %q", r)
		}
		out = append(out, rate)
	}
	return out, nil
}

// step is what one live rate gave.
type step struct {
	rate      float64
	commits   int64
	delivered int64         // live record events acked by the end of the wait
	catchUp   time.Duration // from the last emission to the last delivery
	p50, p99  time.Duration
	max       time.Duration
	cpu       time.Duration // the service's CPU time over the step
	keptUp    bool
}

// keepUpSlack is how long after the last commit was emitted every event
// must have been delivered for a step to count as kept up.
const keepUpSlack = 2 * time.Second

// liveFigures backfills repos × records with one acking consumer, then
// steps through the rates (stopping after the first it cannot sustain)
// and reports the highest sustained rate and the latency at each.
func liveFigures(ctx context.Context, t target, repos, records int, rates []float64, d time.Duration) ([]figure, error) {
	s, err := launch(ctx, t, repos, records, 1)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.backfill(ctx, records); err != nil {
		return nil, err
	}
	var figs []figure
	sustained := 0.0
	for _, rate := range rates {
		st, err := s.liveStep(ctx, rate, d)
		if err != nil {
			return nil, err
		}
		verdict := "kept up"
		if !st.keptUp {
			verdict = "fell behind"
		}
		cpuPer := float64(st.cpu.Nanoseconds()) / float64(max(st.delivered, 1)) / 1000
		fmt.Printf("[%s] live %5.0f commits/s for %s: %d emitted, %d delivered; all delivered %s after the last emission; latency p50 %s, p99 %s, max %s (%s); CPU %.0f µs/event; peak RSS %s\n",
			t.name, rate, d, st.commits, st.delivered, st.catchUp.Round(time.Millisecond),
			st.p50.Round(100*time.Microsecond), st.p99.Round(100*time.Microsecond), st.max.Round(time.Millisecond),
			verdict, cpuPer, mib(s.tap.peakRSS()))
		if len(figs) == 0 {
			figs = append(figs, figure{fmt.Sprintf("live @%.0f/s: CPU time per event", rate), cpuPer, " µs", false})
		}
		figs = append(figs,
			figure{fmt.Sprintf("live @%.0f/s: latency p50", rate), ms(st.p50), " ms", false},
			figure{fmt.Sprintf("live @%.0f/s: latency p99", rate), ms(st.p99), " ms", false})
		if !st.keptUp {
			if os.Getenv("BENCH_VERBOSE") != "" {
				fmt.Printf("[%s] log tail:\n%s\n", t.name, s.tap.logTail())
			}
			break
		}
		sustained = rate
	}
	figs = append([]figure{{"live: highest sustained events/s", sustained, "/s", true}}, figs...)
	figs = append(figs, figure{"live: peak RSS", float64(s.tap.peakRSS()) / (1 << 20), " MiB", false})
	return figs, nil
}

// liveStep releases rate×d pre-signed single-op commits at rate and
// waits for their events at the consumer.
func (s *setup) liveStep(ctx context.Context, rate float64, d time.Duration) (step, error) {
	st := step{rate: rate}
	cpu0 := s.tap.cpuTime()
	firstSeq := s.net.LastSeq()
	before := s.cons.live.Load()
	staged, err := s.net.StageLoad(ctx, testnet.LoadOptions{Rate: rate, Accounts: s.accts, MaxCommits: int64(rate * d.Seconds())})
	if err != nil {
		return st, err
	}
	profile(fmt.Sprintf("%s-live-%.0f", s.t.name, rate), d*3/4)
	ls, err := staged.Release(ctx, rate)
	if err != nil {
		return st, err
	}
	released := time.Now()
	st.commits = ls.Commits
	want := before + ls.Commits
	_ = waitUntil(ctx, max(keepUpSlack, d/2), func() (bool, error) { return s.cons.live.Load() >= want, nil })
	st.delivered = s.cons.live.Load() - before
	st.cpu = s.tap.cpuTime() - cpu0
	var lat []time.Duration
	var last time.Time
	for _, e := range s.net.Events() {
		if e.Seq <= firstSeq || e.Kind != testnet.KindCommit {
			continue
		}
		if at, ok := s.cons.arrival(e.DID.String(), e.Rev.String()); ok {
			lat = append(lat, at.Sub(e.Time))
			if at.After(last) {
				last = at
			}
		}
	}
	if len(lat) == 0 {
		return st, fmt.Errorf("%s: no live event arrived at %.0f commits/s", s.t.name, rate)
	}
	st.catchUp = max(0, last.Sub(released))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	st.p50, st.p99, st.max = q(0.5), q(0.99), lat[len(lat)-1]
	// Kept up: the relay emitted on schedule, every event arrived, the
	// last within the slack.
	st.keptUp = st.delivered >= ls.Commits && st.catchUp <= keepUpSlack && ls.Elapsed < d+keepUpSlack
	return st, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
