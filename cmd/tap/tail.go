package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/pflag"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// errUnauthorized ends tail: retrying with the same password cannot help.
var errUnauthorized = errors.New("HTTP 401: wrong or missing admin password (--admin-password, TAP_ADMIN_PASSWORD)")

// tailWriteTimeout bounds writing one ack.
const tailWriteTimeout = 10 * time.Second

// tailOptions are the flags of `tap tail`.
type tailOptions struct {
	client      clientOptions
	noAck       bool
	pretty      bool
	jsonLines   bool
	noReconnect bool
	limit       int
	filter      tailFilter
}

const tailSynopsis = `Usage: tap tail [flags]

Connects to tap's /channel websocket, prints every event as one JSON line
and acks it. Events the filters leave out are acked but not printed. It
reconnects with backoff when the connection drops, and exits 0 on SIGINT.`

// runTail is `tap tail`: connect to /channel, print each event, and ack it
// (unless --no-ack) — what a websocket client of tap does.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o tailOptions
	fs := pflag.NewFlagSet("tap tail", pflag.ContinueOnError)
	addClientFlags(fs, &o.client)
	fs.BoolVar(&o.noAck, "no-ack", false, "do not ack events (tap sends them again after its retry timeout)")
	fs.BoolVar(&o.jsonLines, "json", false, "print each event as tap sent it, one JSON line (the default)")
	fs.BoolVar(&o.pretty, "pretty", false, "print each event as indented JSON")
	fs.BoolVar(&o.noReconnect, "no-reconnect", false, "exit 1 when the connection fails instead of reconnecting")
	fs.IntVar(&o.limit, "limit", 0, "exit after printing this many events; 0 means never")
	o.filter.addFlags(fs)
	if err := parseFlags(fs, tailSynopsis, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("tap tail: unexpected arguments %q", fs.Args())
	}
	if o.pretty && o.jsonLines {
		return usageErrorf("--json and --pretty: choose one")
	}
	if o.limit < 0 {
		return usageErrorf("--limit: must not be negative, got %d", o.limit)
	}
	if err := o.filter.compile(); err != nil {
		return err
	}
	wsURL, err := channelURL(o.client.url)
	if err != nil {
		return err
	}
	var b pipeline.Backoff
	printed := 0
	for ctx.Err() == nil {
		n, err := tailOnce(ctx, wsURL, o, stdout, &printed)
		if o.limit > 0 && printed >= o.limit {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		var fatal *fatalTailError
		if errors.Is(err, errUnauthorized) || errors.As(err, &fatal) || o.noReconnect {
			return err
		}
		if n > 0 {
			b.Reset()
		}
		d := b.Next()
		fmt.Fprintf(stderr, "tap tail: %v; reconnecting in %s\n", err, d.Round(time.Millisecond))
		_ = pipeline.Sleep(ctx, d)
	}
	return nil
}

// fatalTailError is an answer to the websocket upgrade that retrying
// cannot change (e.g. 400 in webhook mode, 404 at a wrong URL).
type fatalTailError struct{ msg string }

func (e *fatalTailError) Error() string { return e.msg }

// channelURL turns tap's base URL into its /channel websocket URL.
func channelURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", usageErrorf("--url: %q is not a URL", config.RedactURL(base))
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", usageErrorf("--url: %q is not an http:// or https:// URL", config.RedactURL(base))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/channel"
	return u.String(), nil
}

// dialChannel opens the websocket, classifying a refused upgrade.
func dialChannel(ctx context.Context, wsURL string, o tailOptions) (*websocket.Conn, error) {
	h := http.Header{}
	if o.client.password != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:"+o.client.password)))
	}
	d := *websocket.DefaultDialer
	d.HandshakeTimeout = o.client.timeout
	conn, resp, err := d.DialContext(ctx, wsURL, h)
	if err == nil {
		return conn, nil
	}
	shown := config.RedactURL(wsURL) // the URL may carry the password
	if resp == nil {
		return nil, fmt.Errorf("connecting to %s: %w", shown, err)
	}
	defer resp.Body.Close()
	msg := errorMessage(resp.Body)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("connecting to %s: %w", shown, errUnauthorized)
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return nil, &fatalTailError{fmt.Sprintf("connecting to %s: HTTP %d: %s", shown, resp.StatusCode, msg)}
	}
	return nil, fmt.Errorf("connecting to %s: HTTP %d: %s", shown, resp.StatusCode, msg)
}

// tailOnce reads one connection until it fails; it returns how many
// frames it read.
func tailOnce(ctx context.Context, wsURL string, o tailOptions, out io.Writer, printed *int) (int, error) {
	conn, err := dialChannel(ctx, wsURL, o)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var buf bytes.Buffer
	for n := 0; ; n++ {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return n, err
		}
		var ev tailEvent
		if err := json.Unmarshal(msg, &ev); err != nil {
			continue
		}
		if o.filter.matches(ev) {
			buf.Reset()
			if !o.pretty || json.Indent(&buf, msg, "", "  ") != nil {
				buf.Reset()
				buf.Write(msg)
			}
			buf.WriteByte('\n')
			if _, err := out.Write(buf.Bytes()); err != nil {
				return n, &fatalTailError{fmt.Sprintf("writing an event: %v", err)}
			}
			*printed++
		}
		if !o.noAck {
			ack := fmt.Sprintf(`{"type":"ack","id":%d}`, ev.ID)
			_ = conn.SetWriteDeadline(time.Now().Add(tailWriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, []byte(ack)); err != nil {
				return n, err
			}
		}
		if o.limit > 0 && *printed >= o.limit {
			return n + 1, nil
		}
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
