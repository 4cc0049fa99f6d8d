package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/kafka"
)

// After a restart of the embedded broker, no consumer of Parley skips a
// record. kfake numbers a partition that retention emptied from 0 again
// after a restart, and a consumer group that had committed offset 5 there
// would skip the first five new records. Parley's retention on the
// embedded broker keeps the newest record of each partition so that this
// cannot happen; this test applies retention, restarts, and checks that
// history and inboxes hold every record in order.
func TestBrokerRestartSkipsNothing(t *testing.T) {
	s := StartServer(t, "--message-retention=1s", "--notification-retention=1s",
		"--retention-interval=200ms", "--dm-partitions=1", "--notification-partitions=1")
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	api := &User{Name: "server", Token: s.APIKey, s: s}
	for i := range 5 {
		alice.SendDM(t, "bob", fmt.Sprintf("old %d", i), "")
		api.Call(t, "POST", "/v1/notifications", map[string]any{"to": "bob", "body": fmt.Sprintf("old %d", i)}, nil)
	}
	bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) == 5 })
	bob.waitInbox(t, 5)
	waitTrimmed(t, s, "direct-messages", "notifications")

	s.Stop()
	s.Restart()
	for i := range 3 {
		alice.SendDM(t, "bob", fmt.Sprintf("new %d", i), "")
		api.Call(t, "POST", "/v1/notifications", map[string]any{"to": "bob", "body": fmt.Sprintf("new %d", i)}, nil)
	}
	h := bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) == 8 })
	if got := h[len(h)-1].Body; got != "new 2" {
		t.Errorf("newest message in history is %q, want %q", got, "new 2")
	}
	bob.waitInbox(t, 8)
}

// waitTrimmed waits until retention removed every record of the topics but
// the newest of each partition.
func waitTrimmed(t *testing.T, s *Server, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kafka.New(ctx, kafka.Config{Brokers: []string{s.Kafka}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for ctx.Err() == nil {
		b, err := c.Bounds(ctx, topics...)
		empty := err == nil
		for _, tp := range b {
			if tp.Start != tp.End-1 {
				empty = false
			}
		}
		if empty {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("retention never trimmed the partitions")
}
