package sqlite

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/storetest"
)

func TestTransfer(t *testing.T) {
	open := func(t *testing.T) parley.Store { return openTest(t) }
	storetest.RunTransfer(t, open, open)
}

func TestOpenReadOnly(t *testing.T) {
	t.Run("missing file is an error and stays missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "parley.db")
		_, err := OpenReadOnly(t.Context(), path, nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenReadOnly of a missing file: error %v, want ErrNotExist", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after OpenReadOnly: %v, want no file", err)
		}
	})

	t.Run("reads and refuses to write", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "parley.db")
		s, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		u := parley.User{ID: "alice", CreatedAt: time.Unix(1, 0)}
		if err := s.CreateUser(t.Context(), u, nil); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		s.Close()

		ro, err := OpenReadOnly(t.Context(), path, nil)
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		defer ro.Close()
		if _, err := ro.User(t.Context(), "alice"); err != nil {
			t.Errorf("User: %v", err)
		}
		bob := parley.User{ID: "bob", CreatedAt: time.Unix(2, 0)}
		if err := ro.CreateUser(t.Context(), bob, nil); err == nil {
			t.Error("CreateUser on a read-only store succeeded")
		}
		b := &parley.Batch{Offsets: map[parley.TopicPartition]int64{{Topic: "t"}: 1}}
		if err := ro.Archive(t.Context(), b); err == nil {
			t.Error("Archive on a read-only store succeeded")
		}
	})

	t.Run("older schema is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "parley.db")
		s, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := s.w.ExecContext(t.Context(), `DELETE FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := OpenReadOnly(t.Context(), path, nil); err == nil {
			t.Error("OpenReadOnly of an unmigrated database succeeded")
		}
	})
}
