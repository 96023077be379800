package websocketsink

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

func testHub() *hub { return newHub(Config{SendQueue: 2}.settings()) }

func delivery(id uint64) pipeline.Delivery {
	return pipeline.Delivery{ID: id, JSON: []byte(`{"id":1}`)}
}

func isDone(w *waiter) bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// The same id handed in again while it is being delivered is queued once,
// and its ack completes every Deliver waiting for it.
func TestRepeatedIDSharesOneEntry(t *testing.T) {
	h := testHub()
	first, err := h.enqueue([]pipeline.Delivery{delivery(7), delivery(8)})
	require.NoError(t, err)
	second, err := h.enqueue([]pipeline.Delivery{delivery(7), delivery(7)})
	require.NoError(t, err)
	require.Equal(t, 2, h.queue.len)
	require.True(t, h.ack(7))
	require.False(t, isDone(first))
	require.True(t, isDone(second))
	require.False(t, h.ack(7), "a repeated ack is unknown")
	require.True(t, h.ack(8))
	require.True(t, isDone(first))
	require.Empty(t, h.byID)
}

// Giving up on a batch removes its unacked events from delivery, unless
// another Deliver still waits for them; acked positions stay acked.
func TestAbandon(t *testing.T) {
	h := testHub()
	w, err := h.enqueue([]pipeline.Delivery{delivery(1), delivery(2), delivery(3)})
	require.NoError(t, err)
	other, err := h.enqueue([]pipeline.Delivery{delivery(3)})
	require.NoError(t, err)
	require.True(t, h.ack(1))
	err = h.abandon(w, context.Canceled)
	var be *pipeline.BatchError
	require.ErrorAs(t, err, &be)
	require.NoError(t, be.Errs[0])
	require.ErrorIs(t, be.Errs[1], context.Canceled)
	require.ErrorIs(t, be.Errs[2], context.Canceled)
	require.Equal(t, 1, h.queue.len, "id 3 is still awaited by the other call")
	require.False(t, h.ack(2))
	require.True(t, h.ack(3))
	require.True(t, isDone(other))

	none, err := h.enqueue([]pipeline.Delivery{delivery(4)})
	require.NoError(t, err)
	require.ErrorIs(t, h.abandon(none, context.Canceled), context.Canceled)
	require.Zero(t, h.queue.len)
	require.Empty(t, h.byID)
}

// Once closed the hub takes nothing more.
func TestEnqueueAfterClose(t *testing.T) {
	h := testHub()
	h.close()
	_, err := h.enqueue([]pipeline.Delivery{delivery(1)})
	require.True(t, errors.Is(err, pipeline.ErrClosed))
}
