package backfillstage

import (
	"errors"
	"time"
)

// Defaults of Config; zero values in the configuration take the global
// backfill settings (TAP_RESYNC_PARALLELISM, TAP_REPO_FETCH_TIMEOUT).
const (
	DefaultPollInterval = time.Second
	DefaultMinBackoff   = time.Minute
	DefaultMaxBackoff   = time.Hour
	DefaultHostBackoff  = 10 * time.Second
)

// Config configures the backfill stage.
type Config struct {
	// Parallelism is how many repos are fetched at once; 0 means
	// backfill.parallelism.
	Parallelism int `koanf:"parallelism"`
	// FetchTimeout bounds one getRepo download, body included; 0 means
	// backfill.repo_fetch_timeout.
	FetchTimeout time.Duration `koanf:"fetch_timeout"`
	// PollInterval is how long an idle worker waits before looking for work.
	PollInterval time.Duration `koanf:"poll_interval"`
	// MinBackoff is the delay before retrying a failed resync, doubled per
	// failure up to MaxBackoff.
	MinBackoff time.Duration `koanf:"min_backoff"`
	// MaxBackoff caps the retry delay.
	MaxBackoff time.Duration `koanf:"max_backoff"`
	// HostBackoff is how long a PDS host that answered 429 without
	// Retry-After is left alone.
	HostBackoff time.Duration `koanf:"host_backoff"`
}

func defaultConfig() any {
	return &Config{
		PollInterval: DefaultPollInterval, MinBackoff: DefaultMinBackoff,
		MaxBackoff: DefaultMaxBackoff, HostBackoff: DefaultHostBackoff,
	}
}

// Validate checks the values.
func (c *Config) Validate() error {
	var errs []error
	if c.Parallelism < 0 {
		errs = append(errs, errors.New("parallelism: must not be negative"))
	}
	if c.FetchTimeout < 0 {
		errs = append(errs, errors.New("fetch_timeout: must not be negative"))
	}
	for name, d := range map[string]time.Duration{"poll_interval": c.PollInterval, "min_backoff": c.MinBackoff,
		"max_backoff": c.MaxBackoff, "host_backoff": c.HostBackoff} {
		if d <= 0 {
			errs = append(errs, errors.New(name+": must be a positive duration"))
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, errors.New("max_backoff: must not be below min_backoff"))
	}
	return errors.Join(errs...)
}
