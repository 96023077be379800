package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpServer is one loopback HTTP listener with a clean shutdown.
type httpServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenHTTP starts serving h on host:0.
func listenHTTP(host string, h http.Handler, log *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("testnet: listen: %w", err)
	}
	s := &httpServer{
		ln:   ln,
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// URL returns http://host:port.
func (s *httpServer) URL() string { return "http://" + s.ln.Addr().String() }

// close stops accepting, closes open connections and waits for Serve.
func (s *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// closers runs shutdown funcs in reverse order of registration, once.
type closers struct {
	mu   sync.Mutex
	fns  []func()
	done bool
}

func (c *closers) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

func (c *closers) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns, c.done = nil, true
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
