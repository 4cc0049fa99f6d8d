package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// CreateUser adds an account; ErrConflict when the ID is taken.
func (s *Store) CreateUser(ctx context.Context, u parley.User, passwordHash []byte) error {
	const q = `INSERT INTO users (id, created_at, password_hash) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`
	res, err := s.w.ExecContext(ctx, q, u.ID, micros(u.CreatedAt), nullBytes(passwordHash))
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create user: %w", err)
	} else if n == 0 {
		return fmt.Errorf("create user %q: %w", u.ID, parley.ErrConflict)
	}
	return nil
}

// EnsureUser returns the user, creating it without a password when it does
// not exist yet. The insert and the read share one write transaction, so
// concurrent calls for the same ID all return the one stored user.
func (s *Store) EnsureUser(ctx context.Context, id string, now time.Time) (parley.User, error) {
	u := parley.User{ID: id}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const ins = `INSERT INTO users (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, ins, id, micros(now)); err != nil {
			return err
		}
		var at int64
		const sel = `SELECT created_at FROM users WHERE id = ?`
		if err := tx.QueryRowContext(ctx, sel, id).Scan(&at); err != nil {
			return err
		}
		u.CreatedAt = fromMicros(at)
		return nil
	})
	if err != nil {
		return parley.User{}, fmt.Errorf("ensure user: %w", err)
	}
	return u, nil
}

// User returns a user by ID.
func (s *Store) User(ctx context.Context, id string) (parley.User, error) {
	var at int64
	err := s.queryRow(ctx, `SELECT created_at FROM users WHERE id = ?`, id).Scan(&at)
	if err != nil {
		return parley.User{}, fmt.Errorf("read user %q: %w", id, notFound(err))
	}
	return parley.User{ID: id, CreatedAt: fromMicros(at)}, nil
}

// PasswordHash returns the stored hash; nil when the user has none.
func (s *Store) PasswordHash(ctx context.Context, id string) ([]byte, error) {
	var hash []byte
	err := s.queryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash)
	if err != nil {
		return nil, fmt.Errorf("read password hash of %q: %w", id, notFound(err))
	}
	return hash, nil
}

// SearchUsers returns up to limit users whose ID starts with prefix, sorted
// by ID. A limit outside 1..MaxPageLimit means MaxPageLimit.
func (s *Store) SearchUsers(ctx context.Context, prefix string, limit int) ([]parley.User, error) {
	if limit <= 0 || limit > parley.MaxPageLimit {
		limit = parley.MaxPageLimit
	}

	// IDs with the prefix are the first ones at or above it; a range scan of
	// the primary key avoids LIKE, whose '_' is a user ID character.
	const q = `SELECT id, created_at FROM users WHERE id >= ? ORDER BY id LIMIT ?`
	rows, err := s.query(ctx, q, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()

	users := []parley.User{}
	for rows.Next() {
		var u parley.User
		var at int64
		if err := rows.Scan(&u.ID, &at); err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		if !strings.HasPrefix(u.ID, prefix) {
			break
		}
		u.CreatedAt = fromMicros(at)
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return users, nil
}

// notFound turns sql.ErrNoRows into parley.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return parley.ErrNotFound
	}
	return err
}

// micros converts t to the stored form, Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored time back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromNullMicros reads a time stored by nullMicros.
func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// nullBytes stores a nil slice as NULL.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
