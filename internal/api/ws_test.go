package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-chat/parley/internal/hub"
)

// frameEvent is any event or reply a client receives.
type frameEvent struct {
	Type    string          `json:"type"`
	Ref     string          `json:"ref"`
	Stream  string          `json:"stream"`
	Message json.RawMessage `json:"message"`
	Error   struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	raw string
}

// wsClient is a test WebSocket client.
type wsClient struct {
	t       *testing.T
	c       *websocket.Conn
	pending []frameEvent
}

func (e *env) dialWS(token, query string, dialer *net.Dialer) *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}}
	if dialer != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/v1/ws"+query, opts)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: e.t, c: c}
}

// next returns the next event, reading a frame when none is pending.
func (w *wsClient) next() (frameEvent, error) {
	if len(w.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, data, err := w.c.Read(ctx)
		if err != nil {
			return frameEvent{}, err
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var ev frameEvent
			if err := json.Unmarshal(line, &ev); err != nil {
				w.t.Fatalf("frame line %q: %v", line, err)
			}
			ev.raw = string(line)
			w.pending = append(w.pending, ev)
		}
	}
	ev := w.pending[0]
	w.pending = w.pending[1:]
	return ev, nil
}

// await returns the next event of the type, skipping others.
func (w *wsClient) await(typ string) frameEvent {
	w.t.Helper()
	for {
		ev, err := w.next()
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	w.sendRaw(websocket.MessageText, b)
}

func (w *wsClient) sendRaw(typ websocket.MessageType, b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, typ, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func TestWebSocketSendAndReceive(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.register("alice"), e.register("bob")
	wa := e.dialWS(alice, "", nil)
	wb := e.dialWS(bob, "", nil)
	wa.await("ready")
	ready := wb.await("ready")
	if ready.Stream == "" {
		t.Fatalf("ready without stream cursor: %s", ready.raw)
	}

	wa.send(map[string]any{"type": "send", "ref": "r1", "to": "bob", "body": "over the socket"})
	sent := wa.await("sent")
	if sent.Ref != "r1" || !strings.Contains(string(sent.Message), "over the socket") {
		t.Fatalf("sent reply %s", sent.raw)
	}
	got := wb.await("message")
	if !strings.Contains(string(got.Message), "over the socket") || got.Stream == "" {
		t.Fatalf("bob got %s", got.raw)
	}

	wb.send(map[string]any{"type": "ping", "ref": "p"})
	if ev := wb.await("pong"); ev.Ref != "p" {
		t.Fatalf("pong %s", ev.raw)
	}
	wb.send(map[string]any{"type": "resume", "ref": "rs", "stream": ready.Stream})
	if ev := wb.await("ok"); ev.Ref != "rs" {
		t.Fatalf("resume reply %s", ev.raw)
	}
	again := wb.await("message")
	var m1, m2 struct{ ID, Cursor string }
	json.Unmarshal(got.Message, &m1)
	json.Unmarshal(again.Message, &m2)
	if m1 != m2 {
		t.Fatalf("resume replayed %s, want %s", again.raw, got.raw)
	}
	wb.await("ready")
}

func TestWebSocketErrorFrames(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.register("alice")
	e.register("bob")
	w := e.dialWS(alice, "", nil)
	w.await("ready")

	cases := []struct {
		name  string
		typ   websocket.MessageType
		frame string
		code  string
	}{
		{"invalid json", websocket.MessageText, `{"type":`, "invalid_json"},
		{"invalid utf8", websocket.MessageText, "{\"type\":\"send\",\"body\":\"\xff\"}", "invalid_utf8"},
		{"binary frame", websocket.MessageBinary, `{}`, "invalid_frame"},
		{"unknown type", websocket.MessageText, `{"type":"dance","ref":"x"}`, "unknown_type"},
		{"unknown field", websocket.MessageText, `{"type":"ping","colour":1}`, "invalid_json"},
		{"no target", websocket.MessageText, `{"type":"send","ref":"x","body":"hi"}`, "invalid_frame"},
		{"unknown recipient", websocket.MessageText, `{"type":"send","ref":"x","to":"nobody","body":"hi"}`,
			"user_not_found"},
		{"not a member", websocket.MessageText, `{"type":"send","ref":"x","group":"g1","body":"hi"}`,
			"group_not_found"},
		{"oversized body", websocket.MessageText, `{"type":"send","ref":"x","to":"bob","body":"` +
			strings.Repeat("a", 20000) + `"}`, "body_too_large"},
		{"bad read", websocket.MessageText, `{"type":"read","ref":"x"}`, "invalid_frame"},
		{"bad cursor", websocket.MessageText, `{"type":"read","ref":"x","conversation":"dm:alice:bob",` +
			`"cursor":"x"}`, "invalid_cursor"},
		{"bad stream", websocket.MessageText, `{"type":"resume","ref":"x","stream":"!!"}`,
			"invalid_stream_cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.sendRaw(c.typ, []byte(c.frame))
			ev := w.await("error")
			if ev.Error.Code != c.code {
				t.Fatalf("error %s, want code %s", ev.raw, c.code)
			}
		})
	}

	// The connection survived every error.
	w.send(map[string]any{"type": "ping", "ref": "still"})
	w.await("pong")

	t.Run("frame over the limit closes with 1009", func(t *testing.T) {
		w.sendRaw(websocket.MessageText, bytes.Repeat([]byte("a"), maxClientFrame+1))
		_, err := w.next()
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("got %v", err)
		}
	})
}

