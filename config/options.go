package config

// Kind is the type of an option's value.
type Kind int

// The option kinds.
const (
	KindString Kind = iota
	KindBool
	KindInt
	KindDuration
	KindStringList
)

// Option maps one configuration key to the flag and environment variables
// of the reference Tap that set it.
type Option struct {
	// Key is the configuration key, dotted ("server.bind").
	Key string
	// Flag is the command-line flag, without dashes.
	Flag string
	// Env are the environment variables, checked in order; the first one
	// set (and not empty) wins.
	Env []string
	// Kind is the value's type.
	Kind Kind
	// Usage is the flag's help text.
	Usage string
}

// Options lists every flag and environment variable tap reads.
var Options = []Option{
	{"env", "env", []string{"TAP_ENV"}, KindString, "unused; accepted for compatibility"},
	{"database.url", "db-url", []string{"TAP_DATABASE_URL"}, KindString, "database URL: sqlite://PATH or postgres://..."},
	{"database.max_conns", "max-db-conn", []string{"TAP_MAX_DB_CONNS"}, KindInt, "Postgres connection pool size"},
	{"server.bind", "bind", []string{"TAP_BIND"}, KindString, "HTTP API listen address"},
	{"identity.plc_url", "plc-url", []string{"TAP_PLC_URL", "ATP_PLC_HOST"}, KindString, "PLC directory URL"},
	{"relay.url", "relay-url", []string{"TAP_RELAY_URL"}, KindString, "relay URL (firehose and repo listing)"},
	{"pipeline.lanes", "firehose-parallelism", []string{"TAP_FIREHOSE_PARALLELISM"}, KindInt, "repos whose events are processed at once"},
	{"backfill.parallelism", "resync-parallelism", []string{"TAP_RESYNC_PARALLELISM"}, KindInt, "repos backfilled at once"},
	{"outbox.parallelism", "outbox-parallelism", []string{"TAP_OUTBOX_PARALLELISM"}, KindInt, "delivery workers"},
	{"relay.cursor_save_interval", "cursor-save-interval", []string{"TAP_CURSOR_SAVE_INTERVAL"}, KindDuration, "how often the firehose cursor is saved"},
	{"relay.no_replay", "no-replay", []string{"TAP_NO_REPLAY"}, KindBool, "ignore the saved firehose cursor"},
	{"backfill.repo_fetch_timeout", "repo-fetch-timeout", []string{"TAP_REPO_FETCH_TIMEOUT"}, KindDuration, "timeout of one repo download"},
	{"identity.cache_size", "ident-cache-size", []string{"TAP_IDENT_CACHE_SIZE", "RELAY_IDENT_CACHE_SIZE"}, KindInt, "identities cached"},
	{"identity.dns_resolver", "ident-dns-resolver", []string{"TAP_IDENT_DNS_RESOLVER"}, KindString, "DNS server (host:port) for handle resolution; for private networks and tests"},
	{"outbox.capacity", "outbox-capacity", []string{"TAP_OUTBOX_CAPACITY"}, KindInt, "events held in memory awaiting delivery"},
	{"scope.full_network", "full-network", []string{"TAP_FULL_NETWORK"}, KindBool, "track every repo on the network"},
	{"scope.signal_collection", "signal-collection", []string{"TAP_SIGNAL_COLLECTION"}, KindString, "track repos with records in this collection"},
	{"delivery.disable_acks", "disable-acks", []string{"TAP_DISABLE_ACKS"}, KindBool, "fire-and-forget websocket delivery"},
	{"delivery.webhook_url", "webhook-url", []string{"TAP_WEBHOOK_URL"}, KindString, "deliver events by POST to this URL"},
	{"collections.filters", "collection-filters", []string{"TAP_COLLECTION_FILTERS"}, KindStringList, "collections to deliver (NSID, prefix.*, or *); repeatable or comma separated"},
	{"outbox.only", "outbox-only", []string{"TAP_OUTBOX_ONLY"}, KindBool, "only deliver the outbox: no firehose, crawler or backfill"},
	{"server.admin_password", "admin-password", []string{"TAP_ADMIN_PASSWORD"}, KindString, "admin password for Basic auth on every route"},
	{"delivery.retry_timeout", "retry-timeout", []string{"TAP_RETRY_TIMEOUT"}, KindDuration, "redelivery timeout of unacked websocket events"},
	{"log_level", "log-level", []string{"TAP_LOG_LEVEL", "LOG_LEVEL"}, KindString, "log level: debug, info, warn, error"},
	{"server.metrics_listen", "metrics-listen", []string{"TAP_METRICS_LISTEN"}, KindString, "listen address of /metrics and /debug/pprof; empty: off"},
}
