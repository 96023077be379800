package webhooksink

import (
	"context"
	"fmt"
	"time"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// Type is the sink's type name in the configuration.
const Type = "webhook"

// Defaults of Config. The retry bounds reproduce the reference's delays
// (2^n seconds capped at 10 s).
const (
	// DefaultTimeout bounds one request, as the reference's HTTP client does.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConcurrency is the default bound on requests in flight.
	DefaultMaxConcurrency = 16
	// DefaultRetryMin is the delay after the first failed attempt.
	DefaultRetryMin = time.Second
	// DefaultRetryMax caps the delay between attempts.
	DefaultRetryMax = 10 * time.Second
	// DefaultBatchSize sends one event per POST (the reference format).
	DefaultBatchSize = 1
	// DefaultDeadLetterAfter retries for ever (the reference behaviour).
	DefaultDeadLetterAfter = 0
)

// Limits that are not configurable.
const (
	// MaxBatchSize bounds batch_size, and with it the size of one body.
	MaxBatchSize = 10_000
	// MaxRetryAfter caps the wait a Retry-After answer can ask for.
	MaxRetryAfter = time.Hour
	// MaxRetryMax bounds retry_max: an endpoint that comes back is tried
	// again within the hour.
	MaxRetryMax = time.Hour
)

// NewFactory returns the factory of the "webhook" sink. Create needs the
// resource *config.Config (delivery.webhook_url, server.admin_password)
// and, when dead_letter_after > 0, *store.DB; an atproto.UserAgent resource
// sets the User-Agent (default atproto.DefaultUserAgent).
func NewFactory() pipeline.SinkFactory {
	return pipeline.SinkFactory{
		Type:                Type,
		CreateDefaultConfig: createDefaultConfig,
		Create:              create,
	}
}

func createDefaultConfig() any {
	return &Config{
		Timeout:         DefaultTimeout,
		MaxConcurrency:  DefaultMaxConcurrency,
		RetryMin:        DefaultRetryMin,
		RetryMax:        DefaultRetryMax,
		BatchSize:       DefaultBatchSize,
		DeadLetterAfter: DefaultDeadLetterAfter,
	}
}

func create(_ context.Context, set pipeline.Settings, cfg any) (pipeline.Sink, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("%s: config is %T, want *webhooksink.Config", set.ID, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", set.ID, err)
	}
	global, err := pipeline.Resource[*config.Config](set)
	if err != nil {
		return nil, err
	}
	if global == nil {
		return nil, fmt.Errorf("%s: the *config.Config resource is nil", set.ID)
	}
	d := deps{url: c.URL, password: global.Server.AdminPassword}
	if d.url == "" {
		d.url = global.Delivery.WebhookURL
	}
	if d.url == "" {
		return nil, fmt.Errorf("%s: no webhook URL: set the sink's url or delivery.webhook_url (TAP_WEBHOOK_URL)", set.ID)
	}
	if err := checkURL(d.url); err != nil {
		return nil, fmt.Errorf("%s: delivery.webhook_url: %w", set.ID, err)
	}
	if c.BasicAuth != nil {
		d.password = *c.BasicAuth
	}
	d.userAgent = string(atproto.DefaultUserAgent())
	if ua, err := pipeline.Resource[atproto.UserAgent](set); err == nil && ua != "" {
		d.userAgent = string(ua)
	}
	if c.DeadLetterAfter > 0 {
		db, err := pipeline.Resource[*store.DB](set)
		if err != nil {
			return nil, fmt.Errorf("dead_letter_after needs the database: %w", err)
		}
		d.deadLetters = db
	}
	return newSink(*c, d, set.Logger), nil
}
