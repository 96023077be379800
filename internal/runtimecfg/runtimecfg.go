package runtimecfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/config"
)

// Setting names a setting that can change at runtime. The name is also its
// JSON field in the API and its key in the store.
type Setting string

// The settings that can change at runtime.
const (
	// SettingCollectionFilters is the list of collection filters ("*", an
	// NSID, or an NSID prefix ending in ".*"); empty keeps every collection.
	SettingCollectionFilters Setting = "collection_filters"
	// SettingSignalCollections is the list of signal collections (exact
	// NSIDs): a repo with records in any of them is tracked.
	SettingSignalCollections Setting = "signal_collections"
)

// Settings lists every Setting.
var Settings = []Setting{SettingCollectionFilters, SettingSignalCollections}

// Source says where a setting's value comes from.
type Source string

// Sources of a value.
const (
	// SourceConfig is the configuration (defaults, file, environment, flags).
	SourceConfig Source = "config"
	// SourceAPI is a value set through the admin API (persisted).
	SourceAPI Source = "api"
)

// Value is the current value of a setting. It is never modified once
// published.
type Value struct {
	// List is the setting's list; never nil.
	List []string
	// Source is where List comes from.
	Source Source
}

// ErrInvalid is wrapped by every error of Set about the value itself (as
// opposed to the store).
var ErrInvalid = errors.New("invalid runtime setting")

// Store persists runtime values. *store.DB implements it.
type Store interface {
	GetOverride(ctx context.Context, name string) ([]string, bool, error)
	SetOverride(ctx context.Context, name string, list []string) error
	DeleteOverride(ctx context.Context, name string) error
	RequestResync(ctx context.Context, dids []string) (queued, unknown []string, err error)
}

// Control is the set of runtime settings of one tap process. It is safe for
// concurrent use.
type Control struct {
	db       Store
	log      *slog.Logger
	mu       sync.Mutex // serialises changes: persist, then publish
	settings map[Setting]*setting
}

// setting is one Setting's configured and current value.
type setting struct {
	config   []string
	validate func(string) error
	cur      atomic.Pointer[Value]
	changed  chan struct{} // closed (and replaced) on each change; guarded by Control.mu
}

// FromConfig returns the configured value of each Setting: the collection
// filters, and the signal collection as a list of zero or one.
func FromConfig(cfg *config.Config) map[Setting][]string {
	signals := []string{}
	if cfg.Scope.SignalCollection != "" {
		signals = []string{cfg.Scope.SignalCollection}
	}
	return map[Setting][]string{
		SettingCollectionFilters: slices.Clone(cfg.Collections.Filters),
		SettingSignalCollections: signals,
	}
}

// New returns the runtime settings: the value persisted through the API for
// each setting that has one (logged, as it overrides configured), else
// configured[setting]. A persisted value that is no longer valid fails.
func New(ctx context.Context, db Store, configured map[Setting][]string, log *slog.Logger) (*Control, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Control{db: db, log: log, settings: map[Setting]*setting{
		SettingCollectionFilters: {validate: config.ValidateCollectionFilter},
		SettingSignalCollections: {validate: validateNSID},
	}}
	for name, st := range c.settings {
		st.config = nonNil(configured[name])
		st.changed = make(chan struct{})
		v := &Value{List: st.config, Source: SourceConfig}
		list, ok, err := db.GetOverride(ctx, string(name))
		if err != nil {
			return nil, err
		}
		if ok {
			if err := check(name, list, st.validate); err != nil {
				return nil, fmt.Errorf("value set through the admin API: %w (reset it with DELETE /config/%s)", err, urlName(name))
			}
			v = &Value{List: list, Source: SourceAPI}
			log.Warn("runtime setting set through the admin API overrides the configuration",
				"setting", name, "value", list, "configured", st.config, "reset", "DELETE /config/"+urlName(name))
		}
		st.cur.Store(v)
	}
	return c, nil
}

// Get returns the current value of s. It panics on an unknown Setting.
func (c *Control) Get(s Setting) *Value {
	return c.setting(s).cur.Load()
}

// Changed returns a channel that is closed at the next change of s.
func (c *Control) Changed(s Setting) <-chan struct{} {
	st := c.setting(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	return st.changed
}

// Set validates list, persists it as the value of s and publishes it. An
// invalid entry fails with an error wrapping ErrInvalid that names it
// (e.g. `collection_filters[1]: "app.bsky.feed*" is not ...`); nothing is
// changed then. Repeated entries are dropped.
func (c *Control) Set(ctx context.Context, s Setting, list []string) (*Value, error) {
	st := c.setting(s)
	list = dedupe(list)
	if err := check(s, list, st.validate); err != nil {
		return nil, err
	}
	return c.change(ctx, s, st, &Value{List: list, Source: SourceAPI}, func() error {
		return c.db.SetOverride(ctx, string(s), list)
	})
}

// Reset removes the value set through the API for s: the configured value
// applies again.
func (c *Control) Reset(ctx context.Context, s Setting) (*Value, error) {
	st := c.setting(s)
	return c.change(ctx, s, st, &Value{List: st.config, Source: SourceConfig}, func() error {
		return c.db.DeleteOverride(ctx, string(s))
	})
}

// change persists, then publishes v and wakes the waiters of Changed.
func (c *Control) change(ctx context.Context, s Setting, st *setting, v *Value, persist func() error) (*Value, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := persist(); err != nil {
		return nil, err
	}
	old := st.cur.Swap(v)
	close(st.changed)
	st.changed = make(chan struct{})
	c.log.Info("runtime setting changed", "setting", s, "value", v.List, "source", v.Source, "previous", old.List)
	return v, nil
}

// RequestResync queues a resync of the tracked repos among dids (see
// store.DB.RequestResync) and returns the DIDs queued and those not tracked.
func (c *Control) RequestResync(ctx context.Context, dids []string) (queued, unknown []string, err error) {
	queued, unknown, err = c.db.RequestResync(ctx, dids)
	if err == nil && len(queued) > 0 {
		c.log.Info("resync requested", "queued", len(queued), "unknown", len(unknown))
	}
	return queued, unknown, err
}

func (c *Control) setting(s Setting) *setting {
	st, ok := c.settings[s]
	if !ok {
		panic(fmt.Sprintf("runtimecfg: unknown setting %q", s))
	}
	return st
}

// check validates every entry of list, naming the first invalid one.
func check(s Setting, list []string, validate func(string) error) error {
	for i, v := range list {
		if err := validate(v); err != nil {
			return &invalidError{fmt.Sprintf("%s[%d]: %v", s, i, err)}
		}
	}
	return nil
}

// invalidError is an invalid value; it matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// validateNSID accepts an exact NSID (a signal collection is never a glob).
func validateNSID(v string) error {
	if _, err := syntax.ParseNSID(v); err != nil {
		return fmt.Errorf("%q is not an NSID (signal collections are exact, without wildcards)", v)
	}
	return nil
}

// urlName is the path segment of s in /config/…: collection-filters.
func urlName(s Setting) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// dedupe returns list without repeats (first kept), never nil.
func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
