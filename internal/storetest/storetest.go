// Package storetest is the conformance suite of parley.Store: every
// implementation runs it from its own tests, the SQLite store on a fresh
// file, the PostgreSQL store on a fresh database, so both keep the contracts
// written on the interface.
//
// The suite goes through the interface only and assumes nothing about the
// engine beneath. Times are compared with time.Equal and the fixtures use
// whole microseconds, because a store may keep no finer precision (both
// SQLite and PostgreSQL keep microseconds); a store may return times in any
// location.
//
// Some contracts the interface leaves open are pinned here, so that both
// stores behave alike:
//
//   - A Page with Limit zero returns up to parley.DefaultPageLimit entries.
//   - An unset Page.After includes an entry at seq 0, and so does the
//     unread count of a conversation without a read cursor (Parley's own
//     Seqs start at 1, see parley.SeqOf, but the store does not rely on it).
//   - Inbox with only Page.After set returns the oldest Limit notifications
//     after it, newest first like every Inbox page.
//   - PutMember on an existing member keeps its JoinedAt.
//   - Members, PutMember and SetGroupStrategy return ErrNotFound for a
//     missing group; History of an unknown conversation is empty.
//   - A newer notification replaces an unread one with the same collapse key
//     whether it is addressed to the user or broadcast.
package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// Opener returns a fresh, empty store for one test and registers its
// closing with t.Cleanup.
type Opener func(t *testing.T) parley.Store

// Run runs the whole suite against the stores open returns; every subtest
// gets a store of its own.
func Run(t *testing.T, open func(t *testing.T) parley.Store) {
	suites := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"Users", testUsers},
		{"SearchUsers", testSearchUsers},
		{"Groups", testGroups},
		{"Archive", testArchive},
		{"History", testHistory},
		{"MessageByID", testMessageByID},
		{"Conversations", testConversations},
		{"Inbox", testInbox},
		{"InboxPaging", testInboxPaging},
		{"Collapse", testCollapse},
		{"NotificationReads", testNotificationReads},
		{"UserEntries", testUserEntries},
		{"Ping", testPing},
		{"SeqGeneration", testSeqGeneration},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) { s.run(t, open) })
	}
}

func testSeqGeneration(t *testing.T, open Opener) {
	t.Run("starts at zero and only rises", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		want := func(g int) {
			t.Helper()
			got, err := st.SeqGeneration(ctx)
			if err != nil || got != g {
				t.Fatalf("SeqGeneration = %d, %v; want %d", got, err, g)
			}
		}
		want(0)
		must(t, "SetSeqGeneration", st.SetSeqGeneration(ctx, 3))
		want(3)
		must(t, "SetSeqGeneration", st.SetSeqGeneration(ctx, 2))
		want(3)
	})
}

func testPing(t *testing.T, open Opener) {
	t.Run("fresh store answers", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// Topics of the fixtures; partition 0 unless a test says otherwise.
const (
	dmTopic     = "direct-messages"
	groupTopic  = "group-messages"
	notifyTopic = "notifications"
)

// t0 is the fixtures' epoch; it has a microsecond part on purpose.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 plus n seconds.
func at(n int64) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// msg returns a TypeMessage entry at offset off of partition 0 of the
// conversation's topic, with ID "m<off>" and SentAt at(off).
func msg(conv, from string, off int64) parley.Message {
	topic := dmTopic
	if strings.HasPrefix(conv, parley.KindGroup+":") {
		topic = groupTopic
	}
	return parley.Message{
		ID:           fmt.Sprintf("m%d", off),
		Type:         parley.TypeMessage,
		Conversation: conv,
		From:         from,
		Body:         fmt.Sprintf("hello %d", off),
		SentAt:       at(off),
		// The store keeps Seq as given and never derives it from the
		// offset, so fixtures use the offset itself as an easy-to-read Seq.
		Seq: off,
		Pos: parley.Position{Topic: topic, Partition: 0, Offset: off},
	}
}

// memberMsg returns a TypeMember entry of a group like msg does.
func memberMsg(groupID, by, user, action string, off int64) parley.Message {
	m := msg(parley.GroupConversation(groupID), by, off)
	m.Type = parley.TypeMember
	m.Body = ""
	m.Member = &parley.MemberChange{User: user, Action: action, Role: parley.RoleMember}
	return m
}

// note returns a notification at offset off of the notifications topic,
// addressed to the users given or, with none, broadcast.
func note(id string, off int64, to ...string) parley.Notification {
	return parley.Notification{
		ID:        id,
		To:        to,
		Title:     "title " + id,
		Body:      "body " + id,
		CreatedAt: at(off),
		Pos:       parley.Position{Topic: notifyTopic, Partition: 0, Offset: off},
	}
}

// archive writes a batch of messages and notifications or fails the test.
func archive(t *testing.T, st parley.Store, msgs []parley.Message, notes ...parley.Notification) {
	t.Helper()
	b := &parley.Batch{Messages: msgs, Notifications: notes}
	if err := st.Archive(t.Context(), b); err != nil {
		t.Fatalf("Archive: %v", err)
	}
}

// wantErr fails the test unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want one wrapping %v", what, err, want)
	}
}

// must fails the test now when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
