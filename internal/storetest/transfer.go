package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// RunTransfer checks a transfer from the stores openSource returns, which
// must implement parley.Exporter, to those openTarget returns, which must
// implement parley.Importer. It fills a source through the Store methods,
// copies it into a fresh target and compares what every read method
// answers on both; then it copies again and checks that nothing changed.
func RunTransfer(t *testing.T, openSource, openTarget Opener) {
	src := openSource(t)
	exp, ok := src.(parley.Exporter)
	if !ok {
		t.Fatalf("source %T is not a parley.Exporter", src)
	}
	dst := openTarget(t)
	imp, ok := dst.(parley.Importer)
	if !ok {
		t.Fatalf("target %T is not a parley.Importer", dst)
	}
	fillSource(t, src)
	want := takeSnapshot(t, src)

	t.Run("copy answers as the source does", func(t *testing.T) {
		sizes := transfer(t, exp, imp)
		if sizes.messageBatches < 2 {
			t.Errorf("messages came in %d batches, want them paged", sizes.messageBatches)
		}
		if sizes.largest > 10000 {
			t.Errorf("largest batch has %d rows, want a bounded page", sizes.largest)
		}
		compareSnapshots(t, want, takeSnapshot(t, dst))
	})
	if t.Failed() {
		return
	}

	t.Run("second copy changes nothing", func(t *testing.T) {
		transfer(t, exp, imp)
		compareSnapshots(t, want, takeSnapshot(t, dst))
	})

	t.Run("export leaves the source as it was", func(t *testing.T) {
		compareSnapshots(t, want, takeSnapshot(t, src))
	})

	t.Run("notifications archived later sort after the copied ones",
		func(t *testing.T) { testArchiveAfterImport(t, dst) })

	t.Run("seq held by another notification is a conflict",
		func(t *testing.T) { testImportSeqConflict(t, dst, imp) })
}

// batchSizes describes the batches of one transfer.
type batchSizes struct {
	messageBatches int // batches holding messages
	largest        int // rows of the largest batch
}

// transfer exports from exp into imp.
func transfer(t *testing.T, exp parley.Exporter, imp parley.Importer) batchSizes {
	t.Helper()
	var sizes batchSizes
	err := exp.Export(t.Context(), func(b *parley.TransferBatch) error {
		if len(b.Messages) > 0 {
			sizes.messageBatches++
		}
		sizes.largest = max(sizes.largest, b.Len())
		return imp.Import(t.Context(), b)
	})
	must(t, "Export into Import", err)
	return sizes
}

func testArchiveAfterImport(t *testing.T, dst parley.Store) {
	before, err := dst.Inbox(t.Context(), "alice", parley.Page{Limit: 1}, later)
	must(t, "Inbox", err)
	archive(t, dst, nil, note("after-import", 99999, "alice"))
	list := wantInboxAt(t, dst, "alice", later, parley.Page{Limit: 2},
		"after-import", before[0].ID)
	if len(list) == 2 && list[0].Seq <= list[1].Seq {
		t.Errorf("new notification has seq %d, want above %d", list[0].Seq, list[1].Seq)
	}
}

func testImportSeqConflict(t *testing.T, dst parley.Store, imp parley.Importer) {
	list, err := dst.Inbox(t.Context(), "alice", parley.Page{Limit: 1}, later)
	must(t, "Inbox", err)
	clash := note("clash", 5, "alice")
	clash.Seq = list[0].Seq
	b := &parley.TransferBatch{
		Users:         []parley.Account{{User: parley.User{ID: "zed", CreatedAt: at(1)}}},
		Notifications: []parley.Notification{clash},
	}
	wantErr(t, "Import of a taken seq", imp.Import(t.Context(), b), parley.ErrConflict)
	_, err = dst.User(t.Context(), "zed")
	wantErr(t, "User of the failed batch", err, parley.ErrNotFound)
}

