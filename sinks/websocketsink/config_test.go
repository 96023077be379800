package websocketsink_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/websocketsink"
)

const path = "pipeline.sinks[0].config"

// An empty configuration is the defaults, and they are valid.
func TestEmptyConfigIsDefault(t *testing.T) {
	cfg := websocketsink.DefaultConfig()
	require.NoError(t, pipeline.Decode(map[string]any{}, cfg, path))
	require.Equal(t, websocketsink.DefaultConfig(), cfg)
	require.NoError(t, cfg.Validate())
	require.Nil(t, cfg.DisableAcks, "acks follow delivery.disable_acks unless set")
	require.Zero(t, cfg.RetryTimeout, "retry timeout follows delivery.retry_timeout unless set")
}

func TestDecodeConfig(t *testing.T) {
	cfg := websocketsink.DefaultConfig()
	require.NoError(t, pipeline.Decode(map[string]any{
		"disable_acks": false, "retry_timeout": "5s", "ping_interval": "1s",
		"pong_timeout": "3s", "write_timeout": "2s", "send_queue": 4, "max_unacked": 40,
	}, cfg, path))
	require.Equal(t, &websocketsink.Config{
		DisableAcks: ptr(false), RetryTimeout: 5 * time.Second, PingInterval: time.Second,
		PongTimeout: 3 * time.Second, WriteTimeout: 2 * time.Second, SendQueue: 4, MaxUnacked: 40,
	}, cfg)

	err := pipeline.Decode(map[string]any{"ping_intervall": "1s"}, websocketsink.DefaultConfig(), path)
	require.ErrorContains(t, err, path+".ping_intervall")
	err = pipeline.Decode(map[string]any{"write_timeout": 10}, websocketsink.DefaultConfig(), path)
	require.ErrorContains(t, err, "write_timeout")
}

func TestValidateNamesTheKey(t *testing.T) {
	for key, mutate := range map[string]func(*websocketsink.Config){
		"retry_timeout": func(c *websocketsink.Config) { c.RetryTimeout = -time.Second },
		"ping_interval": func(c *websocketsink.Config) { c.PingInterval = 0 },
		"pong_timeout":  func(c *websocketsink.Config) { c.PongTimeout = c.PingInterval },
		"write_timeout": func(c *websocketsink.Config) { c.WriteTimeout = -1 },
		"send_queue":    func(c *websocketsink.Config) { c.SendQueue = 0 },
		"max_unacked":   func(c *websocketsink.Config) { c.MaxUnacked = c.SendQueue - 1 },
	} {
		cfg := websocketsink.DefaultConfig()
		mutate(cfg)
		require.ErrorContains(t, cfg.Validate(), key+":")
	}
}

// The sink's own settings win; unset ones come from delivery.*.
func TestResolve(t *testing.T) {
	global := config.DeliveryConfig{DisableAcks: true, RetryTimeout: 30 * time.Second}
	got := websocketsink.DefaultConfig().Resolve(global)
	require.Equal(t, ptr(true), got.DisableAcks)
	require.Equal(t, 30*time.Second, got.RetryTimeout)

	own := websocketsink.DefaultConfig()
	own.DisableAcks, own.RetryTimeout = ptr(false), time.Second
	got = own.Resolve(global)
	require.Equal(t, ptr(false), got.DisableAcks)
	require.Equal(t, time.Second, got.RetryTimeout)
}

// The factory builds the sink with the global configuration when the
// application provides it, and without it in tests.
func TestFactory(t *testing.T) {
	f := websocketsink.NewFactory()
	require.Equal(t, "websocket", f.Type)
	global := &config.Config{Delivery: config.DeliveryConfig{DisableAcks: true, RetryTimeout: time.Second}}
	for _, resources := range [][]any{{global}, nil} {
		set := pipeline.Settings{ID: pipeline.ID{Type: "websocket"}, Logger: slog.New(slog.DiscardHandler),
			Resources: resources}
		sink, err := f.Create(t.Context(), set, f.CreateDefaultConfig())
		require.NoError(t, err)
		require.Implements(t, (*interface{ Stats() websocketsink.Stats })(nil), sink)
		require.NoError(t, sink.Shutdown(t.Context()))
	}
	_, err := f.Create(t.Context(), pipeline.Settings{}, struct{}{})
	require.Error(t, err)
}
