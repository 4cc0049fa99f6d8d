package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/postgres"
	"github.com/parley-chat/parley/internal/postgres/pgtest"
	"github.com/parley-chat/parley/internal/sqlite"
	"github.com/parley-chat/parley/internal/testenv"
)

func TestMigrateToSQLite(t *testing.T) {
	data := embeddedData(t)
	target := filepath.Join(t.TempDir(), "target.db")
	testMigrate(t, data, "sqlite:"+target, func(t *testing.T) parley.Store {
		st, err := sqlite.Open(t.Context(), target, nil)
		if err != nil {
			t.Fatalf("open target: %v", err)
		}
		return st
	})
}

// testServices are the environment variables naming the test services, read
// before TestMain clears every PARLEY_ variable.
var testServices = map[string]string{
	testenv.PostgresEnv:   os.Getenv(testenv.PostgresEnv),
	testenv.RequireAllEnv: os.Getenv(testenv.RequireAllEnv),
}

func TestMigrateToPostgres(t *testing.T) {
	for name, v := range testServices {
		t.Setenv(name, v)
	}
	url := pgtest.FreshURL(t)
	data := embeddedData(t)
	testMigrate(t, data, url, func(t *testing.T) parley.Store {
		st, err := postgres.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatalf("open target: %v", err)
		}
		return st
	})
}

// testMigrate copies the data folder into the target twice, the second
// time with --force, and checks the target and the source after each.
func testMigrate(t *testing.T, data, to string, open func(*testing.T) parley.Store) {
	db := filepath.Join(data, "parley.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}

	res := runCLI(t, "", "migrate", "--data", data, "--to", to)
	if res.code != 0 {
		t.Fatalf("migrate: exit code %d, stderr %q", res.code, res.stderr)
	}
	for _, want := range []string{"users                 2\n",
		"conversation entries  2\n", "notifications         1\n",
		"archived offsets of 2 partitions", "--database postgres://",
		filepath.Join(data, "secrets.json")} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	checkMigrated(t, open(t))

	res = runCLI(t, "", "migrate", "--from", "sqlite:"+data, "--to", to)
	if res.code != 1 || !strings.Contains(res.stderr, "already has users") {
		t.Errorf("second migrate: exit code %d, stderr %q; want a refusal", res.code, res.stderr)
	}
	res = runCLI(t, "", "migrate", "--from", "sqlite:"+db, "--to", to, "--force")
	if res.code != 0 {
		t.Fatalf("migrate --force: exit code %d, stderr %q", res.code, res.stderr)
	}
	checkMigrated(t, open(t))

	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the source database changed")
	}
}

// migrateT0 is the time of the fixtures of embeddedData.
var migrateT0 = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

// embeddedData returns a data folder whose parley.db holds two users, a
// group, a DM of two messages, one of them read, a notification and the
// archived offsets of two partitions.
func embeddedData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(st.CreateUser(ctx, parley.User{ID: "alice", CreatedAt: migrateT0}, []byte("hash")))
	check(st.CreateUser(ctx, parley.User{ID: "bob", CreatedAt: migrateT0}, nil))
	g := parley.Group{ID: "g1", Name: "G", Owner: "alice", Strategy: parley.StrategyShared,
		CreatedAt: migrateT0}
	check(st.CreateGroup(ctx, g, []parley.Member{{User: "alice", Role: parley.RoleOwner,
		JoinedAt: migrateT0}}))

	dm := parley.DMConversation("alice", "bob")
	entry := func(id, from string, off int64) parley.Message {
		return parley.Message{ID: id, Type: parley.TypeMessage, Conversation: dm, From: from,
			Body: "hi", SentAt: migrateT0, Seq: parley.SeqOf(parley.EpochShared, off),
			Pos: parley.Position{Topic: "direct-messages", Offset: off}}
	}
	n := parley.Notification{ID: "n1", To: []string{"bob"}, Body: "hello", CreatedAt: migrateT0,
		Pos: parley.Position{Topic: "notifications", Offset: 0}}
	check(st.Archive(ctx, &parley.Batch{
		Messages:      []parley.Message{entry("m1", "alice", 0), entry("m2", "alice", 1)},
		Notifications: []parley.Notification{n},
		Reads:         []parley.ReadMark{{User: "bob", Conversation: dm, Seq: 1, At: migrateT0}},
		Offsets: map[parley.TopicPartition]int64{
			{Topic: "direct-messages"}: 2, {Topic: "notifications"}: 1},
	}))
	return dir
}

