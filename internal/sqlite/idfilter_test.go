package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// dmMessages returns n messages of one DM, at offsets from off on.
func dmMessages(off, n int) []parley.Message {
	msgs := make([]parley.Message, n)
	for i := range msgs {
		o := int64(off + i)
		msgs[i] = parley.Message{
			ID: fmt.Sprintf("m%d", o), Type: parley.TypeMessage, Conversation: "dm:ann:bob",
			From: "ann", Body: "hi", SentAt: time.Unix(o, 0), Seq: o,
			Pos: parley.Position{Topic: "direct-messages", Offset: o},
		}
	}
	return msgs
}

// waitFilterReady waits for the ID filter's build to finish.
func waitFilterReady(t *testing.T, s *Store) {
	t.Helper()
	for range 500 {
		s.ids.mu.Lock()
		ready := s.ids.ready && !s.ids.building
		s.ids.mu.Unlock()
		if ready {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the message id filter was not built within 5 s")
}

// checkLookups checks that every message is found and that IDs never
// stored are not.
func checkLookups(t *testing.T, s *Store, msgs []parley.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := s.MessageByID(t.Context(), m.Conversation, m.ID); err != nil {
			t.Fatalf("MessageByID(%s) of a stored message: %v", m.ID, err)
		}
	}
	for i := range 100 {
		_, err := s.MessageByID(t.Context(), "dm:ann:bob", fmt.Sprintf("never%d", i))
		if !errors.Is(err, parley.ErrNotFound) {
			t.Fatalf("MessageByID of a message never stored: %v, want ErrNotFound", err)
		}
	}
}

func TestIDFilterKeepsStoredMessagesAcrossReopenAndRebuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	first := dmMessages(0, 50)
	if err := s.Archive(t.Context(), &parley.Batch{Messages: first}); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	waitFilterReady(t, s)
	checkLookups(t, s, first)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Reopened, the filter is built from the file.
	s, err = Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	checkLookups(t, s, first) // during the build, from the database
	waitFilterReady(t, s)
	checkLookups(t, s, first)

	// Past the size it was built for, the filter is rebuilt, and it keeps
	// what was archived during the rebuild.
	s.ids.mu.Lock()
	s.ids.sized = 60
	s.ids.mu.Unlock()
	all := first
	for off := 50; off < 200; off += 10 {
		b := dmMessages(off, 10)
		if err := s.Archive(t.Context(), &parley.Batch{Messages: b}); err != nil {
			t.Fatalf("Archive: %v", err)
		}
		all = append(all, b...)
	}
	waitFilterReady(t, s)
	if s.ids.sized != filterMinIDs {
		t.Errorf("rebuilt filter sized for %d messages, want %d", s.ids.sized, filterMinIDs)
	}
	checkLookups(t, s, all)
}

func TestIDFilterFalsePositivesAreRare(t *testing.T) {
	f := newIDFilter()
	f.sized = 10_000
	f.bits = make([]uint64, (f.sized*filterBitsPerID+63)/64)
	f.ready = true
	msgs := make([]parley.Message, f.sized)
	for i := range msgs {
		msgs[i] = parley.Message{Conversation: "dm:ann:bob", ID: fmt.Sprintf("m%d", i)}
	}
	f.add(msgs)
	if f.ids != len(msgs) {
		t.Errorf("filter counts %d messages, want %d", f.ids, len(msgs))
	}
	for _, m := range msgs {
		if !f.mayHold(m.Conversation, m.ID) {
			t.Fatalf("an added message %s is not in the filter", m.ID)
		}
	}
	fp := 0
	for i := range 100_000 {
		if f.mayHold("dm:ann:bob", fmt.Sprintf("x%d", i)) {
			fp++
		}
	}
	// Four hashes and ten bits per ID at its full size: about 1.2%.
	if rate := float64(fp) / 100_000; rate > 0.03 {
		t.Errorf("false positive rate %.3f at the sized count, want under 0.03", rate)
	}
}
