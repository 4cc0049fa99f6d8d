// Package e2e tests Parley's guarantees end to end: each test runs the real
// parley binary (`parley serve` with its embedded broker and SQLite) and
// talks to it only through its public interfaces, HTTP, WebSocket, SSE and
// Kafka, the way a user's program would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// parleyBin is the binary under test, built once by TestMain.
var parleyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parleyBin = filepath.Join(dir, "parley")
	build := exec.Command("go", "build", "-o", parleyBin, "../cmd/parley")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build parley:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Server is a running `parley serve` process.
type Server struct {
	t      *testing.T
	Data   string
	HTTP   string // base URL, http://127.0.0.1:port
	Kafka  string // embedded broker address
	APIKey string
	args   []string

	cmd    *exec.Cmd
	exited chan struct{}
	// mu guards out.
	mu  sync.Mutex
	out bytes.Buffer
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartServer runs parley serve on free ports with a fresh data folder and
// waits until it is ready. Extra flags go after the defaults.
func StartServer(t *testing.T, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, Data: t.TempDir(), APIKey: "test-api-key"}
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	s.HTTP, s.Kafka = "http://"+httpAddr, kafkaAddr
	s.args = append([]string{"serve", "--data", s.Data, "--http", httpAddr, "--kafka-listen", kafkaAddr,
		"--api-key", s.APIKey, "--jwt-secret", "test-secret-for-e2e-tests-only"}, extra...)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(parleyBin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	s.exited = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start parley: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	s.WaitReady()
}

// Write collects the process's output, shown when a test fails.
func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// Output returns what the server printed so far.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// WaitReady waits up to 30 s for /readyz to answer 200.
func (s *Server) WaitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("parley exited before it was ready:\n%s", s.Output())
		default:
		}
		resp, err := http.Get(s.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("parley not ready after 30s:\n%s", s.Output())
}

// Kill ends the server with SIGKILL and waits for it to go.
func (s *Server) Kill() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// Stop ends the server with SIGTERM, then SIGKILL after 15 s.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.t.Errorf("parley did not stop within 15s of SIGTERM:\n%s", s.Output())
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	if s.t.Failed() {
		s.t.Logf("server output:\n%s", lastLines(s.Output(), 60))
	}
}

// Restart starts the server again on the same ports and data folder.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// User is an account on a Server.
type User struct {
	Name  string
	Token string
	s     *Server
}

// Register creates an account and returns it.
func (s *Server) Register(t *testing.T, name string) *User {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	u := &User{Name: name, s: s}
	if code := u.Call(t, "POST", "/v1/auth/register",
		map[string]string{"username": name, "password": "password-" + name}, &out); code != 201 {
		t.Fatalf("register %s: status %d", name, code)
	}
	u.Token = out.Token
	return u
}

// Request sends an HTTP request with the given bearer token (none when
// empty) and raw body, and returns the status and body.
func (s *Server) Request(t *testing.T, token, method, path string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.HTTP+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Call sends JSON as the user, decodes the answer into out (when not nil)
// and returns the status.
func (u *User) Call(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	code, b := u.s.Request(t, u.Token, method, path, body)
	if out != nil && code < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return code
}

// Message is a message as the API returns it.
type Message struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Conversation string `json:"conversation"`
	From         string `json:"from"`
	Body         string `json:"body"`
	ClientID     string `json:"client_id"`
	Cursor       string `json:"cursor"`
	Member       *struct {
		User   string `json:"user"`
		Action string `json:"action"`
	} `json:"member"`
}

// SendDM sends a direct message and fails the test unless it is accepted.
func (u *User) SendDM(t *testing.T, to, body, clientID string) Message {
	t.Helper()
	var m Message
	in := map[string]string{"body": body}
	if clientID != "" {
		in["client_id"] = clientID
	}
	if code := u.Call(t, "POST", "/v1/dm/"+to+"/messages", in, &m); code != 201 {
		t.Fatalf("send DM %s -> %s: status %d", u.Name, to, code)
	}
	return m
}

// History returns up to 500 entries of a conversation path such as
// "/v1/dm/bob" or "/v1/groups/g1", oldest first.
func (u *User) History(t *testing.T, path string) []Message {
	t.Helper()
	var out struct {
		Messages []Message `json:"messages"`
	}
	if code := u.Call(t, "GET", path+"/messages?limit=500", nil, &out); code != 200 {
		t.Fatalf("history %s: status %d", path, code)
	}
	return out.Messages
}

// WaitHistory polls a conversation's history until cond holds, for up to
// 15 s, and returns the last history read.
func (u *User) WaitHistory(t *testing.T, path string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h := u.History(t, path)
		if cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("history of %s never met the condition; last has %d entries", path, len(h))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Event is a live event.
type Event struct {
	Type         string          `json:"type"`
	Ref          string          `json:"ref"`
	Stream       string          `json:"stream"`
	Notification json.RawMessage `json:"notification"`
	Message      *Message        `json:"message"`
	Error        struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Raw string `json:"-"`
}

// decodeEvent parses one event line.
func decodeEvent(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, err
	}
	e.Raw = string(line)
	return e, nil
}

