package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("created user reads back with its hash", func(t *testing.T) {
		st := open(t)
		createUser(t, st, "alice", 1, []byte("h1"))

		u, err := st.User(t.Context(), "alice")
		must(t, "User", err)
		if u.ID != "alice" || !u.CreatedAt.Equal(at(1)) {
			t.Errorf("User = %+v, want alice created at %v", u, at(1))
		}
		hash, err := st.PasswordHash(t.Context(), "alice")
		must(t, "PasswordHash", err)
		if !bytes.Equal(hash, []byte("h1")) {
			t.Errorf("PasswordHash = %q, want h1", hash)
		}
	})

	t.Run("taken id is a conflict and keeps the first", func(t *testing.T) {
		st := open(t)
		createUser(t, st, "alice", 1, []byte("h1"))

		err := st.CreateUser(t.Context(), parley.User{ID: "alice", CreatedAt: at(2)}, []byte("h2"))
		wantErr(t, "second CreateUser", err, parley.ErrConflict)
		hash, err := st.PasswordHash(t.Context(), "alice")
		must(t, "PasswordHash", err)
		if !bytes.Equal(hash, []byte("h1")) {
			t.Errorf("PasswordHash = %q, want h1", hash)
		}
	})

	t.Run("missing user is not found", func(t *testing.T) {
		st := open(t)
		_, err := st.User(t.Context(), "nobody")
		wantErr(t, "User", err, parley.ErrNotFound)
		_, err = st.PasswordHash(t.Context(), "nobody")
		wantErr(t, "PasswordHash", err, parley.ErrNotFound)
	})

	t.Run("user created without password has a nil hash", func(t *testing.T) {
		st := open(t)
		createUser(t, st, "bob", 1, nil)
		hash, err := st.PasswordHash(t.Context(), "bob")
		must(t, "PasswordHash", err)
		if hash != nil {
			t.Errorf("PasswordHash = %q, want nil", hash)
		}
	})

	t.Run("ensured user is created without password", func(t *testing.T) {
		st := open(t)
		u, err := st.EnsureUser(t.Context(), "carol", at(5))
		must(t, "EnsureUser", err)
		if u.ID != "carol" || !u.CreatedAt.Equal(at(5)) {
			t.Errorf("EnsureUser = %+v, want carol created at %v", u, at(5))
		}
		hash, err := st.PasswordHash(t.Context(), "carol")
		must(t, "PasswordHash", err)
		if hash != nil {
			t.Errorf("PasswordHash = %q, want nil", hash)
		}
	})

	t.Run("ensure returns the existing user unchanged", func(t *testing.T) {
		st := open(t)
		createUser(t, st, "dave", 1, []byte("h"))

		u, err := st.EnsureUser(t.Context(), "dave", at(9))
		must(t, "EnsureUser", err)
		if !u.CreatedAt.Equal(at(1)) {
			t.Errorf("CreatedAt = %v, want %v", u.CreatedAt, at(1))
		}
		hash, err := st.PasswordHash(t.Context(), "dave")
		must(t, "PasswordHash", err)
		if !bytes.Equal(hash, []byte("h")) {
			t.Errorf("PasswordHash = %q, want h", hash)
		}
	})

	t.Run("concurrent ensure yields one user and no error", testEnsureConcurrently(open))
}

// testEnsureConcurrently calls EnsureUser for one ID from many goroutines.
func testEnsureConcurrently(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		const n = 16
		users := make([]parley.User, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { users[i], errs[i] = st.EnsureUser(t.Context(), "erin", at(int64(i))) })
		}
		wg.Wait()

		for i := range n {
			if errs[i] != nil {
				t.Fatalf("EnsureUser #%d: %v", i, errs[i])
			}
			if !users[i].CreatedAt.Equal(users[0].CreatedAt) {
				t.Errorf("EnsureUser #%d created at %v, #0 at %v",
					i, users[i].CreatedAt, users[0].CreatedAt)
			}
		}
		found, err := st.SearchUsers(t.Context(), "erin", 10)
		must(t, "SearchUsers", err)
		if len(found) != 1 {
			t.Errorf("SearchUsers found %d users, want 1", len(found))
		}
	}
}

// createUser creates a user created at(created) or fails the test.
func createUser(t *testing.T, st parley.Store, id string, created int64, hash []byte) {
	t.Helper()
	u := parley.User{ID: id, CreatedAt: at(created)}
	must(t, "CreateUser", st.CreateUser(t.Context(), u, hash))
}

// seedUsers creates users for testSearchUsers. "al_x" and "alx" catch a
// LIKE that treats '_' as a wildcard.
func seedUsers(t *testing.T, st parley.Store) {
	t.Helper()
	for _, id := range []string{"bob", "alicia", "al", "alx", "alice", "al_x"} {
		createUser(t, st, id, 1, nil)
	}
}

func testSearchUsers(t *testing.T, open Opener) {
	tests := []struct {
		name   string
		prefix string
		limit  int
		want   []string
	}{
		{"prefix matches sorted by id", "al", 10,
			[]string{"al", "al_x", "alice", "alicia", "alx"}},
		{"limit cuts the sorted list", "al", 2, []string{"al", "al_x"}},
		{"longer prefix narrows", "alic", 10, []string{"alice", "alicia"}},
		{"underscore is literal", "al_", 10, []string{"al_x"}},
		{"percent is literal", "al%", 10, nil},
		{"exact id matches itself", "bob", 10, []string{"bob"}},
		{"no match is empty", "zed", 10, nil},
		{"empty prefix lists everyone", "", 3, []string{"al", "al_x", "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			seedUsers(t, st)
			users, err := st.SearchUsers(t.Context(), tt.prefix, tt.limit)
			must(t, "SearchUsers", err)
			var got []string
			for _, u := range users {
				got = append(got, u.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SearchUsers(%q, %d) = %v, want %v", tt.prefix, tt.limit, got, tt.want)
			}
		})
	}
}
