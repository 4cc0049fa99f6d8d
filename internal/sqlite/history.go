package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// messageCols are the columns scanMessage reads, in its order.
const messageCols = `m.conversation, m.seq, m.id, m.type, m.sender, m.body,
	m.client_id, m.sent_at, m.member_user, m.member_action, m.member_role,
	m.pos_topic, m.pos_partition, m.pos_offset`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanMessage reads the messageCols of one row, followed by extra.
func scanMessage(sc scanner, extra ...any) (parley.Message, error) {
	var m parley.Message
	var sent int64
	var mu, ma, mr sql.NullString
	dest := []any{&m.Conversation, &m.Seq, &m.ID, &m.Type, &m.From, &m.Body,
		&m.ClientID, &sent, &mu, &ma, &mr,
		&m.Pos.Topic, &m.Pos.Partition, &m.Pos.Offset}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return parley.Message{}, err
	}
	m.SentAt = fromMicros(sent)
	if mu.Valid {
		m.Member = &parley.MemberChange{User: mu.String, Action: ma.String, Role: mr.String}
	}
	return m, nil
}

// History returns a page of a conversation's entries, oldest first.
func (s *Store) History(
	ctx context.Context, conversation string, p parley.Page,
) ([]parley.Message, error) {
	lo, hi := p.Bounds()
	newest := p.Before > 0 || p.After == 0

	order := "ASC"
	if newest {
		order = "DESC"
	}
	q := `SELECT ` + messageCols + ` FROM messages m
		WHERE m.conversation = ? AND m.seq > ? AND m.seq < ?
		ORDER BY m.seq ` + order + ` LIMIT ?`
	rows, err := s.query(ctx, q, conversation, lo, hi, p.Size())
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()

	msgs := []parley.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if newest {
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// MessageByID returns an entry of a conversation by ID.
func (s *Store) MessageByID(ctx context.Context, conversation, id string) (parley.Message, error) {
	if !s.ids.mayHold(conversation, id) {
		return parley.Message{}, fmt.Errorf("read message %q: %w", id, parley.ErrNotFound)
	}
	q := `SELECT ` + messageCols + ` FROM messages m WHERE m.conversation = ? AND m.id = ?`
	m, err := scanMessage(s.queryRow(ctx, q, conversation, id))
	if err != nil {
		return parley.Message{}, fmt.Errorf("read message %q: %w", id, notFound(err))
	}
	return m, nil
}

// conversationsQuery lists the user's DMs and groups (?1 is the user) with
// the read cursor, the unread count and the newest entry of each. The
// unread count walks the messages_by_seq index from the read cursor on, so
// it costs the number of unread entries, not the conversation's length.
// Without a read cursor every entry is unread, seq 0 included.
const conversationsQuery = `
WITH convs (conversation, kind, peer, name, created_at) AS (
	SELECT conversation, 'dm', peer, '', 0
	FROM dm_participants WHERE user_id = ?1
	UNION ALL
	SELECT 'group:' || g.id, 'group', '', g.name, g.created_at
	FROM members gm JOIN chat_groups g ON g.id = gm.group_id
	WHERE gm.user_id = ?1
)
SELECT c.conversation, c.kind, c.peer, c.name, c.created_at,
	coalesce(r.seq, 0),
	(SELECT count(*) FROM messages u
		WHERE u.conversation = c.conversation AND u.seq > coalesce(r.seq, -1)
		AND u.type = 'message' AND u.sender <> ?1),
	m.rowid, ` + messageCols + `
FROM convs c
LEFT JOIN read_cursors r
	ON r.user_id = ?1 AND r.conversation = c.conversation
LEFT JOIN messages m ON m.rowid = (
	SELECT l.rowid FROM messages l WHERE l.conversation = c.conversation
	ORDER BY l.seq DESC LIMIT 1)`

// conversationRow is one row of conversationsQuery and the time it sorts by.
type conversationRow struct {
	sum      parley.ConversationSummary
	activity time.Time
}

// Conversations lists the user's conversations, newest activity first: the
// SentAt of the newest entry, or the creation time of a group without
// entries. Ties go by conversation ID.
func (s *Store) Conversations(
	ctx context.Context, user string,
) ([]parley.ConversationSummary, error) {
	rows, err := s.query(ctx, conversationsQuery, user)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()

	var list []conversationRow
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}

	slices.SortFunc(list, func(a, b conversationRow) int {
		if c := b.activity.Compare(a.activity); c != 0 {
			return c
		}
		return cmp.Compare(a.sum.ID, b.sum.ID)
	})
	out := make([]parley.ConversationSummary, len(list))
	for i, c := range list {
		out[i] = c.sum
	}
	return out, nil
}

// scanConversation reads one row of conversationsQuery. The message columns
// are NULL for a conversation without entries, hence the nullable copies.
func scanConversation(rows *sql.Rows) (conversationRow, error) {
	var c conversationRow
	var created int64
	var lastRow sql.NullInt64
	var conv, id, typ, from, body, clientID, topic, mu, ma, mr sql.NullString
	var seq, sent, partition, offset sql.NullInt64
	err := rows.Scan(&c.sum.ID, &c.sum.Kind, &c.sum.Peer, &c.sum.Name, &created,
		&c.sum.ReadSeq, &c.sum.Unread, &lastRow,
		&conv, &seq, &id, &typ, &from, &body, &clientID, &sent, &mu, &ma, &mr,
		&topic, &partition, &offset)
	if err != nil {
		return c, err
	}

	c.activity = fromMicros(created)
	if !lastRow.Valid {
		return c, nil
	}
	m := &parley.Message{
		ID: id.String, Type: typ.String, Conversation: conv.String,
		From: from.String, Body: body.String, ClientID: clientID.String,
		SentAt: fromMicros(sent.Int64), Seq: seq.Int64,
		Pos: parley.Position{
			Topic: topic.String, Partition: int32(partition.Int64), Offset: offset.Int64,
		},
	}
	if mu.Valid {
		m.Member = &parley.MemberChange{User: mu.String, Action: ma.String, Role: mr.String}
	}
	c.sum.Last = m
	c.activity = m.SentAt
	return c, nil
}

// MarkRead moves the user's read cursor in a conversation forward to seq.
func (s *Store) MarkRead(ctx context.Context, user, conversation string, seq int64) error {
	_, err := s.w.ExecContext(ctx, upsertReadCursor, user, conversation, seq, micros(time.Now()))
	if err != nil {
		return fmt.Errorf("mark %q read: %w", conversation, err)
	}
	return nil
}
