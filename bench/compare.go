package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// figure is one measured number of one service.
type figure struct {
	name         string
	value        float64
	unit         string
	higherBetter bool
}

// compareEach runs one workload on every target in turn and, with more
// than one, prints the figures side by side.
func compareEach(ctx context.Context, tf targetFlags, work func(target) ([]figure, error)) error {
	ts, cleanup, err := tf.build(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	results := make([][]figure, len(ts))
	for i, t := range ts {
		if results[i], err = work(t); err != nil {
			return err
		}
	}
	printTable(ts, results)
	return nil
}

// printTable prints the figures as a Markdown table: one column per
// target, and tap's advantage over the reference when both ran ("×" is
// how many times better tap is, whichever way better points).
func printTable(ts []target, results [][]figure) {
	var b strings.Builder
	b.WriteString("\n| figure (" + ts[0].db + ") |")
	for _, t := range ts {
		b.WriteString(" " + t.name + " |")
	}
	if len(ts) == 2 {
		b.WriteString(" tap advantage |")
	}
	b.WriteString("\n|---|")
	for range ts {
		b.WriteString("---:|")
	}
	if len(ts) == 2 {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, f := range results[0] {
		fmt.Fprintf(&b, "| %s | %s |", f.name, f.format())
		var other *figure
		for i := 1; i < len(ts); i++ {
			other = find(results[i], f.name)
			if other == nil {
				b.WriteString(" – |")
			} else {
				fmt.Fprintf(&b, " %s |", other.format())
			}
		}
		if len(ts) == 2 {
			b.WriteString(" " + advantage(f, other) + " |")
		}
		b.WriteString("\n")
	}
	// figures only the reference has (e.g. a live step tap did not need
	// to stop at)
	for i := 1; i < len(ts); i++ {
		for _, f := range results[i] {
			if find(results[0], f.name) == nil {
				fmt.Fprintf(&b, "| %s | – | %s |", f.name, f.format())
				if len(ts) == 2 {
					b.WriteString(" – |")
				}
				b.WriteString("\n")
			}
		}
	}
	fmt.Print(b.String())
}

func find(fs []figure, name string) *figure {
	for i := range fs {
		if fs[i].name == name {
			return &fs[i]
		}
	}
	return nil
}

func (f figure) format() string {
	switch {
	case f.unit == "/s":
		return fmt.Sprintf("%.0f/s", f.value)
	case f.value >= 100:
		return fmt.Sprintf("%.0f%s", f.value, f.unit)
	default:
		return fmt.Sprintf("%.1f%s", f.value, f.unit)
	}
}

// advantage is how many times better tap's figure is than the
// reference's.
func advantage(tap figure, ref *figure) string {
	if ref == nil || tap.value <= 0 || ref.value <= 0 {
		return "–"
	}
	r := ref.value / tap.value
	if tap.higherBetter {
		r = tap.value / ref.value
	}
	return fmt.Sprintf("%.2f×", r)
}

// runCompare runs the full comparison of issue 7: backfill 2,000 × 50 and
// 10,000 × 100, live stepped rates on 1,000 repos, and one 1,000,000-record
// repo, on every target, and prints one table.
func runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	tf := addTargetFlags(fs)
	quick := fs.Bool("quick", false, "small sizes and 10 s live steps (a smoke run of the whole comparison)")
	rates := fs.String("rates", "1000,2000,3000,4000,5000", "live commit rates to step through, per second")
	duration := fs.Duration("duration", 60*time.Second, "length of each live step")
	big := fs.Int("bigrepo", 1_000_000, "records in the one big repo (0 skips it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	steps, err := parseRates(*rates)
	if err != nil {
		return err
	}
	backfills := [][2]int{{2000, 50}, {10000, 100}}
	if *quick {
		backfills = [][2]int{{200, 20}}
		*duration, *big = 10*time.Second, 50_000
	}
	ts, cleanup, err := tf.build(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	host, _ := os.Hostname()
	fmt.Printf("machine: %s, %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", host, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("command: go run ./bench compare %s\n", strings.Join(args, " "))
	results := make([][]figure, len(ts))
	for i, t := range ts {
		for _, bf := range backfills {
			f, err := backfillFigures(ctx, t, bf[0], bf[1], 1)
			if err != nil {
				return err
			}
			results[i] = append(results[i], f...)
		}
		f, err := liveFigures(ctx, t, 1000, 10, steps, *duration)
		if err != nil {
			return err
		}
		results[i] = append(results[i], f...)
		if *big > 0 {
			f, err := backfillFigures(ctx, t, 1, *big, 1)
			if err != nil {
				return err
			}
			results[i] = append(results[i], f...)
		}
	}
	printTable(ts, results)
	return nil
}
