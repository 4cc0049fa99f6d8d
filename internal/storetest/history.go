package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

// seedHistory archives, in two batches and out of order, ten entries of
// group g at offsets 10, 20, ... 100 (the one at 50 a member change),
// interleaved with entries of another conversation.
func seedHistory(t *testing.T, st parley.Store) {
	t.Helper()
	conv := parley.GroupConversation("g")
	var mine, others []parley.Message
	for off := int64(10); off <= 100; off += 10 {
		m := msg(conv, "alice", off)
		if off == 50 {
			m = memberMsg("g", "alice", "bob", parley.ActionJoined, off)
		}
		mine = append(mine, m)
		others = append(others, msg(parley.GroupConversation("other"), "alice", off+5))
	}
	archive(t, st, append(slices.Clone(mine[5:]), others[:5]...))
	archive(t, st, append(slices.Clone(mine[:5]), others[5:]...))
}

func testHistory(t *testing.T, open Opener) {
	conv := parley.GroupConversation("g")
	tests := []struct {
		name string
		page parley.Page
		want []int64 // offsets
	}{
		{"no bounds gives the newest", parley.Page{Limit: 3}, []int64{80, 90, 100}},
		{"limit above the count gives all", parley.Page{Limit: 20}, span(10, 100)},
		{"zero limit gives a default page", parley.Page{}, span(10, 100)},
		{"before gives the newest before it", parley.Page{Before: 50, Limit: 2}, []int64{30, 40}},
		{"before a missing seq works", parley.Page{Before: 55, Limit: 2}, []int64{40, 50}},
		{"after gives the oldest after it", parley.Page{After: 50, Limit: 2}, []int64{60, 70}},
		{"after a missing seq works", parley.Page{After: 45, Limit: 2}, []int64{50, 60}},
		{"after and before give the newest between",
			parley.Page{After: 20, Before: 90, Limit: 3}, span(60, 80)},
		{"after and before within limit give the range",
			parley.Page{After: 20, Before: 90, Limit: 10}, span(30, 80)},
		{"bounds exclude their own entry",
			parley.Page{After: 40, Before: 60, Limit: 10}, []int64{50}},
		{"before the first is empty", parley.Page{Before: 10, Limit: 5}, nil},
		{"after the last is empty", parley.Page{After: 100, Limit: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			seedHistory(t, st)
			var want []string
			for _, off := range tt.want {
				want = append(want, fmt.Sprintf("m%d", off))
			}
			wantHistory(t, st, conv, tt.page, want...)
		})
	}

	t.Run("entries read back field for field", testHistoryFields(open))

	t.Run("unknown conversation is empty", func(t *testing.T) {
		st := open(t)
		seedHistory(t, st)
		wantHistory(t, st, parley.GroupConversation("nope"), parley.Page{})
	})

	t.Run("entry at seq zero is in an unbounded page", func(t *testing.T) {
		st := open(t)
		ab := parley.DMConversation("alice", "bob")
		archive(t, st, []parley.Message{msg(ab, "alice", 0), msg(ab, "bob", 1)})
		wantHistory(t, st, ab, parley.Page{Limit: 5}, "m0", "m1")
		wantHistory(t, st, ab, parley.Page{Before: 1, Limit: 5}, "m0")
	})
}

// span returns the offsets lo, lo+10, ... hi.
func span(lo, hi int64) []int64 {
	var offs []int64
	for off := lo; off <= hi; off += 10 {
		offs = append(offs, off)
	}
	return offs
}

// testHistoryFields archives one entry of each type with every field set.
func testHistoryFields(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		conv := parley.GroupConversation("g")
		text := msg(conv, "alice", 7)
		text.ClientID = "c-42"
		text.Body = "héllo\nwörld"
		text.Seq = parley.SeqOf(parley.EpochDedicated, 3)
		text.Pos = parley.Position{Topic: "group.g", Partition: 2, Offset: 3}
		member := memberMsg("g", "carol", "bob", parley.ActionRole, 8)
		member.Member.Role = parley.RoleAdmin
		member.Seq = parley.SeqOf(parley.EpochDedicated, 4)
		member.Pos = parley.Position{Topic: "group.g", Partition: 2, Offset: 4}
		archive(t, st, []parley.Message{member, text})

		got, err := st.History(t.Context(), conv, parley.Page{})
		must(t, "History", err)
		want := []parley.Message{text, member}
		if !slices.EqualFunc(got, want, sameMessage) {
			t.Errorf("History =\n%+v\nwant\n%+v", got, want)
		}
	}
}

func testMessageByID(t *testing.T, open Opener) {
	t.Run("stored entry is found", func(t *testing.T) {
		st := open(t)
		seedHistory(t, st)
		want := memberMsg("g", "alice", "bob", parley.ActionJoined, 50)
		got, err := st.MessageByID(t.Context(), want.Conversation, want.ID)
		must(t, "MessageByID", err)
		if !sameMessage(got, want) {
			t.Errorf("MessageByID = %+v, want %+v", got, want)
		}
	})

	t.Run("missing entry is not found", func(t *testing.T) {
		st := open(t)
		seedHistory(t, st)
		_, err := st.MessageByID(t.Context(), parley.GroupConversation("g"), "m55")
		wantErr(t, "MessageByID of a missing id", err, parley.ErrNotFound)
		_, err = st.MessageByID(t.Context(), parley.GroupConversation("nope"), "m50")
		wantErr(t, "MessageByID in another conversation", err, parley.ErrNotFound)
	})
}

// wantHistory fails the test unless History returns the entries with the
// given IDs, in that order.
func wantHistory(t *testing.T, st parley.Store, conv string, p parley.Page, ids ...string) {
	t.Helper()
	msgs, err := st.History(t.Context(), conv, p)
	must(t, "History", err)
	var got []string
	for _, m := range msgs {
		got = append(got, m.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("History(%s, %+v) = %v, want %v", conv, p, got, ids)
	}
}

// sameMessage compares entries field by field, times with time.Equal.
func sameMessage(a, b parley.Message) bool {
	if (a.Member == nil) != (b.Member == nil) || a.Member != nil && *a.Member != *b.Member {
		return false
	}
	return a.ID == b.ID && a.Type == b.Type && a.Conversation == b.Conversation &&
		a.From == b.From && a.Body == b.Body && a.ClientID == b.ClientID &&
		a.SentAt.Equal(b.SentAt) && a.Seq == b.Seq && a.Pos == b.Pos
}

// sameNotification compares notifications field by field, times with
// time.Equal, To ignoring nil against empty, Data as JSON values.
func sameNotification(a, b parley.Notification) bool {
	return a.ID == b.ID && slices.Equal(a.To, b.To) && a.Title == b.Title &&
		a.Body == b.Body && a.Kind == b.Kind && a.Priority == b.Priority &&
		sameJSON(a.Data, b.Data) && a.CollapseKey == b.CollapseKey &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Pos == b.Pos
}

// sameJSON reports whether a and b hold the same JSON value; a store may
// reformat JSON (PostgreSQL's jsonb does).
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
