package filterstage

import (
	"fmt"
	"strings"

	"github.com/tapkit/tap/config"
)

// Modes of the filter stage.
const (
	ModeScope       = "scope"
	ModeCollections = "collections"
)

// Config configures one filter stage.
type Config struct {
	// Mode is "scope" or "collections"; empty means the component's name
	// (filter/scope, filter/collections).
	Mode string `koanf:"mode"`
	// Filters overrides collections.filters for collections mode; nil means
	// the global setting.
	Filters []string `koanf:"filters"`
}

// Validate checks the mode and the filters.
func (c *Config) Validate() error {
	if c.Mode != "" && c.Mode != ModeScope && c.Mode != ModeCollections {
		return fmt.Errorf("mode: %q is not scope or collections", c.Mode)
	}
	for i, f := range c.Filters {
		if err := config.ValidateCollectionFilter(f); err != nil {
			return fmt.Errorf("filters[%d]: %w", i, err)
		}
	}
	return nil
}

// Matcher matches collections against a set of filters.
type Matcher struct {
	all      bool
	exact    map[string]bool
	prefixes []string // each ends with "."
}

// NewMatcher compiles filters (already validated). No filters match all.
func NewMatcher(filters []string) *Matcher {
	m := &Matcher{all: len(filters) == 0, exact: make(map[string]bool)}
	for _, f := range filters {
		switch {
		case f == "*":
			m.all = true
		case strings.HasSuffix(f, ".*"):
			m.prefixes = append(m.prefixes, strings.TrimSuffix(f, "*"))
		default:
			m.exact[f] = true
		}
	}
	return m
}

// Match reports whether collection passes the filters.
func (m *Matcher) Match(collection string) bool {
	if m.all || m.exact[collection] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(collection, p) {
			return true
		}
	}
	return false
}