func TestWebSocketRefusesBadHandshake(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.register("alice")
	expect(t, e.do("GET", "/v1/ws", "", nil), http.StatusUnauthorized)
	expect(t, e.do("GET", "/v1/ws?token=junk", "", nil), http.StatusUnauthorized)
	expect(t, e.do("GET", "/v1/ws?stream=!!", alice, nil), http.StatusBadRequest)
}

// smallReceiveBuffer makes a client socket that holds little, so that a
// client that stops reading blocks the server's writes soon.
func smallReceiveBuffer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
}

func TestSlowWebSocketReaderIsDropped(t *testing.T) {
	e := newEnv(t, envOptions{limits: hub.Limits{QueueLen: 256, QueueBytes: 1 << 20}})
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	slow := e.dialWS(bob, "", smallReceiveBuffer())
	fast := e.dialWS(carol, "", nil)
	slow.await("ready")
	fast.await("ready")

	// Carol reads everything meanwhile.
	body := strings.Repeat("x", 15000)
	received := make(chan int, 1)
	go func() {
		n := 0
		for n < 300 {
			ev, err := fast.next()
			if err != nil {
				break
			}
			if ev.Type == "message" {
				n++
			}
		}
		received <- n
	}()

	dropped := func() bool {
		return e.counter("parley_connections_dropped_total", map[string]string{"reason": dropSlowConsumer}) > 0
	}
	for i := 0; i < 300; i++ {
		e.sendDM(alice, "bob", body)
		e.sendDM(alice, "carol", body)
	}
	if n := <-received; n != 300 {
		t.Fatalf("the fast reader got %d messages of 300", n)
	}

	// Bob reads again: what was buffered, then the close frame.
	var err error
	for err == nil {
		_, err = slow.next()
	}
	if websocket.CloseStatus(err) != CloseSlowConsumer {
		t.Fatalf("slow reader ended with %v, want close %d", err, CloseSlowConsumer)
	}
	if !dropped() {
		t.Fatal("drop not counted")
	}
}

