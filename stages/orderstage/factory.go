package orderstage

import (
	"context"
	"fmt"

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
)

// NewFactory returns the factory of the order stage. The stage needs the *store.DB resource.
func NewFactory() pipeline.StageFactory {
	return pipeline.StageFactory{
		Type:                TypeName,
		CreateDefaultConfig: func() any { return DefaultConfig() },
		Create:              create,
	}
}

// DefaultConfig returns the default configuration.
func DefaultConfig() *Config {
	return &Config{
		MaxBatchEvents: DefaultMaxBatchEvents,
		MaxBatchRows:   DefaultMaxBatchRows,
		IDBlockSize:    DefaultIDBlockSize,
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
	return New(*c, db, set.Logger), nil
}
