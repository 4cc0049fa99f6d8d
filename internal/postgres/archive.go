package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// The statements of Archive take their rows as arrays, one per column. The
// ON CONFLICT DO NOTHING clauses make replays no-ops: the first
// (conversation, id) and the first notification id stored win, also within
// one batch, whose rows go in in batch order. Read cursors and offsets only
// move forward: the WHERE of the upsert leaves a row that is ahead as it is
// (it does what GREATEST would, without writing a new row version when
// nothing moves). Rows whose order does not matter go in sorted by key, so
// that two nodes writing overlapping rows lock them in the same order.
const (
	insertMessages = `INSERT INTO messages (conversation, id, seq, type, sender,
		body, client_id, sent_at, member_user, member_action, member_role,
		pos_topic, pos_partition, pos_offset)
	SELECT conversation, id, seq, type, sender, body, client_id, sent_at,
		member_user, member_action, member_role, pos_topic, pos_partition, pos_offset
	FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
		$6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[],
		$12::text[], $13::integer[], $14::bigint[])
		WITH ORDINALITY AS t (conversation, id, seq, type, sender, body, client_id,
		sent_at, member_user, member_action, member_role,
		pos_topic, pos_partition, pos_offset, ord)
	ORDER BY ord
	ON CONFLICT (conversation, id) DO NOTHING`

	insertParticipants = `INSERT INTO dm_participants (user_id, conversation, peer)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
	ON CONFLICT DO NOTHING`

	// insertNotifications inserts the notifications new to the store, in
	// batch order so that their seqs follow it, and the recipients of
	// those it inserted. Recipient lists come as JSON arrays, one per
	// notification, since PostgreSQL arrays cannot be ragged.
	insertNotifications = `WITH given AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
			$5::text[], $6::text[], $7::bytea[], $8::text[], $9::timestamptz[],
			$10::timestamptz[], $11::text[], $12::integer[], $13::bigint[])
			WITH ORDINALITY AS t (id, recipients, title, body, kind, priority,
			data, collapse_key, expires_at, created_at,
			pos_topic, pos_partition, pos_offset, ord)
	), added AS (
		INSERT INTO notifications (id, broadcast, recipients, title, body, kind,
			priority, data, collapse_key, expires_at, created_at,
			pos_topic, pos_partition, pos_offset)
		SELECT g.id, cardinality(r.list) = 0, r.list, g.title, g.body, g.kind,
			g.priority, g.data, g.collapse_key, g.expires_at, g.created_at,
			g.pos_topic, g.pos_partition, g.pos_offset
		FROM given g,
			LATERAL (SELECT ARRAY(SELECT json_array_elements_text(g.recipients::json))) AS r (list)
		ORDER BY g.ord
		ON CONFLICT (id) DO NOTHING
		RETURNING seq, recipients, collapse_key
	)
	INSERT INTO notification_recipients (user_id, seq, collapse_key)
	SELECT u, a.seq, a.collapse_key FROM added a, unnest(a.recipients) AS u
	ORDER BY u, a.seq
	ON CONFLICT DO NOTHING`

	// readCursorForward ends the upserts of read cursors.
	readCursorForward = `
	ON CONFLICT (user_id, conversation) DO UPDATE
	SET seq = excluded.seq, read_at = excluded.read_at
	WHERE excluded.seq > read_cursors.seq`

	// upsertReadCursors keeps, per user and conversation, the batch's
	// highest mark: one statement may not change a row twice.
	upsertReadCursors = `INSERT INTO read_cursors (user_id, conversation, seq, read_at)
	SELECT DISTINCT ON (user_id, conversation) user_id, conversation, seq, read_at
	FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
		AS t (user_id, conversation, seq, read_at)
	ORDER BY user_id, conversation, seq DESC` + readCursorForward

	// insertNotificationReads drops a mark naming a notification the store
	// does not hold; it sees those inserted earlier in the batch.
	insertNotificationReads = `INSERT INTO notification_reads (user_id, seq, read_at)
	SELECT t.user_id, n.seq, t.read_at
	FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t (user_id, id, read_at)
	JOIN notifications n ON n.id = t.id COLLATE "C"
	ORDER BY t.user_id, n.seq
	ON CONFLICT DO NOTHING`

	upsertOffsets = `INSERT INTO archived_offsets (pos_topic, pos_partition, next_offset)
	SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
	ON CONFLICT (pos_topic, pos_partition) DO UPDATE
	SET next_offset = excluded.next_offset
	WHERE excluded.next_offset > archived_offsets.next_offset`
)

