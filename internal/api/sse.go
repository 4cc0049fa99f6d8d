package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// sseConn is one Server-Sent Events stream.
type sseConn struct {
	s    *Server
	w    http.ResponseWriter
	rc   *http.ResponseController
	user string
	exp  time.Time
	st   *stream
}

// serveSSE streams the user's events as text/event-stream: each event an
// "id:" line with its stream cursor (when it has one) and a "data:" line
// with its JSON, no "event:" line, so EventSource.onmessage gets them all.
// It resumes from Last-Event-ID, else from ?stream=.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	id, err := s.authUser(r, streamToken(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, err := sseCursor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.track() {
		s.writeError(w, r, errShuttingDown)
		return
	}
	defer s.untrack()

	ctx, cancel := s.connContext(r.Context())
	defer cancel(nil)
	st, err := s.subscribe(ctx, id.user.ID, from)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer st.close()

	sc := &sseConn{s: s, w: w, rc: http.NewResponseController(w), user: id.user.ID,
		exp: id.exp, st: st}
	s.metrics.sseConns.Inc()
	defer s.metrics.sseConns.Dec()
	if reason := sc.run(ctx); reason != "" {
		s.dropped("sse", sc.user, reason)
	}
}

// sseCursor returns the cursor to resume from: Last-Event-ID, which
// EventSource sends when it reconnects, else the stream parameter.
func sseCursor(r *http.Request) (parley.StreamCursor, error) {
	c := r.Header.Get("Last-Event-ID")
	if c == "" {
		c = r.URL.Query().Get("stream")
	}
	return parley.ParseStreamCursor(c)
}

// run writes events until the stream must end, and returns the drop
// reason, "" when the client left.
func (sc *sseConn) run(ctx context.Context) string {
	h := sc.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell nginx not to buffer the stream
	sc.w.WriteHeader(http.StatusOK)
	if err := sc.flush([]byte(": connected\n\n")); err != nil {
		return ""
	}

	nextPing := time.Now().Add(sc.s.ping)
	for {
		if reason, stop := sc.checkTime(&nextPing); stop {
			return sc.end(reason)
		}
		wait, cancel := context.WithDeadline(ctx, sc.deadline(nextPing))
		ds, err := sc.st.sub.Next(wait, maxBatchEvents)
		cancel()
		if len(ds) > 0 {
			if err := sc.flush(encodeSSE(ds)); err != nil {
				return dropWriteFailed
			}
		}
		if reason, stop := sc.stopReason(ctx, err); stop {
			return sc.end(reason)
		}
	}
}

// checkTime writes a ping comment when one is due and reports a token
// that has expired.
func (sc *sseConn) checkTime(nextPing *time.Time) (string, bool) {
	if !sc.s.now().Before(sc.exp) {
		return dropTokenExpired, true
	}
	if time.Now().Before(*nextPing) {
		return "", false
	}
	if err := sc.flush([]byte(": ping\n\n")); err != nil {
		return dropWriteFailed, true
	}
	*nextPing = time.Now().Add(sc.s.ping)
	return "", false
}

func (sc *sseConn) deadline(nextPing time.Time) time.Time {
	expires := time.Now().Add(sc.exp.Sub(sc.s.now()))
	if expires.Before(nextPing) {
		return expires
	}
	return nextPing
}

// stopReason interprets the error of a wait for events.
func (sc *sseConn) stopReason(ctx context.Context, err error) (string, bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(context.Cause(ctx), errShutdown):
		return dropShutdown, true
	case ctx.Err() != nil:
		return "", true
	case errors.Is(err, parley.ErrSlowConsumer):
		return dropSlowConsumer, true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "", false
	}
	sc.s.logger.Debug("replay failed", "conn", "sse", "user", sc.user, "err", err)
	return dropReplayFailed, true
}

// end writes a last comment saying why the stream ends, for people reading
// it with curl; EventSource ignores it and reconnects.
func (sc *sseConn) end(reason string) string {
	if reason != "" {
		sc.flush([]byte(": closed " + reason + "\n\n"))
	}
	return reason
}

// flush writes p and flushes it, within writeTimeout.
func (sc *sseConn) flush(p []byte) error {
	// Not every ResponseWriter supports deadlines; without one the write
	// is bounded only by the server's WriteTimeout.
	sc.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := sc.w.Write(p); err != nil {
		return err
	}
	return sc.rc.Flush()
}

// encodeSSE encodes deliveries as SSE events.
func encodeSSE(ds []*hub.Delivery) []byte {
	var buf []byte
	for _, d := range ds {
		if d.Stream != "" {
			buf = append(buf, "id: "...)
			buf = append(buf, d.Stream...)
			buf = append(buf, '\n')
		}
		buf = append(buf, "data: "...)
		buf = append(buf, d.Data...)
		buf = append(buf, "\n\n"...)
	}
	return buf
}
