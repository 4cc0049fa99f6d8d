package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// CreateUser adds an account; ErrConflict when the ID is taken.
func (s *Store) CreateUser(ctx context.Context, u parley.User, passwordHash []byte) error {
	const q = `INSERT INTO users (id, created_at, password_hash) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`
	tag, err := s.pool.Exec(ctx, q, u.ID, u.CreatedAt, passwordHash)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create user %q: %w", u.ID, parley.ErrConflict)
	}
	return nil
}

// EnsureUser returns the user, creating it without a password when it does
// not exist yet. When the insert finds the ID taken, it has waited for the
// transaction that took it to commit, so the read that follows, which
// takes a new snapshot, finds the stored user: concurrent calls for the
// same ID, on any node, all return that one user.
func (s *Store) EnsureUser(ctx context.Context, id string, now time.Time) (parley.User, error) {
	const ins = `INSERT INTO users (id, created_at) VALUES ($1, $2)
		ON CONFLICT DO NOTHING RETURNING created_at`
	var at time.Time
	err := s.pool.QueryRow(ctx, ins, id, now).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `SELECT created_at FROM users WHERE id = $1`, id).Scan(&at)
	}
	if err != nil {
		return parley.User{}, fmt.Errorf("ensure user %q: %w", id, err)
	}
	return parley.User{ID: id, CreatedAt: at.UTC()}, nil
}

// User returns a user by ID.
func (s *Store) User(ctx context.Context, id string) (parley.User, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT created_at FROM users WHERE id = $1`, id).Scan(&at)
	if err != nil {
		return parley.User{}, fmt.Errorf("read user %q: %w", id, notFound(err))
	}
	return parley.User{ID: id, CreatedAt: at.UTC()}, nil
}

// PasswordHash returns the stored hash; nil when the user has none.
func (s *Store) PasswordHash(ctx context.Context, id string) ([]byte, error) {
	var hash []byte
	err := s.pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, id).Scan(&hash)
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

	// With the "C" collation the IDs with the prefix are the first ones at
	// or above it, a range of the primary key; LIKE would need escaping
	// of '_', a user ID character.
	const q = `SELECT id, created_at FROM users WHERE id >= $1 ORDER BY id LIMIT $2`
	rows, err := s.pool.Query(ctx, q, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.User, error) {
		var u parley.User
		err := row.Scan(&u.ID, &u.CreatedAt)
		u.CreatedAt = u.CreatedAt.UTC()
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}

	n := 0
	for n < len(users) && strings.HasPrefix(users[n].ID, prefix) {
		n++
	}
	return users[:n], nil
}
