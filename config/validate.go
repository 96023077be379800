package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Validate checks values and contradictions; each problem names its key.
// Unlike the reference Tap, which panics or silently misbehaves on them,
// zero durations, parallelism below 1, malformed URLs and filters fail here.
func (c *Config) Validate() error {
	var errs []error
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	check("log_level", oneOf(c.LogLevel, "debug", "info", "warn", "error"))
	check("server.bind", hostPort(c.Server.Bind, false))
	check("server.metrics_listen", hostPort(c.Server.MetricsListen, true))
	check("server.max_body_bytes", atLeast(int(c.Server.MaxBodyBytes), 1024))
	check("server.read_header_timeout", positive(c.Server.ReadHeaderTimeout))
	check("server.read_body_timeout", positive(c.Server.ReadBodyTimeout))
	check("database.url", dbURL(c.Database.URL))
	check("database.max_conns", atLeast(c.Database.MaxConns, 1))
	check("relay.url", httpURL(c.Relay.URL, false))
	check("relay.cursor_save_interval", positive(c.Relay.CursorSaveInterval))
	check("identity.plc_url", httpURL(c.Identity.PLCURL, false))
	check("identity.cache_size", atLeast(c.Identity.CacheSize, 1))
	check("identity.dns_resolver", hostPort(c.Identity.DNSResolver, true))
	if c.Scope.SignalCollection != "" {
		_, err := syntax.ParseNSID(c.Scope.SignalCollection)
		check("scope.signal_collection", err)
	}
	for i, f := range c.Collections.Filters {
		check(fmt.Sprintf("collections.filters[%d]", i), ValidateCollectionFilter(f))
	}
	check("backfill.parallelism", atLeast(c.Backfill.Parallelism, 1))
	check("backfill.repo_fetch_timeout", positive(c.Backfill.RepoFetchTimeout))
	check("outbox.parallelism", atLeast(c.Outbox.Parallelism, 1))
	check("outbox.capacity", atLeast(c.Outbox.Capacity, 1))
	check("delivery.retry_timeout", positive(c.Delivery.RetryTimeout))
	check("delivery.webhook_url", httpURL(c.Delivery.WebhookURL, true))
	check("pipeline.lanes", atLeast(c.Pipeline.Lanes, 1))
	check("pipeline.queue_capacity", atLeast(c.Pipeline.QueueCapacity, 1))
	if c.Relay.NoReplay && c.Scope.FullNetwork {
		errs = append(errs, errors.New("relay.no_replay cannot be used with scope.full_network (--no-replay with --full-network)"))
	}
	return errors.Join(errs...)
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func atLeast(n, min int) error {
	if n < min {
		return fmt.Errorf("must be at least %d, got %d", min, n)
	}
	return nil
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be a positive duration, got %s", d)
	}
	return nil
}

func hostPort(v string, optional bool) error {
	if v == "" && optional {
		return nil
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("%q is not a host:port address", v)
	}
	return nil
}

func httpURL(v string, optional bool) error {
	if v == "" && optional {
		return nil
	}
	// Messages show the URL with its password (user info) hidden.
	if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return fmt.Errorf("%q must start with http:// or https://", RedactURL(v))
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a valid URL", RedactURL(v))
	}
	return nil
}

func dbURL(v string) error {
	for _, p := range []string{"sqlite://", "postgres://", "postgresql://"} {
		if strings.HasPrefix(v, p) && len(v) > len(p) {
			return nil
		}
	}
	return errors.New("unsupported database URL scheme: must start with sqlite://, postgres://, or postgresql://")
}

// ValidateCollectionFilter accepts "*", an NSID, or an NSID prefix ending
// in ".*" (wildcards only at a segment boundary).
func ValidateCollectionFilter(f string) error {
	if f == "*" {
		return nil
	}
	if prefix, ok := strings.CutSuffix(f, ".*"); ok {
		// A prefix is valid when completing it makes a valid NSID.
		if _, err := syntax.ParseNSID(prefix + ".x.y"); err != nil {
			return fmt.Errorf("%q is not a valid collection prefix", f)
		}
		return nil
	}
	if _, err := syntax.ParseNSID(f); err != nil {
		return fmt.Errorf("%q is not an NSID, an NSID prefix ending in .*, or *", f)
	}
	return nil
}