// checkMigrated checks what the target answers after a copy of
// embeddedData, and closes it.
func checkMigrated(t *testing.T, st parley.Store) {
	t.Helper()
	defer st.Close()
	ctx := t.Context()

	if hash, err := st.PasswordHash(ctx, "alice"); err != nil || string(hash) != "hash" {
		t.Errorf("PasswordHash(alice) = %q, %v; want the source's", hash, err)
	}
	if ms, err := st.Members(ctx, "g1"); err != nil || len(ms) != 1 {
		t.Errorf("Members(g1) = %v, %v; want alice", ms, err)
	}
	convs, err := st.Conversations(ctx, "bob")
	if err != nil || len(convs) != 1 || convs[0].Unread != 1 || convs[0].Last.ID != "m2" {
		t.Errorf("Conversations(bob) = %+v, %v; want the DM with m2 unread", convs, err)
	}
	if n, err := st.UnreadNotifications(ctx, "bob", migrateT0); err != nil || n != 1 {
		t.Errorf("UnreadNotifications(bob) = %d, %v; want 1", n, err)
	}

	offs, err := st.ArchivedOffsets(ctx)
	if err != nil || len(offs) != 0 {
		t.Errorf("ArchivedOffsets = %v, %v; want none copied", offs, err)
	}
	tp := parley.TopicPartition{Topic: "direct-messages"}
	if es, err := st.UserEntries(ctx, "bob", tp, 0, 10); err != nil || len(es) != 0 {
		t.Errorf("UserEntries in the new cluster's partition = %d entries, %v; want none", len(es), err)
	}
	m, err := st.MessageByID(ctx, parley.DMConversation("alice", "bob"), "m1")
	if err != nil || m.Pos.Topic != detachedPrefix+"direct-messages" || m.Seq != 1 {
		t.Errorf("MessageByID(m1) = %+v, %v; want its seq and a detached position", m, err)
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no source", []string{"--to", "postgres://x/y"}, "missing --from"},
		{"no target", []string{"--data", "d"}, "missing --to"},
		{"source not SQLite", []string{"--from", "postgres://x/y", "--to", "postgres://x/z"},
			"want sqlite:PATH"},
		{"target neither", []string{"--data", ".", "--to", "mysql://x"}, "want a postgres:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(embeddedData(t))
			res := runCLI(t, "", append([]string{"migrate"}, tc.args...)...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.wantErr) {
				t.Errorf("exit code %d, stderr %q; want 2 and %q", res.code, res.stderr, tc.wantErr)
			}
		})
	}

	t.Run("missing source", func(t *testing.T) {
		dir := t.TempDir()
		res := runCLI(t, "", "migrate", "--data", dir, "--to", "sqlite:"+filepath.Join(dir, "t.db"))
		if res.code != 1 || !strings.Contains(res.stderr, "open source") {
			t.Errorf("exit code %d, stderr %q; want an error opening the source", res.code, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "parley.db")); err == nil {
			t.Error("migrate created the missing source")
		}
	})

	t.Run("target is the source", func(t *testing.T) {
		data := embeddedData(t)
		res := runCLI(t, "", "migrate", "--data", data,
			"--to", "sqlite:"+filepath.Join(data, "parley.db"))
		if res.code != 2 || !strings.Contains(res.stderr, "names the source") {
			t.Errorf("exit code %d, stderr %q; want a refusal", res.code, res.stderr)
		}
	})
}
