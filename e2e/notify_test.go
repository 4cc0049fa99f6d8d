package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/testenv"
)

type notification struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Body        string `json:"body"`
	Priority    string `json:"priority"`
	CollapseKey string `json:"collapse_key"`
	Read        bool   `json:"read"`
}

func (u *User) inbox(t *testing.T) ([]notification, int) {
	t.Helper()
	var out struct {
		Notifications []notification `json:"notifications"`
		Unread        int            `json:"unread"`
	}
	if code := u.Call(t, "GET", "/v1/notifications", nil, &out); code != 200 {
		t.Fatalf("inbox: %d", code)
	}
	return out.Notifications, out.Unread
}

func (u *User) waitInbox(t *testing.T, n int) []notification {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ns, _ := u.inbox(t)
		if len(ns) >= n {
			return ns
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's inbox has %d notifications, want %d", u.Name, len(ns), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nextNotification(t *testing.T, ws *WS) notification {
	t.Helper()
	var n notification
	if err := json.Unmarshal(ws.NextOfType("notification", 10*time.Second).Notification, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Notifications through the server API: live, in the inbox, read state,
// collapse keys, broadcast.
func TestNotificationsThroughAPI(t *testing.T) {
	s := StartServer(t)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	api := &User{Name: "server", Token: s.APIKey, s: s}
	ws := alice.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)

	var sent notification
	if code := api.Call(t, "POST", "/v1/notifications", map[string]any{
		"to": "alice", "title": "Build", "body": "green", "priority": "high", "collapse_key": "build",
	}, &sent); code != 201 {
		t.Fatalf("notify: %d", code)
	}
	if n := nextNotification(t, ws); n.ID != sent.ID || n.Title != "Build" || n.Priority != "high" {
		t.Fatalf("live notification %+v", n)
	}
	api.Call(t, "POST", "/v1/notifications", map[string]any{"to": "alice", "title": "Build", "body": "red",
		"collapse_key": "build"}, nil)
	nextNotification(t, ws)
	ns := alice.waitInbox(t, 1)
	time.Sleep(200 * time.Millisecond)
	ns, unread := alice.inbox(t)
	if len(ns) != 1 || ns[0].Body != "red" || unread != 1 {
		t.Fatalf("collapse key: inbox %+v unread %d", ns, unread)
	}
	if code := alice.Call(t, "POST", "/v1/notifications/"+ns[0].ID+"/read", nil, nil); code != 204 {
		t.Fatalf("mark read: %d", code)
	}
	if _, unread := alice.inbox(t); unread != 0 {
		t.Errorf("unread %d after marking read", unread)
	}
	if code := bob.Call(t, "POST", "/v1/notifications/"+ns[0].ID+"/read", nil, nil); code != 404 {
		t.Errorf("bob marking alice's notification: %d", code)
	}

	// A broadcast reaches everyone.
	if code := api.Call(t, "POST", "/v1/notifications",
		map[string]any{"to": "*", "title": "Maintenance", "body": "at noon"}, nil); code != 201 {
		t.Fatalf("broadcast: %d", code)
	}
	nextNotification(t, ws)
	bob.waitInbox(t, 1)

	// Unknown recipients and bad envelopes are refused.
	for body, want := range map[string]int{
		`{"to":"ghost","body":"x"}`:                404,
		`{"to":"alice"}`:                           400,
		`{"to":"alice","body":"x","priority":"?"}`: 400,
	} {
		if code, resp := s.Request(t, s.APIKey, "POST", "/v1/notifications", []byte(body)); code != want {
			t.Errorf("%s: %d %s, want %d", body, code, resp, want)
		}
	}
}

// A notification produced by kcat, a Kafka client nobody here wrote,
// reaches a user's WebSocket and inbox: as plain text keyed by the user and
// as a JSON envelope. Records that are not notifications go to the
// dead-letter topic while the consumer goes on.
func TestNotificationsFromKcat(t *testing.T) {
	kcat := testenv.LookTool(t, "kcat")
	s := StartServer(t)
	bob := s.Register(t, "bob")
	ws := bob.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)

	produce := func(key, value string) {
		t.Helper()
		args := []string{"-b", s.Kafka, "-t", "notifications", "-P", "-X", "acks=all"}
		if key != "" {
			args = append(args, "-K", "\t")
			value = key + "\t" + value
		}
		cmd := exec.Command(kcat, args...)
		cmd.Stdin = strings.NewReader(value + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v: %s", err, out)
		}
	}

	produce("bob", "your build is green")
	if n := nextNotification(t, ws); n.Body != "your build is green" {
		t.Fatalf("plain text notification %+v", n)
	}
	produce("", `{"to":"bob","title":"Deploy","body":"v2 is live","priority":"urgent"}`)
	if n := nextNotification(t, ws); n.Title != "Deploy" || n.Priority != "urgent" {
		t.Fatalf("envelope notification %+v", n)
	}

	// Garbage, then a good record: the good one still arrives.
	produce("bob", `{"to":`)
	produce("", `{"to":"Not Valid!","body":"x"}`)
	produce("bob", "after the garbage")
	if n := nextNotification(t, ws); n.Body != "after the garbage" {
		t.Fatalf("after garbage got %+v", n)
	}
	if ns := bob.waitInbox(t, 3); ns[0].Body != "after the garbage" {
		t.Errorf("inbox newest %+v", ns[0])
	}

	// The two bad records went to different partitions, so their dead
	// letters may come in either order.
	reasons := deadLetterReasons(t, s, 2)
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"invalid_json", "invalid_recipient"}) {
		t.Errorf("dead-letter reasons %v, want invalid_json and invalid_recipient", reasons)
	}
}

// deadLetterReasons reads the dead-letter topic until it holds n records
// and returns their reasons.
func deadLetterReasons(t *testing.T, s *Server, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := kafka.New(ctx, kafka.Config{Brokers: []string{s.Kafka}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tp := parley.TopicPartition{Topic: "parley.dead-letters", Partition: 0}
	for ctx.Err() == nil {
		var reasons []string
		err := c.Replay(ctx, tp, 0, 1<<40, func(r *parley.Record) error {
			if string(r.Header(parley.HeaderDeadTopic)) != "notifications" {
				t.Errorf("dead letter without source topic: %+v", r.Headers)
			}
			reasons = append(reasons, string(r.Header(parley.HeaderDeadReason)))
			return nil
		})
		if err == nil && len(reasons) >= n {
			return reasons
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("fewer than %d dead letters", n)
	return nil
}
