package firehosesource

import (
	"context"
	"fmt"
	"time"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the source's type name in the configuration.
const Type = "firehose"

// Defaults of the source's own settings.
const (
	defaultPingInterval      = atproto.DefaultPingInterval
	defaultReadTimeout       = atproto.DefaultReadTimeout
	defaultReconnectDelay    = atproto.DefaultDialBackoffBase
	defaultReconnectMaxDelay = atproto.DefaultDialBackoffMax
	defaultMaxFrameBytes     = atproto.DefaultMaxFrameBytes
	defaultShutdownDrain     = 5 * time.Second
	// fallbackSaveInterval applies when neither the source nor the global
	// configuration sets a save interval (hand-built configurations).
	fallbackSaveInterval = time.Second
)

// NewFactory returns the factory of the "firehose" source. Create needs
// two resources: *config.Config (relay.url, relay.no_replay,
// relay.cursor_save_interval, outbox.only) and *store.DB (the saved
// cursor); an atproto.UserAgent resource sets the User-Agent.
func NewFactory() pipeline.SourceFactory {
	return pipeline.SourceFactory{
		Type:                Type,
		CreateDefaultConfig: createDefaultConfig,
		Create:              create,
	}
}

func createDefaultConfig() any {
	return &Config{
		PingInterval:      defaultPingInterval,
		ReadTimeout:       defaultReadTimeout,
		ReconnectDelay:    defaultReconnectDelay,
		ReconnectMaxDelay: defaultReconnectMaxDelay,
		MaxFrameBytes:     defaultMaxFrameBytes,
		ShutdownDrain:     defaultShutdownDrain,
	}
}

func create(_ context.Context, set pipeline.Settings, cfg any, submit pipeline.Submit) (pipeline.Source, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *firehosesource.Config", set.ID, cfg)
	}
	global, err := pipeline.Resource[*config.Config](set)
	if err != nil {
		return nil, err
	}
	db, err := pipeline.Resource[*store.DB](set)
	if err != nil {
		return nil, err
	}
	if submit == nil {
		return nil, fmt.Errorf("%s: no submit function", set.ID)
	}
	ua, err := pipeline.Resource[atproto.UserAgent](set)
	if err != nil {
		ua = atproto.DefaultUserAgent()
	}
	s := newSource(*c, global, db, submit, string(ua), set)
	if s.relayURL == "" && !s.disabled {
		return nil, fmt.Errorf("%s: no relay URL: set relay.url or the source's relay_url", set.ID)
	}
	return s, nil
}
