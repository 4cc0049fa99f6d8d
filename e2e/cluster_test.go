package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The cluster suite runs the embedded mode's end-to-end scenarios, and
// failures, across three Parley nodes on a three-broker Apache Kafka
// cluster and PostgreSQL. It needs PARLEY_TEST_KAFKA and
// PARLEY_TEST_POSTGRES (see package testenv) and skips without them,
// unless PARLEY_REQUIRE_ALL=1. The tests share those services and some
// kill a broker or restart the database: none of them runs in parallel.

// clusterNodes is the number of Parley nodes each test runs.
const clusterNodes = 3

// group is a group as POST /v1/groups returns it.
type group struct {
	ID string `json:"id"`
}

func createGroup(t *testing.T, owner *User, name string, members ...string) group {
	t.Helper()
	var g group
	if code := owner.Call(t, "POST", "/v1/groups", map[string]any{"name": name, "members": members},
		&g); code != 201 {
		t.Fatalf("create group %s: status %d", name, code)
	}
	return g
}

func postGroup(t *testing.T, u *User, g group, body, clientID string) Message {
	t.Helper()
	in := map[string]string{"body": body}
	if clientID != "" {
		in["client_id"] = clientID
	}
	var m Message
	if code := u.Call(t, "POST", "/v1/groups/"+g.ID+"/messages", in, &m); code != 201 {
		t.Fatalf("post to group %s as %s on %s: status %d", g.ID, u.Name, u.s.HTTP, code)
	}
	return m
}

// conversation is an entry of GET /v1/conversations.
type conversation struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Unread int    `json:"unread"`
}

func (u *User) conversations(t *testing.T) map[string]int {
	t.Helper()
	var out struct {
		Conversations []conversation `json:"conversations"`
	}
	if code := u.Call(t, "GET", "/v1/conversations", nil, &out); code != 200 {
		t.Fatalf("conversations of %s on %s: status %d", u.Name, u.s.HTTP, code)
	}
	unread := map[string]int{}
	for _, c := range out.Conversations {
		unread[c.ID] = c.Unread
	}
	return unread
}

// sameFromEveryNode reads something through each node and fails the test
// unless every node answers the same, within timeout (the archiver may
// still be writing).
func sameFromEveryNode[T any](t *testing.T, c *Cluster, timeout time.Duration, what string,
	read func(s *Server) T,
) T {
	t.Helper()
	var views []T
	waitUntil(t, timeout, what+" differs between nodes", func() bool {
		views = views[:0]
		for _, s := range c.Nodes {
			views = append(views, read(s))
		}
		for _, v := range views[1:] {
			if !reflect.DeepEqual(v, views[0]) {
				return false
			}
		}
		return true
	})
	return views[0]
}

