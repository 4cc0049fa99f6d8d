package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockClass is the first key of the advisory lock held while
// migrating ("PRLY" in ASCII); the second is a hash of the current schema,
// so that stores in different schemas of one database do not wait for each
// other.
const migrationLockClass = 0x50524c59

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations sorted by version. A file is
// named NNNN_what.sql, and no two share a version.
func migrations() ([]migration, error) {
	paths, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}

	var ms []migration
	for _, p := range paths {
		name := strings.TrimPrefix(p, "migrations/")
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("parse migration name %q: want NNNN_what.sql", name)
		}
		text, err := migrationFiles.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}

	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("check migrations: version %d twice", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies, in order and under the migration lock, every migration
// above the schema's version. The lock is a session lock, so it goes away
// with the connection if this one dies half-way.
func migrate(ctx context.Context, conn *pgx.Conn, logger *slog.Logger) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}

	const lock = `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`
	if _, err := conn.Exec(ctx, lock, migrationLockClass); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		const unlock = `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))`
		if _, uerr := conn.Exec(ctx, unlock, migrationLockClass); uerr != nil && err == nil {
			err = fmt.Errorf("release migration lock: %w", uerr)
		}
	}()

	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err := conn.Exec(ctx, create); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var current int
	const version = `SELECT coalesce(max(version), 0) FROM schema_migrations`
	if err := conn.QueryRow(ctx, version).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}

	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if err := apply(ctx, conn, m); err != nil {
			return err
		}
		logger.Info("migration applied", "version", m.version, "name", m.name)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		// A newer node migrated first, as in a rolling upgrade. This binary
		// keeps working as long as the newer migrations only added.
		logger.Warn("schema newer than this binary", "version", current, "known", latest)
	}
	return nil
}

// apply runs one migration and records its version in one transaction.
func apply(ctx context.Context, conn *pgx.Conn, m migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		const record = `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`
		_, err := tx.Exec(ctx, record, m.version, m.name)
		return err
	})
	if err != nil {
		return fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	return nil
}
