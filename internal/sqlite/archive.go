package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/parley-chat/parley/internal/parley"
)

// archiveStmts are the statements Archive runs once per record, prepared
// once on the writer connection.
type archiveStmts struct {
	message      *sql.Stmt
	participant  *sql.Stmt
	notification *sql.Stmt
	recipient    *sql.Stmt
	readConv     *sql.Stmt
	readNotif    *sql.Stmt
	offset       *sql.Stmt
}

// The ON CONFLICT DO NOTHING clauses make replays no-ops: the first
// (conversation, id) and the first notification id stored win.
const (
	insertMessage = `INSERT INTO messages (conversation, seq, id, type, sender,
		body, client_id, sent_at, member_user, member_action, member_role,
		pos_topic, pos_partition, pos_offset)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	insertParticipant = `INSERT INTO dm_participants (user_id, conversation, peer)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	insertNotification = `INSERT INTO notifications (id, broadcast, recipients,
		title, body, kind, priority, data, collapse_key, expires_at, created_at,
		pos_topic, pos_partition, pos_offset)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	insertRecipient = `INSERT INTO notification_recipients (user_id, seq, collapse_key)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	upsertReadCursor = `INSERT INTO read_cursors (user_id, conversation, seq, read_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, conversation) DO UPDATE
		SET seq = excluded.seq, read_at = excluded.read_at
		WHERE excluded.seq > read_cursors.seq`
	insertNotificationRead = `INSERT INTO notification_reads (user_id, seq, read_at)
		SELECT ?, seq, ? FROM notifications WHERE id = ?
		ON CONFLICT DO NOTHING`
	upsertOffset = `INSERT INTO archived_offsets (pos_topic, pos_partition, next_offset)
		VALUES (?, ?, ?)
		ON CONFLICT (pos_topic, pos_partition) DO UPDATE
		SET next_offset = excluded.next_offset
		WHERE excluded.next_offset > archived_offsets.next_offset`
)

// prepareArchive prepares the archive statements on db.
func prepareArchive(ctx context.Context, db *sql.DB) (*archiveStmts, error) {
	a := &archiveStmts{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&a.message, insertMessage},
		{&a.participant, insertParticipant},
		{&a.notification, insertNotification},
		{&a.recipient, insertRecipient},
		{&a.readConv, upsertReadCursor},
		{&a.readNotif, insertNotificationRead},
		{&a.offset, upsertOffset},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			a.close()
			return nil, err
		}
		*p.dst = st
	}
	return a, nil
}

// close closes the statements prepared so far.
func (a *archiveStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{
		a.message, a.participant, a.notification, a.recipient,
		a.readConv, a.readNotif, a.offset,
	} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Archive writes one batch in one transaction: messages, then notifications,
// then read marks (which may name a notification of the same batch), then
// offsets.
//
// The transaction does not watch ctx: the driver would start a goroutine
// per statement to interrupt it (two statements per notification), and
// a batch takes milliseconds. A batch cut short would only be archived
// again.
func (s *Store) Archive(ctx context.Context, b *parley.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("archive batch: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	build := s.ids.add(b.Messages)
	var dms []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if dms, err = s.archiveMessages(ctx, tx, b.Messages); err != nil {
			return err
		}
		if err := s.archiveNotifications(ctx, tx, b.Notifications); err != nil {
			return err
		}
		if err := s.archiveReads(ctx, tx, b.Reads); err != nil {
			return err
		}
		return s.archiveOffsets(ctx, tx, b.Offsets)
	})
	if err != nil {
		return fmt.Errorf("archive batch: %w", err)
	}
	s.archived(b.Messages, build, dms)
	return nil
}

// archived records what a committed transaction stored: the messages in
// the ID filter, if a filter build started after the messages were added
// to it before the transaction, and the DM conversations whose
// participants are stored.
func (s *Store) archived(msgs []parley.Message, build int, dms []string) {
	if s.ids.addAgain(msgs, build) {
		s.startIDFilterBuild()
	}
	s.dms.add(dms)
}

// archiveMessages inserts the entries and, once per DM conversation of the
// batch not known to be stored, its two participants; it returns those
// conversations. Its callers add the entries to the ID filter before the
// transaction, so that a lookup never misses one that is committed.
func (s *Store) archiveMessages(ctx context.Context, tx *sql.Tx, msgs []parley.Message) ([]string, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	ins := tx.StmtContext(ctx, s.stmts.message)
	convs := map[string]bool{}
	for i := range msgs {
		m := &msgs[i]
		var mu, ma, mr sql.NullString
		if m.Member != nil {
			mu = sql.NullString{String: m.Member.User, Valid: true}
			ma = sql.NullString{String: m.Member.Action, Valid: true}
			mr = sql.NullString{String: m.Member.Role, Valid: true}
		}
		_, err := ins.ExecContext(ctx, m.Conversation, m.Seq, m.ID, m.Type, m.From,
			m.Body, m.ClientID, micros(m.SentAt), mu, ma, mr,
			m.Pos.Topic, m.Pos.Partition, m.Pos.Offset)
		if err != nil {
			return nil, fmt.Errorf("insert message %q: %w", m.ID, err)
		}
		convs[m.Conversation] = true
	}

	part := tx.StmtContext(ctx, s.stmts.participant)
	var dms []string
	for conv := range convs {
		kind, users, ok := parley.ParseConversation(conv)
		if !ok || kind != parley.KindDM || s.dms.has(conv) {
			continue
		}
		a, b := users[0], users[1]
		if _, err := part.ExecContext(ctx, a, conv, b); err != nil {
			return nil, fmt.Errorf("insert participant: %w", err)
		}
		if _, err := part.ExecContext(ctx, b, conv, a); err != nil {
			return nil, fmt.Errorf("insert participant: %w", err)
		}
		dms = append(dms, conv)
	}
	return dms, nil
}

