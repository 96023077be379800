package webhooksink

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, &Config{
		Timeout:        30 * time.Second,
		MaxConcurrency: 16,
		RetryMin:       time.Second,
		RetryMax:       10 * time.Second,
		BatchSize:      1,
	}, cfg, "url and basic_auth default to the global settings; no extension is on")
}

func TestConfigDecoding(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	err := pipeline.Decode(map[string]any{"retry_maximum": "1s"}, cfg, "pipeline.sinks[0].config")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"pipeline.sinks[0].config.retry_maximum"`)

	require.NoError(t, pipeline.Decode(map[string]any{
		"url": "https://example.test/hook", "timeout": "5s", "max_concurrency": 4,
		"retry_min": "100ms", "retry_max": "2s", "batch_size": 50, "hmac_secret": "k",
		"dead_letter_after": 5, "basic_auth": "",
	}, cfg, "x"))
	assert.Equal(t, "https://example.test/hook", cfg.URL)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	assert.Equal(t, 4, cfg.MaxConcurrency)
	assert.Equal(t, 100*time.Millisecond, cfg.RetryMin)
	assert.Equal(t, 2*time.Second, cfg.RetryMax)
	assert.Equal(t, 50, cfg.BatchSize)
	assert.Equal(t, "k", cfg.HMACSecret)
	assert.Equal(t, 5, cfg.DeadLetterAfter)
	require.NotNil(t, cfg.BasicAuth, `basic_auth: "" is set (to no auth), not absent`)
	assert.Empty(t, *cfg.BasicAuth)
	require.NoError(t, cfg.Validate())
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(*Config)
	}{
		{"url", func(c *Config) { c.URL = "ftp://host/x" }},
		{"url", func(c *Config) { c.URL = "/relative" }},
		{"url", func(c *Config) { c.URL = "http://a b:pw@host/%zz" }},
		{"timeout", func(c *Config) { c.Timeout = 0 }},
		{"max_concurrency", func(c *Config) { c.MaxConcurrency = 0 }},
		{"retry_min", func(c *Config) { c.RetryMin = -time.Second }},
		{"retry_max", func(c *Config) { c.RetryMax = c.RetryMin / 2 }},
		{"retry_max", func(c *Config) { c.RetryMax = 2 * time.Hour }},
		{"batch_size", func(c *Config) { c.BatchSize = 0 }},
		{"batch_size", func(c *Config) { c.BatchSize = MaxBatchSize + 1 }},
		{"dead_letter_after", func(c *Config) { c.DeadLetterAfter = -1 }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			tc.mutate(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
			assert.NotContains(t, err.Error(), "pw", "a URL's password is never echoed")
		})
	}
}

func TestCreate(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "webhook", f.Type)
	create := func(cfg *Config, res ...any) (*Sink, error) {
		s, err := f.Create(t.Context(), pipeline.Settings{ID: pipeline.ID{Type: Type}, Resources: res}, cfg)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
		return s.(*Sink), nil
	}
	def := func() *Config { return f.CreateDefaultConfig().(*Config) }

	_, err := create(def())
	assert.ErrorContains(t, err, "config.Config", "the global configuration is required")

	_, err = create(def(), &config.Config{})
	assert.ErrorContains(t, err, "delivery.webhook_url", "a URL is required one way or the other")

	g := &config.Config{Delivery: config.DeliveryConfig{WebhookURL: "http://127.0.0.1:9/hook"}}
	s, err := create(def(), g)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9/hook", s.url, "global URL")
	assert.Equal(t, string(defaultUA()), s.ua, "default User-Agent without the resource")

	own := def()
	own.URL = "http://127.0.0.1:8/own"
	s, err = create(own, g)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8/own", s.url, "the sink's url wins")

	g.Delivery.WebhookURL = "not a url"
	_, err = create(def(), g)
	assert.ErrorContains(t, err, "delivery.webhook_url")
}
