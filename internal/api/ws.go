package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-chat/parley/internal/parley"
)

// WebSocket close codes the server sends, besides the protocol's own (1000
// normal, 1009 frame too large). Codes 4000 to 4399 mean: reconnect and
// resume from the last stream cursor received. Codes 4400 to 4499 mean:
// fix the cause first, then reconnect. asyncapi.yaml lists them too.
const (
	// CloseSlowConsumer: the client read too slowly and its queue filled.
	// Reconnect and resume from the last stream cursor.
	CloseSlowConsumer websocket.StatusCode = 4000
	// CloseShuttingDown: the server is going away. Reconnect, to another
	// node if there is one, and resume.
	CloseShuttingDown websocket.StatusCode = 4001
	// CloseReplayFailed: the events after the cursor could not be read.
	// Reconnect and resume; the server may have been briefly unavailable.
	CloseReplayFailed websocket.StatusCode = 4002
	// CloseTokenExpired: the token's exp passed. Get a new token, then
	// reconnect and resume.
	CloseTokenExpired websocket.StatusCode = 4401
)

// maxClientFrame bounds a frame from a client; the library closes the
// connection with 1009 beyond it.
const maxClientFrame = 256 << 10

// commandQueueLen bounds the replies waiting for the write loop. When it
// is full the read loop waits, so a client that sends faster than it reads
// its replies stops being read.
const commandQueueLen = 16

// wsConn is one WebSocket connection. The read loop (readLoop) parses
// client frames and calls the service; the write loop (writeLoop) owns
// every write and the subscription. They talk through cmds, and the read
// loop wakes the write loop with poke.
//
// Known shortcomings (docs/limits.md): two goroutines per connection are
// about a third of an idle connection's memory, and a message to a large
// group makes every member's write loop runnable at once, ahead of the
// goroutines that carry the next message. A small pool of writers would
// batch better under overload; an event loop over the sockets would need a
// WebSocket library of its own.
type wsConn struct {
	s    *Server
	c    *websocket.Conn
	user string
	exp  time.Time
	cmds chan command
	// poked holds a token when the write loop has work besides events: a
	// command, or the server shutting down.
	poked chan struct{}
	st    *stream // the write loop's only
	// writeGuard closes the connection when a write takes longer than
	// writeTimeout; one timer, reset per write, costs less than a
	// context per frame.
	writeGuard *time.Timer
	// scratch is the write loop's buffer for frames of several events.
	scratch []byte
}

// command is work for the write loop: a reply frame to write, or a resume.
type command struct {
	reply  []byte
	resume *resumeCmd
}

type resumeCmd struct {
	ref  string
	from parley.StreamCursor
}

// closeReason is how a connection ends: with a close code, or without one
// (code 0) when the client went away.
type closeReason struct {
	code   websocket.StatusCode
	reason string // sent in the close frame
	drop   string // metric label; "" when the client left
}

// The reasons the server ends a connection with, by close code.
var (
	closeSlowConsumer = closeReason{CloseSlowConsumer, "slow consumer", dropSlowConsumer}
	closeShuttingDown = closeReason{CloseShuttingDown, "server shutting down", dropShutdown}
	closeReplayFailed = closeReason{CloseReplayFailed, "replay failed", dropReplayFailed}
	closeTokenExpired = closeReason{CloseTokenExpired, "token expired", dropTokenExpired}
)

// serveWS upgrades GET /v1/ws to a WebSocket and serves it until either
// side closes.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	id, err := s.authUser(r, streamToken(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, err := parley.ParseStreamCursor(r.URL.Query().Get("stream"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.track() {
		s.writeError(w, r, errShuttingDown)
		return
	}
	defer s.untrack()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st, err := s.subscribe(ctx, id.user.ID, from)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Any origin may connect: clients authenticate with a token in the
	// header or the URL, never with a cookie, so a foreign page that opens
	// a socket has no credentials to borrow.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		st.close()
		return // Accept has answered the request
	}
	c.SetReadLimit(maxClientFrame)
	wc := &wsConn{s: s, c: c, user: id.user.ID, exp: id.exp, st: st,
		cmds: make(chan command, commandQueueLen), poked: make(chan struct{}, 1)}
	wc.writeGuard = time.AfterFunc(writeTimeout, func() { c.CloseNow() })
	wc.writeGuard.Stop()
	s.metrics.wsConns.Inc()
	defer s.metrics.wsConns.Dec()
	wc.run(ctx, cancel)
}

// run runs the two loops and ends the connection.
func (wc *wsConn) run(ctx context.Context, cancel context.CancelFunc) {
	stopWake := context.AfterFunc(wc.s.base, wc.poke)
	defer stopWake()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel()
		wc.readLoop(ctx)
	}()

	why := wc.writeLoop(ctx)
	wc.st.close()
	if why.code != 0 {
		wc.s.dropped("websocket", wc.user, why.drop)
		wc.c.Close(why.code, why.reason)
	}
	cancel()
	wc.c.CloseNow()
	<-readDone
}

