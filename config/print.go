package config

import (
	"net/url"

	"github.com/knadh/koanf/parsers/yaml"
)

// Redacted replaces secrets in printed configuration.
const Redacted = "<redacted>"

// YAML returns the merged configuration as YAML, with the admin password
// and any password in the database URL replaced by Redacted.
func (l *Loaded) YAML() ([]byte, error) {
	k := l.k.Copy()
	if l.Server.AdminPassword != "" {
		if err := k.Set(koanfKey("server.admin_password"), Redacted); err != nil {
			return nil, err
		}
	}
	if err := k.Set(koanfKey("database.url"), RedactURL(l.Database.URL)); err != nil {
		return nil, err
	}
	return k.Marshal(yaml.Parser())
}

// RedactURL hides the password of a URL with user info (as "xxxxx"); other
// URLs and strings that do not parse are returned unchanged.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}