// archiveBatch is the statements of one Archive call, each named for
// errors.
type archiveBatch struct {
	pgx.Batch
	steps []string
}

// queue adds a statement done by step.
func (a *archiveBatch) queue(step, sql string, args ...any) {
	a.Queue(sql, args...)
	a.steps = append(a.steps, step)
}

// Archive writes one batch in one transaction and one round trip. The
// statements run in order, each seeing what the ones before wrote:
// messages, DM participants, notifications with their recipients, read
// marks (which may name a notification of the same batch), offsets.
func (s *Store) Archive(ctx context.Context, b *parley.Batch) error {
	a := &archiveBatch{}
	queueMessages(a, b.Messages)
	queueNotifications(a, b.Notifications)
	queueReads(a, b.Reads)
	queueOffsets(a, b.Offsets)
	if len(a.steps) == 0 {
		return nil
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res := tx.SendBatch(ctx, &a.Batch)
		for _, step := range a.steps {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return fmt.Errorf("%s: %w", step, err)
			}
		}
		return res.Close()
	})
	if err != nil {
		return fmt.Errorf("archive batch: %w", err)
	}
	return nil
}

// messageColumns holds entries column by column, as unnest takes them.
type messageColumns struct {
	conv, id, typ, from, body, clientID, topic []string
	memberUser, memberAction, memberRole       []*string // nil for NULL
	seq, offset                                []int64
	partition                                  []int32
	sentAt                                     []time.Time
}

func (c *messageColumns) add(m *parley.Message) {
	c.conv = append(c.conv, noNUL(m.Conversation))
	c.id = append(c.id, noNUL(m.ID))
	c.seq = append(c.seq, m.Seq)
	c.typ = append(c.typ, noNUL(m.Type))
	c.from = append(c.from, noNUL(m.From))
	c.body = append(c.body, noNUL(m.Body))
	c.clientID = append(c.clientID, noNUL(m.ClientID))
	c.sentAt = append(c.sentAt, m.SentAt)
	var mu, ma, mr *string
	if ch := m.Member; ch != nil {
		u, a, r := noNUL(ch.User), noNUL(ch.Action), noNUL(ch.Role)
		mu, ma, mr = &u, &a, &r
	}
	c.memberUser = append(c.memberUser, mu)
	c.memberAction = append(c.memberAction, ma)
	c.memberRole = append(c.memberRole, mr)
	c.topic = append(c.topic, m.Pos.Topic)
	c.partition = append(c.partition, m.Pos.Partition)
	c.offset = append(c.offset, m.Pos.Offset)
}

// args returns the columns in the order of insertMessages.
func (c *messageColumns) args() []any {
	return []any{c.conv, c.id, c.seq, c.typ, c.from, c.body, c.clientID, c.sentAt,
		c.memberUser, c.memberAction, c.memberRole, c.topic, c.partition, c.offset}
}

// queueMessages queues the entries and the two participants of each DM
// conversation among them.
func queueMessages(a *archiveBatch, msgs []parley.Message) {
	if len(msgs) == 0 {
		return
	}
	var cols messageColumns
	dms := map[string][]string{}
	for i := range msgs {
		m := &msgs[i]
		cols.add(m)
		if _, seen := dms[m.Conversation]; seen {
			continue
		}
		kind, users, ok := parley.ParseConversation(m.Conversation)
		if ok && kind == parley.KindDM {
			dms[m.Conversation] = users
		}
	}
	a.queue("insert messages", insertMessages, cols.args()...)
	if len(dms) == 0 {
		return
	}

	type participant struct{ user, conv, peer string }
	var ps []participant
	for conv, u := range dms {
		ps = append(ps, participant{u[0], conv, u[1]}, participant{u[1], conv, u[0]})
	}
	slices.SortFunc(ps, func(x, y participant) int {
		return cmp.Or(strings.Compare(x.user, y.user), strings.Compare(x.conv, y.conv))
	})
	users, convs, peers := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		users[i], convs[i], peers[i] = p.user, p.conv, p.peer
	}
	a.queue("insert participants", insertParticipants, users, convs, peers)
}

// notificationColumns holds notifications column by column.
type notificationColumns struct {
	id, to, title, body, kind, priority, key, topic []string
	data                                            [][]byte     // nil for NULL
	expiresAt                                       []*time.Time // nil for NULL
	createdAt                                       []time.Time
	partition                                       []int32
	offset                                          []int64
}

