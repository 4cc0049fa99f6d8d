package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

func init() {
	register("listen", "print a user's live events as they arrive", runListen)
}

const listenSynopsis = `
listen [--stream CURSOR] [--count N] [--timeout DURATION] [flags]

Connects to the token's user's live stream (GET /v1/ws) and prints each
event as it arrives, one a line: messages ("12:03:04 dm:alice:bob alice:
hi"), membership changes, read marks and notifications; with --json, each
event's JSON as it came. Notes about the connection go to standard error.

When the server closes the connection with a code from 4000 to 4399 (a slow
reader, a node shutting down) or the connection drops, listen reconnects
and resumes after the last event it received: it misses nothing and prints
nothing twice. A code from 4400 to 4499 (an expired token) ends it with an
error. Ctrl-C ends it cleanly, and so does --timeout, unless --count was
not reached by then.`

const listenExamples = `  parley listen
  parley listen --json | jq -c 'select(.type == "message") | .message'
  parley listen --count 1 --timeout 30s    # wait for one message or notification
  parley listen --json --stream "$LAST"     # resume after a stream cursor`

// Reconnecting: the first try comes soon, since a slow reader's close is
// over once it reconnects; the wait doubles while reconnecting brings no
// event, up to redialMax, and listen gives up after redialTries failed
// dials in a row (about half a minute).
const (
	redialMin   = 100 * time.Millisecond
	redialMax   = 5 * time.Second
	redialTries = 10
)

// dialTimeout bounds the WebSocket handshake.
const dialTimeout = 15 * time.Second

// maxFrame bounds a frame from the server: one holds a batch of events,
// each with a message of up to 64 KiB.
const maxFrame = 16 << 20

// listener prints the events of a user's live stream.
type listener struct {
	c      *client
	stdout io.Writer
	stderr io.Writer
	raw    bool // print events as they came (--json)

	// stream is the stream cursor of the last event received, where a
	// new connection resumes.
	stream string

	// want is how many message and notification events to print before
	// stopping, 0 for no limit; counted is how many were printed.
	want    int
	counted int
}

// runListen is `parley listen`.
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("listen", listenSynopsis, listenExamples, stderr)
	l := &listener{stdout: stdout, stderr: stderr}
	fs.StringVar(&l.stream, "stream", "", "resume after this stream cursor")
	fs.IntVar(&l.want, "count", 0, "exit after this many message and notification events")
	timeout := fs.Duration("timeout", 0, "exit after this long (default: run until Ctrl-C)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	if l.want < 0 || *timeout < 0 {
		return usageError{"--count and --timeout must not be negative"}
	}
	if l.c, err = o.userClient(); err != nil {
		return err
	}
	l.raw = o.json

	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	return l.finish(ctx, l.run(ctx), *timeout)
}

// finish turns how run ended into the command's result: Ctrl-C and the
// end of --timeout stop cleanly, unless --count was not reached in time.
func (l *listener) finish(ctx context.Context, err error, timeout time.Duration) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && l.want > 0 {
		return fmt.Errorf("timed out after %v with %d of %d events", timeout, l.counted, l.want)
	}
	return nil
}

// run prints events until --count is reached, the server ends the stream
// or ctx is done, reconnecting after the closes that ask for it.
func (l *listener) run(ctx context.Context) error {
	conn, err := l.dial(ctx)
	if err != nil {
		return err
	}
	delay := redialMin
	for {
		got, err := l.read(ctx, conn)
		if err == nil || ctx.Err() != nil || !resumable(err) {
			return err
		}

		if got {
			delay = redialMin
		}
		fmt.Fprintf(l.stderr, "parley: %v; resuming\n", err)
		if conn, err = l.redial(ctx, &delay); err != nil {
			return err
		}
	}
}

// redial reconnects, waiting *delay before each try and doubling it. It
// gives up on an answer that a retry cannot change (401, 403) and after
// redialTries failed dials.
func (l *listener) redial(ctx context.Context, delay *time.Duration) (*websocket.Conn,
	error) {
	var err error
	for range redialTries {
		if err := sleep(ctx, *delay); err != nil {
			return nil, err
		}
		*delay = min(*delay*2, redialMax)

		var conn *websocket.Conn
		conn, err = l.dial(ctx)
		var answer *apiError
		if err == nil || (errors.As(err, &answer) && answer.Status < 500) {
			return conn, err
		}
		fmt.Fprintf(l.stderr, "parley: %v; retrying\n", err)
	}
	return nil, fmt.Errorf("reconnect: %w", err)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial opens a WebSocket connection to the user's stream, resuming after
// l.stream when it is set.
func (l *listener) dial(ctx context.Context) (*websocket.Conn, error) {
	u := l.c.base + "/v1/ws"
	if l.stream != "" {
		u += "?" + url.Values{"stream": {l.stream}}.Encode()
	}
	opts := &websocket.DialOptions{
		HTTPClient: &http.Client{Timeout: dialTimeout},
		HTTPHeader: http.Header{"Authorization": {"Bearer " + l.c.cred}},
	}

	conn, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		return nil, l.c.dialError(err, resp)
	}
	conn.SetReadLimit(maxFrame)
	return conn, nil
}

