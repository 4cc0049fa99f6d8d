package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// `parley migrate` carries an embedded node's history, groups and inboxes
// to another store, used with another broker whose offsets start at 0
// again; conversations go on there in order after the copied history.
// (The copy into PostgreSQL is tested in cmd/parley and internal/postgres.)
func TestMigrateKeepsHistoryAndOrder(t *testing.T) {
	old := StartServer(t)
	alice, bob := old.Register(t, "alice"), old.Register(t, "bob")
	for _, body := range []string{"one", "two", "three"} {
		alice.SendDM(t, "bob", body, "")
	}
	bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) == 3 })
	old.Stop()

	target := filepath.Join(t.TempDir(), "moved.db")
	out, err := exec.Command(parleyBin, "migrate", "--data", old.Data, "--to", "sqlite:"+target).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	// A new node with a fresh broker (as a new cluster would be) on the
	// copied store; the same secret keeps the tokens valid.
	moved := StartServer(t, "--database", "sqlite:"+target)
	alice.s, bob.s = moved, moved
	ws := bob.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)
	alice.SendDM(t, "bob", "four", "")
	if m := ws.Messages(1, 10*time.Second)[0]; m.Body != "four" {
		t.Fatalf("live %q", m.Body)
	}
	h := bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) == 4 })
	checkSequenceBodies(t, h, "one", "two", "three", "four")

	var convs struct {
		Conversations []struct {
			Unread int `json:"unread"`
			Last   *Message
		} `json:"conversations"`
	}
	bob.Call(t, "GET", "/v1/conversations", nil, &convs)
	if len(convs.Conversations) != 1 || convs.Conversations[0].Unread != 4 ||
		convs.Conversations[0].Last.Body != "four" {
		t.Errorf("conversation list after the move: %+v", convs)
	}
}

func checkSequenceBodies(t *testing.T, h []Message, bodies ...string) {
	t.Helper()
	for i, b := range bodies {
		if i >= len(h) || h[i].Body != b {
			t.Fatalf("history %v, want bodies %v", h, bodies)
		}
	}
}
