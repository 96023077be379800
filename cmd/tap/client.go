package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tapkit/tap/config"
)

// defaultTapURL is where the client commands look for tap without --url or TAP_URL.
const defaultTapURL = "http://127.0.0.1:2480"

// defaultClientTimeout bounds one API request of the client commands.
const defaultClientTimeout = 30 * time.Second

// maxErrorBody bounds how much of an error answer the client reads.
const maxErrorBody = 64 << 10

// clientOptions are the connection flags shared by the client commands
// (repos, stats, resolve, tail).
type clientOptions struct {
	url      string
	password string
	timeout  time.Duration
}

// addClientFlags registers --url, --admin-password and --timeout on fs,
// defaulting to TAP_URL and TAP_ADMIN_PASSWORD.
func addClientFlags(fs *pflag.FlagSet, o *clientOptions) {
	o.url = envOr("TAP_URL", defaultTapURL)
	o.password = os.Getenv("TAP_ADMIN_PASSWORD")
	fs.StringVar(&o.url, "url", o.url, "tap's base URL (TAP_URL)")
	fs.StringVar(&o.password, "admin-password", o.password, "admin password, sent as HTTP Basic user admin (TAP_ADMIN_PASSWORD)")
	fs.DurationVar(&o.timeout, "timeout", defaultClientTimeout, "timeout of each request")
}

// apiClient calls tap's HTTP API.
type apiClient struct {
	base     *url.URL
	shown    string // base with any password hidden, for messages
	password string
	http     *http.Client
}

// newClient checks the options and returns a client for them.
func (o clientOptions) newClient() (*apiClient, error) {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErrorf("--url: %q is not an http:// or https:// URL", config.RedactURL(o.url))
	}
	if o.timeout <= 0 {
		return nil, usageErrorf("--timeout: must be positive, got %s", o.timeout)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &apiClient{
		base:     u,
		shown:    config.RedactURL(u.String()),
		password: o.password,
		http:     &http.Client{Timeout: o.timeout},
	}, nil
}

// apiError is a non-2xx answer of tap.
type apiError struct {
	Method, URL string // URL has any password hidden
	Status      int
	Message     string // the server's "message", or the start of its body
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (set --admin-password or TAP_ADMIN_PASSWORD)"
	}
	return msg
}

// get calls GET path?query and decodes the JSON answer into out, or
// copies the raw body when out is a *[]byte.
func (c *apiClient) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

// post calls POST path with body encoded as JSON; the answer is discarded.
func (c *apiClient) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, nil, b, nil)
}

func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	shown := config.RedactURL(u.String())
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, shown, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.password != "" {
		req.SetBasicAuth("admin", c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message repeats the URL
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s %s: %w (is tap running at %s?)", method, shown, err, c.shown)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{Method: method, URL: shown, Status: resp.StatusCode, Message: errorMessage(resp.Body)}
	}
	switch out := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, resp.Body)
	case *[]byte:
		*out, err = io.ReadAll(resp.Body)
	default:
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, shown, err)
	}
	return nil
}

// errorMessage is the "message" of a JSON error answer, else its body's
// first line.
func errorMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return e.Message
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// usageError is a mistake on the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// parseFlags parses args with fs. --help prints the usage to stdout and
// returns errHelpShown; a bad flag prints it to stderr and returns a
// usageError.
func parseFlags(fs *pflag.FlagSet, synopsis string, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		printUsage(stdout, fs, synopsis)
		return errHelpShown
	}
	if err != nil {
		printUsage(stderr, fs, synopsis)
		return &usageError{err.Error()}
	}
	return nil
}

func printUsage(w io.Writer, fs *pflag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "%s\n\nFlags:\n%s", strings.TrimSpace(synopsis), fs.FlagUsages())
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