// dialError explains a failed WebSocket handshake: the server's error
// answer when it refused the upgrade, else why it could not be reached.
func (c *client) dialError(err error, resp *http.Response) error {
	if resp == nil || resp.StatusCode < 300 {
		return c.transportError(err)
	}
	// The library keeps the first KiB of the answer, enough for an error.
	body, _ := io.ReadAll(resp.Body)
	return answerError(resp.StatusCode, body)
}

// read prints the events conn brings. It returns nil once --count is
// reached or the server closed the connection normally, else why the
// connection ended, and whether any event arrived.
func (l *listener) read(ctx context.Context, conn *websocket.Conn) (bool, error) {
	defer conn.CloseNow()
	got := false
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return got, closeReason(err)
		}
		got = true
		if l.frame(data) {
			conn.Close(websocket.StatusNormalClosure, "")
			return got, nil
		}
	}
}

// closedError is why a connection ended: the server's close code and
// reason, or code -1 when it dropped without a close frame.
type closedError struct {
	code   websocket.StatusCode
	reason string
	err    error
}

// Error says how the connection ended.
func (e *closedError) Error() string {
	if e.code == -1 {
		return fmt.Sprintf("connection lost: %v", e.err)
	}
	if e.reason == "" {
		return fmt.Sprintf("server closed the connection (%d)", e.code)
	}
	return fmt.Sprintf("server closed the connection: %s (%d)", clean(e.reason), e.code)
}

// Unwrap returns the read error.
func (e *closedError) Unwrap() error { return e.err }

// closeReason returns why a read failed: nil for a normal close by the
// server, else a *closedError.
func closeReason(err error) error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return &closedError{code: -1, err: err}
	}
	if ce.Code == websocket.StatusNormalClosure {
		return nil
	}
	return &closedError{code: ce.Code, reason: ce.Reason, err: err}
}

// resumable reports whether a connection that ended with err should be
// resumed: docs/protocol.md's codes 4000 to 4399, a server going away, and
// a connection lost without a close frame (a node killed, a network cut).
func resumable(err error) bool {
	var ce *closedError
	if !errors.As(err, &ce) {
		return false
	}
	c := ce.code
	return c == -1 || c == websocket.StatusGoingAway || (c >= 4000 && c < 4400)
}

// frame prints the events of a frame, one JSON object a line, and reports
// whether --count is reached.
func (l *listener) frame(data []byte) bool {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && l.event(line) {
			return true
		}
	}
	return false
}

// event prints an event and reports whether --count is reached.
func (l *listener) event(line []byte) bool {
	var head struct {
		Type   string `json:"type"`
		Stream string `json:"stream"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		fmt.Fprintf(l.stderr, "parley: skipped an event that is not JSON: %.80q\n", line)
		return false
	}
	if head.Stream != "" {
		l.stream = head.Stream
	}

	if l.raw {
		l.stdout.Write(append(line, '\n'))
	} else {
		l.printEvent(head.Type, line)
	}
	if head.Type != "message" && head.Type != "notification" {
		return false
	}
	l.counted++
	return l.want > 0 && l.counted >= l.want
}

// liveEvent holds the fields of the events that listen prints as text.
type liveEvent struct {
	Message      *message      `json:"message"`
	Notification *notification `json:"notification"`
	Read         *readMark     `json:"read"`
}

// readMark is the payload of a read event.
type readMark struct {
	User         string     `json:"user"`
	Conversation string     `json:"conversation"`
	Cursor       flexString `json:"cursor"`
	Notification string     `json:"notification"`
	At           time.Time  `json:"at"`
}

// printEvent writes an event as text: what happened in the user's stream
// on stdout, what concerns the connection on stderr.
func (l *listener) printEvent(typ string, line []byte) {
	switch typ {
	case "ready":
		fmt.Fprintln(l.stderr, "parley: live")
		return
	case "error":
		var e struct{ Code, Message string }
		json.Unmarshal(line, &e)
		fmt.Fprintf(l.stderr, "parley: server error: %s (%s)\n", clean(e.Message), clean(e.Code))
		return
	case "sent", "ok", "pong":
		return // replies to frames that listen never sends
	}

	var e liveEvent
	text := ""
	if json.Unmarshal(line, &e) == nil {
		text = eventText(typ, &e)
	}
	if text == "" {
		text = clock(time.Time{}) + " " + clean(string(line))
	}
	fmt.Fprintln(l.stdout, text)
}

// eventText renders an event of the user's stream, or returns "" for one
// it does not know.
func eventText(typ string, e *liveEvent) string {
	switch {
	case (typ == "message" || typ == "member") && e.Message != nil:
		m := e.Message
		return clock(m.SentAt) + " " + clean(m.Conversation) + " " + entryText(m)
	case typ == "notification" && e.Notification != nil:
		n := e.Notification
		head := "notification"
		if tag := priorityTag(n); tag != "" {
			head += " " + tag
		}
		return clock(n.CreatedAt) + " " + head + ": " + notificationText(n)
	case typ == "read" && e.Read != nil:
		return clock(e.Read.At) + " " + readText(e.Read)
	}
	return ""
}

// readText renders a read mark: "bob read dm:alice:bob up to #42".
func readText(r *readMark) string {
	if r.Notification != "" {
		return clean(r.User) + " read notification " + clean(r.Notification)
	}
	return fmt.Sprintf("%s read %s up to #%s", clean(r.User), clean(r.Conversation),
		clean(string(r.Cursor)))
}