// Partitions of the fixtures of fillSource.
var (
	dm0       = parley.TopicPartition{Topic: dmTopic, Partition: 0}
	dm1       = parley.TopicPartition{Topic: dmTopic, Partition: 1}
	group0    = parley.TopicPartition{Topic: groupTopic, Partition: 0}
	dedicated = parley.TopicPartition{Topic: "group.big", Partition: 0}
	notify0   = parley.TopicPartition{Topic: notifyTopic, Partition: 0}
)

// Who and what the fixtures of fillSource hold; erin and "nope" do not
// exist.
var (
	transferUsers  = []string{"alice", "bob", "carol", "dave", "erin"}
	transferGroups = []string{"team", "big", "quiet", "nope"}
)

// bulk is how many DM messages and notifications fillSource adds: more
// than one page of an export.
const bulk = 1100

// fillSource gives st some of everything a store holds, through the Store
// methods only.
func fillSource(t *testing.T, st parley.Store) {
	t.Helper()
	ctx := t.Context()
	for i, u := range []string{"alice", "bob", "dave"} {
		var hash []byte
		if u != "dave" {
			hash = []byte("hash-" + u)
		}
		err := st.CreateUser(ctx, parley.User{ID: u, CreatedAt: at(int64(i))}, hash)
		must(t, "CreateUser", err)
	}
	_, err := st.EnsureUser(ctx, "carol", at(4))
	must(t, "EnsureUser", err)

	fillGroups(t, st)
	fillConversations(t, st)
	fillNotifications(t, st)
}

// fillGroups creates three groups: "team" with changes of members and
// roles, "big" moved to a dedicated topic, "quiet" without entries.
func fillGroups(t *testing.T, st parley.Store) {
	t.Helper()
	ctx := t.Context()
	owner := func(u string, n int64) parley.Member {
		return parley.Member{User: u, Role: parley.RoleOwner, JoinedAt: at(n)}
	}
	member := func(u string, n int64) parley.Member {
		return parley.Member{User: u, Role: parley.RoleMember, JoinedAt: at(n)}
	}
	team := parley.Group{ID: "team", Name: "Team", Owner: "alice",
		Strategy: parley.StrategyShared, CreatedAt: at(10)}
	teamMembers := []parley.Member{owner("alice", 10), member("bob", 10)}
	must(t, "CreateGroup", st.CreateGroup(ctx, team, teamMembers))
	must(t, "PutMember", st.PutMember(ctx, "team", member("carol", 11)))
	must(t, "PutMember", st.PutMember(ctx, "team", member("dave", 12)))
	must(t, "PutMember", st.PutMember(ctx, "team",
		parley.Member{User: "bob", Role: parley.RoleAdmin, JoinedAt: at(13)}))
	must(t, "RemoveMember", st.RemoveMember(ctx, "team", "dave"))

	big := parley.Group{ID: "big", Name: "Big", Owner: "bob",
		Strategy: parley.StrategyShared, CreatedAt: at(20)}
	bigMembers := []parley.Member{owner("bob", 20), member("alice", 21)}
	must(t, "CreateGroup", st.CreateGroup(ctx, big, bigMembers))
	must(t, "SetGroupStrategy", st.SetGroupStrategy(ctx, "big", parley.StrategyDedicated))

	quiet := parley.Group{ID: "quiet", Name: "Quiet", Owner: "carol",
		Strategy: parley.StrategyShared, CreatedAt: at(30)}
	must(t, "CreateGroup", st.CreateGroup(ctx, quiet, []parley.Member{owner("carol", 30)}))
}

