package websocketsink_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestStressMixedClients runs fast, slow and stalled clients (reconnecting)
// against concurrent Deliver calls with a short retry timeout, and checks
// every Deliver call returns: no event is left cycling between the queue and
// a client that does not ack it while others are idle, and each
// connection's count of held events matches the events it holds. It runs
// 3 s; TAP_SOAK=1 runs it 60 s.
func TestStressMixedClients(t *testing.T) {
	cfg := testConfig()
	cfg.RetryTimeout = time.Second
	cfg.WriteTimeout = 300 * time.Millisecond
	cfg.PingInterval = 200 * time.Millisecond
	cfg.PongTimeout = time.Second
	cfg.SendQueue = 16
	s, url := startSink(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	client := func(rcvBuf int, perEvent time.Duration, stallFor time.Duration) {
		for ctx.Err() == nil {
			d := websocket.Dialer{}
			if rcvBuf > 0 {
				d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err == nil {
						_ = c.(*net.TCPConn).SetReadBuffer(rcvBuf)
					}
					return c, err
				}
			}
			ws, _, err := d.DialContext(ctx, url, nil)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			stop := context.AfterFunc(ctx, func() { ws.Close() })
			if stallFor > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(stallFor):
				}
			} else {
				for {
					_, msg, err := ws.ReadMessage()
					if err != nil {
						break
					}
					time.Sleep(perEvent)
					var id uint64
					if _, err := fmt.Sscanf(string(msg), `{"id":%d`, &id); err != nil {
						break
					}
					if ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","id":%d}`, id)) != nil {
						break
					}
				}
			}
			stop()
			ws.Close()
		}
	}
	wg.Go(func() { client(0, 0, 0) })
	wg.Go(func() { client(0, 0, 0) })
	wg.Go(func() { client(0, 30*time.Millisecond, 0) })
	wg.Go(func() { client(2048, 0, 1500*time.Millisecond) })

	var next atomic.Uint64
	var delivered atomic.Int64
	var dwg sync.WaitGroup
	run := 3 * time.Second
	if os.Getenv("TAP_SOAK") != "" {
		run = time.Minute
	}
	deadline := time.Now().Add(run)
	stuck := make(chan string, 1)
	for w := range 8 {
		dwg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				n := uint64(1 + (w*7+i*13)%100) // batches of 1 to 100, as the order stage hands them
				from := next.Add(n) - n + 1
				res := deliverAsync(context.Background(), s, events(from, n))
				select {
				case err := <-res:
					if err != nil {
						t.Errorf("Deliver: %v", err)
						return
					}
					delivered.Add(int64(n))
				case <-time.After(20 * time.Second):
					select {
					case stuck <- fmt.Sprintf("Deliver of %d..%d stuck:\n%s", from, from+n-1, s.DebugState()):
					default:
					}
					return
				}
			}
		})
	}
	dwg.Wait()
	select {
	case msg := <-stuck:
		t.Fatal(msg)
	default:
	}
	if err := s.CheckHolds(); err != nil {
		t.Error(err)
	}
	t.Logf("delivered %d events, %+v", delivered.Load(), s.Stats())
}