// dropped counts and logs a connection the server ended.
func (s *Server) dropped(kind, user, reason string) {
	s.metrics.connDropped.WithLabelValues(reason).Inc()
	if reason == dropShutdown {
		s.logger.Debug("connection closed", "conn", kind, "user", user, "reason", reason)
		return
	}
	s.drops.warn("connection dropped", "conn", kind, "user", user, "reason", reason)
}

// writeLoop writes events, replies and pings until the connection must
// end, and returns why.
func (wc *wsConn) writeLoop(ctx context.Context) closeReason {
	nextPing := time.Now().Add(wc.s.ping)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if why, stop := wc.runCommands(ctx); stop {
			return why
		}
		if why, stop := wc.checkTime(ctx, &nextPing); stop {
			return why
		}

		ds, err := wc.st.sub.TryNext(maxBatchEvents)
		if len(ds) == 0 && err == nil {
			if !wc.idle(ctx, timer, wc.deadline(nextPing)) {
				return closeReason{} // the client went away
			}
			continue
		}
		if len(ds) > 0 {
			err := batches(ds, &wc.scratch, func(frame []byte) error { return wc.write(ctx, frame) })
			if err != nil && errors.Is(wc.st.sub.Err(), parley.ErrSlowConsumer) {
				// The write blocked on a full socket while the queue
				// overflowed behind it: the reader is slow.
				return closeSlowConsumer
			} else if err != nil {
				return closeReason{code: websocket.StatusInternalError, drop: dropWriteFailed}
			}
		}
		if why, stop := wc.stopReason(ctx, err); stop {
			return why
		}
	}
}

// idle waits for events, a poke or the deadline, on timer. It reports
// false when the client went away.
func (wc *wsConn) idle(ctx context.Context, timer *time.Timer, deadline time.Time) bool {
	timer.Reset(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wc.st.sub.Ready():
	case <-wc.st.sub.Done():
	case <-wc.poked:
	case <-timer.C:
	}
	return true
}

// poke wakes the write loop, or makes its next wait return at once.
func (wc *wsConn) poke() {
	select {
	case wc.poked <- struct{}{}:
	default:
	}
}

// deadline returns when the write loop must wake up on its own: for the
// next ping or when the token expires.
func (wc *wsConn) deadline(nextPing time.Time) time.Time {
	expires := time.Now().Add(wc.exp.Sub(wc.s.now()))
	if expires.Before(nextPing) {
		return expires
	}
	return nextPing
}

// checkTime pings when a ping is due and ends the connection when the
// server shuts down or the token has expired.
func (wc *wsConn) checkTime(ctx context.Context, nextPing *time.Time) (closeReason, bool) {
	switch {
	case wc.s.base.Err() != nil:
		return closeShuttingDown, true
	case !wc.s.now().Before(wc.exp):
		return closeTokenExpired, true
	case time.Now().Before(*nextPing):
		return closeReason{}, false
	}
	if err := wc.pingPeer(ctx); err != nil {
		if ctx.Err() != nil {
			return closeReason{}, true // the client went away
		}
		return closeReason{code: websocket.StatusPolicyViolation, reason: "ping timeout",
			drop: dropWriteFailed}, true
	}
	*nextPing = time.Now().Add(wc.s.ping)
	return closeReason{}, false
}

// stopReason interprets the error of a wait for events.
func (wc *wsConn) stopReason(ctx context.Context, err error) (closeReason, bool) {
	switch {
	case err == nil:
		return closeReason{}, false
	case ctx.Err() != nil:
		return closeReason{}, true // the client went away
	case errors.Is(err, parley.ErrSlowConsumer):
		return closeSlowConsumer, true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return closeReason{}, false // woken up or time to ping
	}
	wc.s.logger.Debug("replay failed", "conn", "websocket", "user", wc.user, "err", err)
	return closeReplayFailed, true
}

// runCommands handles the commands waiting, without blocking.
func (wc *wsConn) runCommands(ctx context.Context) (closeReason, bool) {
	for {
		select {
		case cmd := <-wc.cmds:
			if err := wc.runCommand(ctx, cmd); err != nil {
				return closeReason{code: websocket.StatusInternalError, drop: dropWriteFailed}, true
			}
		default:
			return closeReason{}, false
		}
	}
}

func (wc *wsConn) runCommand(ctx context.Context, cmd command) error {
	if cmd.resume == nil {
		return wc.write(ctx, cmd.reply)
	}
	st, err := wc.s.subscribe(ctx, wc.user, cmd.resume.from)
	if err != nil {
		return wc.write(ctx, errorFrame(wc.s, cmd.resume.ref, err))
	}
	wc.st.close()
	wc.st = st
	return wc.write(ctx, okFrame(cmd.resume.ref))
}

// write writes one text frame. It does not end with ctx: a connection
// being closed still gets its last frames, within writeTimeout, after
// which writeGuard closes it.
func (wc *wsConn) write(ctx context.Context, frame []byte) error {
	wc.writeGuard.Reset(writeTimeout)
	err := wc.c.Write(context.WithoutCancel(ctx), websocket.MessageText, frame)
	wc.writeGuard.Stop()
	if err != nil {
		return err
	}
	wc.s.metrics.framesSent.Inc()
	return nil
}

// pingPeer pings the client and waits for its pong, at most writeTimeout.
func (wc *wsConn) pingPeer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return wc.c.Ping(ctx)
}
