package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tapkit/tap/plugins/sdk"
)

// sink appends events to the file at cfg.path. An event is acked once its
// line is written (and, with fsync "always", synced to disk).
type sink struct {
	cfg config

	mu      sync.Mutex // guards f, size, closed
	f       *os.File
	size    int64
	closed  bool
	rotated int // last suffix used for a rotated file

	stop chan struct{} // ends the interval syncer
	done chan struct{}
}

// Configure opens (or creates) the file and starts the interval syncer.
func (s *sink) Configure(_ context.Context, m map[string]any) error {
	cfg, err := parseConfig(m)
	if err != nil {
		return err
	}
	s.cfg = cfg
	if err := s.open(); err != nil {
		return err
	}
	if cfg.fsync == fsyncInterval {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.syncLoop()
	}
	return nil
}

func (s *sink) open() error {
	f, err := os.OpenFile(s.cfg.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("path: %w", err)
	}
	s.f, s.size = f, st.Size()
	return nil
}

// Deliver writes the batch's lines in one write. If the write fails, every
// event is retried (a partial write may leave duplicates: at least once).
func (s *sink) Deliver(_ context.Context, batch []sdk.Event) []sdk.Result {
	var buf []byte
	for _, ev := range batch {
		buf = append(buf, ev.JSON...)
		buf = append(buf, '\n')
	}
	results := make([]sdk.Result, len(batch))
	if err := s.write(buf); err != nil {
		for i := range results {
			results[i] = sdk.RetryLater(err.Error())
		}
		return results
	}
	for i := range results {
		results[i] = sdk.Ack()
	}
	return results
}

func (s *sink) write(buf []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.f == nil {
		return errors.New("the sink is shut down")
	}
	if s.cfg.maxBytes > 0 && s.size > 0 && s.size+int64(len(buf)) > s.cfg.maxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(buf)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.cfg.path, err)
	}
	if s.cfg.fsync == fsyncAlways {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", s.cfg.path, err)
		}
	}
	return nil
}

// rotate renames the current file to the next free path.N and opens a new
// one.
func (s *sink) rotate() error {
	if s.cfg.fsync != fsyncNever {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", s.cfg.path, err)
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.cfg.path, err)
	}
	s.f = nil
	for {
		s.rotated++
		name := fmt.Sprintf("%s.%d", s.cfg.path, s.rotated)
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			if err := os.Rename(s.cfg.path, name); err != nil {
				return fmt.Errorf("rotating %s: %w", s.cfg.path, err)
			}
			break
		}
	}
	return s.open()
}

func (s *sink) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.fsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if s.f != nil {
				if err := s.f.Sync(); err != nil {
					fmt.Fprintf(os.Stderr, "syncing %s: %v\n", s.cfg.path, err)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Shutdown stops the syncer, syncs (unless fsync is "never") and closes
// the file. It is idempotent.
func (s *sink) Shutdown(context.Context) error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.f == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	var err error
	if s.cfg.fsync != fsyncNever {
		err = s.f.Sync()
	}
	return errors.Join(err, s.f.Close())
}
