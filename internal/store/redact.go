package store

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces secrets in URLs and error messages (the same text as url.URL.Redacted).
const redacted = "xxxxx"

// RedactURL returns dbURL safe to log: the password of its user info and any "password"
// query parameter are replaced by "xxxxx". It also copes with URLs that net/url cannot
// parse, and returns URLs without secrets (such as sqlite://PATH) unchanged.
func RedactURL(dbURL string) string {
	out := dbURL
	for _, secret := range urlSecrets(dbURL) {
		out = strings.ReplaceAll(out, secret, redacted)
	}
	return out
}

// urlSecrets lists the password substrings of dbURL, raw and percent-decoded, longest first.
func urlSecrets(dbURL string) []string {
	var raw []string
	if pw := userinfoPassword(dbURL); pw != "" {
		raw = append(raw, pw)
	}
	raw = append(raw, queryPasswords(dbURL)...)
	var out []string
	for _, s := range raw {
		out = append(out, s)
		if dec, err := url.PathUnescape(s); err == nil && dec != s && dec != "" {
			out = append(out, dec)
		}
		if dec, err := url.QueryUnescape(s); err == nil && dec != s && dec != "" {
			out = append(out, dec)
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// userinfoPassword returns the raw password between "user:" and "@" of dbURL's authority,
// found by hand so that it also works on URLs net/url rejects.
func userinfoPassword(dbURL string) string {
	_, rest, ok := strings.Cut(dbURL, "://")
	if !ok {
		return ""
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		// An '@' may legally hide in an unescaped password before a '/': take the last '@'
		// of the whole remainder when the authority holds none.
		if !strings.Contains(rest[:end], "@") {
			end = len(rest)
		}
		rest = rest[:end]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return ""
	}
	return pw
}

// queryPasswords returns the raw values of "password" query parameters of dbURL.
func queryPasswords(dbURL string) []string {
	_, query, ok := strings.Cut(dbURL, "?")
	if !ok {
		return nil
	}
	query, _, _ = strings.Cut(query, "#")
	var out []string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, "password") && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// scrubbedError is an error whose message had the database password removed. It does not
// unwrap (the wrapped messages still hold the password) but answers errors.Is for the
// original chain, e.g. context.Canceled.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether the original error chain matches target.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }

// scrubError removes every secret of dbURL from err's message.
func scrubError(err error, dbURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, secret := range urlSecrets(dbURL) {
		clean = strings.ReplaceAll(clean, secret, redacted)
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}
