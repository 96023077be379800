// Package config is tap's service configuration: the embedded defaults
// (tap.yaml), the layering of a --config file, TAP_* environment variables
// and flags over them, strict decoding and validation.
package config

import (
	"time"

	"github.com/tapkit/tap/pipeline"
)

// Config is the whole configuration; see tap.yaml for every key's meaning.
type Config struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `koanf:"log_level"`
	// Env is unused; kept for compatibility.
	Env         string            `koanf:"env"`
	Server      ServerConfig      `koanf:"server"`
	Database    DatabaseConfig    `koanf:"database"`
	Relay       RelayConfig       `koanf:"relay"`
	Identity    IdentityConfig    `koanf:"identity"`
	Scope       ScopeConfig       `koanf:"scope"`
	Collections CollectionsConfig `koanf:"collections"`
	Backfill    BackfillConfig    `koanf:"backfill"`
	Outbox      OutboxConfig      `koanf:"outbox"`
	Delivery    DeliveryConfig    `koanf:"delivery"`
	Pipeline    pipeline.Config   `koanf:"pipeline"`
}

// ServerConfig is the HTTP API server.
type ServerConfig struct {
	// Bind is the API's listen address (host:port).
	Bind string `koanf:"bind"`
	// AdminPassword enables Basic auth (user "admin") on every route; empty
	// means no auth.
	AdminPassword string `koanf:"admin_password"`
	// MetricsListen is the address of /metrics and /debug/pprof/; empty
	// means off. An address other than Bind opens a separate server without
	// auth, as the reference Tap does (bind it to a private interface); the
	// same string as Bind serves them on the API's listener, behind
	// AdminPassword like every other route.
	MetricsListen string `koanf:"metrics_listen"`
	// MaxBodyBytes bounds request bodies, in bytes.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// ReadHeaderTimeout is how long a client may take to send a request's
	// headers before its connection is closed (slow-header clients); > 0.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadBodyTimeout is how long a handler waits for a request's body
	// (/repos/add, /repos/remove, /repos/resync, PUT /config/*) before
	// answering 408 (slow-body clients); > 0.
	ReadBodyTimeout time.Duration `koanf:"read_body_timeout"`
}

// DatabaseConfig is the store.
type DatabaseConfig struct {
	// URL is sqlite://PATH, postgres://… or postgresql://….
	URL string `koanf:"url"`
	// MaxConns is the Postgres pool size; ignored for SQLite.
	MaxConns int `koanf:"max_conns"`
}

// RelayConfig is the relay tap follows.
type RelayConfig struct {
	// URL is the relay's http(s) base URL.
	URL string `koanf:"url"`
	// NoReplay ignores the saved cursor and connects at the live head.
	NoReplay bool `koanf:"no_replay"`
	// CursorSaveInterval is how often the firehose cursor is saved (> 0).
	CursorSaveInterval time.Duration `koanf:"cursor_save_interval"`
}

// IdentityConfig is identity resolution.
type IdentityConfig struct {
	// PLCURL is the PLC directory's http(s) base URL.
	PLCURL string `koanf:"plc_url"`
	// CacheSize is how many identities are cached (> 0).
	CacheSize int `koanf:"cache_size"`
	// DNSResolver, when set, is the host:port of the DNS server used for
	// handle resolution instead of the system's (private networks, tests).
	DNSResolver string `koanf:"dns_resolver"`
}

// ScopeConfig is the network boundary.
type ScopeConfig struct {
	// FullNetwork tracks every repo on the network.
	FullNetwork bool `koanf:"full_network"`
	// SignalCollection tracks every repo with records in this NSID; empty
	// means off.
	SignalCollection string `koanf:"signal_collection"`
}

// CollectionsConfig is the collection filter.
type CollectionsConfig struct {
	// Filters are NSIDs, NSID prefixes ending in ".*", or "*"; empty means
	// every collection.
	Filters []string `koanf:"filters"`
}

// BackfillConfig is repo backfill (resync).
type BackfillConfig struct {
	// Parallelism is how many repos are backfilled at once (≥ 1).
	Parallelism int `koanf:"parallelism"`
	// RepoFetchTimeout bounds one getRepo download (> 0).
	RepoFetchTimeout time.Duration `koanf:"repo_fetch_timeout"`
}

// OutboxConfig is the durable outbox.
type OutboxConfig struct {
	// Parallelism is the number of delivery workers (≥ 1).
	Parallelism int `koanf:"parallelism"`
	// Capacity is how many events are held in memory awaiting delivery.
	Capacity int `koanf:"capacity"`
	// Only delivers the outbox and runs no ingestion.
	Only bool `koanf:"only"`
}

// DeliveryConfig is how events leave tap.
type DeliveryConfig struct {
	// DisableAcks makes websocket delivery fire-and-forget.
	DisableAcks bool `koanf:"disable_acks"`
	// RetryTimeout is how long an unacked websocket event waits before
	// being sent again (> 0).
	RetryTimeout time.Duration `koanf:"retry_timeout"`
	// WebhookURL, when set, switches delivery to HTTP POSTs to this URL.
	WebhookURL string `koanf:"webhook_url"`
}
