package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A busy group moves from the shared topic to a topic of its own while its
// members keep sending: nothing is lost, duplicated or reordered, live or in
// history, and the later entries live on the new topic.
func TestMoveGroupUnderTraffic(t *testing.T) {
	s := StartServer(t)
	users := []*User{s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")}
	var g struct {
		ID       string `json:"id"`
		Strategy string `json:"strategy"`
	}
	users[0].Call(t, "POST", "/v1/groups",
		map[string]any{"name": "busy", "members": []string{"bob", "carol"}}, &g)
	conns := make([]*WS, len(users))
	for i, u := range users {
		conns[i] = u.DialWS(t, "")
		conns[i].NextOfType("ready", 10*time.Second)
	}

	const each = 40
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for j := range each {
				var m Message
				code := u.Call(t, "POST", "/v1/groups/"+g.ID+"/messages", map[string]string{
					"body": fmt.Sprintf("%s %d", u.Name, j), "client_id": fmt.Sprintf("%s-%d", u.Name, j),
				}, &m)
				if code != 201 {
					t.Errorf("send %s %d: %d", u.Name, j, code)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	api := &User{Name: "server", Token: s.APIKey, s: s}
	var moved struct {
		Strategy string `json:"strategy"`
	}
	if code := api.Call(t, "POST", "/v1/admin/groups/"+g.ID+"/move",
		map[string]string{"strategy": "dedicated"}, &moved); code != 200 || moved.Strategy != "dedicated" {
		t.Fatalf("move: %d %+v", code, moved)
	}
	wg.Wait()

	total := len(users) * each
	var first []string
	for i, c := range conns {
		got := c.Messages(total, 30*time.Second)
		c.Quiet(300 * time.Millisecond)
		ids := checkGroupStream(t, got, users, each)
		if i == 0 {
			first = ids
		} else if strings.Join(ids, ",") != strings.Join(first, ",") {
			t.Fatalf("%s saw another order than %s", users[i].Name, users[0].Name)
		}
	}
	hist := users[1].WaitHistory(t, "/v1/groups/"+g.ID, func(h []Message) bool {
		return len(onlyMessages(h)) == total
	})
	msgs := onlyMessages(hist)
	if ids := checkGroupStream(t, msgs, users, each); strings.Join(ids, ",") != strings.Join(first, ",") {
		t.Fatal("history's order differs from the live order")
	}
	if last, _ := strconv.ParseInt(msgs[len(msgs)-1].Cursor, 10, 64); last < 1<<48 {
		t.Errorf("last cursor %d: the newest entries are not on the dedicated topic", last)
	}
}

// A group created with the dedicated strategy works from its first
// message on, live and in history.
func TestDedicatedGroupFromTheStart(t *testing.T) {
	s := StartServer(t)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	ws := bob.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)
	var g struct {
		ID       string `json:"id"`
		Strategy string `json:"strategy"`
	}
	if code := alice.Call(t, "POST", "/v1/groups", map[string]any{"name": "own", "members": []string{"bob"},
		"strategy": "dedicated"}, &g); code != 201 || g.Strategy != "dedicated" {
		t.Fatalf("create: %d %+v", code, g)
	}
	for i := range 5 {
		alice.Call(t, "POST", "/v1/groups/"+g.ID+"/messages",
			map[string]string{"body": fmt.Sprintf("m %d", i)}, nil)
	}
	checkSequence(t, ws.Messages(5, 10*time.Second), []string{"m"}, []int{5})
	h := bob.WaitHistory(t, "/v1/groups/"+g.ID, func(h []Message) bool { return len(onlyMessages(h)) == 5 })
	checkSequence(t, onlyMessages(h), []string{"m"}, []int{5})
}

func onlyMessages(h []Message) []Message {
	var out []Message
	for _, m := range h {
		if m.Type == "message" {
			out = append(out, m)
		}
	}
	return out
}

// checkGroupStream checks that msgs hold each user's messages 0..each-1
// once and in the order sent, and returns the IDs in order.
func checkGroupStream(t *testing.T, msgs []Message, users []*User, each int) []string {
	t.Helper()
	next := map[string]int{}
	var ids []string
	for _, m := range msgs {
		want := fmt.Sprintf("%s %d", m.From, next[m.From])
		if m.Body != want {
			t.Fatalf("got %q, want %q: lost, doubled or reordered", m.Body, want)
		}
		next[m.From]++
		ids = append(ids, m.ID)
	}
	for _, u := range users {
		if next[u.Name] != each {
			t.Fatalf("%d messages of %s, want %d", next[u.Name], u.Name, each)
		}
	}
	return ids
}