// The embedded mode's scenarios, with the users spread over three nodes.
func TestClusterEndToEnd(t *testing.T) {
	c := StartCluster(t, clusterNodes)
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	t.Run("DMsLiveAcrossNodes", func(t *testing.T) {
		alice, bob := n0.Register(t, "alice"), n1.Register(t, "bob")
		aliceWS := alice.DialWS(t, "")
		aliceWS.NextOfType("ready", 10*time.Second)
		bobWS := bob.DialWS(t, "")
		bobWS.NextOfType("ready", 10*time.Second)
		bobSSE := bob.On(n2).DialSSE(t, "")

		sent := alice.On(n2).SendDM(t, "bob", "hello from node 2", "")
		for name, got := range map[string]Message{
			"bob's WebSocket on node 1": bobWS.Messages(1, 10*time.Second)[0],
			"bob's SSE on node 2":       nextSSEMessage(t, bobSSE),
			"alice's WebSocket, node 0": aliceWS.Messages(1, 10*time.Second)[0],
		} {
			if got.ID != sent.ID || got.Body != sent.Body || got.Cursor != sent.Cursor {
				t.Errorf("%s got %+v, alice sent %+v", name, got, sent)
			}
		}
		reply := bob.On(n0).SendDM(t, "alice", "hello back", "")
		if got := aliceWS.Messages(1, 10*time.Second)[0]; got.ID != reply.ID {
			t.Errorf("alice got %+v, bob sent %+v", got, reply)
		}
		bobWS.Messages(1, 10*time.Second)
		bobWS.Quiet(300 * time.Millisecond)
	})

	t.Run("GroupMessagesInOneOrderOnEveryNode", func(t *testing.T) {
		users := []*User{n0.Register(t, "gina"), n1.Register(t, "hank"), n2.Register(t, "ivy")}
		g := createGroup(t, users[0], "spread", "hank", "ivy")
		conns := make([]*WS, len(users))
		for i, u := range users {
			conns[i] = u.DialWS(t, "")
			conns[i].NextOfType("ready", 10*time.Second)
		}

		// Everyone posts through every node at once.
		const each = 12
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() {
				for j := range each {
					via := u.On(c.Nodes[(i+j)%len(c.Nodes)])
					var m Message
					if code, err := tryCall(via.s, via.Token, "POST", "/v1/groups/"+g.ID+"/messages",
						map[string]string{"body": fmt.Sprintf("%s %d", u.Name, j)}, &m); code != 201 {
						t.Errorf("group post %s %d: %d %v", u.Name, j, code, err)
						return
					}
				}
			})
		}
		wg.Wait()

		var orders [][]string
		for _, ws := range conns {
			var ids []string
			for _, m := range ws.Messages(len(users)*each, 20*time.Second) {
				ids = append(ids, m.ID)
			}
			orders = append(orders, ids)
		}
		for _, s := range c.Nodes {
			h := users[0].On(s).WaitHistory(t, "/v1/groups/"+g.ID, func(h []Message) bool {
				return len(messageIDs(h)) == len(users)*each
			})
			orders = append(orders, messageIDs(h))
		}
		for i := 1; i < len(orders); i++ {
			if !reflect.DeepEqual(orders[i], orders[0]) {
				t.Fatalf("order %d (of %d live streams then %d node histories) differs from order 0",
					i, len(conns), len(c.Nodes))
			}
		}

		// A member added through one node is announced to the members
		// connected elsewhere, and can post at once through a third.
		jack := n2.Register(t, "jack")
		if code := users[0].On(n1).Call(t, "POST", "/v1/groups/"+g.ID+"/members",
			map[string]string{"user": "jack"}, nil); code != 201 {
			t.Fatalf("add jack: %d", code)
		}
		// The group's creation events may still be on their way to
		// connections opened right after it: skip them.
		for _, ws := range conns {
			deadline := time.Now().Add(10 * time.Second)
			for {
				e := ws.NextOfType("member", time.Until(deadline))
				if e.Message != nil && e.Message.Member != nil && e.Message.Member.User == "jack" {
					break
				}
			}
		}
		hi := postGroup(t, jack.On(n0), g, "hi all", "")
		for _, ws := range conns {
			if m := ws.Messages(1, 10*time.Second)[0]; m.ID != hi.ID {
				t.Errorf("after jack joined got %+v, want his message", m)
			}
		}
	})

	t.Run("NotificationsAcrossNodes", func(t *testing.T) {
		kim, leo := n0.Register(t, "kim"), n1.Register(t, "leo")
		kimWS := kim.DialWS(t, "")
		kimWS.NextOfType("ready", 10*time.Second)
		leoWS := leo.On(n2).DialWS(t, "")
		leoWS.NextOfType("ready", 10*time.Second)

		// Through the API of a node neither user is connected to.
		var sent notification
		if code := c.API(2).Call(t, "POST", "/v1/notifications",
			map[string]any{"to": "kim", "title": "Build", "body": "green"}, &sent); code != 201 {
			t.Fatalf("notify: %d", code)
		}
		if n := nextNotification(t, kimWS); n.ID != sent.ID {
			t.Fatalf("kim got %+v, sent %+v", n, sent)
		}

		// Straight to Kafka, as an application's producer would: plain
		// text keyed by the user, and a broadcast envelope.
		produceNotifications(t, c, []*kgo.Record{
			{Key: []byte("leo"), Value: []byte("your report is ready")},
			{Value: []byte(`{"to":"*","title":"Maintenance","body":"tonight"}`)},
		})
		// The two may lie in different partitions: no order between them.
		got := map[string]bool{}
		for range 2 {
			n := nextNotification(t, leoWS)
			got[n.Body+"|"+n.Title] = true
		}
		if !got["your report is ready|"] || !got["tonight|Maintenance"] {
			t.Fatalf("leo got %v, want the keyed one and the broadcast", got)
		}
		if n := nextNotification(t, kimWS); n.Title != "Maintenance" {
			t.Fatalf("kim got %+v, want the broadcast", n)
		}

		// The inbox is the same from every node, and so is its read state.
		type inboxView struct {
			IDs    []string
			Unread int
		}
		view := func(u *User) func(s *Server) inboxView {
			return func(s *Server) inboxView {
				ns, unread := u.On(s).inbox(t)
				v := inboxView{Unread: unread}
				for _, n := range ns {
					v.IDs = append(v.IDs, n.ID)
				}
				return v
			}
		}
		kim.waitInbox(t, 2)
		leo.waitInbox(t, 2)
		kimInbox := sameFromEveryNode(t, c, 10*time.Second, "kim's inbox", view(kim))
		if len(kimInbox.IDs) != 2 || kimInbox.Unread != 2 {
			t.Fatalf("kim's inbox %+v, want 2 unread", kimInbox)
		}
		if code := kim.On(n1).Call(t, "POST", "/v1/notifications/"+sent.ID+"/read", nil, nil); code != 204 {
			t.Fatalf("mark read: %d", code)
		}
		waitUntil(t, 10*time.Second, "kim's read not seen by every node", func() bool {
			for _, s := range c.Nodes {
				if view(kim)(s).Unread != 1 {
					return false
				}
			}
			return true
		})
		sameFromEveryNode(t, c, 10*time.Second, "leo's inbox", view(leo))
	})

	t.Run("HistoryAndUnreadSameFromEveryNode", func(t *testing.T) {
		mia, ned := n0.Register(t, "mia"), n1.Register(t, "ned")
		var sent []string
		for i := range 6 {
			sent = append(sent, mia.On(c.Nodes[i%len(c.Nodes)]).SendDM(t, "ned", fmt.Sprintf("note %d", i), "").ID)
		}
		ned.On(n2).SendDM(t, "mia", "thanks", "")

		mia.WaitHistory(t, "/v1/dm/ned", func(h []Message) bool { return len(h) == 7 })
		for _, u := range []*User{mia, ned} {
			peer := map[string]string{"mia": "ned", "ned": "mia"}[u.Name]
			h := sameFromEveryNode(t, c, 15*time.Second, u.Name+"'s history", func(s *Server) []string {
				return messageIDs(u.On(s).History(t, "/v1/dm/"+peer))
			})
			if len(h) != 7 || !reflect.DeepEqual(h[:6], sent) {
				t.Fatalf("%s's history %v, want %v and the reply", u.Name, h, sent)
			}
		}

		const conv = "dm:mia:ned"
		unread := sameFromEveryNode(t, c, 10*time.Second, "ned's unread counts", func(s *Server) int {
			return ned.On(s).conversations(t)[conv]
		})
		if unread != 6 {
			t.Errorf("ned has %d unread in %s, want 6", unread, conv)
		}
		last := ned.History(t, "/v1/dm/mia")[5]
		if code := ned.On(n2).Call(t, "POST", "/v1/dm/mia/read", map[string]string{"cursor": last.Cursor},
			nil); code != 204 {
			t.Fatalf("mark read: %d", code)
		}
		for _, s := range c.Nodes {
			if n := ned.On(s).conversations(t)[conv]; n != 0 {
				t.Errorf("node %s: ned has %d unread after reading through another node", s.HTTP, n)
			}
		}
	})

	t.Run("ResumeOnAnotherNode", func(t *testing.T) {
		olga, pete := n0.Register(t, "olga"), n1.Register(t, "pete")
		ws := pete.On(n0).DialWS(t, "")
		ws.NextOfType("ready", 10*time.Second)
		for i := range 5 {
			olga.SendDM(t, "pete", fmt.Sprintf("before %d", i), "")
		}
		ws.Messages(5, 10*time.Second)
		cursor := ws.Last
		ws.c.CloseNow()

		for i := range 20 {
			olga.On(c.Nodes[i%len(c.Nodes)]).SendDM(t, "pete", fmt.Sprintf("missed %d", i), "")
		}
		// Some of them archived, so the replay crosses from the store to
		// Kafka.
		pete.WaitHistory(t, "/v1/dm/olga", func(h []Message) bool { return len(h) >= 15 })
		for i := range 5 {
			olga.On(n2).SendDM(t, "pete", fmt.Sprintf("late %d", i), "")
		}

		// Node 1's live reader may not have read the last records node 2
		// wrote yet: those come live, after ready, and still in order.
		again := pete.On(n1).DialWS(t, "stream="+cursor)
		checkSequence(t, messagesAndReady(again, 25, 15*time.Second), []string{"missed", "late"}, []int{20, 5})
		live := olga.On(n2).SendDM(t, "pete", "live", "")
		if m := again.Messages(1, 10*time.Second)[0]; m.ID != live.ID {
			t.Fatalf("after ready got %+v, want the live message", m)
		}
		again.Quiet(500 * time.Millisecond)

		// SSE on the third node, from the cursor node 0 gave.
		sse := pete.On(n2).DialSSE(t, cursor)
		var got []Message
		for len(got) < 26 {
			if m := nextSSEMessage(t, sse); m.ID != "" {
				got = append(got, m)
			}
		}
		checkSequence(t, got[:25], []string{"missed", "late"}, []int{20, 5})
		if got[25].ID != live.ID {
			t.Errorf("SSE resume ends with %+v, want the live message", got[25])
		}
	})

	t.Run("IdempotentSendRetriedOnAnotherNode", func(t *testing.T) {
		quin, rose := n0.Register(t, "quin"), n1.Register(t, "rose")
		ws := rose.On(n2).DialWS(t, "")
		from := ws.NextOfType("ready", 10*time.Second).Stream

		// A retry through another node after the first was acknowledged.
		first := quin.SendDM(t, "rose", "only once", "retry-1")
		if again := quin.On(n1).SendDM(t, "rose", "only once", "retry-1"); again.ID != first.ID {
			t.Errorf("retry on node 1 got id %s, first %s", again.ID, first.ID)
		}

		// The same send reaching all three nodes at the same moment, before
		// any of them could learn of the others.
		ids := make([]string, len(c.Nodes))
		var ready, wg sync.WaitGroup
		ready.Add(1)
		for i, s := range c.Nodes {
			wg.Go(func() {
				ready.Wait()
				var m Message
				if code, err := tryCall(s, quin.Token, "POST", "/v1/dm/rose/messages",
					map[string]string{"body": "at once", "client_id": "race-1"}, &m); code != 201 {
					t.Errorf("send through %s: %d %v", s.HTTP, code, err)
				}
				ids[i] = m.ID
			})
		}
		ready.Done()
		wg.Wait()
		if ids[1] != ids[0] || ids[2] != ids[0] {
			t.Errorf("one send through three nodes got ids %v", ids)
		}

		// One of each, live, in every node's history, and on a resume
		// from before them.
		got := ws.Messages(2, 10*time.Second)
		ws.Quiet(time.Second)
		if got[0].ID != first.ID || got[1].ID != ids[0] {
			t.Errorf("live: %+v, want %s then %s", got, first.ID, ids[0])
		}
		resumed := rose.On(n0).DialWS(t, "stream="+from)
		if r := messagesAndReady(resumed, 2, 10*time.Second); r[0].ID != first.ID || r[1].ID != ids[0] {
			t.Errorf("resumed: %+v", r)
		}
		resumed.Quiet(500 * time.Millisecond)
		for _, s := range c.Nodes {
			rose.On(s).WaitHistory(t, "/v1/dm/quin", func(h []Message) bool {
				return reflect.DeepEqual(messageIDs(h), []string{first.ID, ids[0]})
			})
		}
		// After archiving, every node finds the first message.
		for _, s := range c.Nodes {
			if again := quin.On(s).SendDM(t, "rose", "at once", "race-1"); again.ID != ids[0] {
				t.Errorf("late retry on %s got id %s, want %s", s.HTTP, again.ID, ids[0])
			}
		}
		ws.Quiet(500 * time.Millisecond)
	})
}

