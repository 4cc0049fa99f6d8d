package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// OpenReadOnly opens an existing database without changing it: it neither
// creates the file nor migrates the schema, and every connection refuses
// to write (a write method returns an error). It is for reading another
// node's database, as `parley migrate` does with its source, also while
// that node runs. It fails when the file is missing or its schema is not
// the one this binary knows: an older one must be migrated first, by
// opening it with Open (`parley serve` does).
func OpenReadOnly(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve database path: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}

	// No ID filter: another process writes the file.
	s := newStore(logger)
	if err := s.openReadOnly(ctx, abs); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openReadOnly connects both pools read-only and checks the schema version.
func (s *Store) openReadOnly(ctx context.Context, abs string) error {
	var err error
	if s.w, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	if s.r, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return fmt.Errorf("open readers: %w", err)
	}
	s.reads.db = s.r
	if err := checkVersion(ctx, s.r); err != nil {
		return err
	}

	// Prepared so that the write methods fail cleanly rather than panic.
	if s.stmts, err = prepareArchive(ctx, s.w); err != nil {
		return fmt.Errorf("prepare archive statements: %w", err)
	}
	return nil
}

// checkVersion fails unless the database's schema is the latest one.
func checkVersion(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version

	var current int
	const q = `SELECT coalesce(max(version), 0) FROM schema_migrations`
	if err := db.QueryRowContext(ctx, q).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case current < latest:
		return fmt.Errorf("schema version %d is older than this binary's %d: "+
			"run this binary's parley serve on it once to migrate it", current, latest)
	case current > latest:
		return fmt.Errorf("schema version %d is newer than this binary's %d: "+
			"use the binary that wrote it", current, latest)
	}
	return nil
}
