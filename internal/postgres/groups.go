package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// CreateGroup adds a group with its first members; ErrConflict when the ID
// is taken.
func (s *Store) CreateGroup(ctx context.Context, g parley.Group, members []parley.Member) error {
	users := make([]string, len(members))
	roles := make([]string, len(members))
	joined := make([]time.Time, len(members))
	for i, m := range members {
		users[i], roles[i], joined[i] = m.User, m.Role, m.JoinedAt
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const ins = `INSERT INTO chat_groups (id, name, owner, strategy, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
		tag, err := tx.Exec(ctx, ins, g.ID, g.Name, g.Owner, g.Strategy, g.CreatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return parley.ErrConflict
		}

		const add = `INSERT INTO members (group_id, user_id, role, joined_at)
			SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::timestamptz[])
			ON CONFLICT (group_id, user_id) DO NOTHING`
		_, err = tx.Exec(ctx, add, g.ID, users, roles, joined)
		return err
	})
	if err != nil {
		return fmt.Errorf("create group %q: %w", g.ID, err)
	}
	return nil
}

// Group returns a group by ID.
func (s *Store) Group(ctx context.Context, id string) (parley.Group, error) {
	const q = `SELECT name, owner, strategy, created_at FROM chat_groups WHERE id = $1`
	g := parley.Group{ID: id}
	err := s.pool.QueryRow(ctx, q, id).Scan(&g.Name, &g.Owner, &g.Strategy, &g.CreatedAt)
	if err != nil {
		return parley.Group{}, fmt.Errorf("read group %q: %w", id, notFound(err))
	}
	g.CreatedAt = g.CreatedAt.UTC()
	return g, nil
}

// SetGroupStrategy changes the topic strategy of a group.
func (s *Store) SetGroupStrategy(ctx context.Context, id, strategy string) error {
	const q = `UPDATE chat_groups SET strategy = $2 WHERE id = $1`
	tag, err := s.pool.Exec(ctx, q, id, strategy)
	if err == nil && tag.RowsAffected() == 0 {
		err = parley.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set strategy of group %q: %w", id, err)
	}
	return nil
}

// Members lists a group's members sorted by user ID; ErrNotFound when the
// group does not exist.
func (s *Store) Members(ctx context.Context, groupID string) ([]parley.Member, error) {
	const q = `SELECT user_id, role, joined_at FROM members
		WHERE group_id = $1 ORDER BY user_id`
	rows, err := s.pool.Query(ctx, q, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members of %q: %w", groupID, err)
	}
	members, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Member, error) {
		var m parley.Member
		err := row.Scan(&m.User, &m.Role, &m.JoinedAt)
		m.JoinedAt = m.JoinedAt.UTC()
		return m, err
	})
	if err == nil && len(members) == 0 {
		// Tell a group without members from a missing one.
		_, err = s.Group(ctx, groupID)
	}
	if err != nil {
		return nil, fmt.Errorf("list members of %q: %w", groupID, err)
	}
	return members, nil
}

// Member returns one membership; ErrNotFound when the user is not a member
// or the group does not exist.
func (s *Store) Member(ctx context.Context, groupID, user string) (parley.Member, error) {
	const q = `SELECT role, joined_at FROM members WHERE group_id = $1 AND user_id = $2`
	m := parley.Member{User: user}
	err := s.pool.QueryRow(ctx, q, groupID, user).Scan(&m.Role, &m.JoinedAt)
	if err != nil {
		err = notFound(err)
		return parley.Member{}, fmt.Errorf("read member %q of %q: %w", user, groupID, err)
	}
	m.JoinedAt = m.JoinedAt.UTC()
	return m, nil
}

// PutMember adds a member or changes the role of an existing one, whose
// JoinedAt stays; ErrNotFound when the group does not exist. It is one
// statement: the insert selects its row only if the group exists.
func (s *Store) PutMember(ctx context.Context, groupID string, m parley.Member) error {
	const q = `INSERT INTO members (group_id, user_id, role, joined_at)
		SELECT id, $2, $3, $4 FROM chat_groups WHERE id = $1
		ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role`
	tag, err := s.pool.Exec(ctx, q, groupID, m.User, m.Role, m.JoinedAt)
	if err == nil && tag.RowsAffected() == 0 {
		err = parley.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("put member %q of %q: %w", m.User, groupID, err)
	}
	return nil
}

// RemoveMember removes a member; ErrNotFound when not a member.
func (s *Store) RemoveMember(ctx context.Context, groupID, user string) error {
	const q = `DELETE FROM members WHERE group_id = $1 AND user_id = $2`
	tag, err := s.pool.Exec(ctx, q, groupID, user)
	if err == nil && tag.RowsAffected() == 0 {
		err = parley.ErrNotFound
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
		WHERE m.user_id = $1 ORDER BY g.id`
	rows, err := s.pool.Query(ctx, q, user)
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", user, err)
	}
	groups, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Group, error) {
		var g parley.Group
		err := row.Scan(&g.ID, &g.Name, &g.Owner, &g.Strategy, &g.CreatedAt)
		g.CreatedAt = g.CreatedAt.UTC()
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", user, err)
	}
	return groups, nil
}
