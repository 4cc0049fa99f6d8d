package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// messageCols are the columns scanMessage reads, in its order.
const messageCols = `m.conversation, m.seq, m.id, m.type, m.sender, m.body,
	m.client_id, m.sent_at, m.member_user, m.member_action, m.member_role,
	m.pos_topic, m.pos_partition, m.pos_offset`

// scanMessage reads the messageCols of one row, followed by extra.
func scanMessage(row pgx.Row, extra ...any) (parley.Message, error) {
	var m parley.Message
	var mu, ma, mr *string
	dest := []any{&m.Conversation, &m.Seq, &m.ID, &m.Type, &m.From, &m.Body,
		&m.ClientID, &m.SentAt, &mu, &ma, &mr,
		&m.Pos.Topic, &m.Pos.Partition, &m.Pos.Offset}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return parley.Message{}, err
	}
	m.SentAt = m.SentAt.UTC()
	if mu != nil {
		m.Member = &parley.MemberChange{User: *mu, Action: deref(ma), Role: deref(mr)}
	}
	return m, nil
}

// collectMessage is scanMessage for pgx.CollectRows.
func collectMessage(row pgx.CollectableRow) (parley.Message, error) { return scanMessage(row) }

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
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
		WHERE m.conversation = $1 AND m.seq > $2 AND m.seq < $3
		ORDER BY m.seq ` + order + ` LIMIT $4`
	rows, err := s.pool.Query(ctx, q, conversation, lo, hi, p.Size())
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, collectMessage)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if newest {
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// MessageByID returns an entry of a conversation by ID.
func (s *Store) MessageByID(ctx context.Context, conversation, id string) (parley.Message, error) {
	q := `SELECT ` + messageCols + ` FROM messages m WHERE m.conversation = $1 AND m.id = $2`
	m, err := scanMessage(s.pool.QueryRow(ctx, q, conversation, id))
	if err != nil {
		return parley.Message{}, fmt.Errorf("read message %q: %w", id, notFound(err))
	}
	return m, nil
}

// conversationsQuery lists the conversations of user $1 with the read
// cursor, the unread count and the newest entry of each, newest activity
// first: the newest entry's SentAt, or the creation time of a group
// without entries (a DM is listed only once it has an entry); ties go by
// conversation ID. The unread count walks messages_by_seq from the read
// cursor on, so it costs the number of unread entries, not the
// conversation's length. Without a read cursor every entry is unread, seq
// 0 included.
const conversationsQuery = `
WITH convs (conversation, kind, peer, name, created_at) AS (
	SELECT conversation, 'dm', peer, '', NULL::timestamptz
	FROM dm_participants WHERE user_id = $1
	UNION ALL
	SELECT 'group:' || g.id, 'group', '', g.name, g.created_at
	FROM members gm JOIN chat_groups g ON g.id = gm.group_id
	WHERE gm.user_id = $1
)
SELECT c.conversation, c.kind, c.peer, c.name,
	coalesce(r.seq, 0),
	(SELECT count(*) FROM messages u
		WHERE u.conversation = c.conversation AND u.seq > coalesce(r.seq, -1)
		AND u.type = 'message' AND u.sender <> $1),
	m.id IS NOT NULL, ` + messageCols + `
FROM convs c
LEFT JOIN read_cursors r ON r.user_id = $1 AND r.conversation = c.conversation
LEFT JOIN LATERAL (
	SELECT * FROM messages l WHERE l.conversation = c.conversation
	ORDER BY l.seq DESC LIMIT 1) m ON true
ORDER BY coalesce(m.sent_at, c.created_at) DESC, c.conversation`

// Conversations lists the user's conversations, newest activity first.
func (s *Store) Conversations(
	ctx context.Context, user string,
) ([]parley.ConversationSummary, error) {
	rows, err := s.pool.Query(ctx, conversationsQuery, user)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanConversation)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return list, nil
}

// scanConversation reads one row of conversationsQuery. The message columns
// are NULL for a conversation without entries, hence the nullable copies.
func scanConversation(row pgx.CollectableRow) (parley.ConversationSummary, error) {
	var c parley.ConversationSummary
	var hasLast bool
	var conv, id, typ, from, body, clientID, topic, mu, ma, mr *string
	var seq, offset *int64
	var partition *int32
	var sent *time.Time
	err := row.Scan(&c.ID, &c.Kind, &c.Peer, &c.Name, &c.ReadSeq, &c.Unread, &hasLast,
		&conv, &seq, &id, &typ, &from, &body, &clientID, &sent, &mu, &ma, &mr,
		&topic, &partition, &offset)
	if err != nil || !hasLast {
		return c, err
	}

	m := &parley.Message{
		ID: *id, Type: *typ, Conversation: *conv, From: *from, Body: *body,
		ClientID: *clientID, SentAt: sent.UTC(), Seq: *seq,
		Pos: parley.Position{Topic: *topic, Partition: *partition, Offset: *offset},
	}
	if mu != nil {
		m.Member = &parley.MemberChange{User: *mu, Action: deref(ma), Role: deref(mr)}
	}
	c.Last = m
	return c, nil
}

// MarkRead moves the user's read cursor in a conversation forward to seq.
func (s *Store) MarkRead(ctx context.Context, user, conversation string, seq int64) error {
	const q = `INSERT INTO read_cursors (user_id, conversation, seq, read_at)
		VALUES ($1, $2, $3, $4)` + readCursorForward
	if _, err := s.pool.Exec(ctx, q, user, conversation, seq, time.Now()); err != nil {
		return fmt.Errorf("mark %q read: %w", conversation, err)
	}
	return nil
}
