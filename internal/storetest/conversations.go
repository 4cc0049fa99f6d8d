package storetest

import (
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

func testConversations(t *testing.T, open Opener) {
	ab := parley.DMConversation("alice", "bob")

	t.Run("dm appears for both once it has an entry", func(t *testing.T) {
		st := open(t)
		wantConversations(t, st, "alice")
		first := msg(ab, "alice", 1)
		archive(t, st, []parley.Message{first})

		for _, c := range []struct{ user, peer string }{{"alice", "bob"}, {"bob", "alice"}} {
			list := wantConversations(t, st, c.user, ab)
			if len(list) != 1 {
				continue
			}
			s := list[0]
			if s.Kind != parley.KindDM || s.Peer != c.peer || s.Name != "" {
				t.Errorf("summary for %s = %+v, want a dm with peer %s", c.user, s, c.peer)
			}
			if s.Last == nil || !sameMessage(*s.Last, first) {
				t.Errorf("Last for %s = %+v, want %+v", c.user, s.Last, first)
			}
		}
		wantConversations(t, st, "carol")
	})

	t.Run("group appears for members without entries", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		list := wantConversations(t, st, "alice", parley.GroupConversation("g1"))
		if len(list) == 1 {
			s := list[0]
			if s.Kind != parley.KindGroup || s.Name != "Group g1" || s.Peer != "" ||
				s.Last != nil || s.Unread != 0 || s.ReadSeq != 0 {
				t.Errorf("summary = %+v, want group g1 without entries", s)
			}
		}
		wantConversations(t, st, "bob")
	})

	t.Run("removed member no longer lists the group", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		archive(t, st, []parley.Message{msg(parley.GroupConversation("g1"), "carol", 2)})
		must(t, "RemoveMember", st.RemoveMember(t.Context(), "g1", "alice"))
		wantConversations(t, st, "alice")
	})

	t.Run("unread counts messages from others after the cursor", testUnread(open))
	t.Run("sorted by newest activity", testConversationOrder(open))

	t.Run("last is the newest entry, member changes included", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		change := memberMsg("g1", "carol", "bob", parley.ActionJoined, 3)
		archive(t, st, []parley.Message{change, msg(parley.GroupConversation("g1"), "carol", 2)})
		list := wantConversations(t, st, "alice", parley.GroupConversation("g1"))
		if len(list) == 1 && (list[0].Last == nil || !sameMessage(*list[0].Last, change)) {
			t.Errorf("Last = %+v, want %+v", list[0].Last, change)
		}
	})
}

// testUnread checks the unread count against read cursors in a group that
// has messages from several users and member changes.
func testUnread(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		conv := parley.GroupConversation("g1")
		seedGroup(t, st, "g1", "carol", 1, "alice", "bob")
		archive(t, st, []parley.Message{
			memberMsg("g1", "carol", "dave", parley.ActionJoined, 10),
			msg(conv, "bob", 11),
			msg(conv, "alice", 12),
			msg(conv, "carol", 13),
			memberMsg("g1", "carol", "dave", parley.ActionRemoved, 14),
			msg(conv, "bob", 15),
		})

		wantSummary(t, st, "alice", conv, 0, 3)
		wantSummary(t, st, "carol", conv, 0, 3)
		must(t, "MarkRead", st.MarkRead(t.Context(), "alice", conv, 13))
		wantSummary(t, st, "alice", conv, 13, 1)
		must(t, "MarkRead", st.MarkRead(t.Context(), "alice", conv, 12))
		wantSummary(t, st, "alice", conv, 13, 1)
		must(t, "MarkRead", st.MarkRead(t.Context(), "alice", conv, 15))
		wantSummary(t, st, "alice", conv, 15, 0)
		wantSummary(t, st, "bob", conv, 0, 2)
	}
}

// testConversationOrder mixes DMs and groups with and without entries.
func testConversationOrder(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		ab := parley.DMConversation("alice", "bob")
		ac := parley.DMConversation("alice", "carol")
		seedGroup(t, st, "quiet", "alice", 70)
		seedGroup(t, st, "busy", "carol", 10, "alice")
		seedGroup(t, st, "old", "carol", 5, "alice")
		archive(t, st, []parley.Message{
			msg(ab, "bob", 50),
			msg(ac, "carol", 40),
			msg(ac, "alice", 60),
			msg(parley.GroupConversation("busy"), "carol", 80),
		})

		wantConversations(t, st, "alice",
			parley.GroupConversation("busy"),  // entry at 80
			parley.GroupConversation("quiet"), // created at 70
			ac,                                // entry at 60
			ab,                                // entry at 50
			parley.GroupConversation("old"),   // created at 5
		)
	}
}

// wantConversations fails the test unless Conversations lists the given
// conversation IDs in that order; it returns the list.
func wantConversations(
	t *testing.T, st parley.Store, user string, ids ...string,
) []parley.ConversationSummary {
	t.Helper()
	list, err := st.Conversations(t.Context(), user)
	must(t, "Conversations", err)
	var got []string
	for _, s := range list {
		got = append(got, s.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("Conversations(%s) = %v, want %v", user, got, ids)
	}
	return list
}

// wantSummary fails the test unless the user's summary of conv has the
// read cursor and unread count given.
func wantSummary(t *testing.T, st parley.Store, user, conv string, readSeq int64, unread int) {
	t.Helper()
	list, err := st.Conversations(t.Context(), user)
	must(t, "Conversations", err)
	i := slices.IndexFunc(list, func(s parley.ConversationSummary) bool { return s.ID == conv })
	if i < 0 {
		t.Errorf("Conversations(%s) lacks %s", user, conv)
		return
	}
	if s := list[i]; s.ReadSeq != readSeq || s.Unread != unread {
		t.Errorf("%s for %s: read %d, unread %d; want read %d, unread %d",
			conv, user, s.ReadSeq, s.Unread, readSeq, unread)
	}
}
