package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tapkit/tap/config"
)

// runHealth is `tap health`: GET /health of a running tap and succeed only
// on {"status":"ok"}. It is the container's HEALTHCHECK (a slim image has no
// curl), so its defaults come from the same environment as `tap run`: the
// URL from TAP_URL, else TAP_BIND on loopback; the password from
// TAP_ADMIN_PASSWORD.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	base := os.Getenv("TAP_URL")
	if base == "" {
		base = loopbackURL(envOr("TAP_BIND", ":2480"))
	}
	password := os.Getenv("TAP_ADMIN_PASSWORD")
	timeout := 5 * time.Second
	fs := pflag.NewFlagSet("tap health", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&base, "url", base, "tap's base URL (TAP_URL; default: TAP_BIND on 127.0.0.1)")
	fs.StringVar(&password, "admin-password", password, "admin password (TAP_ADMIN_PASSWORD)")
	fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelpShown
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	shown := config.RedactURL(base)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/health", nil)
	if err != nil {
		return fmt.Errorf("--url %q: %w", shown, errors.Unwrap(err))
	}
	if password != "" {
		req.SetBasicAuth("admin", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("tap at %s is not healthy: %w", shown, err) // net/http hides the URL's password
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil || body.Status != "ok" {
		return fmt.Errorf("tap at %s is not healthy: HTTP %d %s", shown, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	fmt.Fprintf(stdout, "ok %s\n", shown)
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