// fillConversations archives a long DM, a short one on another partition,
// the group entries and read marks, in several batches with offsets.
func fillConversations(t *testing.T, st parley.Store) {
	t.Helper()
	ab := parley.DMConversation("alice", "bob")
	ac := parley.DMConversation("alice", "carol")
	team := parley.GroupConversation("team")

	long := &parley.Batch{Offsets: map[parley.TopicPartition]int64{dm0: bulk + 1}}
	for off := int64(1); off <= bulk; off++ {
		from := []string{"alice", "bob"}[off%2]
		long.Messages = append(long.Messages, msg(ab, from, off))
	}
	long.Messages[7].ClientID = "client-7"
	must(t, "Archive", st.Archive(t.Context(), long))

	short := msg(ac, "carol", 3)
	short.Pos.Partition = 1
	groups := &parley.Batch{
		Messages: []parley.Message{
			short,
			memberMsg("team", "alice", "carol", parley.ActionJoined, 1),
			msg(team, "alice", 2), msg(team, "carol", 3),
			memberMsg("team", "alice", "dave", parley.ActionRemoved, 4),
			msg(team, "bob", 5),
			dedicatedMsg("bob", 0), dedicatedMsg("alice", 1),
		},
		Reads: []parley.ReadMark{
			{User: "bob", Conversation: ab, Seq: 1000, At: at(40)},
			{User: "carol", Conversation: team, Seq: 3, At: at(41)},
		},
		Offsets: map[parley.TopicPartition]int64{dm1: 4, group0: 6, dedicated: 2},
	}
	must(t, "Archive", st.Archive(t.Context(), groups))
	must(t, "MarkRead", st.MarkRead(t.Context(), "alice", team, 2))
}

// dedicatedMsg returns an entry of group "big" in its dedicated topic.
func dedicatedMsg(from string, off int64) parley.Message {
	m := msg(parley.GroupConversation("big"), from, off)
	m.Seq = parley.SeqOf(parley.EpochDedicated, off)
	m.Pos = parley.Position{Topic: dedicated.Topic, Offset: off}
	return m
}

// fillNotifications archives addressed, broadcast, collapsing and expiring
// notifications, more than a page of them, and marks some read.
func fillNotifications(t *testing.T, st parley.Store) {
	t.Helper()
	keyed := func(id string, off int64, key string, to ...string) parley.Notification {
		n := note(id, off, to...)
		n.CollapseKey = key
		return n
	}
	full := note("full", 1, "alice", "bob")
	full.Kind, full.Priority = "alert", "high"
	full.Data = []byte(`{"order":42}`)
	full.ExpiresAt = later.Add(time.Hour)
	expiring := note("expiring", 2, "alice")
	expiring.ExpiresAt = at(50)

	b := &parley.Batch{
		Notifications: []parley.Notification{full, expiring, note("all", 3),
			keyed("k1", 4, "k", "alice", "bob"), keyed("k2", 5, "k", "alice"),
			keyed("b1", 6, "b"), keyed("b2", 7, "b", "carol")},
		Reads:   []parley.ReadMark{{User: "bob", Notification: "k1", At: at(60)}},
		Offsets: map[parley.TopicPartition]int64{notify0: 8},
	}
	must(t, "Archive", st.Archive(t.Context(), b))

	var many []parley.Notification
	for i := range int64(bulk) {
		many = append(many, note(fmt.Sprintf("bulk%d", i), 8+i, "dave"))
	}
	archive(t, st, nil, many...)

	must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "alice", "full", at(61)))
	must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "carol", "all", at(62)))
	must(t, "MarkNotificationRead", st.MarkNotificationRead(t.Context(), "dave", "bulk7", at(63)))
}

// snapshot is what a store's read methods answer about the fixtures of
// fillSource, with errors as strings.
type snapshot struct {
	Users   map[string]userView
	Groups  map[string]groupView
	History map[string][]parley.Message
	Offsets map[parley.TopicPartition]int64
}

// userView is what the store answers about one user.
type userView struct {
	User          parley.User
	Hash          []byte
	Err           string
	Groups        []parley.Group
	Conversations []parley.ConversationSummary
	Inbox         []parley.Notification // at later
	InboxEarly    []parley.Notification // at(40), before "expiring" expires
	Unread        int
	UnreadEarly   int
	Entries       map[parley.TopicPartition][]parley.Entry
}

