package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

// defaults are the reference Tap's defaults (spec B§1) plus ours.
var defaults = Config{
	LogLevel:    "info",
	Env:         "dev",
	Server:      ServerConfig{Bind: ":2480", MaxBodyBytes: 16 << 20, ReadHeaderTimeout: 10 * time.Second, ReadBodyTimeout: time.Minute},
	Database:    DatabaseConfig{URL: "sqlite://./tap.db", MaxConns: 32},
	Relay:       RelayConfig{URL: "https://relay1.us-east.bsky.network", CursorSaveInterval: time.Second},
	Identity:    IdentityConfig{PLCURL: "https://plc.directory", CacheSize: 2_000_000},
	Collections: CollectionsConfig{Filters: []string{}},
	Backfill:    BackfillConfig{Parallelism: 5, RepoFetchTimeout: 300 * time.Second},
	Outbox:      OutboxConfig{Parallelism: 1, Capacity: 100_000},
	Delivery:    DeliveryConfig{RetryTimeout: 60 * time.Second},
	Pipeline: pipeline.Config{Lanes: 10, QueueCapacity: 10_000,
		Sources: []pipeline.ComponentConfig{{ID: "firehose"}, {ID: "crawler"}},
		Stages: []pipeline.ComponentConfig{{ID: "filter/scope"}, {ID: "backfill"}, {ID: "verify"},
			{ID: "filter/collections"}, {ID: "order"}},
		Sinks: []pipeline.ComponentConfig{}},
}

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEmptyConfigIsDefaults(t *testing.T) {
	l, err := Load(Sources{LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, defaults, l.Config)
}

func TestTapYAMLIsDefaults(t *testing.T) {
	l, err := Load(Sources{File: "tap.yaml", LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, defaults, l.Config)

	empty := t.TempDir() + "/empty.yaml"
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	l, err = Load(Sources{File: empty, LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, defaults, l.Config)
}

// referenceEnv lists every environment variable of the reference Tap
// (spec B§1) with a non-default value and the key it must set.
var referenceEnv = []struct{ env, value, key string }{
	{"TAP_ENV", "prod", "env"},
	{"TAP_DATABASE_URL", "postgres://u@127.0.0.1/db", "database.url"},
	{"TAP_MAX_DB_CONNS", "7", "database.max_conns"},
	{"TAP_BIND", "127.0.0.1:0", "server.bind"},
	{"TAP_PLC_URL", "http://127.0.0.1:1", "identity.plc_url"},
	{"ATP_PLC_HOST", "http://127.0.0.1:2", "identity.plc_url"},
	{"TAP_RELAY_URL", "http://127.0.0.1:3", "relay.url"},
	{"TAP_FIREHOSE_PARALLELISM", "3", "pipeline.lanes"},
	{"TAP_RESYNC_PARALLELISM", "4", "backfill.parallelism"},
	{"TAP_OUTBOX_PARALLELISM", "2", "outbox.parallelism"},
	{"TAP_CURSOR_SAVE_INTERVAL", "5s", "relay.cursor_save_interval"},
	{"TAP_NO_REPLAY", "true", "relay.no_replay"},
	{"TAP_REPO_FETCH_TIMEOUT", "1m", "backfill.repo_fetch_timeout"},
	{"TAP_IDENT_CACHE_SIZE", "10", "identity.cache_size"},
	{"RELAY_IDENT_CACHE_SIZE", "11", "identity.cache_size"},
	{"TAP_IDENT_DNS_RESOLVER", "127.0.0.1:5353", "identity.dns_resolver"},
	{"TAP_OUTBOX_CAPACITY", "50", "outbox.capacity"},
	{"TAP_FULL_NETWORK", "1", "scope.full_network"},
	{"TAP_SIGNAL_COLLECTION", "app.bsky.feed.post", "scope.signal_collection"},
	{"TAP_DISABLE_ACKS", "t", "delivery.disable_acks"},
	{"TAP_WEBHOOK_URL", "http://127.0.0.1:4/hook", "delivery.webhook_url"},
	{"TAP_COLLECTION_FILTERS", " app.bsky.feed.post , app.bsky.graph.* ", "collections.filters"},
	{"TAP_OUTBOX_ONLY", "TRUE", "outbox.only"},
	{"TAP_ADMIN_PASSWORD", "s3cret", "server.admin_password"},
	{"TAP_RETRY_TIMEOUT", "90s", "delivery.retry_timeout"},
	{"TAP_LOG_LEVEL", "debug", "log_level"},
	{"LOG_LEVEL", "warn", "log_level"},
	{"TAP_METRICS_LISTEN", "127.0.0.1:0", "server.metrics_listen"},
}

func TestEveryEnvVarMapsToItsKey(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range referenceEnv {
		t.Run(tc.env, func(t *testing.T) {
			l, err := Load(Sources{LookupEnv: envOf(map[string]string{tc.env: tc.value})})
			require.NoError(t, err)
			got := l.k.Get(koanfKey(tc.key))
			want, err := parseValue(optionFor(t, tc.key).Kind, tc.value)
			require.NoError(t, err)
			if list, ok := want.([]any); ok {
				require.ElementsMatch(t, list, got)
			} else {
				require.Equal(t, want, got)
			}
			require.NotEqual(t, defaultOf(t, tc.key), got, "test value must differ from the default")
		})
		covered[tc.env] = true
	}
	for _, o := range Options {
		for _, e := range o.Env {
			require.True(t, covered[e], "%s has no test", e)
		}
	}
}

func optionFor(t *testing.T, key string) Option {
	for _, o := range Options {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no option for %s", key)
	return Option{}
}

func defaultOf(t *testing.T, key string) any {
	l, err := Load(Sources{LookupEnv: noEnv})
	require.NoError(t, err)
	return l.k.Get(koanfKey(key))
}

func TestEnvAliasesFirstWins(t *testing.T) {
	l, err := Load(Sources{LookupEnv: envOf(map[string]string{
		"TAP_IDENT_CACHE_SIZE": "10", "RELAY_IDENT_CACHE_SIZE": "20",
		"TAP_PLC_URL": "http://127.0.0.1:1", "ATP_PLC_HOST": "http://127.0.0.1:2",
		"TAP_LOG_LEVEL": "", "LOG_LEVEL": "error", // empty counts as unset
	})})
	require.NoError(t, err)
	require.Equal(t, 10, l.Identity.CacheSize)
	require.Equal(t, "http://127.0.0.1:1", l.Identity.PLCURL)
	require.Equal(t, "error", l.LogLevel)
}

func TestLayering(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--bind", "127.0.0.1:9", "--collection-filters", "a.b.c", "--collection-filters=d.e.*", "--no-replay", "--retry-timeout=2s"}))
	l, err := Load(Sources{File: "testdata/override.yaml", Flags: fs, LookupEnv: envOf(map[string]string{
		"TAP_BIND": "127.0.0.1:8", "TAP_RESYNC_PARALLELISM": "9", "TAP_OUTBOX_CAPACITY": "3",
	})})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9", l.Server.Bind, "flag beats env beats file")
	require.Equal(t, 9, l.Backfill.Parallelism, "env beats file")
	require.Equal(t, 3, l.Outbox.Capacity)
	require.Equal(t, []string{"a.b.c", "d.e.*"}, l.Collections.Filters, "flag repeatable, replaces file")
	require.True(t, l.Relay.NoReplay)
	require.Equal(t, 2*time.Second, l.Delivery.RetryTimeout)
	require.Equal(t, 10, l.Pipeline.Lanes, "untouched keys keep defaults")
}

func TestTypoFileFailsNamingTheKey(t *testing.T) {
	_, err := Load(Sources{File: "testdata/typo.yaml", LookupEnv: noEnv})
	require.EqualError(t, err, `config file testdata/typo.yaml: unknown key "server.bnid"`)
	_, err = Load(Sources{File: "testdata/wrongtype.yaml", LookupEnv: noEnv})
	require.ErrorContains(t, err, `"database.max_conns": expected type 'int'`)
	_, err = Load(Sources{File: "testdata/missing.yaml", LookupEnv: noEnv})
	require.ErrorContains(t, err, "config file testdata/missing.yaml")
}

func TestBadEnvValues(t *testing.T) {
	for env, want := range map[string]string{
		"TAP_NO_REPLAY":            `environment variable TAP_NO_REPLAY (relay.no_replay): invalid boolean "yes please"`,
		"TAP_MAX_DB_CONNS":         `environment variable TAP_MAX_DB_CONNS (database.max_conns): invalid integer "yes please"`,
		"TAP_CURSOR_SAVE_INTERVAL": `invalid duration "yes please"`,
	} {
		_, err := Load(Sources{LookupEnv: envOf(map[string]string{env: "yes please"})})
		require.ErrorContains(t, err, want)
	}
	_, err := Load(Sources{LookupEnv: envOf(map[string]string{"TAP_RETRY_TIMEOUT": "60"})})
	require.ErrorContains(t, err, `invalid duration "60"`, "a bare number is not a duration, as in the reference")
}

func TestValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"relay scheme":      {map[string]string{"TAP_RELAY_URL": "wss://relay"}, `relay.url: "wss://relay" must start with http:// or https://`},
		"plc scheme":        {map[string]string{"TAP_PLC_URL": "plc.directory"}, `identity.plc_url: "plc.directory" must start with http:// or https://`},
		"no replay + full":  {map[string]string{"TAP_NO_REPLAY": "true", "TAP_FULL_NETWORK": "true"}, `relay.no_replay cannot be used with scope.full_network`},
		"db scheme":         {map[string]string{"TAP_DATABASE_URL": "mysql://x"}, `database.url: unsupported database URL scheme: must start with sqlite://, postgres://, or postgresql://`},
		"zero interval":     {map[string]string{"TAP_CURSOR_SAVE_INTERVAL": "0s"}, `relay.cursor_save_interval: must be a positive duration`},
		"negative timeout":  {map[string]string{"TAP_RETRY_TIMEOUT": "-1s"}, `delivery.retry_timeout: must be a positive duration`},
		"fetch timeout":     {map[string]string{"TAP_REPO_FETCH_TIMEOUT": "0s"}, `backfill.repo_fetch_timeout: must be a positive duration`},
		"lanes":             {map[string]string{"TAP_FIREHOSE_PARALLELISM": "0"}, `pipeline.lanes: must be at least 1, got 0`},
		"resync":            {map[string]string{"TAP_RESYNC_PARALLELISM": "-2"}, `backfill.parallelism: must be at least 1`},
		"outbox":            {map[string]string{"TAP_OUTBOX_PARALLELISM": "0"}, `outbox.parallelism: must be at least 1`},
		"capacity":          {map[string]string{"TAP_OUTBOX_CAPACITY": "0"}, `outbox.capacity: must be at least 1`},
		"bad filter":        {map[string]string{"TAP_COLLECTION_FILTERS": "app.bsky.feed*"}, `collections.filters[0]: "app.bsky.feed*" is not an NSID`},
		"bad filter prefix": {map[string]string{"TAP_COLLECTION_FILTERS": "ok.a.b,app..*"}, `collections.filters[1]: "app..*" is not a valid collection prefix`},
		"bad signal":        {map[string]string{"TAP_SIGNAL_COLLECTION": "not an nsid"}, `scope.signal_collection:`},
		"bad webhook":       {map[string]string{"TAP_WEBHOOK_URL": "ftp://x"}, `delivery.webhook_url: "ftp://x" must start with http:// or https://`},
		"bad bind":          {map[string]string{"TAP_BIND": "2480"}, `server.bind: "2480" is not a host:port address`},
		"bad log level":     {map[string]string{"TAP_LOG_LEVEL": "loud"}, `log_level: "loud" is not one of debug, info, warn, error`},
		"bad dns":           {map[string]string{"TAP_IDENT_DNS_RESOLVER": "127.0.0.1"}, `identity.dns_resolver: "127.0.0.1" is not a host:port address`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(Sources{LookupEnv: envOf(tc.env)})
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Several problems are all reported at once.
	_, err := Load(Sources{LookupEnv: envOf(map[string]string{"TAP_FIREHOSE_PARALLELISM": "0", "TAP_OUTBOX_CAPACITY": "0"})})
	require.ErrorContains(t, err, "pipeline.lanes")
	require.ErrorContains(t, err, "outbox.capacity")
}

func TestGoodFilters(t *testing.T) {
	l, err := Load(Sources{LookupEnv: envOf(map[string]string{"TAP_COLLECTION_FILTERS": "*,app.bsky.*,app.bsky.feed.post,com.example.*"})})
	require.NoError(t, err)
	require.Equal(t, []string{"*", "app.bsky.*", "app.bsky.feed.post", "com.example.*"}, l.Collections.Filters)
}

func TestPrintYAMLRedactsSecrets(t *testing.T) {
	l, err := Load(Sources{LookupEnv: envOf(map[string]string{
		"TAP_ADMIN_PASSWORD": "hunter2", "TAP_DATABASE_URL": "postgres://tap:dbpass@127.0.0.1:5432/tap",
	})})
	require.NoError(t, err)
	out, err := l.YAML()
	require.NoError(t, err)
	s := string(out)
	require.NotContains(t, s, "hunter2")
	require.NotContains(t, s, "dbpass")
	require.Contains(t, s, "admin_password: "+Redacted)
	require.Contains(t, s, "postgres://tap:xxxxx@127.0.0.1:5432/tap")
	require.Contains(t, s, "bind: :2480")
	require.Equal(t, "hunter2", l.Server.AdminPassword, "only the printout is redacted")

	// Secrets inside component configs are redacted too.
	f0 := t.TempDir() + "/sinks.yaml"
	require.NoError(t, os.WriteFile(f0, []byte("pipeline:\n  sinks:\n    - id: webhook\n      config: {hmac_secret: s3kr1t, url: \"http://u:pw9@127.0.0.1/x\"}\n"), 0o600))
	l0, err := Load(Sources{File: f0, LookupEnv: noEnv})
	require.NoError(t, err)
	out0, err := l0.YAML()
	require.NoError(t, err)
	require.NotContains(t, string(out0), "s3kr1t")
	require.NotContains(t, string(out0), "pw9")

	// The printout is itself a valid config file that loads to the same values.
	l2, err := Load(Sources{LookupEnv: noEnv})
	require.NoError(t, err)
	out2, err := l2.YAML()
	require.NoError(t, err)
	f := t.TempDir() + "/printed.yaml"
	require.NoError(t, os.WriteFile(f, out2, 0o600))
	l3, err := Load(Sources{File: f, LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, l2.Config, l3.Config)
	require.True(t, strings.HasPrefix(s, "backfill:"), "keys are printed sorted")
}

func TestServerTimeoutsMustBePositive(t *testing.T) {
	file := t.TempDir() + "/tap.yaml"
	require.NoError(t, os.WriteFile(file, []byte("server:\n  read_header_timeout: 0s\n  read_body_timeout: -1s\n"), 0o600))
	_, err := Load(Sources{File: file, LookupEnv: noEnv})
	require.ErrorContains(t, err, "server.read_header_timeout: must be a positive duration")
	require.ErrorContains(t, err, "server.read_body_timeout: must be a positive duration")
}

// A malformed URL with a password is named in the error with the password hidden.
func TestValidationHidesURLPasswords(t *testing.T) {
	for _, env := range []map[string]string{
		{"TAP_WEBHOOK_URL": "http://hook:Pa55word@[::1"},
		{"TAP_WEBHOOK_URL": "ftp://hook:Pa55word@example.com/x"},
		{"TAP_WEBHOOK_URL": "http://hook:Pa55word%zz@example.com/x"},
		{"TAP_RELAY_URL": "wss://relay:Pa55word@example.com"},
		{"TAP_PLC_URL": "http://plc:Pa55word@"},
	} {
		_, err := Load(Sources{LookupEnv: envOf(env)})
		require.Error(t, err, env)
		require.NotContains(t, err.Error(), "Pa55word", env)
		require.Contains(t, err.Error(), "xxxxx", env)
	}
}
