// Package sqlite implements parley.Store on SQLite, through the pure Go
// driver modernc.org/sqlite. It is the store of `parley serve` on one
// machine; package postgres is its twin for a cluster, and both pass the
// conformance suite in package storetest.
//
// # Connections
//
// SQLite lets one connection write at a time. The store keeps a pool of one
// connection for writes, whose transactions begin IMMEDIATE so that they
// queue in Go rather than fail with SQLITE_BUSY halfway through, and a
// separate pool of read-only connections. In WAL mode readers see the last
// committed state and never wait for the writer, so a page of history is
// not delayed by a large Archive batch.
//
// # Durability
//
// The database runs with journal_mode=WAL and synchronous=NORMAL: a commit
// is written to the WAL but not synced to disk, so a power loss or kernel
// crash (not a process crash) can lose the last transactions. That is safe
// for Parley because Kafka is the source of truth for entries: the archiver
// commits its Kafka offsets only after Archive returned, and after a restart
// it re-archives from the committed offsets; Archive is idempotent. Accounts
// and memberships, which are written here first, can lose their last
// seconds in the same way.
//
// # Schema
//
// The schema is a sequence of numbered SQL files in migrations/, embedded in
// the binary. Open applies, in order and each in its own transaction, the
// files above the version recorded in the schema_migrations table. Times are
// stored as Unix microseconds, so they come back truncated to microseconds
// and in UTC.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parley-chat/parley/internal/parley"
)

// busyTimeoutMS bounds how long a connection waits for a lock another
// connection (another process, or a checkpoint) holds before it fails.
const busyTimeoutMS = 5000

// walCheckpointPages is how many pages the WAL grows to before a commit
// copies them into the database file. The archiver rewrites the same index
// pages (one per active conversation) in batch after batch: the larger the
// WAL, the more of those rewrites one checkpoint folds into one write. At
// 4 KiB pages it is 32 MiB of WAL; SQLite's default is 1,000 pages.
const walCheckpointPages = 8000

// writerCacheKiB bounds the writer's page cache. The archiver touches an
// index page per active conversation and per notified user in every batch;
// with SQLite's default of 2 MiB those pages fall out between batches and
// are read again, from the WAL, with a system call each. The cache fills
// only as pages are used.
const writerCacheKiB = 64 << 10

// mmapBytes is how much of the database file connections map into memory
// to read it; beyond it they read with system calls.
const mmapBytes = 1 << 30

// Store is a parley.Store backed by one SQLite database file. It is safe
// for concurrent use.
type Store struct {
	w      *sql.DB // one connection: every write goes through it
	r      *sql.DB // read-only connections
	logger *slog.Logger
	stmts  *archiveStmts
	reads  readStmts // of r

	ids *idFilter
	dms knownDMs
	// bg runs the background builds of ids; Close cancels bgCtx and waits.
	bg     sync.WaitGroup
	bgCtx  context.Context
	stopBG context.CancelFunc
}

var _ parley.Store = (*Store)(nil)

// Open opens the database at path, creating it when missing, and migrates
// its schema to the latest version. logger receives one info line per
// migration applied; nil discards them.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve database path: %w", err)
	}

	s := newStore(logger)
	if err := s.open(ctx, abs); err != nil {
		s.Close()
		return nil, err
	}
	s.ids.building = true
	s.startIDFilterBuild()
	return s, nil
}

// newStore returns a Store not connected yet, whose ID filter is not built
// (every lookup queries the database) until startIDFilterBuild.
func newStore(logger *slog.Logger) *Store {
	s := &Store{logger: logger.With("component", "sqlite"), ids: newIDFilter()}
	s.bgCtx, s.stopBG = context.WithCancel(context.Background())
	return s
}

// open connects both pools, migrates and prepares the statements.
func (s *Store) open(ctx context.Context, abs string) error {
	var err error
	s.w, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("connect writer: %w", err)
	}

	// Migrate before the readers connect: they need the file in WAL mode.
	if err := migrate(ctx, s.w, s.logger); err != nil {
		return err
	}

	s.r, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return fmt.Errorf("open readers: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.reads.db = s.r

	s.stmts, err = prepareArchive(ctx, s.w)
	if err != nil {
		return fmt.Errorf("prepare archive statements: %w", err)
	}
	return nil
}

// dsn returns the data source name of the database at abs: a file: URI, so
// that any path survives escaping, with the pragmas every connection needs.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	// Reading pages through a memory map of the file, instead of a pread
	// each, halves the archiver's system calls. The map is address space,
	// not memory: its pages are the kernel's page cache.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// journal_mode is stored in the file: the readers inherit it.
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKiB))
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping readers: %w", err)
	}
	return nil
}

// Close closes both pools. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.stopBG()
	s.bg.Wait()
	var errs []error
	if s.stmts != nil {
		errs = append(errs, s.stmts.close())
	}
	errs = append(errs, s.reads.close())
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
