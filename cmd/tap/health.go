package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
)

// runHealth is `tap health`: GET /health of a running tap and succeed only
// on {"status":"ok"}. It is the container's HEALTHCHECK (a slim image has no
// curl), so without TAP_URL it checks TAP_BIND's port on loopback, as the
// container's own `tap run` listens; the password is TAP_ADMIN_PASSWORD as
// for every client command.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var co clientOptions
	fs := pflag.NewFlagSet("tap health", pflag.ContinueOnError)
	addClientFlags(fs, &co)
	if os.Getenv("TAP_URL") == "" {
		co.url = loopbackURL(envOr("TAP_BIND", ":2480"))
		fs.Lookup("url").DefValue = co.url
	}
	fs.Lookup("timeout").DefValue = "5s"
	co.timeout = 5 * time.Second
	if err := parseFlags(fs, "Usage: tap health [--url URL] (exit 0 healthy, 1 not)", args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("tap health takes no arguments, got %q", fs.Args())
	}
	c, err := co.newClient()
	if err != nil {
		return err
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := c.get(ctx, "/health", nil, &body); err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	if body.Status != "ok" {
		return fmt.Errorf("tap at %s is not healthy: status %q", c.shown, body.Status)
	}
	fmt.Fprintf(stdout, "ok %s\n", c.shown)
	return nil
}

// loopbackURL is the http URL of a listen address on this host: an
// unspecified or empty host becomes 127.0.0.1.
func loopbackURL(bind string) string {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return "http://" + bind
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
