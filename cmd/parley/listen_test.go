package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Events as the server sends them, each with its stream cursor.
const (
	evMessage = `{"type":"message","stream":"s1","message":{"id":"a","type":"message",` +
		`"conversation":"dm:alice:bob","from":"alice","body":"hi",` +
		`"sent_at":"2025-01-02T12:03:04Z","cursor":"41"}}`
	evNotification = `{"type":"notification","stream":"s2","notification":{"id":"n1",` +
		`"title":"Build","body":"red","priority":"urgent","created_at":"2025-01-02T12:05:00Z"}}`
	evRead = `{"type":"read","stream":"s3","read":{"user":"bob","conversation":"dm:alice:bob",` +
		`"cursor":"41","at":"2025-01-02T12:06:00Z"}}`
	evReady  = `{"type":"ready","stream":"s3"}`
	evMember = `{"type":"member","stream":"s4","message":{"id":"b","type":"member",` +
		`"conversation":"group:ops","from":"alice","sent_at":"2025-01-02T12:06:30Z",` +
		`"member":{"user":"bob","action":"joined"},"cursor":"7"}}`
	evLater = `{"type":"message","stream":"s5","message":{"id":"c","type":"message",` +
		`"conversation":"dm:alice:bob","from":"bob","body":"back",` +
		`"sent_at":"2025-01-02T12:07:00Z","cursor":"42"}}`
)

// wsScript is what the fake server does with one accepted connection.
type wsScript func(ctx context.Context, c *websocket.Conn)

// wsServer is a fake /v1/ws endpoint that plays one script per connection,
// in order, and records the stream cursor each connection resumed from.
type wsServer struct {
	*httptest.Server
	scripts []wsScript

	// mu guards streams.
	mu      sync.Mutex
	streams []string
}

// newWSServer starts a fake /v1/ws endpoint that wants the token "t".
func newWSServer(t *testing.T, scripts ...wsScript) *wsServer {
	t.Helper()
	s := &wsServer{scripts: scripts}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		s.serve(t, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve checks the token, records the stream cursor, upgrades and plays
// the next script.
func (s *wsServer) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/ws" || r.Header.Get("Authorization") != "Bearer t" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"token_expired","message":"token expired"}}`)
		return
	}
	s.mu.Lock()
	n := len(s.streams)
	s.streams = append(s.streams, r.URL.Query().Get("stream"))
	s.mu.Unlock()
	if n >= len(s.scripts) {
		t.Errorf("connection %d, want %d at most", n+1, len(s.scripts))
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}

	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		t.Errorf("accept: %v", err)
		return
	}
	defer c.CloseNow()
	s.scripts[n](r.Context(), c)
}

// resumed returns the stream cursors the connections resumed from.
func (s *wsServer) resumed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.streams...)
}

// send returns a script step that writes each of frames, a frame holding
// events separated by "\n".
func send(frames ...string) wsScript {
	return func(ctx context.Context, c *websocket.Conn) {
		for _, f := range frames {
			if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
				return
			}
		}
	}
}

// then runs scripts one after the other.
func then(scripts ...wsScript) wsScript {
	return func(ctx context.Context, c *websocket.Conn) {
		for _, s := range scripts {
			s(ctx, c)
		}
	}
}

// closeWith closes the connection with a code and a reason.
func closeWith(code websocket.StatusCode, reason string) wsScript {
	return func(ctx context.Context, c *websocket.Conn) { c.Close(code, reason) }
}

// drop ends the connection without a close frame, as a killed node does.
func drop(ctx context.Context, c *websocket.Conn) { c.CloseNow() }

