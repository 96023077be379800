package main

import (
	"fmt"
	"strings"
)

// dialect is the SQL flavour of the database.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

// config is the plugin's configuration, decoded from the "config" map of
// tap's YAML.
type config struct {
	dialect dialect
	driver  string // database/sql driver name
	dsn     string // database/sql data source name
}

// parseConfig validates m. database_url is sqlite://PATH or
// postgres://... (postgresql:// too).
func parseConfig(m map[string]any) (config, error) {
	var c config
	var url string
	for k, v := range m {
		switch k {
		case "database_url":
			s, ok := v.(string)
			if !ok || s == "" {
				return c, fmt.Errorf("database_url: want a non-empty string, got %v", v)
			}
			url = s
		default:
			return c, fmt.Errorf("unknown key %q (want database_url)", k)
		}
	}
	switch {
	case url == "":
		return c, fmt.Errorf("database_url is required (sqlite://PATH or postgres://...)")
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return c, fmt.Errorf("database_url: %q: want sqlite://PATH with no query", url)
		}
		c.dialect, c.driver = sqlite, "sqlite3"
		c.dsn = "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate&_foreign_keys=1"
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		c.dialect, c.driver, c.dsn = postgres, "pgx", url
	default:
		return c, fmt.Errorf("database_url: %q: want sqlite://PATH or postgres://...", url)
	}
	return c, nil
}
