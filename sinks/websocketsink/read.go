package websocketsink

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// readLoop reads the client's frames until the connection fails. It always
// runs, so that the client's pings are answered at once (the @atproto/tap
// client drops a connection whose pong is late). Any frame, pong or ping
// moves the read deadline pong_timeout ahead; a client that sends nothing
// for that long (and does not answer the server's pings) is dead.
func (c *conn) readLoop() error {
	if err := c.extend(); err != nil {
		return err
	}
	c.ws.SetPongHandler(func(string) error { return c.extend() })
	c.ws.SetPingHandler(c.pong)
	buf := make([]byte, maxClientFrame+1)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		if err := c.extend(); err != nil {
			return err
		}
		frame, err := readFrame(r, buf)
		if err != nil {
			return err
		}
		c.handle(frame)
	}
}

// extend moves the read deadline pong_timeout ahead.
func (c *conn) extend() error {
	return c.ws.SetReadDeadline(time.Now().Add(c.hub.set.pongTimeout))
}

// pong answers a client ping (gorilla's default handler, with our write
// timeout and the deadline moved ahead).
func (c *conn) pong(data string) error {
	if err := c.extend(); err != nil {
		return err
	}
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.hub.set.writeTimeout))
	var ne net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
		return nil // a stuck writer is the write side's to detect
	}
	return err
}

// readFrame reads one message into buf. A message longer than
// maxClientFrame is read to its end and returned as nil.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	return nil, nil
}

// handle acts on one client frame: an ack completes its event, whatever
// connection it was sent on; anything else is ignored and counted, never a
// reason to disconnect.
func (c *conn) handle(frame []byte) {
	id, ok := parseAck(frame)
	switch {
	case !ok:
		c.hub.stats.ignored.Add(1)
	case c.hub.ack(id):
		c.hub.stats.acks.Add(1)
	default:
		c.hub.stats.unknownAcks.Add(1)
	}
}
