package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	ok := []struct {
		name   string
		in     string
		status int
		body   string
		close  bool
	}{
		{"content length", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n" +
			"Content-Length: 13\r\n\r\n{\"result\":{}}", 201, `{"result":{}}`, false},
		{"empty body", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 401, "", false},
		{"header names in any case", "HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\nhi",
			200, "hi", false},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", false},
		{"bare line feeds", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", 200, "hi", false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"4\r\n{\"a\"\r\nA;ext=1\r\n:123456789\r\n0\r\n\r\n", 200, `{"a":123456789`, false},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n" +
			"2\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, "hi", false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			200, "", true},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", false},
		{"http 1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "", true},
		{"http 1.0 kept alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n" +
			"Content-Length: 0\r\n\r\n", 200, "", false},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in + "HTTP/1.1 next"))
			r, err := readResponse(br, nil)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if r.status != tc.status || string(r.body) != tc.body || r.close != tc.close {
				t.Errorf("got status %d body %q close %v, want %d %q %v", r.status, r.body, r.close,
					tc.status, tc.body, tc.close)
			}
			// The answer must end where its framing says, not a byte further.
			if rest, _ := io.ReadAll(br); string(rest) != "HTTP/1.1 next" {
				t.Errorf("left %q unread", rest)
			}
		})
	}

	bad := []struct {
		name, in, err string
	}{
		{"closed before an answer", "", "connection closed before any response"},
		{"not http", "SSH-2.0-OpenSSH\r\n", "malformed status line"},
		{"http 2", "HTTP/2 200\r\n", "malformed status line"},
		{"letters for a status", "HTTP/1.1 2x1 OK\r\n", "malformed status line"},
		{"status run on", "HTTP/1.1 2011 OK\r\n", "malformed status line"},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\n", "unexpected interim response"},
		{"no framing", "HTTP/1.1 200 OK\r\n\r\nhi", "neither Content-Length nor chunked"},
		{"both framings", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n", "both Content-Length and chunked"},
		{"other encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
			"unsupported Transfer-Encoding"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
			"bad Content-Length"},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
			"bad Content-Length"},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "malformed header line"},
		{"cut in the headers", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", "read header"},
		{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", "read body"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			"bad chunk size"},
		{"chunk longer than said", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"1\r\nhi\r\n0\r\n\r\n", "chunk not followed by its line end"},
	}
	for _, tc := range bad {
		t.Run("fails on "+tc.name, func(t *testing.T) {
			_, err := readResponse(bufio.NewReader(strings.NewReader(tc.in)), nil)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got error %v, want one with %q", err, tc.err)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "pb1 1f 1700000000000000000 pbab12", `quo"te \ back`,
		"tab\tnew\nline\x01", "naïve ☃"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q: encoded as %s, decodes to %q (%v)", s, got, back, err)
		}
	}
}

// TestSenderAgainstNetHTTP runs the sender against Go's own server, as
// Parley and Centrifugo are: requests arrive whole, answers of either
// framing are read, and a connection the server closed while idle is
// replaced without the caller seeing an error.
func TestSenderAgainstNetHTTP(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %s %s %s", r.Method, r.URL.Path,
			r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush() // the rest goes as a second chunk
		}
		w.Write([]byte("done"))
	}))
	defer srv.Close()
	s := newHTTPSender(srv.Listener.Addr().String(), 5*time.Second)
	defer s.close()
	ctx := context.Background()

	post := func(path, wantBody string) {
		t.Helper()
		err := s.post(ctx, path, "Authorization: Bearer tok", []byte(`{"a":1}`),
			func(status int, body []byte) error {
				if status != http.StatusCreated || string(body) != wantBody {
					return fmt.Errorf("status %d body %q", status, body)
				}
				return nil
			})
		if err != nil {
			t.Fatalf("post %s: %v", path, err)
		}
	}
	post("/plain", "done")
	post("/chunked", "part one,done")
	srv.CloseClientConnections()
	post("/after-close", "done")

	want := []string{
		`POST /plain Bearer tok application/json {"a":1}`,
		`POST /chunked Bearer tok application/json {"a":1}`,
		`POST /after-close Bearer tok application/json {"a":1}`,
	}
	mu.Lock()
	got := strings.Join(seen, "\n")
	mu.Unlock()
	if got != strings.Join(want, "\n") {
		t.Errorf("server saw\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// A refusal reaches the caller as check's error, wrapped.
	errRefused := errors.New("refused")
	err := s.post(ctx, "/x", "", nil, func(int, []byte) error { return errRefused })
	if !errors.Is(err, errRefused) {
		t.Errorf("got %v, want the check's error", err)
	}
	s.close()
	if err := s.post(ctx, "/x", "", nil, func(int, []byte) error { return nil }); err == nil {
		t.Error("post after close succeeded")
	}
}
