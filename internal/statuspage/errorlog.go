package statuspage

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultErrorLogSize is how many records NewErrorLog keeps when given zero.
const DefaultErrorLogSize = 50

// maxLogValue bounds the characters kept of a record's message and of each attribute value,
// so that the ring's memory stays bounded whatever is logged.
const maxLogValue = 1024

// maxLogAttrs bounds the attributes kept of one record.
const maxLogAttrs = 16

// LogRecord is one warning or error as the status page shows it.
type LogRecord struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Attrs are the record's attributes in order, groups joined with ".", values as text.
	Attrs []LogAttr `json:"attrs"`
}

// LogAttr is one attribute of a LogRecord.
type LogAttr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ErrorLog keeps the last warnings and errors logged, newest last, in a bounded ring. Its
// Handler tees them off a slog.Handler. It is safe for concurrent use.
type ErrorLog struct {
	mu   sync.Mutex
	ring []LogRecord
	next int  // index the next record goes to
	full bool // ring has wrapped
}

// NewErrorLog returns an ErrorLog keeping the last size records (DefaultErrorLogSize when
// size <= 0).
func NewErrorLog(size int) *ErrorLog {
	if size <= 0 {
		size = DefaultErrorLogSize
	}
	return &ErrorLog{ring: make([]LogRecord, size)}
}

// Recent returns the records kept, oldest first (a copy).
func (l *ErrorLog) Recent() []LogRecord {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return slices.Clone(l.ring[:l.next])
	}
	return append(slices.Clone(l.ring[l.next:]), l.ring[:l.next]...)
}

func (l *ErrorLog) add(r LogRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = r
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
}

// Handler returns a slog.Handler that passes every record to next and also keeps those at
// slog.LevelWarn and above, whether or not next's level lets them through (the page shows
// recent warnings when tap logs only errors). Values are kept as logged: tap's log
// attributes are already redacted.
func (l *ErrorLog) Handler(next slog.Handler) slog.Handler {
	return &teeHandler{next: next, log: l}
}

// teeHandler is the handler of ErrorLog.Handler. attrs are the attributes added by WithAttrs,
// already qualified by their group.
type teeHandler struct {
	next   slog.Handler
	log    *ErrorLog
	attrs  []LogAttr
	prefix string // the open groups, "a.b."
}

func (h *teeHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn || h.next.Enabled(ctx, level)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		rec := LogRecord{Time: r.Time, Level: r.Level.String(), Message: truncate(r.Message),
			Attrs: slices.Clone(h.attrs)}
		r.Attrs(func(a slog.Attr) bool {
			rec.Attrs = appendAttr(rec.Attrs, h.prefix, a)
			return len(rec.Attrs) < maxLogAttrs
		})
		h.log.add(rec)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// appendAttr appends a, flattening groups into dotted keys, up to maxLogAttrs attributes.
func appendAttr(out []LogAttr, prefix string, a slog.Attr) []LogAttr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, prefix, g)
		}
		return out
	}
	if a.Key == "" || len(out) >= maxLogAttrs {
		return out
	}
	return append(out, LogAttr{Key: prefix + a.Key, Value: truncate(v.String())})
}

// truncate cuts s to maxLogValue bytes (on a rune boundary), marking the cut.
func truncate(s string) string {
	if len(s) <= maxLogValue {
		return s
	}
	cut := maxLogValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
