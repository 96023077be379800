package pluginsink

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// lineWriter logs every line written to it as one slog record.
type lineWriter struct {
	logger *slog.Logger
	level  slog.Level
	msg    string

	mu  sync.Mutex
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(w.buf[:i], "\r"); len(line) > 0 {
			w.logger.Log(context.Background(), w.level, w.msg, "line", string(line))
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
