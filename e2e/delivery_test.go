package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A DM reaches the recipient live and both users' history, in order.
func TestDMLiveAndHistory(t *testing.T) {
	s := StartServer(t)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	bobWS := bob.DialWS(t, "")
	bobWS.NextOfType("ready", 10*time.Second)

	sent := alice.SendDM(t, "bob", "hello bob", "")
	got := bobWS.Messages(1, 10*time.Second)[0]
	if got.ID != sent.ID || got.Body != "hello bob" || got.From != "alice" || got.Cursor != sent.Cursor {
		t.Fatalf("bob got %+v, alice sent %+v", got, sent)
	}
	for _, u := range []*User{alice, bob} {
		peer := map[string]string{"alice": "bob", "bob": "alice"}[u.Name]
		h := u.WaitHistory(t, "/v1/dm/"+peer, func(h []Message) bool { return len(h) == 1 })
		if h[0].ID != sent.ID {
			t.Errorf("%s's history holds %+v", u.Name, h[0])
		}
	}
}

// Acknowledged means durable: a burst of sends, each acknowledged, then
// SIGKILL right after the last acknowledgement; after a restart every
// acknowledged message is in history and reaches a resuming connection.
// Each --fsync mode changes when the broker's files reach the disk, and
// with sends, when a send is acknowledged; none may lose a send.
func TestAcknowledgedSurvivesSIGKILL(t *testing.T) {
	for _, mode := range []string{"off", "sends", "all"} {
		t.Run("fsync "+mode, func(t *testing.T) {
			testAcknowledgedSurvivesSIGKILL(t, "--fsync="+mode)
		})
	}
}

func testAcknowledgedSurvivesSIGKILL(t *testing.T, flags ...string) {
	s := StartServer(t, flags...)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	bobWS := bob.DialWS(t, "")
	start := bobWS.NextOfType("ready", 10*time.Second).Stream

	const senders, each = 8, 40
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				m := alice.SendDM(t, "bob", fmt.Sprintf("burst %d-%d", i, j), "")
				mu.Lock()
				acked[m.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.Kill()
	s.Restart()

	h := bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) >= len(acked) })
	for _, m := range h {
		delete(acked, m.ID)
	}
	if len(acked) > 0 {
		t.Fatalf("%d acknowledged messages missing from history after SIGKILL", len(acked))
	}

	// A connection resuming from before the burst gets all of it once.
	ws := bob.DialWS(t, "stream="+start)
	got := ws.Messages(senders*each, 20*time.Second)
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.ID] {
			t.Fatalf("message %s delivered twice on resume", m.ID)
		}
		seen[m.ID] = true
	}
	ws.NextOfType("ready", 10*time.Second)
}

// One order per conversation: concurrent senders on both sides of a DM and
// in a group; every member sees the same order live and in history.
func TestOneOrderPerConversation(t *testing.T) {
	s := StartServer(t)
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	var g struct {
		ID string `json:"id"`
	}
	if code := alice.Call(t, "POST", "/v1/groups",
		map[string]any{"name": "trio", "members": []string{"bob", "carol"}}, &g); code != 201 {
		t.Fatalf("create group: %d", code)
	}
	users := []*User{alice, bob, carol}
	conns := make([]*WS, len(users))
	for i, u := range users {
		conns[i] = u.DialWS(t, "")
		conns[i].NextOfType("ready", 10*time.Second)
	}

	const each = 30
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for j := range each {
				var m Message
				if code := u.Call(t, "POST", "/v1/groups/"+g.ID+"/messages",
					map[string]string{"body": fmt.Sprintf("%s %d", u.Name, j)}, &m); code != 201 {
					t.Errorf("group send: %d", code)
					return
				}
			}
		})
	}
	wg.Wait()

	var orders [][]string
	for _, c := range conns {
		var ids []string
		for _, m := range c.Messages(len(users)*each, 20*time.Second) {
			ids = append(ids, m.ID)
		}
		orders = append(orders, ids)
	}
	hist := alice.WaitHistory(t, "/v1/groups/"+g.ID, func(h []Message) bool {
		n := 0
		for _, m := range h {
			if m.Type == "message" {
				n++
			}
		}
		return n == len(users)*each
	})
	var hids []string
	for _, m := range hist {
		if m.Type == "message" {
			hids = append(hids, m.ID)
		}
	}
	orders = append(orders, hids)
	for i := 1; i < len(orders); i++ {
		for j := range orders[0] {
			if orders[i][j] != orders[0][j] {
				t.Fatalf("order %d differs from order 0 at %d", i, j)
			}
		}
	}
}

// A retried send with the same client ID yields one message everywhere.
func TestIdempotentSend(t *testing.T) {
	s := StartServer(t)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	ws := bob.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)

	first := alice.SendDM(t, "bob", "only once", "client-1")
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if again := alice.SendDM(t, "bob", "only once", "client-1"); again.ID != first.ID {
				t.Errorf("retry got id %s, first %s", again.ID, first.ID)
			}
		})
	}
	wg.Wait()
	// After the archiver stored it, a retry still finds it.
	alice.WaitHistory(t, "/v1/dm/bob", func(h []Message) bool { return len(h) == 1 })
	if again := alice.SendDM(t, "bob", "only once", "client-1"); again.ID != first.ID {
		t.Errorf("late retry got id %s", again.ID)
	}
	// Another sender's same client ID is another message.
	bobs := bob.SendDM(t, "alice", "mine", "client-1")
	if bobs.ID == first.ID {
		t.Error("different senders with one client id share a message")
	}

	ws.Messages(2, 10*time.Second)
	ws.Quiet(500 * time.Millisecond)
	h := alice.WaitHistory(t, "/v1/dm/bob", func(h []Message) bool { return len(h) == 2 })
	if h[0].ID != first.ID || h[1].ID != bobs.ID {
		t.Errorf("history %+v", h)
	}
}
