package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

func testArchive(t *testing.T, open Opener) {
	ab := parley.DMConversation("alice", "bob")

	t.Run("replayed batch changes nothing", func(t *testing.T) {
		st := open(t)
		tp := parley.TopicPartition{Topic: dmTopic}
		b := &parley.Batch{
			Messages:      []parley.Message{msg(ab, "alice", 1), msg(ab, "bob", 2)},
			Notifications: []parley.Notification{note("n1", 3, "alice")},
			Reads:         []parley.ReadMark{{User: "alice", Conversation: ab, Seq: 1, At: at(4)}},
			Offsets:       map[parley.TopicPartition]int64{tp: 3},
		}
		for range 2 {
			must(t, "Archive", st.Archive(t.Context(), b))
		}
		wantHistory(t, st, ab, parley.Page{}, "m1", "m2")
		wantInbox(t, st, "alice", "n1")
		wantOffsets(t, st, map[parley.TopicPartition]int64{tp: 3})
		wantSummary(t, st, "alice", ab, 1, 1)
	})

	t.Run("first entry stored with an id wins", func(t *testing.T) {
		st := open(t)
		first, retry, again := msg(ab, "alice", 1), msg(ab, "alice", 5), msg(ab, "alice", 6)
		first.Body = "first"
		retry.ID, retry.Body = first.ID, "retry in a later batch"
		again.ID, again.Body = first.ID, "retry in the same batch"
		archive(t, st, []parley.Message{first})
		archive(t, st, []parley.Message{retry, again})

		got, err := st.MessageByID(t.Context(), ab, first.ID)
		must(t, "MessageByID", err)
		if got.Body != "first" || got.Seq != first.Seq {
			t.Errorf("MessageByID = %q at seq %d, want %q at %d",
				got.Body, got.Seq, "first", first.Seq)
		}
		wantHistory(t, st, ab, parley.Page{}, first.ID)
	})

	t.Run("same id in another conversation is stored", func(t *testing.T) {
		st := open(t)
		ac := parley.DMConversation("alice", "carol")
		other := msg(ac, "alice", 2)
		other.ID = "m1"
		archive(t, st, []parley.Message{msg(ab, "alice", 1), other})
		wantHistory(t, st, ab, parley.Page{}, "m1")
		wantHistory(t, st, ac, parley.Page{}, "m1")
	})

	t.Run("notification with a stored id is skipped", func(t *testing.T) {
		st := open(t)
		first, dup := note("n1", 1, "alice"), note("n1", 2, "alice")
		dup.Body = "duplicate"
		archive(t, st, nil, first, dup)
		archive(t, st, nil, dup)
		list := wantInbox(t, st, "alice", "n1")
		if len(list) == 1 && list[0].Body != first.Body {
			t.Errorf("Body = %q, want %q", list[0].Body, first.Body)
		}
	})

	t.Run("read marks only move forward", testReadMarksForward(open))
	t.Run("offsets keep the highest", testOffsetsHighest(open))

	t.Run("reset moves an offset backwards", func(t *testing.T) {
		st := open(t)
		tp := parley.TopicPartition{Topic: dmTopic, Partition: 2}
		other := parley.TopicPartition{Topic: notifyTopic}
		must(t, "Archive", st.Archive(t.Context(), &parley.Batch{
			Offsets: map[parley.TopicPartition]int64{tp: 50}}))
		must(t, "ResetArchivedOffset", st.ResetArchivedOffset(t.Context(), tp, 7))
		must(t, "ResetArchivedOffset", st.ResetArchivedOffset(t.Context(), other, 3))
		wantOffsets(t, st, map[parley.TopicPartition]int64{tp: 7, other: 3})
	})

	t.Run("batch is all or nothing when cancelled midway", testArchiveAtomic(open))
}

// testReadMarksForward archives read marks out of order.
func testReadMarksForward(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		ab := parley.DMConversation("alice", "bob")
		archive(t, st, []parley.Message{
			msg(ab, "alice", 1), msg(ab, "alice", 2), msg(ab, "alice", 3)})

		read := func(seqs ...int64) {
			t.Helper()
			b := &parley.Batch{}
			for _, s := range seqs {
				r := parley.ReadMark{User: "bob", Conversation: ab, Seq: s, At: at(9)}
				b.Reads = append(b.Reads, r)
			}
			must(t, "Archive", st.Archive(t.Context(), b))
		}
		read(2, 1)
		wantSummary(t, st, "bob", ab, 2, 1)
		read(1)
		wantSummary(t, st, "bob", ab, 2, 1)

		must(t, "MarkRead", st.MarkRead(t.Context(), "bob", ab, 1))
		wantSummary(t, st, "bob", ab, 2, 1)
		must(t, "MarkRead", st.MarkRead(t.Context(), "bob", ab, 3))
		wantSummary(t, st, "bob", ab, 3, 0)
	}
}

// testOffsetsHighest archives offsets out of order, some with no records.
func testOffsetsHighest(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		wantOffsets(t, st, map[parley.TopicPartition]int64{})

		p0 := parley.TopicPartition{Topic: dmTopic, Partition: 0}
		p1 := parley.TopicPartition{Topic: dmTopic, Partition: 1}
		g0 := parley.TopicPartition{Topic: groupTopic, Partition: 0}
		batches := []map[parley.TopicPartition]int64{
			{p0: 10, p1: 4},
			{p0: 5, g0: 8},
			{p1: 9},
		}
		for _, offs := range batches {
			must(t, "Archive", st.Archive(t.Context(), &parley.Batch{Offsets: offs}))
		}
		wantOffsets(t, st, map[parley.TopicPartition]int64{p0: 10, p1: 9, g0: 8})
	}
}

// testArchiveAtomic cancels a large batch while it is being written: Archive
// either fails and leaves no trace, or succeeds and stores all of it.
func testArchiveAtomic(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		ab := parley.DMConversation("alice", "bob")
		tp := parley.TopicPartition{Topic: dmTopic}
		const n = 5000
		b := &parley.Batch{Offsets: map[parley.TopicPartition]int64{tp: n}}
		for off := range int64(n) {
			b.Messages = append(b.Messages, msg(ab, "alice", off))
		}

		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Millisecond)
		err := st.Archive(ctx, b)
		cancel()

		_, firstErr := st.MessageByID(t.Context(), ab, b.Messages[0].ID)
		_, lastErr := st.MessageByID(t.Context(), ab, b.Messages[n-1].ID)
		offs, oerr := st.ArchivedOffsets(t.Context())
		must(t, "ArchivedOffsets", oerr)
		if err != nil {
			t.Logf("Archive failed as it may: %v", err)
			wantErr(t, "first message after failed Archive", firstErr, parley.ErrNotFound)
			wantErr(t, "last message after failed Archive", lastErr, parley.ErrNotFound)
			if len(offs) != 0 {
				t.Errorf("offsets after failed Archive = %v, want none", offs)
			}
			return
		}
		if firstErr != nil || lastErr != nil || offs[tp] != n {
			t.Errorf("after Archive: first %v, last %v, offsets %v; want all stored",
				firstErr, lastErr, offs)
		}
	}
}

// wantOffsets fails the test unless ArchivedOffsets returns want.
func wantOffsets(t *testing.T, st parley.Store, want map[parley.TopicPartition]int64) {
	t.Helper()
	got, err := st.ArchivedOffsets(t.Context())
	must(t, "ArchivedOffsets", err)
	if !maps.Equal(got, want) {
		t.Errorf("ArchivedOffsets = %v, want %v", got, want)
	}
}
