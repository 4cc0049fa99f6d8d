package sqlite

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// userMessagesQuery selects the entries at offsets [?3, ?4) of partition
// (?1, ?2) in the DMs of user ?5 and the groups ?5 is a member of now.
const userMessagesQuery = `SELECT ` + messageCols + ` FROM messages m
	WHERE m.pos_topic = ?1 AND m.pos_partition = ?2
	AND m.pos_offset >= ?3 AND m.pos_offset < ?4
	AND (m.conversation IN (SELECT conversation FROM dm_participants WHERE user_id = ?5)
		OR m.conversation IN (SELECT 'group:' || group_id FROM members WHERE user_id = ?5))
	ORDER BY m.pos_offset`

// userNotificationsQuery selects the notifications at offsets [?3, ?4) of
// partition (?1, ?2) addressed to user ?5 or broadcast.
const userNotificationsQuery = `SELECT ` + notificationCols + ` FROM notifications n
	WHERE n.pos_topic = ?1 AND n.pos_partition = ?2
	AND n.pos_offset >= ?3 AND n.pos_offset < ?4
	AND (n.broadcast = 1 OR EXISTS (SELECT 1 FROM notification_recipients x
		WHERE x.user_id = ?5 AND x.seq = n.seq))
	ORDER BY n.pos_offset`

// UserEntries returns what the user can see among the archived records of
// one partition with from <= offset < to, ordered by offset. Both queries
// walk the partition's offset range in an index, so the cost is the size of
// the range, whatever the user.
func (s *Store) UserEntries(
	ctx context.Context, user string, tp parley.TopicPartition, from, to int64,
) ([]parley.Entry, error) {
	args := []any{tp.Topic, tp.Partition, from, to, user}
	msgs, err := s.userMessages(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("read user entries: %w", err)
	}
	notes, err := s.userNotifications(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("read user entries: %w", err)
	}

	// A partition normally holds one kind only; merge anyway.
	entries := make([]parley.Entry, 0, len(msgs)+len(notes))
	for len(msgs) > 0 || len(notes) > 0 {
		if len(notes) == 0 || len(msgs) > 0 && msgs[0].Pos.Offset <= notes[0].Pos.Offset {
			entries = append(entries, parley.Entry{Message: &msgs[0]})
			msgs = msgs[1:]
			continue
		}
		entries = append(entries, parley.Entry{Notification: &notes[0]})
		notes = notes[1:]
	}
	return entries, nil
}

// userMessages runs userMessagesQuery.
func (s *Store) userMessages(ctx context.Context, args []any) ([]parley.Message, error) {
	rows, err := s.query(ctx, userMessagesQuery, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var msgs []parley.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// userNotifications runs userNotificationsQuery.
func (s *Store) userNotifications(ctx context.Context, args []any) ([]parley.Notification, error) {
	rows, err := s.query(ctx, userNotificationsQuery, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var notes []parley.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	return notes, rows.Err()
}
