package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// later is the "now" of inbox checks that do not test expiry.
var later = at(100000)

func testInbox(t *testing.T, open Opener) {
	t.Run("addressed and broadcast, newest first", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil,
			note("n1", 1, "alice"), note("n2", 2), note("n3", 3, "bob"),
			note("n4", 4, "alice", "bob"))
		wantInbox(t, st, "alice", "n4", "n2", "n1")
		wantInbox(t, st, "bob", "n4", "n3", "n2")
		wantInbox(t, st, "carol", "n2")
		wantUnread(t, st, "alice", later, 3)
		wantUnread(t, st, "carol", later, 1)
	})

	t.Run("notifications read back field for field", testInboxFields(open))

	t.Run("expired ones are hidden", func(t *testing.T) {
		st := open(t)
		n1, n2, n3 := note("n1", 1, "alice"), note("n2", 2, "alice"), note("n3", 3)
		n1.ExpiresAt, n2.ExpiresAt = at(50), at(51)
		archive(t, st, nil, n1, n2, n3)
		wantInboxAt(t, st, "alice", at(49), parley.Page{}, "n3", "n2", "n1")
		wantInboxAt(t, st, "alice", at(50), parley.Page{}, "n3", "n2")
		wantInboxAt(t, st, "alice", at(51), parley.Page{}, "n3")
		wantUnread(t, st, "alice", at(50), 2)
		wantUnread(t, st, "alice", at(51), 1)
	})

	t.Run("seq follows archive order", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, note("b", 9, "alice"), note("a", 8, "alice"))
		archive(t, st, nil, note("c", 1, "alice"))
		list := wantInbox(t, st, "alice", "c", "a", "b")
		if len(list) != 3 {
			return
		}
		if !(list[2].Seq > 0 && list[2].Seq < list[1].Seq && list[1].Seq < list[0].Seq) {
			t.Errorf("seqs c, a, b = %d, %d, %d; want decreasing and positive",
				list[0].Seq, list[1].Seq, list[2].Seq)
		}
	})
}

// testInboxFields archives a notification with every field set.
func testInboxFields(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		want := note("n1", 7, "alice", "bob")
		want.Kind, want.Priority, want.CollapseKey = "alert", "high", "k"
		want.Data = json.RawMessage(`{"order":42,"tags":["a","b"]}`)
		want.ExpiresAt = later.Add(time.Hour)
		want.Pos = parley.Position{Topic: notifyTopic, Partition: 3, Offset: 7}
		broadcast := note("n2", 8)
		archive(t, st, nil, want, broadcast)

		list := wantInbox(t, st, "alice", "n2", "n1")
		if len(list) != 2 {
			return
		}
		if !sameNotification(list[1], want) || list[1].Read || list[1].Seq <= 0 {
			t.Errorf("Inbox()[1] = %+v, want %+v, unread, seq > 0", list[1], want)
		}
		if !sameNotification(list[0], broadcast) || len(list[0].To) != 0 {
			t.Errorf("Inbox()[0] = %+v, want %+v, no recipients", list[0], broadcast)
		}
	}
}

func testInboxPaging(t *testing.T, open Opener) {
	// after and before name one of n1..n5 by number, 0 for unset.
	tests := []struct {
		name          string
		after, before int
		limit         int
		want          []string
	}{
		{"no bounds gives the newest", 0, 0, 2, []string{"n5", "n4"}},
		{"zero limit gives a default page", 0, 0, 0, []string{"n5", "n4", "n3", "n2", "n1"}},
		{"before gives the newest before it", 0, 4, 2, []string{"n3", "n2"}},
		{"after gives the oldest after it, newest first", 2, 0, 2, []string{"n4", "n3"}},
		{"after and before give the newest between", 1, 5, 2, []string{"n4", "n3"}},
		{"after and before within limit give the range", 1, 5, 9, []string{"n4", "n3", "n2"}},
		{"after the newest is empty", 5, 0, 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			seqs := append([]int64{0}, seedInbox(t, st)...)
			p := parley.Page{After: seqs[tt.after], Before: seqs[tt.before], Limit: tt.limit}
			wantInboxAt(t, st, "alice", later, p, tt.want...)
		})
	}
}

// seedInbox archives n1..n5 to alice, each followed by one to bob, and
// returns the seqs of n1..n5.
func seedInbox(t *testing.T, st parley.Store) []int64 {
	t.Helper()
	var notes []parley.Notification
	for i := range 5 {
		id := string(rune('1' + i))
		notes = append(notes, note("n"+id, int64(2*i), "alice"), note("b"+id, int64(2*i+1), "bob"))
	}
	archive(t, st, nil, notes...)

	list := wantInbox(t, st, "alice", "n5", "n4", "n3", "n2", "n1")
	if len(list) != 5 {
		t.FailNow()
	}
	var seqs []int64
	for _, n := range slices.Backward(list) {
		seqs = append(seqs, n.Seq)
	}
	return seqs
}

