package main

import (
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

// tailOptions are the flags of `tap tail`.
type tailOptions struct {
	url, password     string
	noAck             bool
	dids, collections []string
	limit             int
}

// runTail is `tap tail`: connect to /channel, print each event as one JSON
// line, and ack it (unless --no-ack) — what a websocket client of tap does.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := tailOptions{url: envOr("TAP_URL", "http://localhost:2480"), password: os.Getenv("TAP_ADMIN_PASSWORD")}
	fs := pflag.NewFlagSet("tap tail", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", o.url, "tap's base URL (TAP_URL)")
	fs.StringVar(&o.password, "admin-password", o.password, "admin password (TAP_ADMIN_PASSWORD)")
	fs.BoolVar(&o.noAck, "no-ack", false, "do not ack events (they are redelivered after the retry timeout)")
	fs.StringSliceVar(&o.dids, "did", nil, "print only events of these DIDs (others are still acked)")
	fs.StringSliceVar(&o.collections, "collection", nil, "print only record events of these collections (others are still acked)")
	fs.IntVar(&o.limit, "limit", 0, "exit after printing this many events; 0 means never")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelpShown
		}
		return err
	}
	wsURL, err := channelURL(o.url)
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
		if errors.Is(err, errUnauthorized) {
			return err
		}
		if n > 0 {
			b.Reset()
		}
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "tap tail: %v; reconnecting\n", err)
			_ = pipeline.Sleep(ctx, b.Next())
		}
	}
	return nil
}

// channelURL turns tap's base URL into its /channel websocket URL.
func channelURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--url: %q is not a URL", config.RedactURL(base))
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/channel"
	return u.String(), nil
}

// tailOnce reads one connection until it fails; it returns how many
// frames it read.
func tailOnce(ctx context.Context, wsURL string, o tailOptions, out io.Writer, printed *int) (int, error) {
	h := http.Header{}
	if o.password != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:"+o.password)))
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, h)
	if err != nil {
		shown := config.RedactURL(wsURL) // the URL may carry the password
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return 0, fmt.Errorf("connecting to %s: %w", shown, errUnauthorized)
		}
		if resp != nil {
			return 0, fmt.Errorf("connecting to %s: HTTP %d", shown, resp.StatusCode)
		}
		return 0, fmt.Errorf("connecting to %s: %w", shown, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for n := 0; ; n++ {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return n, err
		}
		var ev tailEvent
		if err := json.Unmarshal(msg, &ev); err != nil {
			continue
		}
		if o.matches(ev) {
			fmt.Fprintf(out, "%s\n", msg)
			*printed++
		}
		if !o.noAck {
			ack := fmt.Sprintf(`{"type":"ack","id":%d}`, ev.ID)
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := conn.WriteMessage(websocket.TextMessage, []byte(ack)); err != nil {
				return n, err
			}
		}
		if o.limit > 0 && *printed >= o.limit {
			return n + 1, nil
		}
	}
}

// tailEvent is what tail reads of an event to filter and ack it.
type tailEvent struct {
	ID     uint64 `json:"id"`
	Record *struct {
		DID        string `json:"did"`
		Collection string `json:"collection"`
	} `json:"record"`
	Identity *struct {
		DID string `json:"did"`
	} `json:"identity"`
}

func (o tailOptions) matches(ev tailEvent) bool {
	did, coll := "", ""
	if ev.Record != nil {
		did, coll = ev.Record.DID, ev.Record.Collection
	} else if ev.Identity != nil {
		did = ev.Identity.DID
	}
	if len(o.dids) > 0 && !contains(o.dids, did) {
		return false
	}
	return len(o.collections) == 0 || (coll != "" && contains(o.collections, coll))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
