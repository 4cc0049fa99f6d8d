package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// notificationCols are the columns scanNotification reads, in its order.
const notificationCols = `n.seq, n.id, n.recipients, n.title, n.body, n.kind,
	n.priority, n.data, n.collapse_key, n.expires_at, n.created_at,
	n.pos_topic, n.pos_partition, n.pos_offset`

// scanNotification reads the notificationCols of one row, then extra.
func scanNotification(row pgx.Row, extra ...any) (parley.Notification, error) {
	var n parley.Notification
	var data []byte
	var expires *time.Time
	dest := []any{&n.Seq, &n.ID, &n.To, &n.Title, &n.Body, &n.Kind,
		&n.Priority, &data, &n.CollapseKey, &expires, &n.CreatedAt,
		&n.Pos.Topic, &n.Pos.Partition, &n.Pos.Offset}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return parley.Notification{}, err
	}

	if len(n.To) == 0 {
		n.To = nil
	}
	if data != nil {
		n.Data = json.RawMessage(data)
	}
	if expires != nil {
		n.ExpiresAt = expires.UTC()
	}
	n.CreatedAt = n.CreatedAt.UTC()
	return n, nil
}

// collectNotification is scanNotification for pgx.CollectRows.
func collectNotification(row pgx.CollectableRow) (parley.Notification, error) {
	return scanNotification(row)
}

// inboxWith and inboxFrom, with a SELECT list between them, select the
// notifications user $1 sees with seq in ($2, $3), not expired at $4, and
// r, the user's read mark, NULL when unread. A notification is hidden when
// the user has not read it and a newer one with the same collapse key is
// visible to the user, expired or not: a replacement does not come undone
// when it expires.
//
// Every candidate comes from an index that starts with the user (addressed)
// or holds broadcasts only, and the collapse test is two index probes.
const (
	inboxWith = `
WITH visible (seq) AS (
	SELECT seq FROM notification_recipients WHERE user_id = $1 AND seq > $2 AND seq < $3
	UNION ALL
	SELECT seq FROM notifications WHERE broadcast AND seq > $2 AND seq < $3
)
`
	inboxFrom = `
FROM visible v
JOIN notifications n ON n.seq = v.seq
LEFT JOIN notification_reads r ON r.user_id = $1 AND r.seq = n.seq
WHERE (n.expires_at IS NULL OR n.expires_at > $4)
AND (n.collapse_key = '' OR r.seq IS NOT NULL OR NOT (
	EXISTS (SELECT 1 FROM notifications b
		WHERE b.broadcast AND b.collapse_key <> ''
		AND b.collapse_key = n.collapse_key AND b.seq > n.seq)
	OR EXISTS (SELECT 1 FROM notification_recipients x
		WHERE x.user_id = $1 AND x.collapse_key <> ''
		AND x.collapse_key = n.collapse_key AND x.seq > n.seq)))`
)

// Inbox returns a page of the notifications the user can see, newest first.
// With only Page.After set, the page holds the oldest Limit notifications
// after it, still newest first.
func (s *Store) Inbox(
	ctx context.Context, user string, p parley.Page, now time.Time,
) ([]parley.Notification, error) {
	lo, hi := p.Bounds()
	newest := p.Before > 0 || p.After == 0
	order := "DESC"
	if !newest {
		order = "ASC"
	}

	q := inboxWith + `SELECT ` + notificationCols + `, r.seq IS NOT NULL` + inboxFrom +
		` ORDER BY n.seq ` + order + ` LIMIT $5`
	rows, err := s.pool.Query(ctx, q, user, lo, hi, now, p.Size())
	if err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Notification, error) {
		var read bool
		n, err := scanNotification(row, &read)
		n.Read = read
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	if !newest {
		slices.Reverse(list)
	}
	return list, nil
}

// UnreadNotifications counts what Inbox would show as unread.
func (s *Store) UnreadNotifications(ctx context.Context, user string, now time.Time) (int, error) {
	q := inboxWith + `SELECT count(*)` + inboxFrom + ` AND r.seq IS NULL`
	var n int
	err := s.pool.QueryRow(ctx, q, user, -1, int64(math.MaxInt64), now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	return n, nil
}

// MarkNotificationRead marks one notification read for the user; ErrNotFound
// when it is neither addressed to the user nor a broadcast. The insert runs
// whatever the count reads, which tells a notification already marked from
// one the user cannot see.
func (s *Store) MarkNotificationRead(ctx context.Context, user, id string, at time.Time) error {
	const q = `WITH seen AS (
		SELECT n.seq FROM notifications n WHERE n.id = $1
		AND (n.broadcast OR EXISTS (SELECT 1 FROM notification_recipients x
			WHERE x.user_id = $2 AND x.seq = n.seq))
	), marked AS (
		INSERT INTO notification_reads (user_id, seq, read_at)
		SELECT $2, seq, $3 FROM seen
		ON CONFLICT DO NOTHING
	)
	SELECT count(*) FROM seen`
	var n int
	err := s.pool.QueryRow(ctx, q, id, user, at).Scan(&n)
	if err == nil && n == 0 {
		err = parley.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("mark notification %q read: %w", id, err)
	}
	return nil
}
