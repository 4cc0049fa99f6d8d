package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// follower is a client that stays connected to a user's live stream the
// way a well-behaved application does: when its connection ends, it
// reconnects to the next node in its list and resumes from the last
// stream cursor it received. It records every message event in the order
// it arrived, across all its connections, so a test can check that the
// stream as resumed carries each message exactly once.
//
// Unlike WS and SSE it runs in a goroutine of its own and never stops the
// test; the test reads what it recorded.
type follower struct {
	name  string
	token string
	nodes []*Server
	sse   bool

	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{} // closed at the first ready event

	// mu guards the fields below.
	mu    sync.Mutex
	msgs  []Message // message events, in arrival order
	notes []string  // notification IDs, in arrival order
	last  string    // stream cursor of the newest event
	conns int       // connections opened
	ends  []string  // why each connection ended
	node  int       // index in nodes of the current connection
}

// followerRetry is the pause between two connection attempts.
const followerRetry = 200 * time.Millisecond

// follow starts a follower of u's stream over WebSocket (or SSE when sse
// is set) on nodes[0], failing over along nodes, and waits for its first
// ready event.
func follow(t *testing.T, u *User, sse bool, nodes ...*Server) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{name: u.Name, token: u.Token, nodes: nodes, sse: sse, cancel: cancel,
		done: make(chan struct{}), ready: make(chan struct{})}
	go f.run(ctx)
	t.Cleanup(f.stop)

	select {
	case <-f.ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("follower of %s not ready within 20s: %v", u.Name, f.endReasons())
	}
	return f
}

// stop ends the follower and waits for its goroutine.
func (f *follower) stop() {
	f.cancel()
	<-f.done
}

func (f *follower) run(ctx context.Context) {
	defer close(f.done)
	for ctx.Err() == nil {
		f.mu.Lock()
		s, cursor := f.nodes[f.node], f.last
		f.mu.Unlock()

		var err error
		if f.sse {
			err = f.readSSE(ctx, s, cursor)
		} else {
			err = f.readWS(ctx, s, cursor)
		}
		if ctx.Err() != nil {
			return
		}

		// Any end of a connection sends the client elsewhere, as a load
		// balancer would once the node it used is gone.
		f.mu.Lock()
		f.ends = append(f.ends, fmt.Sprintf("%s: %v", s.HTTP, err))
		f.node = (f.node + 1) % len(f.nodes)
		f.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(followerRetry):
		}
	}
}

func (f *follower) readWS(ctx context.Context, s *Server, cursor string) error {
	q := url.Values{}
	if cursor != "" {
		q.Set("stream", cursor)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, strings.Replace(s.HTTP, "http", "ws", 1)+"/v1/ws?"+q.Encode(),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + f.token}}})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 22)
	f.opened()

	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			e, err := decodeEvent(line)
			if err != nil {
				return fmt.Errorf("bad event %q: %w", line, err)
			}
			f.record(e)
		}
	}
}

func (f *follower) readSSE(ctx context.Context, s *Server, cursor string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", s.HTTP+"/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	if cursor != "" {
		req.Header.Set("Last-Event-ID", cursor)
	}
	// No client timeout: the stream lasts; a killed node resets it.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("open: status %d", resp.StatusCode)
	}
	f.opened()

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		e, err := decodeEvent([]byte(data))
		if err != nil {
			return fmt.Errorf("bad event %q: %w", data, err)
		}
		f.record(e)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("stream ended")
}

func (f *follower) opened() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns++
}

func (f *follower) record(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Stream != "" {
		f.last = e.Stream
	}
	switch {
	case e.Type == "ready":
		select {
		case <-f.ready:
		default:
			close(f.ready)
		}
	case e.Type == "message" && e.Message != nil:
		f.msgs = append(f.msgs, *e.Message)
	case e.Type == "notification":
		var n notification
		if err := json.Unmarshal(e.Notification, &n); err == nil {
			f.notes = append(f.notes, n.ID)
		}
	}
}

// messages returns a copy of the message events received so far.
func (f *follower) messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.msgs...)
}

// connections returns how many connections the follower opened.
func (f *follower) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *follower) endReasons() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ends...)
}

// has reports whether every ID in want arrived.
func (f *follower) has(want map[string]bool) bool {
	got := map[string]bool{}
	for _, m := range f.messages() {
		got[m.ID] = true
	}
	for id := range want {
		if !got[id] {
			return false
		}
	}
	return true
}

// waitFor waits until every ID in want arrived, then checks that none of
// the messages received arrived twice: the stream, across reconnections
// and resumes, carries each message exactly once.
func (f *follower) waitFor(t *testing.T, timeout time.Duration, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f.has(want) {
		if time.Now().After(deadline) {
			missing := 0
			got := map[string]bool{}
			for _, m := range f.messages() {
				got[m.ID] = true
			}
			for id := range want {
				if !got[id] {
					missing++
				}
			}
			t.Fatalf("%s's stream misses %d of %d acknowledged messages after %v "+
				"(%d connections; ends: %v)", f.name, missing, len(want), timeout,
				f.connections(), f.endReasons())
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.checkNoDuplicates(t)
}

// checkNoDuplicates fails the test when a message ID arrived twice.
func (f *follower) checkNoDuplicates(t *testing.T) {
	t.Helper()
	seen := map[string]int{}
	var dups []string
	for i, m := range f.messages() {
		if j, ok := seen[m.ID]; ok {
			dups = append(dups, fmt.Sprintf("%s %q at %d and %d", m.ID, m.Body, j, i))
		}
		seen[m.ID] = i
	}
	if len(dups) > 0 {
		t.Errorf("%s's stream carried %d messages twice (%d connections; ends: %v): %v",
			f.name, len(dups), f.connections(), f.endReasons(), firstN(dups, 10))
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}