func testCollapse(t *testing.T, open Opener) {
	keyed := func(id string, off int64, key string, to ...string) parley.Notification {
		n := note(id, off, to...)
		n.CollapseKey = key
		return n
	}

	t.Run("newer replaces an unread older one", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, keyed("n1", 1, "k", "alice"), keyed("n2", 2, "k", "alice"))
		wantInbox(t, st, "alice", "n2")
		wantUnread(t, st, "alice", later, 1)
	})

	t.Run("older one already read stays", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, keyed("n1", 1, "k", "alice"))
		must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "alice", "n1", at(2)))
		archive(t, st, nil, keyed("n2", 3, "k", "alice"))
		list := wantInbox(t, st, "alice", "n2", "n1")
		if len(list) == 2 && (list[0].Read || !list[1].Read) {
			t.Errorf("read = %v, %v; want false, true", list[0].Read, list[1].Read)
		}
		wantUnread(t, st, "alice", later, 1)
	})

	t.Run("reading the newer one keeps the older hidden", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, keyed("n1", 1, "k", "alice"), keyed("n2", 2, "k", "alice"))
		must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "alice", "n2", at(3)))
		wantInbox(t, st, "alice", "n2")
		wantUnread(t, st, "alice", later, 0)
	})

	t.Run("collapse is per recipient", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, keyed("n1", 1, "k", "alice"), keyed("n2", 2, "k", "bob"))
		wantInbox(t, st, "alice", "n1")
		wantInbox(t, st, "bob", "n2")
	})

	t.Run("newer broadcast replaces an addressed one", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil,
			keyed("n1", 1, "k", "alice"), keyed("n2", 2, "k"), keyed("n3", 3, "k", "bob"))
		wantInbox(t, st, "alice", "n2")
		wantInbox(t, st, "bob", "n3")
		wantInbox(t, st, "carol", "n2")
	})

	t.Run("other keys and no key do not collapse", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, keyed("n1", 1, "k", "alice"), keyed("n2", 2, "j", "alice"),
			note("n3", 3, "alice"), note("n4", 4, "alice"))
		wantInbox(t, st, "alice", "n4", "n3", "n2", "n1")
	})
}

func testNotificationReads(t *testing.T, open Opener) {
	t.Run("read state is per user, broadcasts included", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, note("n1", 1), note("n2", 2, "alice", "bob"))
		must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "alice", "n1", at(3)))
		must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "bob", "n2", at(3)))

		wantReadState(t, st, "alice", map[string]bool{"n1": true, "n2": false})
		wantReadState(t, st, "bob", map[string]bool{"n1": false, "n2": true})
		wantReadState(t, st, "carol", map[string]bool{"n1": false})
		wantUnread(t, st, "alice", later, 1)
		wantUnread(t, st, "carol", later, 1)
	})

	t.Run("notification the user cannot see is not found", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, note("n1", 1, "bob"))
		err := st.MarkNotificationRead(t.Context(), "alice", "n1", at(2))
		wantErr(t, "MarkNotificationRead of another's", err, parley.ErrNotFound)
		err = st.MarkNotificationRead(t.Context(), "alice", "nope", at(2))
		wantErr(t, "MarkNotificationRead of a missing one", err, parley.ErrNotFound)
		wantReadState(t, st, "bob", map[string]bool{"n1": false})
	})

	t.Run("marking twice is no error", func(t *testing.T) {
		st := open(t)
		archive(t, st, nil, note("n1", 1, "alice"))
		for range 2 {
			err := st.MarkNotificationRead(t.Context(), "alice", "n1", at(2))
			must(t, "MarkNotificationRead", err)
		}
		wantReadState(t, st, "alice", map[string]bool{"n1": true})
		wantUnread(t, st, "alice", later, 0)
	})

	t.Run("archived read mark marks it read", func(t *testing.T) {
		st := open(t)
		b := &parley.Batch{
			Notifications: []parley.Notification{note("n1", 1, "alice"), note("n2", 2)},
			Reads: []parley.ReadMark{
				{User: "alice", Notification: "n1", At: at(3)},
				{User: "alice", Notification: "n2", At: at(3)},
			},
		}
		must(t, "Archive", st.Archive(t.Context(), b))
		wantReadState(t, st, "alice", map[string]bool{"n1": true, "n2": true})
		wantReadState(t, st, "bob", map[string]bool{"n2": false})
	})
}

// wantInbox fails the test unless the user's first inbox page at a late
// "now" holds the notifications with the given IDs in that order.
func wantInbox(t *testing.T, st parley.Store, user string, ids ...string) []parley.Notification {
	t.Helper()
	return wantInboxAt(t, st, user, later, parley.Page{}, ids...)
}

// wantInboxAt is wantInbox with a given now and page.
func wantInboxAt(
	t *testing.T, st parley.Store, user string, now time.Time, p parley.Page, ids ...string,
) []parley.Notification {
	t.Helper()
	list, err := st.Inbox(t.Context(), user, p, now)
	must(t, "Inbox", err)
	var got []string
	for _, n := range list {
		got = append(got, n.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("Inbox(%s, %+v) = %v, want %v", user, p, got, ids)
	}
	return list
}

// wantUnread fails the test unless UnreadNotifications returns n.
func wantUnread(t *testing.T, st parley.Store, user string, now time.Time, n int) {
	t.Helper()
	got, err := st.UnreadNotifications(t.Context(), user, now)
	must(t, "UnreadNotifications", err)
	if got != n {
		t.Errorf("UnreadNotifications(%s) = %d, want %d", user, got, n)
	}
}

// wantReadState fails the test unless the user's inbox holds exactly the
// notifications of want, each with the read state given.
func wantReadState(t *testing.T, st parley.Store, user string, want map[string]bool) {
	t.Helper()
	list, err := st.Inbox(t.Context(), user, parley.Page{}, later)
	must(t, "Inbox", err)
	got := map[string]bool{}
	for _, n := range list {
		got[n.ID] = n.Read
	}
	for id, read := range want {
		if r, ok := got[id]; !ok || r != read {
			t.Errorf("Inbox(%s): %s present %v read %v; want read %v", user, id, ok, r, read)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Inbox(%s) = %v, want %v", user, got, want)
	}
}
