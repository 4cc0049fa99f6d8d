package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

// Partitions of the UserEntries fixtures.
var (
	dmTP     = parley.TopicPartition{Topic: dmTopic}
	groupTP  = parley.TopicPartition{Topic: groupTopic}
	notifyTP = parley.TopicPartition{Topic: notifyTopic}
)

// seedEntries archives, out of offset order, DMs of alice and of others,
// entries of a group alice is in and of one she is not, and notifications
// to her, to others and to everyone (one of them expired).
func seedEntries(t *testing.T, st parley.Store) {
	t.Helper()
	seedGroup(t, st, "mine", "alice", 1, "bob")
	seedGroup(t, st, "theirs", "bob", 1)
	ab := parley.DMConversation("alice", "bob")
	bc := parley.DMConversation("bob", "carol")
	ca := parley.DMConversation("alice", "carol")

	expired := note("n4", 4)
	expired.ExpiresAt = at(1)
	archive(t, st, []parley.Message{
		msg(ab, "alice", 30), msg(bc, "bob", 11), msg(ab, "bob", 10),
		msg(ca, "carol", 20), msg(bc, "carol", 21), msg(ab, "alice", 40),
		msg(parley.GroupConversation("mine"), "bob", 12),
		msg(parley.GroupConversation("theirs"), "bob", 13),
		memberMsg("mine", "alice", "bob", parley.ActionRole, 14),
	},
		note("n3", 3, "alice", "bob"), note("n1", 1, "alice"), note("n2", 2, "bob"),
		expired, note("n5", 5))
}

func testUserEntries(t *testing.T, open Opener) {
	tests := []struct {
		name     string
		user     string
		tp       parley.TopicPartition
		from, to int64
		want     []string // "<id>@<offset>"
	}{
		{"dms of the user by offset", "alice", dmTP, 0, 100,
			[]string{"m10@10", "m20@20", "m30@30", "m40@40"}},
		{"from is inclusive and to exclusive", "alice", dmTP, 20, 40,
			[]string{"m20@20", "m30@30"}},
		{"empty range is empty", "alice", dmTP, 30, 30, nil},
		{"others' dms are excluded", "carol", dmTP, 0, 100,
			[]string{"m11@11", "m20@20", "m21@21"}},
		{"groups of the user with member changes", "alice", groupTP, 0, 100,
			[]string{"m12@12", "m14@14"}},
		{"no group is no entry", "carol", groupTP, 0, 100, nil},
		{"notifications to the user or everyone, expired too", "alice", notifyTP, 0, 100,
			[]string{"n1@1", "n3@3", "n4@4", "n5@5"}},
		{"notification range is by offset", "bob", notifyTP, 2, 4,
			[]string{"n2@2", "n3@3"}},
		{"other partition is empty", "alice",
			parley.TopicPartition{Topic: dmTopic, Partition: 1}, 0, 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			seedEntries(t, st)
			wantEntries(t, st, tt.user, tt.tp, tt.from, tt.to, tt.want...)
		})
	}

	t.Run("former member no longer gets the group", func(t *testing.T) {
		st := open(t)
		seedEntries(t, st)
		must(t, "RemoveMember", st.RemoveMember(t.Context(), "mine", "bob"))
		wantEntries(t, st, "bob", groupTP, 0, 100, "m13@13")
	})

	t.Run("entries read back field for field", func(t *testing.T) {
		st := open(t)
		seedEntries(t, st)
		entries, err := st.UserEntries(t.Context(), "alice", groupTP, 14, 15)
		must(t, "UserEntries", err)
		want := memberMsg("mine", "alice", "bob", parley.ActionRole, 14)
		if len(entries) != 1 || entries[0].Message == nil ||
			!sameMessage(*entries[0].Message, want) {
			t.Fatalf("UserEntries = %+v, want %+v", entries, want)
		}

		entries, err = st.UserEntries(t.Context(), "alice", notifyTP, 3, 4)
		must(t, "UserEntries", err)
		wantNote := note("n3", 3, "alice", "bob")
		if len(entries) != 1 || entries[0].Notification == nil ||
			!sameNotification(*entries[0].Notification, wantNote) {
			t.Errorf("UserEntries = %+v, want %+v", entries, wantNote)
		}
	})
}

// wantEntries fails the test unless UserEntries returns the entries named
// "<id>@<offset>", in that order.
func wantEntries(
	t *testing.T, st parley.Store, user string, tp parley.TopicPartition,
	from, to int64, want ...string,
) {
	t.Helper()
	entries, err := st.UserEntries(t.Context(), user, tp, from, to)
	must(t, "UserEntries", err)
	var got []string
	for _, e := range entries {
		id := ""
		switch {
		case e.Message != nil:
			id = e.Message.ID
		case e.Notification != nil:
			id = e.Notification.ID
		}
		got = append(got, fmt.Sprintf("%s@%d", id, e.Pos().Offset))
	}
	if !slices.Equal(got, want) {
		t.Errorf("UserEntries(%s, %v, %d, %d) = %v, want %v", user, tp, from, to, got, want)
	}
}
