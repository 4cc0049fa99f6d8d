// Package postgres implements parley.Store on PostgreSQL, through pgx and
// its connection pool. It is the store of a Parley cluster, where every
// node shares one database; package sqlite is its twin for one machine, and
// both pass the conformance suite in package storetest.
//
// # Starting without the database
//
// Open does not need the database to be up: a node whose database is down
// should start and report itself not ready rather than exit. The pool
// connects lazily, and every new connection first makes sure the schema is
// current (see Migrations). Open asks for one connection, waiting at most
// openWait. When the server cannot be reached, or answers that it cannot
// take connections now, Open logs a warning and returns the store anyway;
// until the server answers, every method fails and Ping returns an error
// wrapping parley.ErrUnavailable, and the first connection that succeeds
// migrates. Open fails when the server answered and refused: a wrong
// password, a missing database, a migration that does not apply. Such a
// mistake needs a person, and the sooner it shows the better.
//
// # Migrations
//
// The schema is a sequence of numbered SQL files in migrations/, embedded
// in the binary. The first connection a Store makes takes a session-level
// advisory lock, keyed on the schema it works in, applies each file above
// the version recorded in the schema_migrations table in a transaction of
// its own (which records the new version too), logs it at info and
// releases the lock. The store's other new connections wait for it. Nodes
// that start at once thus migrate one after the other, and all but the
// first find nothing to do. A migration runs on a context that only Close
// cancels: it is not cut short because the request that needed a
// connection gave up.
//
// # Archive
//
// Archive writes a batch with one statement per table, each taking its
// rows as array parameters that unnest turns back into rows, all sent in
// one round trip (a pgx.Batch) inside one transaction. For the archiver's
// batches of hundreds to thousands of records this is about as fast as
// COPY, and unlike COPY into a temporary table it keeps ON CONFLICT and
// leaves no catalog entries behind per batch.
//
// # Concurrency
//
// Several nodes share the database, so every write that may race is one
// statement that settles the race in the database: EnsureUser inserts with
// ON CONFLICT DO NOTHING before it reads, read cursors and archived
// offsets are upserts that only move forward, and entries and
// notifications are inserted with ON CONFLICT DO NOTHING, so the first one
// stored wins and a replayed batch changes nothing.
//
// # Data
//
// Times are stored as timestamptz, whose precision is a microsecond, and
// come back in UTC. Identifier columns use the "C" collation, so they sort
// by bytes, as in SQLite, whatever the database's locale. A notification's
// data is stored as bytes, exactly as given. PostgreSQL's text cannot hold
// the NUL character, which a Go string and JSON can: Archive replaces it
// with U+FFFD in what it stores, since failing would stop the archiver on
// that batch for good.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/internal/parley"
)

// openWait bounds how long Open waits for a first connection and the
// migration it runs: long enough for a server that is starting up, short
// enough that a node whose database is down starts without it.
const openWait = 10 * time.Second

// Store is a parley.Store backed by a PostgreSQL database. It is safe for
// concurrent use, also by several processes sharing the database.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	// migrating admits one new connection at a time to migrate; a channel
	// rather than a mutex, so that waiting for it ends with the context.
	migrating chan struct{}
	// migrated is set once the schema is current; later connections skip
	// migrating.
	migrated atomic.Bool
}

var _ parley.Store = (*Store)(nil)

// Open returns a store for the database at url, a PostgreSQL connection
// URL or keyword/value string as pgx accepts it (pool settings such as
// pool_max_conns included). It migrates the schema as the package doc
// explains, and returns without it when the server cannot be reached.
// logger receives a line per migration applied; nil discards them.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}

	s := &Store{
		logger:    logger.With("component", "postgres"),
		migrating: make(chan struct{}, 1),
	}
	cfg.AfterConnect = s.afterConnect
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}

	wctx, cancel := context.WithTimeout(ctx, openWait)
	defer cancel()
	err = s.pool.Ping(wctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		s.pool.Close()
		return nil, fmt.Errorf("connect to database: %w", ctx.Err())
	case transient(err):
		s.logger.Warn("database not reachable, schema migrates on first connection", "err", err)
	default:
		s.pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return s, nil
}

// afterConnect runs on every new connection before the pool hands it out:
// the first one migrates the schema, the others wait for it.
func (s *Store) afterConnect(ctx context.Context, conn *pgx.Conn) error {
	if s.migrated.Load() {
		return nil
	}
	select {
	case s.migrating <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for migration: %w", ctx.Err())
	}
	defer func() { <-s.migrating }()

	if s.migrated.Load() {
		return nil // another connection migrated while this one waited
	}
	if err := migrate(ctx, conn, s.logger); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	s.migrated.Store(true)
	return nil
}

// transient reports whether err means the server could not be reached or
// could not take a connection now, rather than that it refused one: any
// error the server did not send, and the SQLSTATE classes of connection
// exceptions (08), insufficient resources (53) and operator intervention
// (57), which include "the database system is starting up".
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch pgErr.Code[:min(2, len(pgErr.Code))] {
	case "08", "53", "57":
		return true
	}
	return false
}

// Ping reports whether the database answers and the schema is current. The
// error wraps parley.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w: %w", parley.ErrUnavailable, err)
	}
	return nil
}

// Close closes the pool's connections, waiting for those in use to be
// released, and cancels a migration in progress. The Store must not be
// used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits it when fn returns nil. The
// commit does not end with ctx: once the work is sent, an error from inTx
// should mean that nothing was stored, not that nobody waited to hear.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback(ctx) // with ctx done, pgx closes the connection instead
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitWait)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// commitWait bounds a commit that ctx no longer bounds.
const commitWait = 30 * time.Second

// notFound turns pgx.ErrNoRows into parley.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return parley.ErrNotFound
	}
	return err
}
