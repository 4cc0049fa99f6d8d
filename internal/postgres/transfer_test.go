package postgres

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/sqlite"
	"github.com/parley-chat/parley/internal/storetest"
)

func TestTransferFromSQLite(t *testing.T) {
	fromSQLite := func(t *testing.T) parley.Store {
		path := filepath.Join(t.TempDir(), "parley.db")
		s, err := sqlite.Open(t.Context(), path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("open SQLite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunTransfer(t, fromSQLite, func(t *testing.T) parley.Store { return openTest(t) })
}
