package orderstage

import (
	"context"
	"fmt"
	"time"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// TypeName is the stage type in the configuration.
const TypeName = "order"

// Defaults of Config.
const (
	// DefaultMaxBatchEvents is the default Config.MaxBatchEvents.
	DefaultMaxBatchEvents = 1000
	// DefaultMaxBatchRows is the default Config.MaxBatchRows.
	DefaultMaxBatchRows = 10000
	// DefaultIDBlockSize is the default Config.IDBlockSize.
	DefaultIDBlockSize = 1000
	// DefaultCapacity is the capacity used when neither Config.Capacity nor outbox.capacity
	// is set (the reference Tap's default outbox capacity).
	DefaultCapacity = 100000
	// DefaultBatchesPerWorker times the parallelism is the default Config.MaxInFlightBatches.
	DefaultBatchesPerWorker = 8
	// DefaultSinkBatch is the default Config.SinkBatch.
	DefaultSinkBatch = 100
	// DefaultDeleteBatch is the default Config.DeleteBatch.
	DefaultDeleteBatch = 1000
	// DefaultDeleteInterval is the default Config.DeleteInterval.
	DefaultDeleteInterval = time.Second
	// DefaultFollowInterval is the default Config.FollowInterval.
	DefaultFollowInterval = 200 * time.Millisecond
	// DefaultRetryMin is the default Config.RetryMin.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax is the default Config.RetryMax (the reference webhook's cap).
	DefaultRetryMax = 10 * time.Second
)

// NewFactory returns the factory of the order stage. The stage needs the *store.DB resource;
// it reads outbox.capacity, outbox.parallelism and outbox.only from the *config.Config
// resource when there is one.
func NewFactory() pipeline.StageFactory {
	return pipeline.StageFactory{
		Type:                TypeName,
		CreateDefaultConfig: func() any { return DefaultConfig() },
		Create:              create,
	}
}

// DefaultConfig returns the default configuration. Capacity, Parallelism and
// MaxInFlightBatches are 0: they follow the outbox section of the service configuration.
func DefaultConfig() *Config {
	return &Config{
		MaxBatchEvents: DefaultMaxBatchEvents,
		MaxBatchRows:   DefaultMaxBatchRows,
		IDBlockSize:    DefaultIDBlockSize,
		SinkBatch:      DefaultSinkBatch,
		DeleteBatch:    DefaultDeleteBatch,
		DeleteInterval: DefaultDeleteInterval,
		FollowInterval: DefaultFollowInterval,
		RetryMin:       DefaultRetryMin,
		RetryMax:       DefaultRetryMax,
	}
}

func create(_ context.Context, set pipeline.Settings, cfg any) (pipeline.Stage, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *orderstage.Config", set.ID, cfg)
	}
	db, err := pipeline.Resource[*store.DB](set)
	if err != nil {
		return nil, err
	}
	cc := *c
	var opts []Option
	if svc, err := pipeline.Resource[*config.Config](set); err == nil && svc != nil {
		cc.Capacity = cmpOr(cc.Capacity, svc.Outbox.Capacity)
		cc.Parallelism = cmpOr(cc.Parallelism, svc.Outbox.Parallelism)
		opts = append(opts, WithOutboxOnly(svc.Outbox.Only))
	}
	if o, err := pipeline.Resource[LatencyObserver](set); err == nil {
		opts = append(opts, WithLatencyObserver(o))
	}
	return New(cc, db, set.Logger, opts...), nil
}
