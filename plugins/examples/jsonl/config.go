package main

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Fsync policies.
const (
	fsyncAlways   = "always"   // sync before acking every batch
	fsyncNever    = "never"    // leave it to the OS
	fsyncInterval = "interval" // sync every fsync_interval
)

// Defaults.
const (
	defaultFsync         = fsyncInterval
	defaultFsyncInterval = time.Second
)

// config is the plugin's configuration, decoded from the "config" map of
// tap's YAML.
type config struct {
	path          string
	fsync         string
	fsyncInterval time.Duration
	maxBytes      int64
}

// parseConfig validates m and fills in the defaults; messages name the key.
func parseConfig(m map[string]any) (config, error) {
	c := config{fsync: defaultFsync, fsyncInterval: defaultFsyncInterval}
	var errs []error
	for k, v := range m {
		switch k {
		case "path":
			s, ok := v.(string)
			if !ok || s == "" {
				errs = append(errs, fmt.Errorf("path must be a non-empty string, got %v", v))
			}
			c.path = s
		case "fsync":
			s, _ := v.(string)
			switch s {
			case fsyncAlways, fsyncNever, fsyncInterval:
				c.fsync = s
			default:
				errs = append(errs, fmt.Errorf("fsync must be %q, %q or %q, got %v", fsyncAlways, fsyncNever, fsyncInterval, v))
			}
		case "fsync_interval":
			s, _ := v.(string)
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("fsync_interval must be a positive duration such as \"1s\", got %v", v))
			}
			c.fsyncInterval = d
		case "max_bytes":
			n, ok := integer(v)
			if !ok || n < 0 {
				errs = append(errs, fmt.Errorf("max_bytes must be a non-negative integer, got %v", v))
			}
			c.maxBytes = n
		default:
			errs = append(errs, fmt.Errorf("%s: unknown key (want path, fsync, fsync_interval, max_bytes)", k))
		}
	}
	if c.path == "" && m["path"] == nil {
		errs = append(errs, errors.New("path is required"))
	}
	return c, errors.Join(errs...)
}

// integer accepts the integer forms a config value may take: float64
// (decoded JSON) or a Go integer.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	default:
		return 0, false
	}
}