// messagesAndReady collects n message events and the ready event, in
// whatever order they come, and returns the messages.
func messagesAndReady(ws *WS, n int, timeout time.Duration) []Message {
	ws.t.Helper()
	var out []Message
	ready := false
	deadline := time.Now().Add(timeout)
	for len(out) < n || !ready {
		e := ws.Next(time.Until(deadline))
		switch {
		case e.Type == "ready":
			ready = true
		case e.Type == "message" && e.Message != nil:
			out = append(out, *e.Message)
		}
	}
	return out
}

// nextSSEMessage returns the next message event of an SSE stream, skipping
// other events; it returns a zero Message for none within 10 s.
func nextSSEMessage(t *testing.T, s *SSE) Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e := s.Next(time.Until(deadline))
		if e.Data.Type == "message" && e.Data.Message != nil {
			if e.ID == "" {
				t.Error("SSE message event without id")
			}
			return *e.Data.Message
		}
	}
	t.Fatal("no SSE message within 10s")
	return Message{}
}

// produceNotifications writes records to the cluster's notifications
// topic with a Kafka client of its own, acks=all, and waits for them.
func produceNotifications(t *testing.T, c *Cluster, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.DefaultProduceTopic(c.NotifyTopic),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// One at a time: both may land in one partition or not, and the test
	// expects them in this order.
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce notification: %v", err)
		}
	}
}
