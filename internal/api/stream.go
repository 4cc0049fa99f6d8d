package api

import (
	"context"
	"errors"
	"time"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// Batching of events: one Next call takes at most maxBatchEvents, and a
// WebSocket frame or SSE flush stops growing once it passes maxBatchBytes.
// Batches make fan-out cheap: a busy connection costs one write per batch
// rather than one per event.
const (
	maxBatchEvents = 64
	maxBatchBytes  = 64 << 10
)

// writeTimeout bounds every write to a client. A client that does not read
// for that long is dropped: its write blocked, so it is not reading.
const writeTimeout = 10 * time.Second

// subscribeTimeout bounds the wait for a subscription while the node's
// live reader has not started.
const subscribeTimeout = 10 * time.Second

// Reasons a connection was dropped, the label of
// parley_connections_dropped_total.
const (
	dropSlowConsumer = "slow_consumer"
	dropShutdown     = "shutdown"
	dropReplayFailed = "replay_failed"
	dropTokenExpired = "token_expired"
	dropWriteFailed  = "write_failed"
)

var (
	errNotLive = parley.Errorf(parley.ErrUnavailable, "not_ready",
		"the live reader has not started yet")
	errShutdown = errors.New("server shutting down")
)

// stream is one subscription and the context its replay runs under.
type stream struct {
	sub    *hub.Subscription
	cancel context.CancelFunc
}

// close ends the subscription and its replay.
func (st *stream) close() {
	if st == nil {
		return
	}
	st.sub.Close()
	st.cancel()
}

// subscribe opens the user's live stream from the cursor (nil: from now).
// It waits at most subscribeTimeout for the node's live reader to start.
// The replay runs until ctx ends or the stream is closed.
func (s *Server) subscribe(ctx context.Context, user string, from parley.StreamCursor) (
	*stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(subscribeTimeout, cancel)
	sub, err := s.svc.Subscribe(ctx, user, from)
	if !timer.Stop() {
		// The timer cancelled ctx: the replay, if any, is cut short.
		if err == nil {
			sub.Close()
		}
		cancel()
		return nil, errNotLive
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &stream{sub: sub, cancel: cancel}, nil
}

// connContext returns a context for a live connection that ends with the
// request or with Shutdown, whose cause is then errShutdown.
func (s *Server) connContext(parent context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(s.base, func() { cancel(errShutdown) })
	return ctx, func(cause error) {
		stop()
		cancel(cause)
	}
}

// batches splits deliveries into frames of at most maxBatchBytes (or one
// delivery when it is larger), joined by '\n'. A frame of one delivery is
// its shared Data; frames of several are built in *scratch, which the
// caller keeps between calls so a busy connection does not allocate one
// per frame. fn must not keep the frame after it returns.
func batches(ds []*hub.Delivery, scratch *[]byte, fn func(frame []byte) error) error {
	for len(ds) > 0 {
		n, size := 1, len(ds[0].Data)
		for n < len(ds) && size+1+len(ds[n].Data) <= maxBatchBytes {
			size += 1 + len(ds[n].Data)
			n++
		}
		frame := ds[0].Data
		if n > 1 {
			buf := (*scratch)[:0]
			for i, d := range ds[:n] {
				if i > 0 {
					buf = append(buf, '\n')
				}
				buf = append(buf, d.Data...)
			}
			*scratch, frame = buf, buf
		}
		if err := fn(frame); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}
