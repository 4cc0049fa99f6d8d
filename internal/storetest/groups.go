package storetest

import (
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

// seedGroup creates group id owned by owner, with the other users as plain
// members, all joined at created.
func seedGroup(t *testing.T, st parley.Store, id, owner string, created int64, others ...string) {
	t.Helper()
	g := parley.Group{
		ID: id, Name: "Group " + id, Owner: owner,
		Strategy: parley.StrategyShared, CreatedAt: at(created),
	}
	members := []parley.Member{{User: owner, Role: parley.RoleOwner, JoinedAt: at(created)}}
	for _, u := range others {
		m := parley.Member{User: u, Role: parley.RoleMember, JoinedAt: at(created)}
		members = append(members, m)
	}
	must(t, "CreateGroup", st.CreateGroup(t.Context(), g, members))
}

// memberIDs returns the user IDs of a group's members, in the store's order.
func memberIDs(t *testing.T, st parley.Store, groupID string) []string {
	t.Helper()
	ms, err := st.Members(t.Context(), groupID)
	must(t, "Members", err)
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.User)
	}
	return ids
}

// groupIDs returns the IDs of the groups of user, in the store's order.
func groupIDs(t *testing.T, st parley.Store, user string) []string {
	t.Helper()
	gs, err := st.GroupsOf(t.Context(), user)
	must(t, "GroupsOf", err)
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

func testGroups(t *testing.T, open Opener) {
	t.Run("created group reads back with sorted members", testCreateGroup(open))

	t.Run("taken id is a conflict and changes nothing", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		err := st.CreateGroup(t.Context(), parley.Group{ID: "g1", Name: "other", Owner: "zed",
			Strategy: parley.StrategyShared, CreatedAt: at(2)},
			[]parley.Member{{User: "zed", Role: parley.RoleOwner, JoinedAt: at(2)}})
		wantErr(t, "second CreateGroup", err, parley.ErrConflict)

		if got := memberIDs(t, st, "g1"); !slices.Equal(got, []string{"alice", "carol"}) {
			t.Errorf("members = %v, want [alice carol]", got)
		}
		g, err := st.Group(t.Context(), "g1")
		must(t, "Group", err)
		if g.Name != "Group g1" || g.Owner != "carol" {
			t.Errorf("Group = %+v, want the first one", g)
		}
	})

	t.Run("missing group is not found", func(t *testing.T) {
		st := open(t)
		_, err := st.Group(t.Context(), "nope")
		wantErr(t, "Group", err, parley.ErrNotFound)
		_, err = st.Members(t.Context(), "nope")
		wantErr(t, "Members", err, parley.ErrNotFound)
		_, err = st.Member(t.Context(), "nope", "alice")
		wantErr(t, "Member", err, parley.ErrNotFound)
		m := parley.Member{User: "alice", Role: parley.RoleMember}
		err = st.PutMember(t.Context(), "nope", m)
		wantErr(t, "PutMember", err, parley.ErrNotFound)
		err = st.SetGroupStrategy(t.Context(), "nope", parley.StrategyDedicated)
		wantErr(t, "SetGroupStrategy", err, parley.ErrNotFound)
	})

	t.Run("non-member is not found", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		_, err := st.Member(t.Context(), "g1", "bob")
		wantErr(t, "Member", err, parley.ErrNotFound)
		err = st.RemoveMember(t.Context(), "g1", "bob")
		wantErr(t, "RemoveMember", err, parley.ErrNotFound)
	})

	t.Run("put member adds a member", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1)
		m := parley.Member{User: "bob", Role: parley.RoleAdmin, JoinedAt: at(3)}
		must(t, "PutMember", st.PutMember(t.Context(), "g1", m))
		wantMember(t, st, "g1", m)
		if got := groupIDs(t, st, "bob"); !slices.Equal(got, []string{"g1"}) {
			t.Errorf("GroupsOf(bob) = %v, want [g1]", got)
		}
	})

	t.Run("put member changes the role and keeps joined at", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		must(t, "PutMember", st.PutMember(t.Context(), "g1",
			parley.Member{User: "alice", Role: parley.RoleAdmin, JoinedAt: at(7)}))
		want := parley.Member{User: "alice", Role: parley.RoleAdmin, JoinedAt: at(1)}
		wantMember(t, st, "g1", want)
		if got := memberIDs(t, st, "g1"); !slices.Equal(got, []string{"alice", "carol"}) {
			t.Errorf("members = %v, want [alice carol]", got)
		}
	})

	t.Run("removed member is gone", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1, "alice")
		must(t, "RemoveMember", st.RemoveMember(t.Context(), "g1", "alice"))
		_, err := st.Member(t.Context(), "g1", "alice")
		wantErr(t, "Member", err, parley.ErrNotFound)
		if got := groupIDs(t, st, "alice"); len(got) != 0 {
			t.Errorf("GroupsOf(alice) = %v, want none", got)
		}
		err = st.RemoveMember(t.Context(), "g1", "alice")
		wantErr(t, "second RemoveMember", err, parley.ErrNotFound)
	})

	t.Run("groups of a user are sorted by id", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g2", "carol", 1, "alice")
		seedGroup(t, st, "g3", "carol", 1)
		seedGroup(t, st, "g1", "alice", 1)
		if got := groupIDs(t, st, "alice"); !slices.Equal(got, []string{"g1", "g2"}) {
			t.Errorf("GroupsOf(alice) = %v, want [g1 g2]", got)
		}
		if got := groupIDs(t, st, "nobody"); len(got) != 0 {
			t.Errorf("GroupsOf(nobody) = %v, want none", got)
		}
	})

	t.Run("set strategy changes the group", func(t *testing.T) {
		st := open(t)
		seedGroup(t, st, "g1", "carol", 1)
		err := st.SetGroupStrategy(t.Context(), "g1", parley.StrategyDedicated)
		must(t, "SetGroupStrategy", err)
		g, err := st.Group(t.Context(), "g1")
		must(t, "Group", err)
		if g.Strategy != parley.StrategyDedicated {
			t.Errorf("Strategy = %q, want %q", g.Strategy, parley.StrategyDedicated)
		}
	})
}

