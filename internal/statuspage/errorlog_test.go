package statuspage_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/statuspage"
)

func messages(recs []statuspage.LogRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Message
	}
	return out
}

func TestErrorLogKeepsWarnAndAbove(t *testing.T) {
	errs := statuspage.NewErrorLog(10)
	var buf bytes.Buffer
	log := slog.New(errs.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})))
	log.Debug("debug")
	log.Info("info")
	log.Warn("warn")
	log.Error("error")
	require.Equal(t, []string{"warn", "error"}, messages(errs.Recent()),
		"warnings are kept even when the log shows only errors")
	require.NotContains(t, buf.String(), "msg=warn", "the wrapped handler's level still applies")
	require.Contains(t, buf.String(), "msg=error")
	require.Empty(t, statuspage.NewErrorLog(3).Recent())
	require.Nil(t, (*statuspage.ErrorLog)(nil).Recent(), "a nil ErrorLog has nothing")
}

func TestErrorLogRingIsBounded(t *testing.T) {
	errs := statuspage.NewErrorLog(3)
	log := slog.New(errs.Handler(slog.DiscardHandler))
	for i := range 7 {
		log.Warn(fmt.Sprint(i))
	}
	require.Equal(t, []string{"4", "5", "6"}, messages(errs.Recent()), "the last 3, oldest first")

	log.Warn(strings.Repeat("é", 2000), "big", strings.Repeat("x", 5000))
	last := errs.Recent()[2]
	require.LessOrEqual(t, len(last.Message), 1024+len("…"))
	require.True(t, strings.HasSuffix(last.Message, "é…"), "cut on a rune boundary")
	require.LessOrEqual(t, len(last.Attrs[0].Value), 1024+len("…"))

	attrs := make([]any, 0, 100)
	for i := range 50 {
		attrs = append(attrs, fmt.Sprint("k", i), i)
	}
	log.Warn("many", attrs...)
	require.Len(t, errs.Recent()[2].Attrs, 16, "attributes per record are bounded")
}

func TestErrorLogAttrsAndGroups(t *testing.T) {
	errs := statuspage.NewErrorLog(0)
	log := slog.New(errs.Handler(slog.DiscardHandler)).With("component", "sink").WithGroup("req").With("id", 7)
	log.Warn("slow", slog.Group("peer", "addr", "127.0.0.1"), "ms", 1500)
	require.Equal(t, []statuspage.LogAttr{{"component", "sink"}, {"req.id", "7"}, {"req.peer.addr", "127.0.0.1"}, {"req.ms", "1500"}},
		errs.Recent()[0].Attrs)
	require.Equal(t, "WARN", errs.Recent()[0].Level)
	require.False(t, errs.Recent()[0].Time.IsZero())
}
