package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzKeys are the configuration keys an error may name. Every Load error
// must mention one of them, a TAP_* variable, or the config file.
var fuzzKeys = []string{"log_level", "server.", "database.", "relay.", "identity.", "scope.",
	"collections.", "backfill.", "outbox.", "delivery.", "pipeline"}

// FuzzLoad loads an arbitrary YAML file with a few TAP_* variables set
// from the fuzzer's strings. Properties: Load never panics; it returns a
// config that passes Validate or an error naming the file, the variable or
// the key; the printed configuration (--print-config) never holds the admin
// password or a database URL password given in the input; and the printed
// YAML loads back to a config that prints identically and, when nothing
// was redacted, is equal.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(""), "", "", "", "")
	f.Add([]byte("server:\n  admin_password: Adm1nS3cretXYZ\ndatabase:\n  url: postgres://tap:DbPassS3cretXYZ@127.0.0.1:5432/tap\n"), "", "", "", "")
	f.Add([]byte("log_level: debug\n"), "EnvAdm1nS3cretXYZ", "postgresql://u:EnvDbS3cretXYZ@db/tap", "app.bsky.*,app.bsky.feed.post", "4")
	f.Add([]byte("pipeline:\n  sinks:\n    - id: webhook\n      config: {hmac_secret: HmacS3cretXYZ, url: \"http://u:HookS3cretXYZ@127.0.0.1/x\"}\n"), "", "", "", "")
	f.Add([]byte("server:\n  bnid: \":1\"\n"), "", "", "", "")
	f.Add([]byte("database:\n  max_conns: many\n"), "", "", "", "")
	f.Add([]byte("relay: {no_replay: true}\nscope: {full_network: true}\n"), "", "", "", "0")
	f.Add([]byte("collections:\n  filters: [\"*\", \"com.example.*\"]\n"), "x", "sqlite://./t.db", "bad filter", "-1")
	f.Add([]byte("- not\n- a map\n"), "", "mysql://root:MyS3cretXYZ@h/db", "", "")
	f.Add([]byte("database: {url: \"postgres://u:P%zzS3cretXYZ@h/db\"}\n"), "", "", "", "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte, admin, dbURL, filters, lanes string) {
		path := filepath.Join(dir, "tap.yaml")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"TAP_ADMIN_PASSWORD": admin, "TAP_DATABASE_URL": dbURL,
			"TAP_COLLECTION_FILTERS": filters, "TAP_FIREHOSE_PARALLELISM": lanes}
		l, err := Load(Sources{File: path, LookupEnv: envOf(env)})
		if err != nil {
			checkLoadError(t, err, path)
			return
		}
		if err := l.Config.Validate(); err != nil {
			t.Fatalf("Load returned a config that fails Validate: %v", err)
		}
		out, err := l.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		checkNoSecrets(t, out, l.Config, file, env)
		checkRoundTrip(t, l.Config, out, dir)
	})
}

func checkLoadError(t *testing.T, err error, path string) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "config file "+path) || strings.Contains(msg, "environment variable TAP_") {
		return
	}
	for _, k := range fuzzKeys {
		if strings.Contains(msg, k) {
			return
		}
	}
	t.Fatalf("error names no key, variable or file: %q", msg)
}

// secretsOf returns the secrets of c that are distinctive enough to search
// for: at least 8 bytes, and not found in any other input (where the
// fuzzer may have copied them as an ordinary value).
func secretsOf(c Config, file []byte, env map[string]string) []string {
	var out []string
	add := func(s string) {
		if len(s) < 8 || strings.Contains(Redacted, s) {
			return
		}
		n := strings.Count(string(file), s)
		for _, v := range env {
			n += strings.Count(v, s)
		}
		if n <= 1 {
			out = append(out, s)
		}
	}
	add(c.Server.AdminPassword)
	// The password of user:password@ in a database URL, found without
	// url.Parse so that URLs it rejects are covered too.
	if _, rest, ok := strings.Cut(c.Database.URL, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	return out
}

func checkNoSecrets(t *testing.T, out []byte, c Config, file []byte, env map[string]string) {
	t.Helper()
	for _, s := range secretsOf(c, file, env) {
		if bytes.Contains(out, []byte(s)) {
			t.Fatalf("printed config holds the secret %q:\n%s", s, out)
		}
	}
}

// checkRoundTrip loads the printed YAML as a config file and checks that it
// loads and prints the same bytes again. Secrets print redacted, so the
// reloaded Config differs from the first in them; the printout is the
// fixed point.
func checkRoundTrip(t *testing.T, first Config, out []byte, dir string) {
	t.Helper()
	path := filepath.Join(dir, "printed.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	l2, err := Load(Sources{File: path, LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out)
	}
	out2, err := l2.YAML()
	if err != nil {
		t.Fatalf("YAML of reloaded config: %v", err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("printed config does not round-trip:\n%s\n---\n%s", out, out2)
	}
	// Without redaction, the reloaded config equals the first one.
	if !bytes.Contains(out, []byte(Redacted)) && !bytes.Contains(out, []byte(":xxxxx@")) && !reflect.DeepEqual(first, l2.Config) {
		t.Fatalf("printed config reloads to a different config:\n%#v\n---\n%#v", first, l2.Config)
	}
}
