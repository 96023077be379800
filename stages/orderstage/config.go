package orderstage

import (
	"fmt"
	"time"
)

// Config is the order stage's configuration (pipeline.stages[].config of the "order" stage).
type Config struct {
	// MaxBatchEvents caps the events committed in one transaction; it is also the capacity of
	// the queue in front of the committer. Default DefaultMaxBatchEvents; must be at least 1.
	MaxBatchEvents int `koanf:"max_batch_events"`
	// MaxBatchRows caps the row writes (record index rows, outbox rows, repo rows) of one
	// transaction; a single event with more rows still commits, alone. Default
	// DefaultMaxBatchRows; must be at least 1.
	MaxBatchRows int `koanf:"max_batch_rows"`
	// IDBlockSize is how many event ids are reserved in tap_meta at a time: one tap_meta write
	// per block instead of one per event, at the cost of skipping the rest of the block on
	// restart. Default DefaultIDBlockSize; must be at least 1.
	IDBlockSize int `koanf:"id_block_size"`

	// Capacity bounds the events held in memory awaiting delivery (pending or in flight);
	// while it is reached, commits wait (back-pressure up to the firehose). 0 means
	// outbox.capacity (TAP_OUTBOX_CAPACITY), or DefaultCapacity without a service
	// configuration. Must not be negative.
	Capacity int `koanf:"capacity"`
	// Parallelism scales the delivery concurrency: each sink gets up to
	// DefaultBatchesPerWorker × Parallelism concurrent Deliver calls unless
	// max_in_flight_batches says otherwise. 0 means outbox.parallelism
	// (TAP_OUTBOX_PARALLELISM), or 1. Must not be negative.
	Parallelism int `koanf:"parallelism"`
	// SinkBatch caps the events given to one Sink.Deliver call (events). Default
	// DefaultSinkBatch; must be at least 1.
	SinkBatch int `koanf:"sink_batch"`
	// MaxInFlightBatches caps the concurrent Deliver calls per sink. 0 means
	// DefaultBatchesPerWorker × parallelism. Must not be negative.
	MaxInFlightBatches int `koanf:"max_in_flight_batches"`
	// DeleteBatch is how many acked event ids are collected before their outbox rows are
	// deleted in one transaction (ids). Default DefaultDeleteBatch; must be at least 1.
	DeleteBatch int `koanf:"delete_batch"`
	// DeleteInterval is the longest an acked event's row waits for its delete (and the pause
	// after a failed delete). Default DefaultDeleteInterval; must be positive.
	DeleteInterval time.Duration `koanf:"delete_interval"`
	// FollowInterval is how often an outbox-only process (outbox.only) looks for rows other
	// processes committed. Default DefaultFollowInterval; must be positive.
	FollowInterval time.Duration `koanf:"follow_interval"`
	// RetryMin is the first delay before a failed delivery is retried; it doubles (with
	// jitter) up to RetryMax. Default DefaultRetryMin; must be positive.
	RetryMin time.Duration `koanf:"retry_min"`
	// RetryMax caps the delay between retries of a failed delivery, and is the delay after a
	// pipeline.Permanent error. Default DefaultRetryMax; must be at least retry_min.
	RetryMax time.Duration `koanf:"retry_max"`
}

// Validate checks the configuration, naming the offending key.
func (c *Config) Validate() error {
	for _, f := range []struct {
		key      string
		val, min int
	}{
		{"max_batch_events", c.MaxBatchEvents, 1},
		{"max_batch_rows", c.MaxBatchRows, 1},
		{"id_block_size", c.IDBlockSize, 1},
		{"capacity", c.Capacity, 0},
		{"parallelism", c.Parallelism, 0},
		{"sink_batch", c.SinkBatch, 1},
		{"max_in_flight_batches", c.MaxInFlightBatches, 0},
		{"delete_batch", c.DeleteBatch, 1},
	} {
		if f.val < f.min {
			return fmt.Errorf("%s must be at least %d (got %d)", f.key, f.min, f.val)
		}
	}
	for _, f := range []struct {
		key string
		val time.Duration
	}{
		{"delete_interval", c.DeleteInterval},
		{"follow_interval", c.FollowInterval},
		{"retry_min", c.RetryMin},
		{"retry_max", c.RetryMax},
	} {
		if f.val <= 0 {
			return fmt.Errorf("%s must be positive (got %s)", f.key, f.val)
		}
	}
	if c.RetryMax < c.RetryMin {
		return fmt.Errorf("retry_max (%s) must be at least retry_min (%s)", c.RetryMax, c.RetryMin)
	}
	return nil
}

// withDefaults returns c with every zero field that has a default set to it; capacity and
// parallelism fall back to the built-in defaults (the factory fills them from the service
// configuration first).
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	c.MaxBatchEvents = cmpOr(c.MaxBatchEvents, def.MaxBatchEvents)
	c.MaxBatchRows = cmpOr(c.MaxBatchRows, def.MaxBatchRows)
	c.IDBlockSize = cmpOr(c.IDBlockSize, def.IDBlockSize)
	c.Capacity = cmpOr(c.Capacity, DefaultCapacity)
	c.Parallelism = cmpOr(c.Parallelism, 1)
	c.SinkBatch = cmpOr(c.SinkBatch, def.SinkBatch)
	c.MaxInFlightBatches = cmpOr(c.MaxInFlightBatches, DefaultBatchesPerWorker*c.Parallelism)
	c.DeleteBatch = cmpOr(c.DeleteBatch, def.DeleteBatch)
	c.DeleteInterval = cmpOr(c.DeleteInterval, def.DeleteInterval)
	c.FollowInterval = cmpOr(c.FollowInterval, def.FollowInterval)
	c.RetryMin = cmpOr(c.RetryMin, def.RetryMin)
	c.RetryMax = max(cmpOr(c.RetryMax, def.RetryMax), c.RetryMin)
	return c
}

// cmpOr returns v, or def when v is not positive.
func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
