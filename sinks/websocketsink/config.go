package websocketsink

import (
	"errors"
	"fmt"
	"time"

	"github.com/tapkit/tap/config"
)

// Config is the websocket sink's configuration (pipeline.sinks[].config of
// a "websocket" sink).
type Config struct {
	// DisableAcks overrides delivery.disable_acks for this sink: true is
	// fire-and-forget (an event is delivered once its frame is written),
	// false waits for the client's {"type":"ack","id":N}. Unset (null) means
	// the global setting.
	DisableAcks *bool `koanf:"disable_acks"`
	// RetryTimeout is how long an unacked event waits after its last send
	// before it is sent again, possibly to another client (ack mode only).
	// 0 means delivery.retry_timeout (DefaultRetryTimeout without one).
	RetryTimeout time.Duration `koanf:"retry_timeout"`
	// PingInterval is how often the server pings each client. Default
	// DefaultPingInterval (20 s); must be positive and below pong_timeout.
	PingInterval time.Duration `koanf:"ping_interval"`
	// PongTimeout is the read deadline: a client from which nothing (no
	// frame, no pong) arrived for this long is dropped and its unacked
	// events are sent to other clients. Default DefaultPongTimeout (60 s).
	PongTimeout time.Duration `koanf:"pong_timeout"`
	// WriteTimeout bounds the write of one frame; a client that does not
	// take a frame within it is dropped. Default DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// SendQueue is how many events one connection takes from the shared
	// queue at a time (frames it holds before writing them). Small keeps
	// sharding fair and a slow client from holding much. Default
	// DefaultSendQueue (16); must be at least 1.
	SendQueue int `koanf:"send_queue"`
	// MaxUnacked is how many events one connection may hold unacked (sent
	// or about to be) in ack mode. A connection at the limit takes nothing
	// more until its acks bring it send_queue below, so a client that
	// stopped reading or acking pins at most this many events while the
	// others carry on. Default DefaultMaxUnacked (256); at least
	// send_queue.
	MaxUnacked int `koanf:"max_unacked"`
}

// Validate checks the configuration, naming the offending key.
func (c *Config) Validate() error {
	var errs []error
	if c.RetryTimeout < 0 {
		errs = append(errs, errors.New("retry_timeout: must not be negative (0 means delivery.retry_timeout)"))
	}
	for _, f := range []struct {
		key string
		val time.Duration
	}{
		{"ping_interval", c.PingInterval},
		{"pong_timeout", c.PongTimeout},
		{"write_timeout", c.WriteTimeout},
	} {
		if f.val <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be a positive duration (got %s)", f.key, f.val))
		}
	}
	if c.PingInterval > 0 && c.PongTimeout > 0 && c.PongTimeout <= c.PingInterval {
		errs = append(errs, fmt.Errorf("pong_timeout: must be longer than ping_interval (%s <= %s)",
			c.PongTimeout, c.PingInterval))
	}
	if c.SendQueue < 1 {
		errs = append(errs, fmt.Errorf("send_queue: must be at least 1 (got %d)", c.SendQueue))
	}
	if c.MaxUnacked < 0 || (c.MaxUnacked > 0 && c.MaxUnacked < c.SendQueue) {
		errs = append(errs, fmt.Errorf("max_unacked: must be at least send_queue (%d), or 0 for the default (got %d)",
			c.SendQueue, c.MaxUnacked))
	}
	return errors.Join(errs...)
}

// Resolve returns c with the settings it leaves to the global delivery
// configuration filled in: disable_acks when unset, retry_timeout when 0.
func (c Config) Resolve(global config.DeliveryConfig) Config {
	if c.DisableAcks == nil {
		v := global.DisableAcks
		c.DisableAcks = &v
	}
	if c.RetryTimeout == 0 {
		c.RetryTimeout = global.RetryTimeout
	}
	return c
}

// settings are the values a running sink uses, with every default applied.
type settings struct {
	disableAcks  bool
	retryTimeout time.Duration
	pingInterval time.Duration
	pongTimeout  time.Duration
	writeTimeout time.Duration
	sendQueue    int
	maxUnacked   int
}

// settings applies the defaults to whatever c leaves unset or invalid, so
// that New never runs with a zero interval.
func (c Config) settings() settings {
	s := settings{
		disableAcks:  c.DisableAcks != nil && *c.DisableAcks,
		retryTimeout: orDefault(c.RetryTimeout, DefaultRetryTimeout),
		pingInterval: orDefault(c.PingInterval, DefaultPingInterval),
		pongTimeout:  orDefault(c.PongTimeout, DefaultPongTimeout),
		writeTimeout: orDefault(c.WriteTimeout, DefaultWriteTimeout),
		sendQueue:    c.SendQueue,
		maxUnacked:   c.MaxUnacked,
	}
	if s.sendQueue < 1 {
		s.sendQueue = DefaultSendQueue
	}
	if s.maxUnacked < 1 {
		s.maxUnacked = DefaultMaxUnacked
	}
	s.maxUnacked = max(s.maxUnacked, s.sendQueue)
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