func (c *notificationColumns) add(n *parley.Notification) {
	c.id = append(c.id, noNUL(n.ID))
	c.to = append(c.to, recipients(n))
	c.title = append(c.title, noNUL(n.Title))
	c.body = append(c.body, noNUL(n.Body))
	c.kind = append(c.kind, noNUL(n.Kind))
	c.priority = append(c.priority, noNUL(n.Priority))
	c.data = append(c.data, n.Data)
	c.key = append(c.key, noNUL(n.CollapseKey))
	var expires *time.Time
	if !n.ExpiresAt.IsZero() {
		expires = &n.ExpiresAt
	}
	c.expiresAt = append(c.expiresAt, expires)
	c.createdAt = append(c.createdAt, n.CreatedAt)
	c.topic = append(c.topic, n.Pos.Topic)
	c.partition = append(c.partition, n.Pos.Partition)
	c.offset = append(c.offset, n.Pos.Offset)
}

// args returns the columns in the order of insertNotifications.
func (c *notificationColumns) args() []any {
	return []any{c.id, c.to, c.title, c.body, c.kind, c.priority, c.data, c.key,
		c.expiresAt, c.createdAt, c.topic, c.partition, c.offset}
}

// queueNotifications queues the notifications and their recipients.
func queueNotifications(a *archiveBatch, ns []parley.Notification) {
	if len(ns) == 0 {
		return
	}
	var cols notificationColumns
	for i := range ns {
		cols.add(&ns[i])
	}
	a.queue("insert notifications", insertNotifications, cols.args()...)
}

// recipients returns the JSON array of a notification's recipients, [] for
// a broadcast.
func recipients(n *parley.Notification) string {
	to := make([]string, len(n.To))
	for i, u := range n.To {
		to[i] = noNUL(u)
	}
	b, _ := json.Marshal(to) // a []string always encodes
	return string(b)
}

// queueReads queues the conversation read marks and the notification ones.
func queueReads(a *archiveBatch, reads []parley.ReadMark) {
	var cu, cc, nu, ni []string
	var cs []int64
	var ca, na []time.Time
	for _, r := range reads {
		switch {
		case r.Notification != "":
			nu, ni = append(nu, noNUL(r.User)), append(ni, noNUL(r.Notification))
			na = append(na, r.At)
		case r.Conversation != "":
			cu, cc = append(cu, noNUL(r.User)), append(cc, noNUL(r.Conversation))
			cs, ca = append(cs, r.Seq), append(ca, r.At)
		}
	}
	if len(cu) > 0 {
		a.queue("move read cursors", upsertReadCursors, cu, cc, cs, ca)
	}
	if len(nu) > 0 {
		a.queue("mark notifications read", insertNotificationReads, nu, ni, na)
	}
}

// queueOffsets queues the batch's offsets.
func queueOffsets(a *archiveBatch, offsets map[parley.TopicPartition]int64) {
	if len(offsets) == 0 {
		return
	}
	tps := slices.SortedFunc(maps.Keys(offsets), func(x, y parley.TopicPartition) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	n := len(tps)
	topics, parts, offs := make([]string, n), make([]int32, n), make([]int64, n)
	for i, tp := range tps {
		topics[i], parts[i], offs[i] = tp.Topic, tp.Partition, offsets[tp]
	}
	a.queue("record offsets", upsertOffsets, topics, parts, offs)
}

// noNUL returns s with each NUL character, which PostgreSQL's text cannot
// hold, replaced by U+FFFD.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// ArchivedOffsets returns, per partition, the offset after the last record
// Archive has seen.
func (s *Store) ArchivedOffsets(ctx context.Context) (map[parley.TopicPartition]int64, error) {
	const q = `SELECT pos_topic, pos_partition, next_offset FROM archived_offsets`
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read archived offsets: %w", err)
	}
	defer rows.Close()

	offsets := map[parley.TopicPartition]int64{}
	for rows.Next() {
		var tp parley.TopicPartition
		var off int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &off); err != nil {
			return nil, fmt.Errorf("read archived offsets: %w", err)
		}
		offsets[tp] = off
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read archived offsets: %w", err)
	}
	return offsets, nil
}

// ResetArchivedOffset sets a partition's archived offset, also backwards.
func (s *Store) ResetArchivedOffset(
	ctx context.Context, tp parley.TopicPartition, offset int64,
) error {
	const q = `INSERT INTO archived_offsets (pos_topic, pos_partition, next_offset)
		VALUES ($1, $2, $3)
		ON CONFLICT (pos_topic, pos_partition) DO UPDATE
		SET next_offset = excluded.next_offset`
	if _, err := s.pool.Exec(ctx, q, tp.Topic, tp.Partition, offset); err != nil {
		return fmt.Errorf("reset archived offset: %w", err)
	}
	return nil
}
