package crawlersource

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tapkit/tap/internal/atproto"
)

// Config is the crawler source's configuration. Its mode and relay come
// from tap's global configuration (scope.*, relay.url).
type Config struct {
	// RelayURL is the http(s) base URL of the relay to enumerate; empty
	// means relay.url (TAP_RELAY_URL). Cursors are saved under this string.
	RelayURL string `koanf:"relay_url"`
	// PageSize is how many repos are asked for per page (1–1000).
	PageSize int `koanf:"page_size"`
	// RecrawlInterval is the pause between the end of a complete pass and
	// the start of the next one (> 0).
	RecrawlInterval time.Duration `koanf:"recrawl_interval"`
	// RetryDelay is the first pause after a failed page; it doubles (with
	// jitter) up to RetryMaxDelay (> 0).
	RetryDelay time.Duration `koanf:"retry_delay"`
	// RetryMaxDelay caps the pause between retries (≥ retry_delay).
	RetryMaxDelay time.Duration `koanf:"retry_max_delay"`
	// RequestTimeout bounds one listing request (> 0).
	RequestTimeout time.Duration `koanf:"request_timeout"`
}

// Validate checks the configuration; messages name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if c.RelayURL != "" {
		if u, err := url.Parse(c.RelayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("relay_url %q must be an http:// or https:// URL", c.RelayURL))
		}
	}
	if c.PageSize < 1 || c.PageSize > atproto.MaxCrawlPageSize {
		errs = append(errs, fmt.Errorf("page_size must be between 1 and %d, got %d", atproto.MaxCrawlPageSize, c.PageSize))
	}
	for _, p := range []struct {
		key string
		d   time.Duration
	}{
		{"recrawl_interval", c.RecrawlInterval},
		{"retry_delay", c.RetryDelay},
		{"retry_max_delay", c.RetryMaxDelay},
		{"request_timeout", c.RequestTimeout},
	} {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", p.key, p.d))
		}
	}
	if c.RetryMaxDelay < c.RetryDelay {
		errs = append(errs, fmt.Errorf("retry_max_delay (%s) must not be below retry_delay (%s)", c.RetryMaxDelay, c.RetryDelay))
	}
	return errors.Join(errs...)
}
