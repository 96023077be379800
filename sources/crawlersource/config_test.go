package crawlersource

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, &Config{
		PageSize:        1000,
		RecrawlInterval: 24 * time.Hour,
		RetryDelay:      time.Minute,
		RetryMaxDelay:   10 * time.Minute,
		RequestTimeout:  30 * time.Second,
	}, cfg)
}

func TestConfigDecodingIsStrict(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	err := pipeline.Decode(map[string]any{"recrawl": "1h"}, cfg, "pipeline.sources[1].config")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"pipeline.sources[1].config.recrawl"`)
	require.NoError(t, pipeline.Decode(map[string]any{"recrawl_interval": "6h", "page_size": 500}, cfg, "x"))
	assert.Equal(t, 6*time.Hour, cfg.RecrawlInterval)
	assert.Equal(t, 500, cfg.PageSize)
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(*Config)
	}{
		{"relay_url", func(c *Config) { c.RelayURL = "relay.example" }},
		{"page_size", func(c *Config) { c.PageSize = 1001 }},
		{"page_size", func(c *Config) { c.PageSize = 0 }},
		{"recrawl_interval", func(c *Config) { c.RecrawlInterval = 0 }},
		{"retry_delay", func(c *Config) { c.RetryDelay = -time.Second }},
		{"retry_max_delay", func(c *Config) { c.RetryMaxDelay = time.Second }},
		{"request_timeout", func(c *Config) { c.RequestTimeout = 0 }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			tc.mutate(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
		})
	}
}

func TestModeFromGlobalConfig(t *testing.T) {
	db := storetest.OpenSQLite(t)
	both := signalConfig("http://127.0.0.1:9", "app.bsky.graph.follow")
	both.Scope.FullNetwork = true
	for _, tc := range []struct {
		name string
		g    *config.Config
		want mode
	}{
		{"signal collection wins over full network", both, modeCollection},
		{"full network", fullNetworkConfig("http://127.0.0.1:9"), modeFullNetwork},
		{"dynamic", dynamicConfig("http://127.0.0.1:9"), modeNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newTestSource(t, testConfig(), tc.g, db)
			assert.Equal(t, tc.want, src.mode)
			assert.Equal(t, "http://127.0.0.1:9", src.relayURL)
		})
	}

	cfg := testConfig()
	cfg.RelayURL = "https://other.example"
	src := newTestSource(t, cfg, both, db)
	assert.Equal(t, "https://other.example", src.relayURL)

	_, err := NewFactory().Create(t.Context(), pipeline.Settings{Resources: []any{signalConfig("http://x", "not an nsid"), db}}, testConfig(), nil)
	assert.ErrorContains(t, err, "scope.signal_collection")
	_, err = NewFactory().Create(t.Context(), pipeline.Settings{Resources: []any{db}}, testConfig(), nil)
	assert.ErrorContains(t, err, "config.Config")
	_, err = NewFactory().Create(t.Context(), pipeline.Settings{Resources: []any{both}}, testConfig(), nil)
	assert.ErrorContains(t, err, "store.DB")
}