// waitForClient keeps the connection open until the client goes.
func waitForClient(ctx context.Context, c *websocket.Conn) {
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

const listenText = "12:03:04 dm:alice:bob alice: hi\n" +
	"12:05:00 notification [urgent]: Build — red\n" +
	"12:06:00 bob read dm:alice:bob up to #41\n" +
	"12:06:30 group:ops alice added bob\n" +
	"12:07:00 dm:alice:bob bob: back\n"

func TestListen(t *testing.T) {
	resume := []wsScript{
		then(send(evMessage+"\n"+evNotification, evRead), closeWith(4000, "slow consumer")),
		then(send(evReady+"\n"+evMember+"\n"+evLater), waitForClient),
	}
	tests := []struct {
		name        string
		scripts     []wsScript
		args        []string
		wantOut     string
		wantErr     []string
		wantCode    int
		wantResumed []string
	}{{
		name:    "resumes after a 4000 close and stops at --count",
		scripts: resume,
		args:    []string{"--count", "3"},
		wantOut: listenText,
		wantErr: []string{"server closed the connection: slow consumer (4000); resuming",
			"live"},
		wantResumed: []string{"", "s3"},
	}, {
		name:    "json prints the events as they came",
		scripts: resume,
		args:    []string{"--count", "3", "--json", "--stream", "s0"},
		wantOut: strings.Join([]string{evMessage, evNotification, evRead, evReady, evMember,
			evLater}, "\n") + "\n",
		wantResumed: []string{"s0", "s3"},
	}, {
		name: "resumes after the connection drops",
		scripts: []wsScript{
			then(send(evMessage), drop),
			then(send(evLater), waitForClient),
		},
		args:        []string{"--count", "2"},
		wantOut:     "12:03:04 dm:alice:bob alice: hi\n12:07:00 dm:alice:bob bob: back\n",
		wantErr:     []string{"connection lost"},
		wantResumed: []string{"", "s1"},
	}, {
		name:        "stops on a 4401 close",
		scripts:     []wsScript{then(send(evMessage), closeWith(4401, "token expired"))},
		wantOut:     "12:03:04 dm:alice:bob alice: hi\n",
		wantErr:     []string{"parley: server closed the connection: token expired (4401)"},
		wantCode:    1,
		wantResumed: []string{""},
	}, {
		name: "a normal close by the server ends cleanly",
		scripts: []wsScript{then(send(evMessage),
			closeWith(websocket.StatusNormalClosure, ""))},
		wantOut:     "12:03:04 dm:alice:bob alice: hi\n",
		wantResumed: []string{""},
	}, {
		name:        "--timeout ends cleanly",
		scripts:     []wsScript{then(send(evMessage), waitForClient)},
		args:        []string{"--timeout", "300ms"},
		wantOut:     "12:03:04 dm:alice:bob alice: hi\n",
		wantResumed: []string{""},
	}, {
		name:        "--timeout before --count is an error",
		scripts:     []wsScript{then(send(evMessage), waitForClient)},
		args:        []string{"--timeout", "300ms", "--count", "2"},
		wantOut:     "12:03:04 dm:alice:bob alice: hi\n",
		wantErr:     []string{"parley: timed out after 300ms with 1 of 2 events"},
		wantCode:    1,
		wantResumed: []string{""},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newWSServer(t, tc.scripts...)
			args := append([]string{"listen", "--server", srv.URL, "--token", "t"}, tc.args...)
			res := runCLI(t, "", args...)

			if res.code != tc.wantCode || res.stdout != tc.wantOut {
				t.Errorf("exit code %d, stdout:\n%s\nwant %d:\n%s", res.code, res.stdout,
					tc.wantCode, tc.wantOut)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr %q, want it to hold %q", res.stderr, want)
				}
			}
			if got := srv.resumed(); !reflect.DeepEqual(got, tc.wantResumed) {
				t.Errorf("connections resumed from %q, want %q", got, tc.wantResumed)
			}
		})
	}
}

func TestListenRefused(t *testing.T) {
	srv := newWSServer(t)
	res := runCLI(t, "", "listen", "--server", srv.URL, "--token", "stale")
	want := "parley: token expired (token_expired)\n"
	if res.code != 1 || res.stderr != want {
		t.Errorf("exit code %d, stderr %q; want 1, %q", res.code, res.stderr, want)
	}
}

func TestListenInterrupted(t *testing.T) {
	srv := newWSServer(t, then(send(evMessage), waitForClient))
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	done := make(chan error)
	go func() {
		done <- run(ctx, []string{"listen", "--server", srv.URL, "--token", "t"}, &out,
			io.Discard)
	}()

	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("listen ended with %v after Ctrl-C, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listen did not stop after Ctrl-C")
	}
}
