package filterstage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	comatproto "github.com/bluesky-social/indigo/api/atproto"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the stage's type name in the configuration.
const Type = "filter"

// NewFactory returns the filter stage factory.
func NewFactory() pipeline.StageFactory {
	return pipeline.StageFactory{
		Type:                Type,
		CreateDefaultConfig: func() any { return &Config{} },
		Create:              create,
	}
}

func create(_ context.Context, set pipeline.Settings, c any) (pipeline.Stage, error) {
	cfg := c.(*Config)
	global, err := pipeline.Resource[*config.Config](set)
	if err != nil {
		return nil, err
	}
	// Without a runtime control (tests, embedders) the configuration is static.
	ctl, _ := pipeline.Resource[*runtimecfg.Control](set)
	mode := cfg.Mode
	if mode == "" {
		mode = set.ID.Name
	}
	switch mode {
	case ModeScope:
		db, err := pipeline.Resource[*store.DB](set)
		if err != nil {
			return nil, err
		}
		return &ScopeStage{db: db, fullNetwork: global.Scope.FullNetwork, signal: global.Scope.SignalCollection, ctl: ctl}, nil
	case ModeCollections:
		if cfg.Filters != nil {
			// The stage's own filters are part of the pipeline's shape: the API does not change them.
			return &CollectionsStage{match: NewMatcher(cfg.Filters)}, nil
		}
		return &CollectionsStage{match: NewMatcher(global.Collections.Filters), ctl: ctl}, nil
	}
	return nil, fmt.Errorf("mode: set mode to scope or collections, or name the stage filter/scope or filter/collections")
}

// ScopeStage is the network boundary (see the package documentation).
type ScopeStage struct {
	db          *store.DB
	fullNetwork bool
	signal      string
	ctl         *runtimecfg.Control // when set, its signal collections replace signal

	// Dropped counts events of untracked repos; Tracked counts repos that
	// became tracked from the firehose.
	Dropped, Tracked atomic.Uint64
}

// Start does nothing: the stage has no background work.
func (*ScopeStage) Start(context.Context, pipeline.Host) error { return nil }

// Shutdown does nothing.
func (*ScopeStage) Shutdown(context.Context) error { return nil }

// Process passes events of tracked repos and handles the others.
func (s *ScopeStage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	switch ev.Kind {
	case pipeline.KindCommit, pipeline.KindSync, pipeline.KindIdentity, pipeline.KindAccount:
	default:
		return next(ctx, ev)
	}
	head, err := s.db.GetRepoHead(ctx, string(ev.DID))
	if err == nil {
		// the stages after this one read the same row: they get it from ctx
		return next(store.WithRepoHead(ctx, string(ev.DID), head), ev)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.Dropped.Add(1)
	if !s.tracks(ev) {
		return nil
	}
	n, err := s.db.AddRepos(ctx, []string{string(ev.DID)})
	if err != nil {
		return err
	}
	s.Tracked.Add(uint64(n))
	return nil
}

// tracks reports whether ev makes its untracked repo tracked.
func (s *ScopeStage) tracks(ev *pipeline.Event) bool {
	if s.fullNetwork {
		return ev.Kind != pipeline.KindAccount || ev.Account.Active
	}
	if ev.Kind != pipeline.KindCommit {
		return false
	}
	if s.ctl != nil {
		return hasCollection(ev.Commit.Ops, s.ctl.Get(runtimecfg.SettingSignalCollections).List)
	}
	return s.signal != "" && hasCollection(ev.Commit.Ops, []string{s.signal})
}

// hasCollection reports whether an op is in one of collections (exact match).
func hasCollection(ops []*comatproto.SyncSubscribeRepos_RepoOp, collections []string) bool {
	if len(collections) == 0 {
		return false
	}
	for _, op := range ops {
		if c, _, ok := strings.Cut(op.Path, "/"); ok && slices.Contains(collections, c) {
			return true
		}
	}
	return false
}

// CollectionsStage keeps record ops of the configured collections.
type CollectionsStage struct {
	match *Matcher
	// ctl, when set, holds the filters (changed at runtime); cache is the
	// Matcher compiled from its current value.
	ctl   *runtimecfg.Control
	cache atomic.Pointer[compiled]

	// DroppedOps counts record ops filtered out.
	DroppedOps atomic.Uint64
}

// Start does nothing: the stage has no background work.
func (*CollectionsStage) Start(context.Context, pipeline.Host) error { return nil }

// Shutdown does nothing.
func (*CollectionsStage) Shutdown(context.Context) error { return nil }

// Process filters the ops of record events in place; other events pass.
func (s *CollectionsStage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	if ev.Kind != pipeline.KindRecords {
		return next(ctx, ev)
	}
	if m := s.matcher(); !m.all {
		kept := ev.Records.Ops[:0]
		for _, op := range ev.Records.Ops {
			if m.Match(op.Collection.String()) {
				kept = append(kept, op)
			}
		}
		s.DroppedOps.Add(uint64(len(ev.Records.Ops) - len(kept)))
		clear(ev.Records.Ops[len(kept):])
		ev.Records.Ops = kept
	}
	return next(ctx, ev)
}

// compiled is a Matcher and the runtime value it was compiled from.
type compiled struct {
	from  *runtimecfg.Value
	match *Matcher
}

// matcher returns the Matcher of the current filters: the configured ones,
// or the runtime value, compiled once per change (lanes that race to compile
// a new value build equal matchers).
func (s *CollectionsStage) matcher() *Matcher {
	if s.ctl == nil {
		return s.match
	}
	v := s.ctl.Get(runtimecfg.SettingCollectionFilters)
	if c := s.cache.Load(); c != nil && c.from == v {
		return c.match
	}
	c := &compiled{from: v, match: NewMatcher(v.List)}
	s.cache.Store(c)
	return c.match
}
