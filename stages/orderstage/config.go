package orderstage

import "fmt"

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
}

// Validate checks the configuration, naming the offending key.
func (c *Config) Validate() error {
	for _, f := range []struct {
		key string
		val int
	}{
		{"max_batch_events", c.MaxBatchEvents},
		{"max_batch_rows", c.MaxBatchRows},
		{"id_block_size", c.IDBlockSize},
	} {
		if f.val < 1 {
			return fmt.Errorf("%s must be at least 1 (got %d)", f.key, f.val)
		}
	}
	return nil
}
