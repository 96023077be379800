// Command bench measures tap end to end on a loopback testnet: backfill
// records/s, sustained live events/s, peak RSS and database size.
//
//	go run ./bench compare --reference            # the full side-by-side run
//	go run ./bench backfill --repos 2000 --records 50 [--reference] [--db postgres]
//	go run ./bench live --rates 1000,2000,5000 --duration 60s [--reference]
//	go run ./bench bigrepo --records 1000000 [--reference]
//	go run ./bench latency --repos 1000 --clients 4 --rate 1000
//	go run ./bench webhook --repos 1000 --records 50
//	go run ./bench plugin --repos 1000 --records 50
//
// It builds tap from this checkout (and with --reference installs the
// reference Tap at go.mod's indigo version), runs each as a subprocess
// pointed at its own testnet on 127.0.0.1 (never a public relay) and reads
// the figures over the HTTP API, an acking websocket consumer and /proc.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: bench compare|backfill|live|bigrepo|latency|webhook|plugin [flags]")
	}
	switch args[0] {
	case "compare":
		return runCompare(ctx, args[1:])
	case "backfill":
		return runBackfill(ctx, args[1:])
	case "live":
		return runLive(ctx, args[1:])
	case "bigrepo":
		return runBigRepo(ctx, args[1:])
	case "latency":
		return runLatency(ctx, args[1:])
	case "webhook":
		return runWebhook(ctx, args[1:])
	case "plugin":
		return runPlugin(ctx, args[1:])
	}
	return fmt.Errorf("unknown workload %q", args[0])
}
