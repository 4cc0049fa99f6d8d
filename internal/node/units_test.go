package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

func TestPasswordHashVerifies(t *testing.T) {
	h := hashPassword("correct horse")
	if !verifyPassword(h, "correct horse") {
		t.Fatal("the right password does not verify")
	}
	if verifyPassword(h, "correct horsf") || verifyPassword([]byte("garbage"), "x") {
		t.Fatal("a wrong password or a broken hash verifies")
	}
	if string(h) == string(hashPassword("correct horse")) {
		t.Error("two hashes of one password are equal: no salt")
	}
}

func TestCheckPassword(t *testing.T) {
	for p, code := range map[string]string{
		"short": "password_too_short", "long enough": "",
		string(make([]byte, 200)): "password_too_long", "caf\xe9 caf\xe9": "invalid_password",
	} {
		err := checkPassword(p)
		var pe *parley.Error
		if code == "" && err != nil || code != "" && (!errors.As(err, &pe) || pe.Code != code) {
			t.Errorf("checkPassword(%.12q) = %v, want %q", p, err, code)
		}
	}
}

func TestSendCacheRunsConcurrentRetriesOnce(t *testing.T) {
	c := newSendCache(10, time.Minute)
	var produced atomic.Int32
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			done, prev, ok := c.begin("m1")
			if ok {
				ids[i] = prev.ID
				return
			}
			produced.Add(1)
			time.Sleep(20 * time.Millisecond)
			m := parley.Message{ID: "m1"}
			done(m, nil)
			ids[i] = m.ID
		})
	}
	wg.Wait()
	if produced.Load() != 1 {
		t.Fatalf("%d sends produced, want 1", produced.Load())
	}
	for _, id := range ids {
		if id != "m1" {
			t.Fatalf("a retry got %q", id)
		}
	}
}

func TestSendCacheRetriesAfterFailureAndEvicts(t *testing.T) {
	c := newSendCache(2, time.Minute)
	done, _, _ := c.begin("a")
	done(parley.Message{}, errors.New("broker away"))
	if _, _, ok := c.begin("a"); ok {
		t.Fatal("a failed send is remembered as sent")
	}
	for _, id := range []string{"x", "y", "z"} {
		d, _, _ := c.begin(id)
		d(parley.Message{ID: id}, nil)
	}
	if _, _, ok := c.begin("x"); ok {
		t.Error("the oldest entry was not evicted")
	}
	if _, m, ok := c.begin("z"); !ok || m.ID != "z" {
		t.Error("the newest entry is gone")
	}
}

func TestRecentSetForgetsTheOldest(t *testing.T) {
	r := newRecentSet(2)
	if !r.add("a") || r.add("a") || !r.add("b") || !r.add("c") {
		t.Fatal("add reports wrongly")
	}
	if !r.add("a") {
		t.Error("a should have been forgotten after two newer keys")
	}
}

func TestCheckPage(t *testing.T) {
	if p, err := checkPage(parley.Page{}); err != nil || p.Limit != parley.DefaultPageLimit {
		t.Errorf("zero page: %+v %v", p, err)
	}
	for _, p := range []parley.Page{{Limit: -1}, {Limit: parley.MaxPageLimit + 1}, {Before: -2, Limit: 1}} {
		if _, err := checkPage(p); !errors.Is(err, parley.ErrInvalid) {
			t.Errorf("checkPage(%+v) = %v", p, err)
		}
	}
}

// membersStore counts the member lists read; every other Store method is
// left unimplemented.
type membersStore struct {
	parley.Store
	reads   int
	members []parley.Member
}

func (s *membersStore) Members(ctx context.Context, groupID string) ([]parley.Member, error) {
	s.reads++
	return slices.Clone(s.members), nil
}

func TestMemberCacheAppliesChangesWithoutReading(t *testing.T) {
	st := &membersStore{members: []parley.Member{{User: "ann"}, {User: "bob"}}}
	c := newMemberCache(st, time.Hour)
	ctx := t.Context()

	before := c.get(ctx, "g1")
	users := before
	for _, ch := range []parley.MemberChange{
		{User: "cat", Action: parley.ActionJoined},
		{User: "cat", Action: parley.ActionJoined}, // a replayed join
		{User: "ann", Action: parley.ActionRole, Role: parley.RoleAdmin},
		{User: "bob", Action: parley.ActionLeft},
		{User: "dan", Action: parley.ActionJoined},
	} {
		users = c.apply("g1", c.get(ctx, "g1"), &ch)
	}
	if want := []string{"ann", "cat", "dan"}; !slices.Equal(users, want) {
		t.Errorf("after the changes: %v, want %v", users, want)
	}
	if got := c.get(ctx, "g1"); !slices.Equal(got, users) {
		t.Errorf("cached list %v, want %v", got, users)
	}
	if st.reads != 1 {
		t.Errorf("the store was read %d times, want once", st.reads)
	}
	if want := []string{"ann", "bob"}; !slices.Equal(before, want) {
		t.Errorf("a list handed out earlier changed to %v, want %v", before, want)
	}

	c.apply("g1", users, &parley.MemberChange{User: "eve", Action: "unknown"})
	c.get(ctx, "g1")
	if st.reads != 2 {
		t.Errorf("after an unknown change the store was read %d times, want twice", st.reads)
	}
}
