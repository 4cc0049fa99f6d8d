package sqlite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/storetest"
)

// openTest opens a fresh database under the test's temporary directory.
func openTest(t testing.TB) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
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

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	s, err := Open(t.Context(), path, logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !strings.Contains(logs.String(), "migration applied") {
		t.Errorf("first Open logged %q, want a migration line", logs.String())
	}
	u := parley.User{ID: "alice", CreatedAt: time.Unix(1, 0)}
	if err := s.CreateUser(t.Context(), u, nil); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	logs.Reset()
	s, err = Open(t.Context(), path, logger)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	if strings.Contains(logs.String(), "migration applied") {
		t.Errorf("second Open logged %q, want no migration", logs.String())
	}
	if _, err := s.User(t.Context(), "alice"); err != nil {
		t.Errorf("User after reopen: %v", err)
	}
}

// TestArchiveRefusesADoneContext: Archive does not watch its context once
// the transaction runs, but it does not start one for a context that has
// already ended.
func TestArchiveRefusesADoneContext(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := &parley.Batch{Offsets: map[parley.TopicPartition]int64{{Topic: "direct-messages"}: 1}}
	if err := s.Archive(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("Archive with a canceled context: err = %v, want context.Canceled", err)
	}
	if err := s.Archive(t.Context(), b); err != nil {
		t.Fatalf("Archive: %v", err)
	}
}
