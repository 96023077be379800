package firehosesource

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is the firehose source's configuration. Its defaults come from
// tap's global configuration where one exists (relay.url,
// relay.cursor_save_interval); the rest are named in factory.go.
type Config struct {
	// RelayURL is the http(s) base URL of the relay to follow; empty means
	// relay.url (TAP_RELAY_URL). The cursor is saved under this string.
	RelayURL string `koanf:"relay_url"`
	// CursorSaveInterval is how often the cursor is saved when it changed;
	// zero means relay.cursor_save_interval (TAP_CURSOR_SAVE_INTERVAL).
	CursorSaveInterval time.Duration `koanf:"cursor_save_interval"`
	// PingInterval is how often the relay is pinged (> 0).
	PingInterval time.Duration `koanf:"ping_interval"`
	// ReadTimeout is how long the stream may stay silent (no frame, no
	// pong) before it is re-dialled (> ping_interval).
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// ReconnectDelay is the first delay after a failed dial; it doubles
	// (with jitter) up to ReconnectMaxDelay (> 0).
	ReconnectDelay time.Duration `koanf:"reconnect_delay"`
	// ReconnectMaxDelay caps the delay between failed dials (≥
	// reconnect_delay).
	ReconnectMaxDelay time.Duration `koanf:"reconnect_max_delay"`
	// MaxFrameBytes bounds one firehose message, in bytes; a bigger one is
	// skipped as malformed (> 0).
	MaxFrameBytes int `koanf:"max_frame_bytes"`
	// ShutdownDrain is how long Shutdown waits for the events already
	// submitted to finish before the final cursor save; zero means it does
	// not wait (the cursor then stays at what was done when it stopped).
	ShutdownDrain time.Duration `koanf:"shutdown_drain"`
}

// Validate checks the configuration; messages name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if c.RelayURL != "" {
		if u, err := url.Parse(c.RelayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("relay_url %q must be an http:// or https:// URL", c.RelayURL))
		}
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"ping_interval", c.PingInterval},
		{"read_timeout", c.ReadTimeout},
		{"reconnect_delay", c.ReconnectDelay},
		{"reconnect_max_delay", c.ReconnectMaxDelay},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", p.key, p.d))
		}
	}
	if c.CursorSaveInterval < 0 {
		errs = append(errs, fmt.Errorf("cursor_save_interval must not be negative, got %s", c.CursorSaveInterval))
	}
	if c.ShutdownDrain < 0 {
		errs = append(errs, fmt.Errorf("shutdown_drain must not be negative, got %s", c.ShutdownDrain))
	}
	if c.PingInterval > 0 && c.ReadTimeout > 0 && c.ReadTimeout <= c.PingInterval {
		errs = append(errs, fmt.Errorf("read_timeout (%s) must be longer than ping_interval (%s)", c.ReadTimeout, c.PingInterval))
	}
	if c.ReconnectMaxDelay < c.ReconnectDelay {
		errs = append(errs, fmt.Errorf("reconnect_max_delay (%s) must not be below reconnect_delay (%s)", c.ReconnectMaxDelay, c.ReconnectDelay))
	}
	if c.MaxFrameBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_frame_bytes must be positive, got %d", c.MaxFrameBytes))
	}
	return errors.Join(errs...)
}