// groupView is what the store answers about one group.
type groupView struct {
	Group   parley.Group
	Members []parley.Member
	Err     string
}

// takeSnapshot reads everything the store answers about the fixtures.
func takeSnapshot(t *testing.T, st parley.Store) snapshot {
	t.Helper()
	s := snapshot{Users: map[string]userView{}, Groups: map[string]groupView{},
		History: map[string][]parley.Message{}}
	convs := map[string]bool{}
	for _, u := range transferUsers {
		v := takeUserView(t, st, u)
		for _, c := range v.Conversations {
			convs[c.ID] = true
		}
		s.Users[u] = v
	}
	for _, g := range transferGroups {
		var v groupView
		var err error
		v.Group, err = st.Group(t.Context(), g)
		if err == nil {
			v.Members, err = st.Members(t.Context(), g)
		}
		v.Err = notFoundOnly(t, err)
		s.Groups[g] = v
	}
	for c := range convs {
		s.History[c] = fullHistory(t, st, c)
	}
	var err error
	s.Offsets, err = st.ArchivedOffsets(t.Context())
	must(t, "ArchivedOffsets", err)
	return normalize(s)
}

// takeUserView reads what the store answers about one user.
func takeUserView(t *testing.T, st parley.Store, user string) userView {
	t.Helper()
	ctx := t.Context()
	var v userView
	var err error
	v.User, err = st.User(ctx, user)
	if err == nil {
		v.Hash, err = st.PasswordHash(ctx, user)
	}
	v.Err = notFoundOnly(t, err)

	v.Groups, err = st.GroupsOf(ctx, user)
	must(t, "GroupsOf", err)
	v.Conversations, err = st.Conversations(ctx, user)
	must(t, "Conversations", err)
	v.Inbox = fullInbox(t, st, user, later)
	v.InboxEarly = fullInbox(t, st, user, at(40))
	v.Unread, err = st.UnreadNotifications(ctx, user, later)
	must(t, "UnreadNotifications", err)
	v.UnreadEarly, err = st.UnreadNotifications(ctx, user, at(40))
	must(t, "UnreadNotifications", err)

	v.Entries = map[parley.TopicPartition][]parley.Entry{}
	for _, tp := range []parley.TopicPartition{dm0, dm1, group0, dedicated, notify0} {
		v.Entries[tp], err = st.UserEntries(ctx, user, tp, 0, 1<<40)
		must(t, "UserEntries", err)
	}
	return v
}

// fullHistory pages through a conversation, newest pages first, and
// returns it oldest first.
func fullHistory(t *testing.T, st parley.Store, conv string) []parley.Message {
	t.Helper()
	var all []parley.Message
	p := parley.Page{Limit: parley.MaxPageLimit}
	for {
		page, err := st.History(t.Context(), conv, p)
		must(t, "History", err)
		all = append(slices.Clone(page), all...)
		if len(page) < p.Limit {
			return all
		}
		p.Before = page[0].Seq
	}
}

// fullInbox pages through the user's inbox at now, newest first.
func fullInbox(t *testing.T, st parley.Store, user string, now time.Time) []parley.Notification {
	t.Helper()
	var all []parley.Notification
	p := parley.Page{Limit: parley.MaxPageLimit}
	for {
		page, err := st.Inbox(t.Context(), user, p, now)
		must(t, "Inbox", err)
		all = append(all, page...)
		if len(page) < p.Limit {
			return all
		}
		p.Before = page[len(page)-1].Seq
	}
}

// compareSnapshots fails the test where got differs from want, naming the
// first difference of each part.
func compareSnapshots(t *testing.T, want, got snapshot) {
	t.Helper()
	for _, u := range transferUsers {
		compareValues(t, "user "+u, want.Users[u], got.Users[u])
	}
	for _, g := range transferGroups {
		compareValues(t, "group "+g, want.Groups[g], got.Groups[g])
	}
	for _, c := range slices.Sorted(maps.Keys(want.History)) {
		compareValues(t, "history of "+c, want.History[c], got.History[c])
	}
	if len(got.History) != len(want.History) {
		t.Errorf("conversations: got %v, want %v",
			slices.Sorted(maps.Keys(got.History)), slices.Sorted(maps.Keys(want.History)))
	}
	compareValues(t, "archived offsets", want.Offsets, got.Offsets)
}

