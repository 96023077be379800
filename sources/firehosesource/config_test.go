package firehosesource

import (
	"context"
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
		PingInterval:      30 * time.Second,
		ReadTimeout:       60 * time.Second,
		ReconnectDelay:    time.Second,
		ReconnectMaxDelay: 30 * time.Second,
		MaxFrameBytes:     8 << 20,
		ShutdownDrain:     5 * time.Second,
	}, cfg, "relay_url and cursor_save_interval default to the global relay settings")
}

func TestConfigDecodingIsStrict(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	err := pipeline.Decode(map[string]any{"ping_intervall": "1s"}, cfg, "pipeline.sources[0].config")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"pipeline.sources[0].config.ping_intervall"`)

	require.NoError(t, pipeline.Decode(map[string]any{"relay_url": "http://127.0.0.1:1", "read_timeout": "90s"}, cfg, "x"))
	assert.Equal(t, 90*time.Second, cfg.ReadTimeout)
	assert.Equal(t, "http://127.0.0.1:1", cfg.RelayURL)
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(*Config)
	}{
		{"relay_url", func(c *Config) { c.RelayURL = "ws://relay" }},
		{"ping_interval", func(c *Config) { c.PingInterval = 0 }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = c.PingInterval }},
		{"reconnect_delay", func(c *Config) { c.ReconnectDelay = -time.Second }},
		{"reconnect_max_delay", func(c *Config) { c.ReconnectMaxDelay = c.ReconnectDelay / 2 }},
		{"cursor_save_interval", func(c *Config) { c.CursorSaveInterval = -1 }},
		{"shutdown_drain", func(c *Config) { c.ShutdownDrain = -1 }},
		{"max_frame_bytes", func(c *Config) { c.MaxFrameBytes = 0 }},
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

func TestCreateNeedsResources(t *testing.T) {
	f := NewFactory()
	submit := func(context.Context, *pipeline.Event) error { return nil }
	set := pipeline.Settings{ID: pipeline.ID{Type: Type}}
	_, err := f.Create(t.Context(), set, f.CreateDefaultConfig(), submit)
	assert.ErrorContains(t, err, "config.Config")

	set.Resources = []any{&config.Config{}}
	_, err = f.Create(t.Context(), set, f.CreateDefaultConfig(), submit)
	assert.ErrorContains(t, err, "store.DB")
}

func TestSettingsComeFromGlobalConfig(t *testing.T) {
	db := storetest.OpenSQLite(t)
	g := &config.Config{Relay: config.RelayConfig{URL: "http://127.0.0.1:9", NoReplay: true, CursorSaveInterval: 7 * time.Second}}
	src := newTestSource(t, testConfig(), g, db, func(context.Context, *pipeline.Event) error { return nil })
	assert.Equal(t, "http://127.0.0.1:9", src.relayURL)
	assert.Equal(t, 7*time.Second, src.saveEvery)
	assert.True(t, src.noReplay)

	cfg := testConfig()
	cfg.RelayURL, cfg.CursorSaveInterval = "https://other.example", time.Minute
	src = newTestSource(t, cfg, g, db, func(context.Context, *pipeline.Event) error { return nil })
	assert.Equal(t, "https://other.example", src.relayURL)
	assert.Equal(t, time.Minute, src.saveEvery)
}

func TestCreateNeedsARelayURL(t *testing.T) {
	db := storetest.OpenSQLite(t)
	set := pipeline.Settings{ID: pipeline.ID{Type: Type}, Resources: []any{&config.Config{}, db}}
	submit := func(context.Context, *pipeline.Event) error { return nil }
	_, err := NewFactory().Create(t.Context(), set, testConfig(), submit)
	assert.ErrorContains(t, err, "relay.url")

	set.Resources = []any{&config.Config{Outbox: config.OutboxConfig{Only: true}}, db}
	_, err = NewFactory().Create(t.Context(), set, testConfig(), submit)
	assert.NoError(t, err, "outbox-only mode needs no relay")
}
