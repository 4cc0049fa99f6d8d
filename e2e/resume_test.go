package e2e

import (
	"fmt"
	"testing"
	"time"
)

// A client that reconnects with its stream cursor gets every message it
// missed exactly once, then live ones: over WebSocket and over SSE.
func TestResumeWithoutGapsOrDuplicates(t *testing.T) {
	s := StartServer(t)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	ws := bob.DialWS(t, "")
	ws.NextOfType("ready", 10*time.Second)
	for i := range 5 {
		alice.SendDM(t, "bob", fmt.Sprintf("before %d", i), "")
	}
	ws.Messages(5, 10*time.Second)
	cursor := ws.Last
	ws.c.CloseNow()

	for i := range 20 {
		alice.SendDM(t, "bob", fmt.Sprintf("missed %d", i), "")
	}
	// Let the archiver store some of them, so the replay crosses from the
	// store to Kafka.
	bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) >= 15 })
	for i := range 5 {
		alice.SendDM(t, "bob", fmt.Sprintf("late %d", i), "")
	}

	again := bob.DialWS(t, "stream="+cursor)
	checkSequence(t, again.Messages(25, 10*time.Second), []string{"missed", "late"}, []int{20, 5})
	again.NextOfType("ready", 10*time.Second)
	live := alice.SendDM(t, "bob", "live", "")
	if m := again.Messages(1, 10*time.Second)[0]; m.ID != live.ID {
		t.Fatalf("after ready got %+v, want the live message", m)
	}
	again.Quiet(300 * time.Millisecond)

	// SSE resumes from the same kind of cursor with Last-Event-ID.
	sse := bob.DialSSE(t, cursor)
	var bodies []Message
	for len(bodies) < 26 {
		e := sse.Next(10 * time.Second)
		if e.Data.Type == "message" {
			bodies = append(bodies, *e.Data.Message)
			if e.ID == "" {
				t.Fatal("SSE message event without id")
			}
		}
	}
	checkSequence(t, bodies[:25], []string{"missed", "late"}, []int{20, 5})
}

// checkSequence checks that msgs are "<prefix> 0".."<prefix> n-1" for each
// prefix in turn.
func checkSequence(t *testing.T, msgs []Message, prefixes []string, counts []int) {
	t.Helper()
	i := 0
	for p, prefix := range prefixes {
		for j := range counts[p] {
			want := fmt.Sprintf("%s %d", prefix, j)
			if i >= len(msgs) || msgs[i].Body != want {
				got := "nothing"
				if i < len(msgs) {
					got = msgs[i].Body
				}
				t.Fatalf("event %d is %q, want %q", i, got, want)
			}
			i++
		}
	}
}

// Resume works while the store lags behind Kafka: this node runs no
// archiver, so nothing reaches the store and the replay comes from Kafka.
// A second node started later archives everything.
func TestResumeWhileArchiverLags(t *testing.T) {
	s := StartServer(t, "--archiver=false")
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	ws := bob.DialWS(t, "")
	cursor := ws.NextOfType("ready", 10*time.Second).Stream
	ws.c.CloseNow()

	for i := range 30 {
		alice.SendDM(t, "bob", fmt.Sprintf("missed %d", i), "")
	}
	if h := bob.History(t, "/v1/dm/alice"); len(h) != 0 {
		t.Fatalf("history has %d entries with no archiver running", len(h))
	}
	again := bob.DialWS(t, "stream="+cursor)
	checkSequence(t, again.Messages(30, 10*time.Second), []string{"missed"}, []int{30})
	again.NextOfType("ready", 10*time.Second)
	again.Quiet(300 * time.Millisecond)

	// With the archiver back, history catches up.
	s.Stop()
	s.args = s.args[:len(s.args)-1]
	s.Restart()
	h := bob.WaitHistory(t, "/v1/dm/alice", func(h []Message) bool { return len(h) == 30 })
	checkSequence(t, h, []string{"missed"}, []int{30})
}