// compareValues fails the test unless got deeply equals want; for structs
// and slices it names the first field or element that differs.
func compareValues(t *testing.T, what string, want, got any) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	switch w.Kind() {
	case reflect.Struct:
		for i := range w.NumField() {
			name := w.Type().Field(i).Name
			compareValues(t, what+"."+name, w.Field(i).Interface(), g.Field(i).Interface())
		}
		return
	case reflect.Slice:
		if w.Len() != g.Len() {
			t.Errorf("%s: got %d items, want %d", what, g.Len(), w.Len())
			return
		}
		for i := range w.Len() {
			if !reflect.DeepEqual(w.Index(i).Interface(), g.Index(i).Interface()) {
				t.Errorf("%s[%d]:\ngot  %s\nwant %s", what, i, show(g.Index(i)), show(w.Index(i)))
				return
			}
		}
	}
	t.Errorf("%s:\ngot  %s\nwant %s", what, show(g), show(w))
}

// show formats a value, following the pointers of entries and summaries.
func show(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case parley.Entry:
		if x.Message != nil {
			return fmt.Sprintf("message %+v", *x.Message)
		}
		return fmt.Sprintf("notification %+v", *x.Notification)
	case parley.ConversationSummary:
		if x.Last != nil {
			return fmt.Sprintf("%+v last %+v", x, *x.Last)
		}
	}
	return fmt.Sprintf("%+v", v.Interface())
}

// notFoundOnly returns "" for nil and "not found" for an error wrapping
// ErrNotFound, and fails the test on any other error.
func notFoundOnly(t *testing.T, err error) string {
	t.Helper()
	switch {
	case err == nil:
		return ""
	case errors.Is(err, parley.ErrNotFound):
		return "not found"
	}
	t.Fatalf("read: %v", err)
	return ""
}

// normalize puts every time of s in UTC, since a store may return times in
// any location, so that reflect.DeepEqual compares instants.
func normalize(s snapshot) snapshot {
	for u, v := range s.Users {
		v.User.CreatedAt = v.User.CreatedAt.UTC()
		for i := range v.Groups {
			v.Groups[i].CreatedAt = v.Groups[i].CreatedAt.UTC()
		}
		for i := range v.Conversations {
			if m := v.Conversations[i].Last; m != nil {
				m.SentAt = m.SentAt.UTC()
			}
		}
		utcNotifications(v.Inbox)
		utcNotifications(v.InboxEarly)
		for _, es := range v.Entries {
			for _, e := range es {
				if e.Message != nil {
					e.Message.SentAt = e.Message.SentAt.UTC()
				} else {
					e.Notification.CreatedAt = e.Notification.CreatedAt.UTC()
					e.Notification.ExpiresAt = e.Notification.ExpiresAt.UTC()
				}
			}
		}
		s.Users[u] = v
	}
	for g, v := range s.Groups {
		v.Group.CreatedAt = v.Group.CreatedAt.UTC()
		for i := range v.Members {
			v.Members[i].JoinedAt = v.Members[i].JoinedAt.UTC()
		}
		s.Groups[g] = v
	}
	for _, ms := range s.History {
		for i := range ms {
			ms[i].SentAt = ms[i].SentAt.UTC()
		}
	}
	return s
}

// utcNotifications puts the times of ns in UTC.
func utcNotifications(ns []parley.Notification) {
	for i := range ns {
		ns[i].CreatedAt = ns[i].CreatedAt.UTC()
		ns[i].ExpiresAt = ns[i].ExpiresAt.UTC()
	}
}