// WS is a WebSocket connection of a user.
type WS struct {
	t      *testing.T
	c      *websocket.Conn
	events chan Event
	// CloseErr is set once the connection ended.
	closed   chan struct{}
	closeErr error
	pause    chan struct{} // closed by stopReading
	paused   bool
	// Last is the stream cursor of the newest event received.
	Last string
	// skipped holds events NextOfType and Messages passed over, by type:
	// "ready" may come before or after live messages.
	skipped map[string][]Event
}

// DialWS connects the user's WebSocket; query is added to the URL.
func (u *User) DialWS(t *testing.T, query string) *WS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := strings.Replace(u.s.HTTP, "http", "ws", 1) + "/v1/ws?" + query
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.Token}},
	})
	if err != nil {
		t.Fatalf("dial websocket as %s: %v", u.Name, err)
	}
	c.SetReadLimit(1 << 22)
	w := &WS{t: t, c: c, events: make(chan Event, 100000), closed: make(chan struct{}),
		pause: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func (w *WS) read() {
	defer close(w.closed)
	pause := w.pause
	for {
		select {
		case <-pause:
			// A reader that stopped reading: the socket's buffers fill and
			// the server sees a slow consumer. Read again much later, to
			// see how the server ended the connection.
			time.Sleep(20 * time.Second)
			pause = nil
		default:
		}
		_, data, err := w.c.Read(context.Background())
		if err != nil {
			w.closeErr = err
			return
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			e, err := decodeEvent(line)
			if err != nil {
				w.closeErr = fmt.Errorf("bad event %q: %w", line, err)
				return
			}
			w.events <- e
		}
	}
}

// stopReading makes the connection stop reading from the socket.
func (w *WS) stopReading() {
	if !w.paused {
		w.paused = true
		close(w.pause)
	}
}

// Send writes one client frame.
func (w *WS) Send(frame any) {
	w.t.Helper()
	b, _ := json.Marshal(frame)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("write frame: %v", err)
	}
}

// Next returns the next event, failing the test after timeout.
func (w *WS) Next(timeout time.Duration) Event {
	w.t.Helper()
	select {
	case e := <-w.events:
		if e.Stream != "" {
			w.Last = e.Stream
		}
		return e
	case <-w.closed:
		select {
		case e := <-w.events:
			return e
		default:
		}
		w.t.Fatalf("websocket closed: %v", w.closeErr)
	case <-time.After(timeout):
		w.t.Fatalf("no event within %v", timeout)
	}
	return Event{}
}

// NextOfType returns the next event of the type, also one passed over
// earlier, skipping others.
func (w *WS) NextOfType(typ string, timeout time.Duration) Event {
	w.t.Helper()
	if q := w.skipped[typ]; len(q) > 0 {
		w.skipped[typ] = q[1:]
		return q[0]
	}
	deadline := time.Now().Add(timeout)
	for {
		e := w.Next(time.Until(deadline))
		if e.Type == typ {
			return e
		}
		w.skip(e)
	}
}

func (w *WS) skip(e Event) {
	if w.skipped == nil {
		w.skipped = map[string][]Event{}
	}
	w.skipped[e.Type] = append(w.skipped[e.Type], e)
}

// Messages collects n message events (skipping others) within timeout.
func (w *WS) Messages(n int, timeout time.Duration) []Message {
	w.t.Helper()
	var out []Message
	for len(out) < n && len(w.skipped["message"]) > 0 {
		out = append(out, *w.skipped["message"][0].Message)
		w.skipped["message"] = w.skipped["message"][1:]
	}
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		e := w.Next(time.Until(deadline))
		if e.Type == "message" && e.Message != nil {
			out = append(out, *e.Message)
		} else {
			w.skip(e)
		}
	}
	return out
}

// Quiet fails the test when a message event arrives within d.
func (w *WS) Quiet(d time.Duration) {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-w.events:
			if e.Type == "message" || e.Type == "notification" {
				w.t.Fatalf("unexpected event: %s", e.Raw)
			}
		case <-deadline:
			return
		}
	}
}

// CloseStatus waits for the connection to end and returns its close code.
func (w *WS) CloseStatus(timeout time.Duration) websocket.StatusCode {
	w.t.Helper()
	select {
	case <-w.closed:
	case <-time.After(timeout):
		w.t.Fatalf("websocket still open after %v", timeout)
	}
	var ce websocket.CloseError
	if errors.As(w.closeErr, &ce) {
		return ce.Code
	}
	return -1
}

// SSE is a Server-Sent Events stream of a user.
type SSE struct {
	t      *testing.T
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct {
	ID   string
	Data Event
}

// DialSSE opens the user's event stream, resuming after lastID when set.
func (u *User) DialSSE(t *testing.T, lastID string) *SSE {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u.s.HTTP+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+u.Token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("open SSE: %v %v", err, resp)
	}
	s := &SSE{t: t, events: make(chan sseEvent, 10000), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data, _ = decodeEvent([]byte(strings.TrimPrefix(line, "data: ")))
			case line == "" && ev.Data.Type != "":
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// Next returns the next SSE event within timeout.
func (s *SSE) Next(timeout time.Duration) sseEvent {
	s.t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(timeout):
		s.t.Fatalf("no SSE event within %v", timeout)
	}
	return sseEvent{}
}

// Close ends the stream.
func (s *SSE) Close() { s.cancel() }
