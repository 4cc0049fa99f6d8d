package api

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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

// commandQueueLen bounds the replies waiting for the writer. When it
// is full the read loop waits, so a client that sends faster than it reads
// its replies stops being read.
const commandQueueLen = 16

// wsConn is one WebSocket connection. A reader goroutine (readLoop)
// parses client frames and calls the service; writes are made by a writer
// goroutine (flush) that runs only while there is something to write:
// events, replies, a ping that is due, or the end of the connection. The
// first wake-up starts it, and it exits once a pass leaves nothing queued
// and finds no new wake-up. So an idle connection costs one goroutine, and
// at most one writer runs at a time; it owns every write and the
// subscription.
//
// Known shortcomings (docs/limits.md): a message to a large group starts
// a writer goroutine for every member, and every frame is a write system
// call of its own; frames carry several events only when the dispatcher
// is behind (see hub.Batch). The reader goroutine's stack, parked in a
// read, is about 4 KiB of an idle connection's 20; an event loop over the
// sockets would need a WebSocket library of its own.
type wsConn struct {
	s    *Server
	c    *websocket.Conn
	user string
	exp  time.Time
	// ctx ends when the client goes away or the connection ends.
	ctx    context.Context
	cancel context.CancelFunc
	cmds   chan command

	// wakes counts the wake-ups no writer has looked at yet. The one that
	// takes it from zero starts a writer. A writer that ends the
	// connection leaves it above zero, so that none starts again.
	wakes atomic.Int64
	// clock wakes a writer when a ping is due or the token expires.
	clock *time.Timer
	// writeGuard closes the connection when a write takes longer than
	// writeTimeout; one timer, reset per write, costs less than a
	// context per frame.
	writeGuard *time.Timer
	// finished is closed once a writer has ended the connection.
	finished chan struct{}

	// The writer's own; writers run one after another.
	st       *stream
	nextPing time.Time
}

// command is work for the writer: a reply frame to write, or a resume.
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

// Buffer sizes of an upgraded connection, smaller than net/http's 4 KiB
// each since every idle connection keeps them: client frames are small,
// and a frame of events up to wsWriteBuffer still goes out in one write.
const (
	wsReadBuffer  = 1 << 10
	wsWriteBuffer = 2 << 10
)

// serveWS upgrades GET /v1/ws to a WebSocket and starts serving it. The
// handler returns once the connection is up; the connection's own
// goroutine, started with a small stack, serves it until either side
// closes.
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

	// The request's context ends when this handler returns; the
	// connection outlives it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	st, err := s.subscribe(ctx, id.user.ID, from)
	if err != nil {
		cancel()
		s.untrack()
		s.writeError(w, r, err)
		return
	}
	// Any origin may connect: clients authenticate with a token in the
	// header or the URL, never with a cookie, so a foreign page that opens
	// a socket has no credentials to borrow.
	c, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		st.close()
		cancel()
		s.untrack()
		return // Accept has answered the request
	}
	c.SetReadLimit(maxClientFrame)
	wc := &wsConn{s: s, c: c, user: id.user.ID, exp: id.exp, ctx: ctx, cancel: cancel, st: st,
		cmds: make(chan command, commandQueueLen), finished: make(chan struct{}),
		nextPing: time.Now().Add(s.ping)}
	wc.writeGuard = time.AfterFunc(writeTimeout, func() { c.CloseNow() })
	wc.writeGuard.Stop()
	// Both timers exist before any writer can run.
	wc.clock = time.AfterFunc(time.Hour, wc.wake)
	wc.clock.Reset(time.Until(wc.deadline()))
	s.metrics.wsConns.Inc()
	st.sub.OnReady(wc.wake)
	go wc.serve()
}

// smallBuffers makes the WebSocket upgrade keep buffers of wsReadBuffer
// and wsWriteBuffer bytes instead of the ones net/http hands over.
type smallBuffers struct{ http.ResponseWriter }

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	r, bw := brw.Reader, brw.Writer
	if r.Buffered() == 0 { // else the client sent early; keep what it sent
		r = bufio.NewReaderSize(conn, wsReadBuffer)
	}
	if bw.Buffered() == 0 {
		bw = bufio.NewWriterSize(conn, wsWriteBuffer)
	}
	return conn, bufio.NewReadWriter(r, bw), nil
}

// serve reads the client's frames until the connection ends, then waits
// for the writer to close it.
func (wc *wsConn) serve() {
	defer wc.s.untrack()
	defer wc.s.metrics.wsConns.Dec()
	stopWake := context.AfterFunc(wc.s.base, wc.wake)
	defer stopWake()

	wc.readLoop(wc.ctx)
	wc.cancel()
	wc.wake() // a writer sees ctx done and ends the connection
	<-wc.finished
}

// wake makes a writer run: it starts one unless one is running, which
// then makes another pass.
func (wc *wsConn) wake() {
	if wc.wakes.Add(1) == 1 {
		go wc.flush()
	}
}

// flush is the writer: it makes passes over the work until a pass leaves
// nothing queued and finds no new wake-up, or until the connection ends.
func (wc *wsConn) flush() {
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	for {
		n := wc.wakes.Load()
		more, why, stop := wc.pass(scratch)
		if stop {
			wc.finish(why)
			return
		}
		if !more && wc.wakes.CompareAndSwap(n, 0) {
			return
		}
	}
}

