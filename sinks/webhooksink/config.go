package webhooksink

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is the webhook sink's configuration (pipeline.sinks[].config).
// Defaults are the Default* constants of factory.go; url and basic_auth
// default to tap's global settings.
type Config struct {
	// URL is the http(s) endpoint events are POSTed to; empty means
	// delivery.webhook_url (TAP_WEBHOOK_URL). One of the two is required.
	URL string `koanf:"url"`
	// Timeout bounds one request, from sending it to reading the answer
	// (> 0; default 30 s). A request that runs out of time is retried.
	Timeout time.Duration `koanf:"timeout"`
	// MaxConcurrency is the most requests in flight at once, over all the
	// events the sink is delivering (≥ 1; default 16).
	MaxConcurrency int `koanf:"max_concurrency"`
	// RetryMin is the delay after the first failed attempt of an event; it
	// doubles per failure, with jitter, up to RetryMax (> 0; default 1 s).
	RetryMin time.Duration `koanf:"retry_min"`
	// RetryMax caps the delay between attempts (≥ retry_min, ≤ 1 h;
	// default 10 s).
	// A Retry-After answer may ask for longer.
	RetryMax time.Duration `koanf:"retry_max"`
	// BatchSize is the most events sent in one POST (≥ 1; default 1). 1 is
	// the reference format: the body is one event. Above 1 the body is a
	// JSON array of up to BatchSize events (an extension).
	BatchSize int `koanf:"batch_size"`
	// HMACSecret, when set, signs every request: header X-Tap-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the body with this key (an
	// extension). Empty means no signature.
	HMACSecret string `koanf:"hmac_secret"`
	// DeadLetterAfter is how many failed attempts of an event are made
	// before it is stored in the webhook_dead_letters table and counted as
	// delivered (an extension). 0 (the default) retries for ever.
	DeadLetterAfter int `koanf:"dead_letter_after"`
	// BasicAuth is the password sent as HTTP Basic auth with user "admin".
	// Unset means server.admin_password (TAP_ADMIN_PASSWORD), as the
	// reference does; "" sends no Authorization header.
	BasicAuth *string `koanf:"basic_auth"`
}

// Validate checks the configuration; every message names the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", c.Timeout))
	}
	if c.MaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("max_concurrency must be at least 1, got %d", c.MaxConcurrency))
	}
	if c.RetryMin <= 0 {
		errs = append(errs, fmt.Errorf("retry_min must be positive, got %s", c.RetryMin))
	}
	if c.RetryMax < c.RetryMin || c.RetryMax > MaxRetryMax {
		errs = append(errs, fmt.Errorf("retry_max (%s) must be between retry_min (%s) and %s", c.RetryMax, c.RetryMin, MaxRetryMax))
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("batch_size must be between 1 and %d, got %d", MaxBatchSize, c.BatchSize))
	}
	if c.DeadLetterAfter < 0 {
		errs = append(errs, fmt.Errorf("dead_letter_after must not be negative, got %d", c.DeadLetterAfter))
	}
	return errors.Join(errs...)
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL") // the parse error would echo a password
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an http:// or https:// URL with a host", u.Redacted())
	}
	return nil
}
