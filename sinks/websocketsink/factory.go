package websocketsink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// TypeName is the sink type in the configuration (pipeline.sinks[].id).
const TypeName = "websocket"

// Defaults of Config.
const (
	// DefaultRetryTimeout is the retry timeout used when neither the sink's
	// retry_timeout nor delivery.retry_timeout is set (Tap's default).
	DefaultRetryTimeout = 60 * time.Second
	// DefaultPingInterval is the default Config.PingInterval.
	DefaultPingInterval = 20 * time.Second
	// DefaultPongTimeout is the default Config.PongTimeout.
	DefaultPongTimeout = 60 * time.Second
	// DefaultWriteTimeout is the default Config.WriteTimeout.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultSendQueue is the default Config.SendQueue.
	DefaultSendQueue = 16
	// DefaultMaxUnacked is the default Config.MaxUnacked: a third of the
	// order stage's default in-flight events per sink (8 batches of 100),
	// so that a client that stopped reading pins a third at most.
	DefaultMaxUnacked = 256
)

// NewFactory returns the factory of the websocket sink. The sink reads the
// global *config.Config resource for delivery.disable_acks and
// delivery.retry_timeout when it is available, and uses the defaults
// otherwise.
func NewFactory() pipeline.SinkFactory {
	return pipeline.SinkFactory{
		Type:                TypeName,
		CreateDefaultConfig: func() any { return DefaultConfig() },
		Create:              create,
	}
}

// DefaultConfig returns the default configuration: acks and retry timeout
// from the global delivery settings, the other values from the Default*
// constants.
func DefaultConfig() *Config {
	return &Config{
		PingInterval: DefaultPingInterval,
		PongTimeout:  DefaultPongTimeout,
		WriteTimeout: DefaultWriteTimeout,
		SendQueue:    DefaultSendQueue,
		MaxUnacked:   DefaultMaxUnacked,
	}
}

func create(_ context.Context, set pipeline.Settings, cfg any) (pipeline.Sink, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *websocketsink.Config", set.ID, cfg)
	}
	resolved := *c
	if global, err := pipeline.Resource[*config.Config](set); err == nil && global != nil {
		resolved = c.Resolve(global.Delivery)
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return New(resolved, log), nil
}