func TestShutdownClosesWebSockets(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.dialWS(e.register("alice"), "", nil)
	w.await("ready")
	ended := make(chan error, 1)
	go func() {
		_, err := w.next()
		ended <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.api.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-ended; websocket.CloseStatus(err) != CloseShuttingDown {
		t.Fatalf("got %v, want close %d", err, CloseShuttingDown)
	}
	expect(t, e.do("GET", "/v1/events", "", nil), http.StatusUnauthorized)
}

// goroutinesIn counts the goroutines whose stack has fn in it.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestIdleWebSocketKeepsOnlyItsReader(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.register("alice"), e.register("bob")
	const conns = 20
	var ws []*wsClient
	for range conns {
		w := e.dialWS(bob, "", nil)
		w.await("ready")
		ws = append(ws, w)
	}
	e.sendDM(alice, "bob", "to every device")
	for _, w := range ws {
		w.await("message")
	}
	waitFor(t, "the writers to exit", func() bool {
		return goroutinesIn("api.(*wsConn).flush") == 0
	})
	if n := goroutinesIn("api.(*wsConn).serve"); n != conns {
		t.Errorf("%d connection goroutines, want %d", n, conns)
	}
	if n := goroutinesIn("api.(*Server).serveWS"); n != 0 {
		t.Errorf("%d upgrade handlers still running, want 0", n)
	}
	// A writer starts again for the next event.
	e.sendDM(alice, "bob", "again")
	for _, w := range ws {
		if ev := w.await("message"); !strings.Contains(string(ev.Message), "again") {
			t.Fatalf("got %s", ev.raw)
		}
	}
}

// TestWebSocketFrameSentWithTheHandshake sends a frame in the same write as
// the upgrade request: the server must not lose the bytes it read ahead.
func TestWebSocketFrameSentWithTheHandshake(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := e.register("alice")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))

	payload := []byte(`{"type":"ping","ref":"early"}`)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload))}
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	req := "GET /v1/ws HTTP/1.1\r\nHost: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Authorization: Bearer " + token + "\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for {
		var head [2]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			t.Fatalf("no pong for the early ping: %v", err)
		}
		n := int(head[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			io.ReadFull(br, ext[:])
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			io.ReadFull(br, ext[:])
			n = int(binary.BigEndian.Uint64(ext[:]))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte(`"pong"`)) && bytes.Contains(body, []byte(`"early"`)) {
			return
		}
	}
}

// sseEvent is one event of an SSE stream.
type sseEvent struct {
	id   string
	data string
}

func readSSE(t *testing.T, sc *bufio.Scanner) (sseEvent, error) {
	t.Helper()
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && ev.data != "":
			return ev, nil
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	if sc.Err() != nil {
		return ev, sc.Err()
	}
	return ev, errors.New("stream ended")
}

func (e *env) openSSE(token, lastID string) (*bufio.Scanner, func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/events?token="+token, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("open sse: %v", err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("sse answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	return sc, func() { cancel(); res.Body.Close() }
}

func awaitSSE(t *testing.T, sc *bufio.Scanner, typ string) sseEvent {
	t.Helper()
	for {
		ev, err := readSSE(t, sc)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if strings.Contains(ev.data, `"type":"`+typ+`"`) {
			return ev
		}
	}
}

func TestSSEReceiveAndResume(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.register("alice"), e.register("bob")

	sc, stop := e.openSSE(bob, "")
	ready := awaitSSE(t, sc, "ready")
	e.sendDM(alice, "bob", "first")
	first := awaitSSE(t, sc, "message")
	if !strings.Contains(first.data, "first") || first.id == "" {
		t.Fatalf("first event %+v", first)
	}
	stop()

	e.sendDM(alice, "bob", "second")
	sc, stop = e.openSSE(bob, first.id)
	defer stop()
	// "second" comes from the replay, before "ready", or live, after it,
	// depending on whether the live reader had it when the stream opened.
	var gotSecond, gotReady bool
	for !gotSecond || !gotReady {
		ev, err := readSSE(t, sc)
		if err != nil {
			t.Fatalf("resume after first: %v", err)
		}
		switch {
		case strings.Contains(ev.data, `"type":"ready"`):
			gotReady = true
		case strings.Contains(ev.data, `"type":"message"`):
			if !strings.Contains(ev.data, "second") || gotSecond {
				t.Fatalf("resume after first gave %+v", ev)
			}
			gotSecond = true
		}
	}

	sc2, stop2 := e.openSSE(bob, ready.id)
	defer stop2()
	if ev := awaitSSE(t, sc2, "message"); !strings.Contains(ev.data, "first") {
		t.Fatalf("resume from ready gave %+v", ev)
	}
}
