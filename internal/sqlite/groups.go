package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// CreateGroup adds a group with its first members; ErrConflict when the ID
// is taken.
func (s *Store) CreateGroup(ctx context.Context, g parley.Group, members []parley.Member) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const ins = `INSERT INTO chat_groups (id, name, owner, strategy, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
		res, err := tx.ExecContext(ctx, ins,
			g.ID, g.Name, g.Owner, g.Strategy, micros(g.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return parley.ErrConflict
		}

		for _, m := range members {
			if err := putMember(ctx, tx, g.ID, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create group %q: %w", g.ID, err)
	}
	return nil
}

// Group returns a group by ID.
func (s *Store) Group(ctx context.Context, id string) (parley.Group, error) {
	const q = `SELECT name, owner, strategy, created_at FROM chat_groups WHERE id = ?`
	g := parley.Group{ID: id}
	var at int64
	err := s.queryRow(ctx, q, id).Scan(&g.Name, &g.Owner, &g.Strategy, &at)
	if err != nil {
		return parley.Group{}, fmt.Errorf("read group %q: %w", id, notFound(err))
	}
	g.CreatedAt = fromMicros(at)
	return g, nil
}

// SetGroupStrategy changes the topic strategy of a group.
func (s *Store) SetGroupStrategy(ctx context.Context, id, strategy string) error {
	const q = `UPDATE chat_groups SET strategy = ? WHERE id = ?`
	res, err := s.w.ExecContext(ctx, q, strategy, id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("set strategy of group %q: %w", id, err)
	}
	return nil
}

// Members lists a group's members sorted by user ID; ErrNotFound when the
// group does not exist.
func (s *Store) Members(ctx context.Context, groupID string) ([]parley.Member, error) {
	if _, err := s.Group(ctx, groupID); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}

	const q = `SELECT user_id, role, joined_at FROM members
		WHERE group_id = ? ORDER BY user_id`
	rows, err := s.query(ctx, q, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members of %q: %w", groupID, err)
	}
	defer rows.Close()

	members := []parley.Member{}
	for rows.Next() {
		var m parley.Member
		var at int64
		if err := rows.Scan(&m.User, &m.Role, &at); err != nil {
			return nil, fmt.Errorf("list members of %q: %w", groupID, err)
		}
		m.JoinedAt = fromMicros(at)
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list members of %q: %w", groupID, err)
	}
	return members, nil
}

// Member returns one membership; ErrNotFound when the user is not a member
// or the group does not exist.
func (s *Store) Member(ctx context.Context, groupID, user string) (parley.Member, error) {
	const q = `SELECT role, joined_at FROM members WHERE group_id = ? AND user_id = ?`
	m := parley.Member{User: user}
	var at int64
	err := s.queryRow(ctx, q, groupID, user).Scan(&m.Role, &at)
	if err != nil {
		err = notFound(err)
		return parley.Member{}, fmt.Errorf("read member %q of %q: %w", user, groupID, err)
	}
	m.JoinedAt = fromMicros(at)
	return m, nil
}

// PutMember adds a member or changes the role of an existing one, whose
// JoinedAt stays; ErrNotFound when the group does not exist.
func (s *Store) PutMember(ctx context.Context, groupID string, m parley.Member) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		const q = `SELECT EXISTS (SELECT 1 FROM chat_groups WHERE id = ?)`
		if err := tx.QueryRowContext(ctx, q, groupID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return parley.ErrNotFound
		}
		return putMember(ctx, tx, groupID, m)
	})
	if err != nil {
		return fmt.Errorf("put member %q of %q: %w", m.User, groupID, err)
	}
	return nil
}

// putMember upserts a membership within tx.
func putMember(ctx context.Context, tx *sql.Tx, groupID string, m parley.Member) error {
	const q = `INSERT INTO members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role`
	_, err := tx.ExecContext(ctx, q, groupID, m.User, m.Role, micros(m.JoinedAt))
	return err
}

// RemoveMember removes a member; ErrNotFound when not a member.
func (s *Store) RemoveMember(ctx context.Context, groupID, user string) error {
	const q = `DELETE FROM members WHERE group_id = ? AND user_id = ?`
	res, err := s.w.ExecContext(ctx, q, groupID, user)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("remove member %q of %q: %w", user, groupID, err)
	}
	return nil
}

// GroupsOf lists the groups a user is a member of, sorted by ID.
func (s *Store) GroupsOf(ctx context.Context, user string) ([]parley.Group, error) {
	const q = `SELECT g.id, g.name, g.owner, g.strategy, g.created_at
		FROM members m JOIN chat_groups g ON g.id = m.group_id
		WHERE m.user_id = ? ORDER BY g.id`
	rows, err := s.query(ctx, q, user)
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", user, err)
	}
	defer rows.Close()

	groups := []parley.Group{}
	for rows.Next() {
		var g parley.Group
		var at int64
		if err := rows.Scan(&g.ID, &g.Name, &g.Owner, &g.Strategy, &at); err != nil {
			return nil, fmt.Errorf("list groups of %q: %w", user, err)
		}
		g.CreatedAt = fromMicros(at)
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", user, err)
	}
	return groups, nil
}

// mustAffect returns ErrNotFound when res changed no row.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return parley.ErrNotFound
	}
	return nil
}