// maxKnownDMs bounds knownDMs; past it the set starts again empty.
const maxKnownDMs = 1 << 20

// knownDMs remembers DM conversations whose participants are stored, so
// that archiving a conversation's messages inserts its participants once,
// not once per batch. Participants are never deleted.
type knownDMs struct {
	// mu guards convs.
	mu    sync.Mutex
	convs map[string]struct{}
}

func (k *knownDMs) has(conv string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.convs[conv]
	return ok
}

// add records conversations whose participants a committed transaction
// stored.
func (k *knownDMs) add(convs []string) {
	if len(convs) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.convs == nil || len(k.convs)+len(convs) > maxKnownDMs {
		k.convs = make(map[string]struct{}, len(convs))
	}
	for _, c := range convs {
		k.convs[c] = struct{}{}
	}
}

// archiveNotifications inserts the notifications new to the store and their
// recipients. A notification whose ID is stored is skipped whole.
func (s *Store) archiveNotifications(
	ctx context.Context, tx *sql.Tx, ns []parley.Notification,
) error {
	if len(ns) == 0 {
		return nil
	}
	ins := tx.StmtContext(ctx, s.stmts.notification)
	rcpt := tx.StmtContext(ctx, s.stmts.recipient)
	for i := range ns {
		n := &ns[i]
		to, err := json.Marshal(recipients(n))
		if err != nil {
			return fmt.Errorf("encode recipients: %w", err)
		}
		res, err := ins.ExecContext(ctx, n.ID, n.Broadcast(), string(to),
			n.Title, n.Body, n.Kind, n.Priority, nullBytes(n.Data), n.CollapseKey,
			nullMicros(n.ExpiresAt), micros(n.CreatedAt),
			n.Pos.Topic, n.Pos.Partition, n.Pos.Offset)
		if err != nil {
			return fmt.Errorf("insert notification %q: %w", n.ID, err)
		}
		added, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert notification %q: %w", n.ID, err)
		}
		if added == 0 {
			continue // a replay: the stored one wins
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert notification %q: %w", n.ID, err)
		}
		for _, u := range n.To {
			if _, err := rcpt.ExecContext(ctx, u, seq, n.CollapseKey); err != nil {
				return fmt.Errorf("insert recipient: %w", err)
			}
		}
	}
	return nil
}

// recipients returns To, never nil, so a broadcast is stored as [].
func recipients(n *parley.Notification) []string {
	if n.To == nil {
		return []string{}
	}
	return n.To
}

// archiveReads applies conversation read marks (forward only) and
// notification read marks (the first one wins). A mark naming a
// notification the store does not hold is dropped.
func (s *Store) archiveReads(ctx context.Context, tx *sql.Tx, reads []parley.ReadMark) error {
	if len(reads) == 0 {
		return nil
	}
	conv := tx.StmtContext(ctx, s.stmts.readConv)
	notif := tx.StmtContext(ctx, s.stmts.readNotif)
	for _, r := range reads {
		var err error
		switch {
		case r.Notification != "":
			_, err = notif.ExecContext(ctx, r.User, micros(r.At), r.Notification)
		case r.Conversation != "":
			_, err = conv.ExecContext(ctx, r.User, r.Conversation, r.Seq, micros(r.At))
		}
		if err != nil {
			return fmt.Errorf("apply read mark of %q: %w", r.User, err)
		}
	}
	return nil
}

// archiveOffsets records the batch's offsets; the highest one wins.
func (s *Store) archiveOffsets(
	ctx context.Context, tx *sql.Tx, offsets map[parley.TopicPartition]int64,
) error {
	if len(offsets) == 0 {
		return nil
	}
	st := tx.StmtContext(ctx, s.stmts.offset)
	for tp, off := range offsets {
		if _, err := st.ExecContext(ctx, tp.Topic, tp.Partition, off); err != nil {
			return fmt.Errorf("record offset: %w", err)
		}
	}
	return nil
}

// ArchivedOffsets returns, per partition, the offset after the last record
// Archive has seen.
func (s *Store) ArchivedOffsets(ctx context.Context) (map[parley.TopicPartition]int64, error) {
	const q = `SELECT pos_topic, pos_partition, next_offset FROM archived_offsets`
	rows, err := s.query(ctx, q)
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
		VALUES (?, ?, ?)
		ON CONFLICT (pos_topic, pos_partition) DO UPDATE
		SET next_offset = excluded.next_offset`
	if _, err := s.w.ExecContext(ctx, q, tp.Topic, tp.Partition, offset); err != nil {
		return fmt.Errorf("reset archived offset: %w", err)
	}
	return nil
}
