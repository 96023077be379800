package main

import (
	"fmt"
	"strings"
	"time"
)

// config is the plugin's configuration, decoded from the "config" map of
// tap's YAML.
type config struct {
	url          string
	stream       string
	prefix       string
	createStream bool
	timeout      time.Duration
	// duplicateWindow is the Duplicates of a stream the plugin creates
	// (0: the server's default, 2 minutes).
	duplicateWindow time.Duration
}

// Defaults.
const (
	defaultURL     = "nats://127.0.0.1:4222"
	defaultStream  = "TAP"
	defaultPrefix  = "tap"
	defaultTimeout = 10 * time.Second
)

// parseConfig validates m and fills in the defaults.
func parseConfig(m map[string]any) (config, error) {
	c := config{url: defaultURL, stream: defaultStream, prefix: defaultPrefix, createStream: true, timeout: defaultTimeout}
	for k, v := range m {
		var err error
		switch k {
		case "url":
			c.url, err = str(k, v)
		case "stream":
			c.stream, err = str(k, v)
		case "prefix":
			c.prefix, err = str(k, v)
		case "create_stream":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("%s: want a bool, got %T", k, v)
			}
			c.createStream = b
		case "timeout":
			c.timeout, err = duration(k, v)
		case "duplicate_window":
			c.duplicateWindow, err = duration(k, v)
		default:
			err = fmt.Errorf("unknown key %q (want url, stream, prefix, create_stream, timeout, duplicate_window)", k)
		}
		if err != nil {
			return c, err
		}
	}
	if !validToken(c.stream, false) {
		return c, fmt.Errorf("stream: %q is not a valid stream name", c.stream)
	}
	if c.prefix == "" || !validSubject(c.prefix) {
		return c, fmt.Errorf("prefix: %q is not a valid subject prefix", c.prefix)
	}
	return c, nil
}

func str(k string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s: want a non-empty string, got %v", k, v)
	}
	return s, nil
}

// duration parses a positive duration such as "10s".
func duration(k string, v any) (time.Duration, error) {
	s, err := str(k, v)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("must be positive")
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	return d, nil
}

// validSubject tells whether s is a literal subject: non-empty tokens
// separated by dots, without wildcards or white space.
func validSubject(s string) bool {
	for _, t := range strings.Split(s, ".") {
		if !validToken(t, true) {
			return false
		}
	}
	return true
}

// validToken tells whether t is a non-empty subject token (or, with
// dotOK false, a stream name, which has no dots either).
func validToken(t string, dotOK bool) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		switch {
		case r <= ' ', r == '*', r == '>', r == 0x7f:
			return false
		case r == '.' && !dotOK, r == '/' && !dotOK, r == '\\' && !dotOK:
			return false
		}
	}
	return true
}
