package pluginsink

import (
	"context"
	"fmt"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// Type is the sink's type name in the configuration.
const Type = "plugin"

// Defaults of Config.
const (
	// DefaultBatchSize is the default number of events per call.
	DefaultBatchSize = 100
	// DefaultMaxInFlight is the default number of calls in progress.
	DefaultMaxInFlight = 4
)

// Limits that are not configurable.
const (
	// MaxBatchSize bounds batch_size (a batch is one gRPC message).
	MaxBatchSize = 10_000
	// RestartMin is the delay before the first restart after a crash; it
	// doubles, with jitter, per consecutive crash.
	RestartMin = 100 * time.Millisecond
	// RestartMax caps the delay between restarts.
	RestartMax = 30 * time.Second
	// ConfigureTimeout bounds the plugin's Configure.
	ConfigureTimeout = 30 * time.Second
)

// NewFactory returns the factory of the "plugin" sink.
func NewFactory() pipeline.SinkFactory {
	return pipeline.SinkFactory{
		Type:                Type,
		CreateDefaultConfig: createDefaultConfig,
		Create:              create,
	}
}

func createDefaultConfig() any {
	return &Config{BatchSize: DefaultBatchSize, MaxInFlight: DefaultMaxInFlight}
}

func create(_ context.Context, set pipeline.Settings, cfg any) (pipeline.Sink, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *pluginsink.Config", set.ID, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", set.ID, err)
	}
	return newSink(*c, set.Logger), nil
}
