package postgres

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/postgres/pgtest"
	"github.com/parley-chat/parley/internal/storetest"
)

// openTest opens a store on a fresh schema, closed when the test ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openURL(t, pgtest.FreshURL(t), slog.New(slog.DiscardHandler))
}

// openURL opens a store on url, closed when the test ends.
func openURL(t testing.TB, url string, logger *slog.Logger) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) parley.Store { return openTest(t) })
}

// syncBuffer is a bytes.Buffer that several loggers may write at once.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.FreshURL(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	const nodes = 4
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), url, logger) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open #%d: %v", i, errs[i])
		}
		defer s.Close()
	}

	if n := strings.Count(logs.String(), "migration applied"); n != len(ms) {
		t.Errorf("%d migrations logged, want %d:\n%s", n, len(ms), logs.String())
	}
	var rows, version int
	const q = `SELECT count(*), max(version) FROM schema_migrations`
	if err := stores[0].pool.QueryRow(t.Context(), q).Scan(&rows, &version); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if last := ms[len(ms)-1].version; rows != len(ms) || version != last {
		t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d",
			rows, version, len(ms), last)
	}
	for i, s := range stores {
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping #%d: %v", i, err)
		}
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableDatabase(t *testing.T) {
	url := "postgres://parley:parley@" + closedAddr(t) + "/parley?sslmode=disable"
	s := openURL(t, url, slog.New(slog.DiscardHandler))

	err := s.Ping(t.Context())
	if err == nil {
		t.Fatal("Ping succeeded with nothing listening")
	}
	if !errors.Is(err, parley.ErrUnavailable) ||
		!strings.HasPrefix(err.Error(), "ping database: ") {
		t.Errorf("Ping error %q, want one wrapping ErrUnavailable from the ping step", err)
	}
	if _, err := s.User(t.Context(), "alice"); err == nil || errors.Is(err, parley.ErrNotFound) {
		t.Errorf("User error %v, want a connection error", err)
	}
}

func TestOpenRefusedByServer(t *testing.T) {
	u, err := url.Parse(pgtest.FreshURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("parley", "wrong password")
	_, err = Open(t.Context(), u.String(), slog.New(slog.DiscardHandler))
	if err == nil || transient(err) {
		t.Fatalf("Open with a wrong password: error %v, want a refusal", err)
	}
}

// gate is a TCP proxy on loopback to a PostgreSQL server that hangs up on
// every client until it is opened.
type gate struct {
	ln     net.Listener
	target string
	open   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex // guards conns
	conns  []net.Conn
}

// newGate starts a closed gate to target, stopped when the test ends.
func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target}
	g.wg.Go(g.accept)
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, c, up)
		g.mu.Unlock()
		g.wg.Go(func() { io.Copy(up, c); up.Close() })
		g.wg.Go(func() { io.Copy(c, up); c.Close() })
	}
}

func TestMigratesWhenDatabaseComesUp(t *testing.T) {
	u, err := url.Parse(pgtest.FreshURL(t))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, u.Host)
	u.Host = g.ln.Addr().String()
	var logs syncBuffer
	s := openURL(t, u.String(), slog.New(slog.NewTextHandler(&logs, nil)))

	if !strings.Contains(logs.String(), "database not reachable") {
		t.Errorf("Open logged %q, want a warning that the database is not reachable", logs.String())
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded through a closed gate")
	}

	g.open.Store(true)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping through the open gate: %v", err)
	}
	if !strings.Contains(logs.String(), "migration applied") {
		t.Errorf("logged %q, want a migration", logs.String())
	}
	u0 := parley.User{ID: "alice", CreatedAt: time.Unix(1, 0)}
	if err := s.CreateUser(t.Context(), u0, nil); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := s.User(t.Context(), "alice"); err != nil {
		t.Errorf("User: %v", err)
	}
}

func TestArchiveReplacesNUL(t *testing.T) {
	s := openTest(t)
	conv := parley.DMConversation("alice", "bob")
	m := parley.Message{ID: "m1", Type: parley.TypeMessage, Conversation: conv, From: "alice",
		Body: "a\x00b", SentAt: time.Unix(1, 0), Seq: 1,
		Pos: parley.Position{Topic: "direct-messages", Offset: 0}}
	if err := s.Archive(t.Context(), &parley.Batch{Messages: []parley.Message{m}}); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	got, err := s.MessageByID(t.Context(), conv, "m1")
	if err != nil {
		t.Fatalf("MessageByID: %v", err)
	}
	if got.Body != "a\uFFFDb" {
		t.Errorf("Body = %q, want %q", got.Body, "a\uFFFDb")
	}
}
