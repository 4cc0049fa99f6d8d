package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

var _ parley.Importer = (*Store)(nil)

// Import writes one batch of another store's contents in one transaction.
// Entries, read marks and offsets go through Archive's own steps, so they
// keep its rules; the rest is inserted unless its key is stored.
func (s *Store) Import(ctx context.Context, b *parley.TransferBatch) error {
	build := s.ids.add(b.Messages)
	var dms []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, step := range []func() error{
			func() error { return importUsers(ctx, tx, b.Users) },
			func() error { return importGroups(ctx, tx, b.Groups) },
			func() error { return importMembers(ctx, tx, b.Members) },
			func() (err error) { dms, err = s.archiveMessages(ctx, tx, b.Messages); return err },
			func() error { return s.importParticipants(ctx, tx, b.Participants) },
			func() error { return s.importNotifications(ctx, tx, b.Notifications) },
			func() error { return s.archiveReads(ctx, tx, b.Reads) },
			func() error { return s.archiveOffsets(ctx, tx, b.Offsets) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	s.archived(b.Messages, build, dms)
	return nil
}

func importUsers(ctx context.Context, tx *sql.Tx, users []parley.Account) error {
	const q = `INSERT INTO users (id, created_at, password_hash) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`
	for _, a := range users {
		_, err := tx.ExecContext(ctx, q, a.User.ID, micros(a.User.CreatedAt), nullBytes(a.PasswordHash))
		if err != nil {
			return fmt.Errorf("import user %q: %w", a.User.ID, err)
		}
	}
	return nil
}

func importGroups(ctx context.Context, tx *sql.Tx, groups []parley.Group) error {
	const q = `INSERT INTO chat_groups (id, name, owner, strategy, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	for _, g := range groups {
		_, err := tx.ExecContext(ctx, q, g.ID, g.Name, g.Owner, g.Strategy, micros(g.CreatedAt))
		if err != nil {
			return fmt.Errorf("import group %q: %w", g.ID, err)
		}
	}
	return nil
}

func importMembers(ctx context.Context, tx *sql.Tx, members []parley.GroupMember) error {
	const q = `INSERT INTO members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	for _, m := range members {
		mb := m.Member
		_, err := tx.ExecContext(ctx, q, m.Group, mb.User, mb.Role, micros(mb.JoinedAt))
		if err != nil {
			return fmt.Errorf("import member %q of %q: %w", m.Member.User, m.Group, err)
		}
	}
	return nil
}

func (s *Store) importParticipants(ctx context.Context, tx *sql.Tx, ps []parley.DMParticipant) error {
	st := tx.StmtContext(ctx, s.stmts.participant)
	for _, p := range ps {
		if _, err := st.ExecContext(ctx, p.User, p.Conversation, p.Peer); err != nil {
			return fmt.Errorf("import participant: %w", err)
		}
	}
	return nil
}

// importNotifications inserts the notifications with their Seq and, for
// those new to the store, their recipients. A notification whose ID is
// stored is skipped; one whose Seq belongs to another ID is a conflict.
// Later archived ones get a seq above them: the rowid of an INTEGER PRIMARY
// KEY is one more than the largest.
func (s *Store) importNotifications(ctx context.Context, tx *sql.Tx, ns []parley.Notification) error {
	const ins = `INSERT INTO notifications (seq, id, broadcast, recipients,
		title, body, kind, priority, data, collapse_key, expires_at, created_at,
		pos_topic, pos_partition, pos_offset)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	const stored = `SELECT EXISTS (SELECT 1 FROM notifications WHERE id = ?)`
	rcpt := tx.StmtContext(ctx, s.stmts.recipient)
	for i := range ns {
		n := &ns[i]
		to, err := json.Marshal(recipients(n))
		if err != nil {
			return fmt.Errorf("encode recipients: %w", err)
		}
		res, err := tx.ExecContext(ctx, ins, n.Seq, n.ID, n.Broadcast(), string(to),
			n.Title, n.Body, n.Kind, n.Priority, nullBytes(n.Data), n.CollapseKey,
			nullMicros(n.ExpiresAt), micros(n.CreatedAt),
			n.Pos.Topic, n.Pos.Partition, n.Pos.Offset)
		if err != nil {
			return fmt.Errorf("import notification %q: %w", n.ID, err)
		}
		added, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("import notification %q: %w", n.ID, err)
		}

		if added == 0 {
			var ok bool
			if err := tx.QueryRowContext(ctx, stored, n.ID).Scan(&ok); err != nil {
				return fmt.Errorf("import notification %q: %w", n.ID, err)
			}
			if !ok {
				return fmt.Errorf("import notification %q: seq %d taken: %w",
					n.ID, n.Seq, parley.ErrConflict)
			}
			continue // stored already: it wins
		}
		for _, u := range n.To {
			if _, err := rcpt.ExecContext(ctx, u, n.Seq, n.CollapseKey); err != nil {
				return fmt.Errorf("import recipient: %w", err)
			}
		}
	}
	return nil
}
