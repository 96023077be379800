package main

import (
	"context"
	"io"

	"github.com/tapkit/tap/internal/testnet"
)

// runTestnet is `tap testnet`: a loopback atproto network for development.
func runTestnet(ctx context.Context, args []string, stdout io.Writer) error {
	return testnet.RunCLI(ctx, args, stdout)
}
