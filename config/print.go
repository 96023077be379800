package config

import (
	"net/url"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
)

// Redacted replaces secrets in printed configuration.
const Redacted = "<redacted>"

// YAML returns the merged configuration as YAML with secrets replaced by
// Redacted: every non-empty value whose key names a password, secret, token
// or basic_auth (component configs included), and any password in a URL.
func (l *Loaded) YAML() ([]byte, error) {
	return yaml.Parser().Marshal(redact(l.k.Raw()).(map[string]any))
}

// redact replaces, in place, the secrets of v (a tree of maps, lists and
// scalars) and returns it.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if isSecretKey(k) && x != nil && x != "" {
				t[k] = Redacted
			} else {
				t[k] = redact(x)
			}
		}
	case []any:
		for i, x := range t {
			t[i] = redact(x)
		}
	case string:
		if strings.Contains(t, "://") {
			return RedactURL(t)
		}
	}
	return v
}

// isSecretKey reports whether a configuration key names a secret.
func isSecretKey(key string) bool {
	last := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "token", "basic_auth"} {
		if strings.Contains(last, s) {
			return true
		}
	}
	return false
}

// RedactURL hides the password of a URL with user info (as "xxxxx"); other
// URLs are returned unchanged. A string with "://" that url.Parse rejects
// (a bad %-escape, say) still has everything between the first ":" of its
// user info and the last "@" hidden, since it may be a mistyped password.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactUserinfo(s)
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}

// redactUserinfo hides the password of "scheme://user:password@rest"
// without parsing it as a URL.
func redactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return s
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
