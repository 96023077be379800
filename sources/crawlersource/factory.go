package crawlersource

import (
	"context"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the source's type name in the configuration.
const Type = "crawler"

// Defaults of the source's settings.
const (
	defaultPageSize        = atproto.MaxCrawlPageSize
	defaultRecrawlInterval = 24 * time.Hour
	defaultRetryDelay      = time.Minute
	defaultRetryMaxDelay   = 10 * time.Minute
	defaultRequestTimeout  = atproto.DefaultCrawlTimeout
)

// NewFactory returns the factory of the "crawler" source. Create needs two
// resources: *config.Config (relay.url, scope.signal_collection,
// scope.full_network, outbox.only) and *store.DB; an atproto.UserAgent
// resource sets the User-Agent, and a *runtimecfg.Control resource makes the
// signal collections a list that changes at runtime.
func NewFactory() pipeline.SourceFactory {
	return pipeline.SourceFactory{
		Type:                Type,
		CreateDefaultConfig: createDefaultConfig,
		Create:              create,
	}
}

func createDefaultConfig() any {
	return &Config{
		PageSize:        defaultPageSize,
		RecrawlInterval: defaultRecrawlInterval,
		RetryDelay:      defaultRetryDelay,
		RetryMaxDelay:   defaultRetryMaxDelay,
		RequestTimeout:  defaultRequestTimeout,
	}
}

func create(_ context.Context, set pipeline.Settings, cfg any, _ pipeline.Submit) (pipeline.Source, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *crawlersource.Config", set.ID, cfg)
	}
	global, err := pipeline.Resource[*config.Config](set)
	if err != nil {
		return nil, err
	}
	db, err := pipeline.Resource[*store.DB](set)
	if err != nil {
		return nil, err
	}
	ua, err := pipeline.Resource[atproto.UserAgent](set)
	if err != nil {
		ua = atproto.DefaultUserAgent()
	}
	ctl, _ := pipeline.Resource[*runtimecfg.Control](set) // optional: without it the scope is static
	s := &Source{cfg: *c, db: db, log: set.Logger, relayURL: c.RelayURL, disabled: global.Outbox.Only, ctl: ctl}
	if s.relayURL == "" {
		s.relayURL = global.Relay.URL
	}
	switch {
	case global.Scope.SignalCollection != "":
		if s.collection, err = syntax.ParseNSID(global.Scope.SignalCollection); err != nil {
			return nil, fmt.Errorf("%s: scope.signal_collection: %w", set.ID, err)
		}
		s.mode = modeCollection
	case global.Scope.FullNetwork:
		s.mode = modeFullNetwork
	}
	if (s.mode != modeNone || ctl != nil) && !s.disabled {
		s.client, err = atproto.NewCrawlClient(atproto.CrawlOptions{RelayURL: s.relayURL, UserAgent: string(ua), Timeout: c.RequestTimeout})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", set.ID, err)
		}
	}
	return s.init(), nil
}
