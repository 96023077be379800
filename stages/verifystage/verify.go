package verifystage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the stage's type name in the configuration.
const Type = "verify"

// Defaults of Config.
const (
	DefaultSnapshotBatch = 500
)

// Config configures the verify stage.
type Config struct {
	// SnapshotBatch is how many record ops of a snapshot are emitted per
	// Records event.
	SnapshotBatch int `koanf:"snapshot_batch"`
	// SpillDir is where snapshot CARs are spilled while verified; empty
	// means the system temporary directory.
	SpillDir string `koanf:"spill_dir"`
	// MaxCARBytes bounds one snapshot download, in bytes; 0 means the CAR
	// reader's default of 4 GiB (carstream.DefaultMaxBytes). A CAR past it
	// fails with "CAR exceeds max_car_bytes (N bytes)".
	MaxCARBytes int64 `koanf:"max_car_bytes"`
}

// Validate checks the batch size.
func (c *Config) Validate() error {
	if c.SnapshotBatch < 1 {
		return errors.New("snapshot_batch: must be at least 1")
	}
	return nil
}

// NewFactory returns the verify stage factory.
func NewFactory() pipeline.StageFactory {
	return pipeline.StageFactory{
		Type:                Type,
		CreateDefaultConfig: func() any { return &Config{SnapshotBatch: DefaultSnapshotBatch} },
		Create: func(_ context.Context, set pipeline.Settings, c any) (pipeline.Stage, error) {
			db, err := pipeline.Resource[*store.DB](set)
			if err != nil {
				return nil, err
			}
			dir, err := pipeline.Resource[identity.Directory](set)
			if err != nil {
				return nil, err
			}
			var opts []Option
			if global, err := pipeline.Resource[*config.Config](set); err == nil && global != nil {
				// at most DefaultKeyCacheSize: a parsed key takes ≈380 bytes,
				// and the identity cache defaults to 2,000,000 entries
				opts = append(opts, WithKeyCacheSize(min(global.Identity.CacheSize, DefaultKeyCacheSize)))
			}
			return New(*c.(*Config), db, dir, set.Logger, opts...), nil
		},
	}
}

// Stats counts what the stage did.
type Stats struct {
	Commits, Replays, Desyncs, Syncs, IdentityChanges, Snapshots atomic.Uint64
	// SnapshotRecords counts records read from snapshot CARs (changed or
	// not): backfill throughput.
	SnapshotRecords atomic.Uint64

	failures [NumFailureReasons]atomic.Uint64 // see Failures
}

// Stage is the verify stage.
type Stage struct {
	cfg    Config
	db     *store.DB
	dir    identity.Directory
	keys   *keyCache
	logger *slog.Logger
	// Stats are the stage's counters.
	Stats Stats
}

// Option configures New.
type Option func(*options)

type options struct {
	keyCacheSize int
}

// WithKeyCacheSize bounds how many parsed signing keys the stage keeps, one
// per DID; the factory passes the identity cache size (identity.cache_size)
// capped at DefaultKeyCacheSize (≈38 MB of keys at most). Zero or less
// means DefaultKeyCacheSize.
func WithKeyCacheSize(n int) Option {
	return func(o *options) { o.keyCacheSize = n }
}

// New returns a verify stage.
func New(cfg Config, db *store.DB, dir identity.Directory, logger *slog.Logger, opts ...Option) *Stage {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SpillDir == "" {
		cfg.SpillDir = os.TempDir()
	}
	o := options{keyCacheSize: DefaultKeyCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.keyCacheSize <= 0 {
		o.keyCacheSize = DefaultKeyCacheSize
	}
	return &Stage{cfg: cfg, db: db, dir: dir, keys: newKeyCache(o.keyCacheSize), logger: logger}
}

// Start does nothing: the stage has no background work.
func (*Stage) Start(context.Context, pipeline.Host) error { return nil }

// Shutdown does nothing.
func (*Stage) Shutdown(context.Context) error { return nil }

// Process verifies raw events and turns them into Records and
// IdentityChange events; other events pass unchanged.
func (s *Stage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	switch ev.Kind {
	case pipeline.KindCommit:
		return s.commit(ctx, ev, next)
	case pipeline.KindSync:
		return s.sync(ctx, ev)
	case pipeline.KindIdentity:
		return s.identity(ctx, ev, next)
	case pipeline.KindAccount:
		return s.account(ctx, ev, next)
	case pipeline.KindSnapshot:
		return s.snapshot(ctx, ev, next)
	}
	return next(ctx, ev)
}

// repo loads what the stage reads of the repo of ev (rev, prevData, handle,
// status); ok is false when it is no longer tracked.
func (s *Stage) repo(ctx context.Context, did syntax.DID) (store.RepoHead, bool, error) {
	r, err := s.db.GetRepoHead(ctx, string(did))
	if errors.Is(err, store.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// desync marks the repo desynchronized with reason, counted (under why)
// and logged.
func (s *Stage) desync(ctx context.Context, ev *pipeline.Event, why FailureReason, reason error) error {
	s.Stats.Desyncs.Add(1)
	s.Stats.fail(why)
	s.logger.Warn("repo desynchronized", "did", ev.DID, "seq", ev.Seq, "reason", reason)
	return s.db.MarkDesynchronized(ctx, string(ev.DID), reason.Error())
}

// publicKey resolves the signing key of did; fresh purges the cached
// identity and parsed key first.
func (s *Stage) publicKey(ctx context.Context, did syntax.DID, fresh bool) (atcrypto.PublicKey, error) {
	if fresh {
		s.keys.forget(did)
		if err := s.dir.Purge(ctx, did.AtIdentifier()); err != nil {
			return nil, fmt.Errorf("purging identity: %w", err)
		}
	}
	ident, err := s.dir.LookupDID(ctx, did)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", did, err)
	}
	return s.keys.publicKey(did, ident)
}

// verifySigned checks a signature with the cached key, and once more with
// a freshly resolved key if that fails (the key may have rotated).
func (s *Stage) verifySigned(ctx context.Context, did syntax.DID, verify func(atcrypto.PublicKey) error) error {
	key, err := s.publicKey(ctx, did, false)
	if err == nil && verify(key) == nil {
		return nil
	}
	key, err = s.publicKey(ctx, did, true)
	if err != nil {
		return err
	}
	if err := verify(key); err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	return nil
}