// testCreateGroup checks every field of a new group and its members.
func testCreateGroup(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		want := parley.Group{ID: "g1", Name: "Team", Owner: "carol",
			Strategy: parley.StrategyShared, CreatedAt: at(1)}
		members := []parley.Member{
			{User: "carol", Role: parley.RoleOwner, JoinedAt: at(1)},
			{User: "bob", Role: parley.RoleAdmin, JoinedAt: at(2)},
			{User: "alice", Role: parley.RoleMember, JoinedAt: at(3)},
		}
		must(t, "CreateGroup", st.CreateGroup(t.Context(), want, members))

		g, err := st.Group(t.Context(), "g1")
		must(t, "Group", err)
		if g.ID != want.ID || g.Name != want.Name || g.Owner != want.Owner ||
			g.Strategy != want.Strategy || !g.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("Group = %+v, want %+v", g, want)
		}

		got, err := st.Members(t.Context(), "g1")
		must(t, "Members", err)
		wantSorted := []parley.Member{members[2], members[1], members[0]}
		if !slices.EqualFunc(got, wantSorted, sameMember) {
			t.Errorf("Members = %+v, want %+v", got, wantSorted)
		}
		for _, m := range members {
			wantMember(t, st, "g1", m)
		}
	}
}

// wantMember fails the test unless Member returns m.
func wantMember(t *testing.T, st parley.Store, groupID string, m parley.Member) {
	t.Helper()
	got, err := st.Member(t.Context(), groupID, m.User)
	if err != nil {
		t.Errorf("Member(%s, %s): %v", groupID, m.User, err)
		return
	}
	if !sameMember(got, m) {
		t.Errorf("Member(%s, %s) = %+v, want %+v", groupID, m.User, got, m)
	}
}

// sameMember compares memberships with time.Equal.
func sameMember(a, b parley.Member) bool {
	return a.User == b.User && a.Role == b.Role && a.JoinedAt.Equal(b.JoinedAt)
}
