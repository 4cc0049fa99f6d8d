package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// exportPage is the number of rows Export reads and hands over at a time.
const exportPage = 1000

var _ parley.Exporter = (*Store)(nil)

// Export streams the whole database, table by table in the order imports
// need, in pages of exportPage rows. It reads in one transaction on a
// read-only connection: WAL mode gives it one snapshot without blocking
// the writer.
func (s *Store) Export(ctx context.Context, fn func(*parley.TransferBatch) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("export: begin: %w", err)
	}
	defer tx.Rollback()

	e := &exporter{tx: tx, fn: fn}
	for _, step := range []func(context.Context) error{
		e.users, e.groups, e.members, e.messages, e.participants,
		e.notifications, e.reads, e.offsets,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// exporter is the state of one Export.
type exporter struct {
	tx *sql.Tx
	fn func(*parley.TransferBatch) error
}

// pages hands the rows of q to fn, a page at a time. q selects the rows
// after the key that key returns (the last row scan read) and ends in
// LIMIT ?; scan adds a row to the batch and remembers its key.
func (e *exporter) pages(
	ctx context.Context, what, q string, key func() []any,
	scan func(*sql.Rows, *parley.TransferBatch) error,
) error {
	for {
		b := &parley.TransferBatch{}
		n, err := e.page(ctx, q, append(key(), exportPage), func(rows *sql.Rows) error {
			return scan(rows, b)
		})
		if err != nil {
			return fmt.Errorf("export %s: %w", what, err)
		}
		if n == 0 {
			return nil
		}
		if err := e.fn(b); err != nil {
			return err
		}
		if n < exportPage {
			return nil
		}
	}
}

// page runs one query and scans its rows; it returns how many there were.
func (e *exporter) page(
	ctx context.Context, q string, args []any, scan func(*sql.Rows) error,
) (int, error) {
	rows, err := e.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	n := 0
	for rows.Next() {
		if err := scan(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func (e *exporter) users(ctx context.Context) error {
	const q = `SELECT id, created_at, password_hash FROM users
		WHERE id > ? ORDER BY id LIMIT ?`
	var last string
	return e.pages(ctx, "users", q, func() []any { return []any{last} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var a parley.Account
			var at int64
			if err := rows.Scan(&a.User.ID, &at, &a.PasswordHash); err != nil {
				return err
			}
			a.User.CreatedAt = fromMicros(at)
			b.Users = append(b.Users, a)
			last = a.User.ID
			return nil
		})
}

func (e *exporter) groups(ctx context.Context) error {
	const q = `SELECT id, name, owner, strategy, created_at FROM chat_groups
		WHERE id > ? ORDER BY id LIMIT ?`
	var last string
	return e.pages(ctx, "groups", q, func() []any { return []any{last} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var g parley.Group
			var at int64
			if err := rows.Scan(&g.ID, &g.Name, &g.Owner, &g.Strategy, &at); err != nil {
				return err
			}
			g.CreatedAt = fromMicros(at)
			b.Groups = append(b.Groups, g)
			last = g.ID
			return nil
		})
}

func (e *exporter) members(ctx context.Context) error {
	const q = `SELECT group_id, user_id, role, joined_at FROM members
		WHERE (group_id, user_id) > (?, ?) ORDER BY group_id, user_id LIMIT ?`
	var lastGroup, lastUser string
	return e.pages(ctx, "members", q, func() []any { return []any{lastGroup, lastUser} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var m parley.GroupMember
			var at int64
			if err := rows.Scan(&m.Group, &m.Member.User, &m.Member.Role, &at); err != nil {
				return err
			}
			m.Member.JoinedAt = fromMicros(at)
			b.Members = append(b.Members, m)
			lastGroup, lastUser = m.Group, m.Member.User
			return nil
		})
}

// messages pages by rowid, the cheapest key: the order does not matter.
func (e *exporter) messages(ctx context.Context) error {
	const q = `SELECT ` + messageCols + `, m.rowid FROM messages m
		WHERE m.rowid > ? ORDER BY m.rowid LIMIT ?`
	var last int64
	return e.pages(ctx, "messages", q, func() []any { return []any{last} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var rowid int64
			m, err := scanMessage(rows, &rowid)
			if err != nil {
				return err
			}
			b.Messages = append(b.Messages, m)
			last = rowid
			return nil
		})
}

func (e *exporter) participants(ctx context.Context) error {
	const q = `SELECT user_id, conversation, peer FROM dm_participants
		WHERE (user_id, conversation) > (?, ?) ORDER BY user_id, conversation LIMIT ?`
	var lastUser, lastConv string
	return e.pages(ctx, "participants", q, func() []any { return []any{lastUser, lastConv} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var p parley.DMParticipant
			if err := rows.Scan(&p.User, &p.Conversation, &p.Peer); err != nil {
				return err
			}
			b.Participants = append(b.Participants, p)
			lastUser, lastConv = p.User, p.Conversation
			return nil
		})
}

func (e *exporter) notifications(ctx context.Context) error {
	const q = `SELECT ` + notificationCols + ` FROM notifications n
		WHERE n.seq > ? ORDER BY n.seq LIMIT ?`
	var last int64
	return e.pages(ctx, "notifications", q, func() []any { return []any{last} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			b.Notifications = append(b.Notifications, n)
			last = n.Seq
			return nil
		})
}

// reads exports the read cursors, then the notification read marks, which
// name their notification by ID as an archived mark does.
func (e *exporter) reads(ctx context.Context) error {
	const cursors = `SELECT user_id, conversation, seq, read_at FROM read_cursors
		WHERE (user_id, conversation) > (?, ?) ORDER BY user_id, conversation LIMIT ?`
	var lastUser, lastConv string
	err := e.pages(ctx, "read cursors", cursors, func() []any { return []any{lastUser, lastConv} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var r parley.ReadMark
			var at int64
			if err := rows.Scan(&r.User, &r.Conversation, &r.Seq, &at); err != nil {
				return err
			}
			r.At = fromMicros(at)
			b.Reads = append(b.Reads, r)
			lastUser, lastConv = r.User, r.Conversation
			return nil
		})
	if err != nil {
		return err
	}

	const marks = `SELECT r.user_id, r.seq, n.id, r.read_at
		FROM notification_reads r JOIN notifications n ON n.seq = r.seq
		WHERE (r.user_id, r.seq) > (?, ?) ORDER BY r.user_id, r.seq LIMIT ?`
	var lastSeq int64
	lastUser = ""
	return e.pages(ctx, "notification reads", marks, func() []any { return []any{lastUser, lastSeq} },
		func(rows *sql.Rows, b *parley.TransferBatch) error {
			var r parley.ReadMark
			var at int64
			if err := rows.Scan(&r.User, &lastSeq, &r.Notification, &at); err != nil {
				return err
			}
			r.At = fromMicros(at)
			b.Reads = append(b.Reads, r)
			lastUser = r.User
			return nil
		})
}

// offsets exports the archived offsets in one batch: one row per
// partition, a few dozen in all.
func (e *exporter) offsets(ctx context.Context) error {
	const q = `SELECT pos_topic, pos_partition, next_offset FROM archived_offsets`
	offsets := map[parley.TopicPartition]int64{}
	_, err := e.page(ctx, q, nil, func(rows *sql.Rows) error {
		var tp parley.TopicPartition
		var off int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &off); err != nil {
			return err
		}
		offsets[tp] = off
		return nil
	})
	if err != nil {
		return fmt.Errorf("export archived offsets: %w", err)
	}
	if len(offsets) == 0 {
		return nil
	}
	return e.fn(&parley.TransferBatch{Offsets: offsets})
}
