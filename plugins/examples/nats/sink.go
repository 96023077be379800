package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapkit/tap/plugins/sdk"
)

// sink publishes events to a JetStream stream. It implements sdk.Sink.
type sink struct {
	cfg config
	nc  *nats.Conn
	js  jetstream.JetStream

	mu    sync.Mutex
	ready bool // the stream is known to exist
}

var _ sdk.Sink = (*sink)(nil)

// Configure parses the config and connects. An unreachable server is not
// an error: the connection keeps retrying and Deliver answers Retry
// meanwhile.
func (s *sink) Configure(_ context.Context, m map[string]any) error {
	cfg, err := parseConfig(m)
	if err != nil {
		return fmt.Errorf("nats plugin: %w", err)
	}
	nc, err := nats.Connect(cfg.url,
		nats.Name("tap-nats"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.Timeout(cfg.timeout),
	)
	if err != nil {
		return fmt.Errorf("nats plugin: connecting to %s: %w", cfg.url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.timeout))
	if err != nil {
		nc.Close()
		return fmt.Errorf("nats plugin: %w", err)
	}
	s.cfg, s.nc, s.js = cfg, nc, js
	return nil
}

// ensureStream checks once (until it succeeds) that the stream exists,
// creating it when create_stream is set.
func (s *sink) ensureStream(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	_, err := s.js.Stream(ctx, s.cfg.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && s.cfg.createStream {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:       s.cfg.stream,
			Subjects:   []string{s.cfg.prefix + ".>"},
			Duplicates: s.cfg.duplicateWindow,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // created concurrently
		}
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.cfg.stream, err)
	}
	s.ready = true
	return nil
}

// subject returns the subject of ev, or an error for an event that cannot
// be published.
func (s *sink) subject(ev sdk.Event) (string, error) {
	switch ev.Type {
	case sdk.TypeIdentity:
		return s.cfg.prefix + ".identity", nil
	case sdk.TypeRecord:
		if ev.Collection == "" || !validSubject(ev.Collection) {
			return "", fmt.Errorf("collection %q is not a valid subject", ev.Collection)
		}
		return s.cfg.prefix + "." + ev.Collection, nil
	default:
		return "", fmt.Errorf("unknown event type %q", ev.Type)
	}
}

// Deliver publishes the batch asynchronously and acks each event once
// JetStream has acknowledged it. Events not acknowledged within the
// timeout are retried; the Nats-Msg-Id header makes the retry harmless.
func (s *sink) Deliver(ctx context.Context, batch []sdk.Event) []sdk.Result {
	res := make([]sdk.Result, len(batch))
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	if err := s.ensureStream(ctx); err != nil {
		for i := range res {
			res[i] = sdk.RetryLater(err.Error())
		}
		return res
	}
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, ev := range batch {
		if ctx.Err() != nil {
			res[i] = sdk.RetryLater("publish: not sent: " + ctx.Err().Error())
			continue
		}
		subj, err := s.subject(ev)
		if err != nil {
			res[i] = sdk.Fail(err.Error())
			continue
		}
		msg := &nats.Msg{Subject: subj, Data: ev.JSON}
		f, err := s.js.PublishMsgAsync(msg,
			jetstream.WithMsgID(strconv.FormatUint(ev.ID, 10)),
			jetstream.WithStallWait(s.cfg.timeout), // wait for room rather than fail a large batch
		)
		if err != nil {
			res[i] = sdk.RetryLater("publish: " + err.Error())
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			res[i] = sdk.Ack()
		case err := <-f.Err():
			res[i] = sdk.RetryLater("publish: " + err.Error())
		case <-ctx.Done():
			res[i] = sdk.RetryLater("publish: no ack: " + ctx.Err().Error())
		}
	}
	return res
}

// Shutdown drains the connection (closes it when it is down).
func (s *sink) Shutdown(context.Context) error {
	if s.nc == nil {
		return nil
	}
	if !s.nc.IsConnected() {
		s.nc.Close()
		return nil
	}
	return s.nc.Drain()
}