// scratchPool holds the writers' buffers for frames of several events, so
// that idle connections hold none.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// maxScratch is the largest buffer a writer puts back in scratchPool.
const maxScratch = maxBatchBytes

// finish ends the connection: with a close frame when the server chose to
// end it, and then by closing the socket. The reader's next read fails.
func (wc *wsConn) finish(why closeReason) {
	wc.clock.Stop()
	wc.st.close()
	if why.code != 0 {
		wc.s.dropped("websocket", wc.user, why.drop)
		wc.c.Close(why.code, why.reason)
	}
	wc.cancel()
	wc.c.CloseNow()
	close(wc.finished)
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

// pass runs the commands waiting, pings when a ping is due and writes one
// batch of the events queued. It reports whether events may be left (the
// batch was full), and whether the connection must end and why. Taking
// one batch a pass keeps replies from waiting behind a stream of events.
func (wc *wsConn) pass(scratch *[]byte) (more bool, why closeReason, stop bool) {
	if wc.ctx.Err() != nil {
		return false, closeReason{}, true // the client went away
	}
	if why, stop := wc.runCommands(); stop {
		return false, why, true
	}
	if why, stop := wc.checkTime(); stop {
		return false, why, true
	}
	ds, err := wc.st.sub.TryNext(maxBatchEvents)
	if len(ds) > 0 {
		err := batches(ds, scratch, wc.write)
		if cap(*scratch) > maxScratch {
			*scratch = nil
		}
		if err != nil && errors.Is(wc.st.sub.Err(), parley.ErrSlowConsumer) {
			// The write blocked on a full socket while the queue
			// overflowed behind it: the reader is slow.
			return false, closeSlowConsumer, true
		} else if err != nil {
			return false, closeReason{code: websocket.StatusInternalError, drop: dropWriteFailed}, true
		}
	}
	if why, stop := wc.stopReason(err); stop {
		return false, why, true
	}
	return len(ds) == maxBatchEvents, closeReason{}, false
}

// deadline returns when a writer must run on its own: for the next ping
// or when the token expires.
func (wc *wsConn) deadline() time.Time {
	expires := time.Now().Add(wc.exp.Sub(wc.s.now()))
	if expires.Before(wc.nextPing) {
		return expires
	}
	return wc.nextPing
}

// checkTime pings when a ping is due and ends the connection when the
// server shuts down or the token has expired. It sets clock for the next
// time to look.
func (wc *wsConn) checkTime() (closeReason, bool) {
	switch {
	case wc.s.base.Err() != nil:
		return closeShuttingDown, true
	case !wc.s.now().Before(wc.exp):
		return closeTokenExpired, true
	case !time.Now().Before(wc.nextPing):
		if err := wc.pingPeer(); err != nil {
			if wc.ctx.Err() != nil {
				return closeReason{}, true // the client went away
			}
			return closeReason{code: websocket.StatusPolicyViolation, reason: "ping timeout",
				drop: dropWriteFailed}, true
		}
		wc.nextPing = time.Now().Add(wc.s.ping)
	}
	wc.clock.Reset(time.Until(wc.deadline()))
	return closeReason{}, false
}

// stopReason interprets the error of a subscription.
func (wc *wsConn) stopReason(err error) (closeReason, bool) {
	switch {
	case err == nil:
		return closeReason{}, false
	case wc.ctx.Err() != nil:
		return closeReason{}, true // the client went away
	case errors.Is(err, parley.ErrSlowConsumer):
		return closeSlowConsumer, true
	}
	wc.s.logger.Debug("replay failed", "conn", "websocket", "user", wc.user, "err", err)
	return closeReplayFailed, true
}

// runCommands handles the commands waiting, without blocking.
func (wc *wsConn) runCommands() (closeReason, bool) {
	for {
		select {
		case cmd := <-wc.cmds:
			if err := wc.runCommand(cmd); err != nil {
				return closeReason{code: websocket.StatusInternalError, drop: dropWriteFailed}, true
			}
		default:
			return closeReason{}, false
		}
	}
}

func (wc *wsConn) runCommand(cmd command) error {
	if cmd.resume == nil {
		return wc.write(cmd.reply)
	}
	st, err := wc.s.subscribe(wc.ctx, wc.user, cmd.resume.from)
	if err != nil {
		return wc.write(errorFrame(wc.s, cmd.resume.ref, err))
	}
	wc.st.close()
	wc.st = st
	// Events the new subscription queues from here on wake a writer; this
	// one is running, so it takes the ones queued already in this pass.
	st.sub.OnReady(wc.wake)
	return wc.write(okFrame(cmd.resume.ref))
}

// write writes one text frame. It does not end with ctx: a connection
// being closed still gets its last frames, within writeTimeout, after
// which writeGuard closes it.
func (wc *wsConn) write(frame []byte) error {
	wc.writeGuard.Reset(writeTimeout)
	err := wc.c.Write(context.Background(), websocket.MessageText, frame)
	wc.writeGuard.Stop()
	if err != nil {
		return err
	}
	wc.s.metrics.framesSent.Inc()
	return nil
}

// pingPeer pings the client and waits for its pong, at most writeTimeout.
func (wc *wsConn) pingPeer() error {
	ctx, cancel := context.WithTimeout(wc.ctx, writeTimeout)
	defer cancel()
	return wc.c.Ping(ctx)
}
