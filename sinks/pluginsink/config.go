package pluginsink

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Config is the plugin sink's configuration (pipeline.sinks[].config).
type Config struct {
	// Path is the plugin executable (required).
	Path string `koanf:"path"`
	// SHA256 is the hex SHA-256 of the executable; when set, the file is
	// checked before every start and a mismatch is an error.
	SHA256 string `koanf:"sha256"`
	// Config is passed to the plugin's Configure.
	Config map[string]any `koanf:"config"`
	// BatchSize is the most events sent in one call (≥ 1; default 100).
	BatchSize int `koanf:"batch_size"`
	// MaxInFlight is the most calls in progress at once (≥ 1; default 4).
	MaxInFlight int `koanf:"max_in_flight"`
}

// Validate checks the configuration; every message names the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if c.SHA256 != "" {
		if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("sha256 must be 64 hex digits, got %q", c.SHA256))
		}
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("batch_size must be between 1 and %d, got %d", MaxBatchSize, c.BatchSize))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max_in_flight must be at least 1, got %d", c.MaxInFlight))
	}
	return errors.Join(errs...)
}
