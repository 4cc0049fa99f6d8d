package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley/internal/parley"
)

// The statements of Import that Archive has no counterpart of. Like
// Archive's, they take their rows as arrays and leave a row whose key is
// stored as it is.
const (
	importUsers = `INSERT INTO users (id, created_at, password_hash)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bytea[])
	ON CONFLICT DO NOTHING`

	importGroups = `INSERT INTO chat_groups (id, name, owner, strategy, created_at)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
	ON CONFLICT DO NOTHING`

	importMembers = `INSERT INTO members (group_id, user_id, role, joined_at)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
	ON CONFLICT DO NOTHING`

	// importNotifications is insertNotifications with the seq given. A
	// notification whose ID is stored is skipped; one whose seq another
	// notification holds fails the statement on the primary key.
	importNotifications = `WITH given AS (
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],
			$5::text[], $6::text[], $7::text[], $8::bytea[], $9::text[],
			$10::timestamptz[], $11::timestamptz[], $12::text[], $13::integer[],
			$14::bigint[])
			AS t (seq, id, recipients, title, body, kind, priority,
			data, collapse_key, expires_at, created_at,
			pos_topic, pos_partition, pos_offset)
	), added AS (
		INSERT INTO notifications (seq, id, broadcast, recipients, title, body,
			kind, priority, data, collapse_key, expires_at, created_at,
			pos_topic, pos_partition, pos_offset)
		OVERRIDING SYSTEM VALUE
		SELECT g.seq, g.id, cardinality(r.list) = 0, r.list, g.title, g.body,
			g.kind, g.priority, g.data, g.collapse_key, g.expires_at, g.created_at,
			g.pos_topic, g.pos_partition, g.pos_offset
		FROM given g,
			LATERAL (SELECT ARRAY(SELECT json_array_elements_text(g.recipients::json))) AS r (list)
		ON CONFLICT (id) DO NOTHING
		RETURNING seq, recipients, collapse_key
	)
	INSERT INTO notification_recipients (user_id, seq, collapse_key)
	SELECT u, a.seq, a.collapse_key FROM added a, unnest(a.recipients) AS u
	ON CONFLICT DO NOTHING`

	// advanceNotificationSeq makes the identity behind notifications.seq
	// continue after the largest seq stored, so that notifications
	// archived later sort after the imported ones.
	advanceNotificationSeq = `SELECT setval(pg_get_serial_sequence('notifications', 'seq'), max(seq))
	FROM notifications HAVING count(*) > 0`
)

var _ parley.Importer = (*Store)(nil)

// Import writes one batch of another store's contents in one transaction
// and one round trip. Entries, read marks and offsets go through Archive's
// statements, so they keep its rules. The target should not be in use by
// nodes meanwhile: a notification they archive during an Import may take a
// seq the import needs, which fails the import.
func (s *Store) Import(ctx context.Context, b *parley.TransferBatch) error {
	a := &archiveBatch{}
	queueUsers(a, b.Users)
	queueGroups(a, b.Groups)
	queueMembers(a, b.Members)
	queueMessages(a, b.Messages)
	queueParticipants(a, b.Participants)
	queueImportedNotifications(a, b.Notifications)
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
				return fmt.Errorf("%s: %w", step, conflict(err))
			}
		}
		return res.Close()
	})
	if err != nil {
		return fmt.Errorf("import batch: %w", err)
	}
	return nil
}

func queueUsers(a *archiveBatch, users []parley.Account) {
	if len(users) == 0 {
		return
	}
	ids := make([]string, len(users))
	created := make([]time.Time, len(users))
	hashes := make([][]byte, len(users))
	for i, u := range users {
		ids[i], created[i], hashes[i] = noNUL(u.User.ID), u.User.CreatedAt, u.PasswordHash
	}
	a.queue("import users", importUsers, ids, created, hashes)
}

func queueGroups(a *archiveBatch, groups []parley.Group) {
	if len(groups) == 0 {
		return
	}
	n := len(groups)
	ids, names, owners := make([]string, n), make([]string, n), make([]string, n)
	strategies := make([]string, n)
	created := make([]time.Time, n)
	for i, g := range groups {
		ids[i], names[i], owners[i] = noNUL(g.ID), noNUL(g.Name), noNUL(g.Owner)
		strategies[i], created[i] = noNUL(g.Strategy), g.CreatedAt
	}
	a.queue("import groups", importGroups, ids, names, owners, strategies, created)
}

func queueMembers(a *archiveBatch, members []parley.GroupMember) {
	if len(members) == 0 {
		return
	}
	n := len(members)
	groups, users, roles := make([]string, n), make([]string, n), make([]string, n)
	joined := make([]time.Time, n)
	for i, m := range members {
		groups[i], users[i], roles[i] = noNUL(m.Group), noNUL(m.Member.User), noNUL(m.Member.Role)
		joined[i] = m.Member.JoinedAt
	}
	a.queue("import members", importMembers, groups, users, roles, joined)
}

func queueParticipants(a *archiveBatch, ps []parley.DMParticipant) {
	if len(ps) == 0 {
		return
	}
	n := len(ps)
	users, convs, peers := make([]string, n), make([]string, n), make([]string, n)
	for i, p := range ps {
		users[i], convs[i], peers[i] = noNUL(p.User), noNUL(p.Conversation), noNUL(p.Peer)
	}
	a.queue("import participants", insertParticipants, users, convs, peers)
}

// queueImportedNotifications queues the notifications with their seqs and
// then moves the seq identity past them.
func queueImportedNotifications(a *archiveBatch, ns []parley.Notification) {
	if len(ns) == 0 {
		return
	}
	var cols notificationColumns
	seqs := make([]int64, len(ns))
	for i := range ns {
		cols.add(&ns[i])
		seqs[i] = ns[i].Seq
	}
	a.queue("import notifications", importNotifications, append([]any{seqs}, cols.args()...)...)
	a.queue("advance notification seq", advanceNotificationSeq)
}

// conflict wraps a unique violation, which only a notification's seq can
// cause here, in parley.ErrConflict.
func conflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", parley.ErrConflict, err)
	}
	return err
}
