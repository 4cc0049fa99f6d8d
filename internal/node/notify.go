package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// Notify writes a notification to the notifications topic on behalf of a
// server (the API key's holder) and returns it once Kafka acknowledged it.
// Every recipient must exist; no recipient means every user.
func (s *Service) Notify(ctx context.Context, n parley.Notification) (parley.Notification, error) {
	if n.ID == "" {
		n.ID = parley.NewID("n")
	}
	n.CreatedAt = s.now().UTC()
	rec := s.codec.NotificationRecord(&n)

	// Validate exactly as the notification processor will.
	rec.Time = n.CreatedAt
	parsed, err := parley.ParseNotification(rec)
	if err != nil {
		var d *parley.DeadLetterError
		if errors.As(err, &d) {
			return parley.Notification{}, parley.Errorf(parley.ErrInvalid, d.Reason, "%s", d.Detail)
		}
		return parley.Notification{}, err
	}
	if parsed.Expired(n.CreatedAt) {
		return parley.Notification{}, parley.Errorf(parley.ErrInvalid, "already_expired",
			"the notification expires before it is sent")
	}
	for _, u := range n.To {
		if _, err := s.User(ctx, u); err != nil {
			return parley.Notification{}, err
		}
	}

	if err := s.log.Produce(ctx, rec); err != nil {
		return parley.Notification{}, fmt.Errorf("produce notification: %w", err)
	}
	parsed.Pos = rec.Pos()
	parsed.CreatedAt = n.CreatedAt
	return *parsed, nil
}

// Inbox returns a page of the user's notifications, newest first, and the
// number of unread ones.
func (s *Service) Inbox(ctx context.Context, user string, p parley.Page) ([]parley.Notification, int, error) {
	p, err := checkPage(p)
	if err != nil {
		return nil, 0, err
	}
	now := s.now()
	ns, err := s.store.Inbox(ctx, user, p, now)
	if err != nil {
		return nil, 0, fmt.Errorf("load inbox: %w", err)
	}
	unread, err := s.store.UnreadNotifications(ctx, user, now)
	if err != nil {
		return nil, 0, fmt.Errorf("count unread: %w", err)
	}
	return ns, unread, nil
}

// MarkNotificationRead marks a notification read for the user and tells
// the user's other connections.
func (s *Service) MarkNotificationRead(ctx context.Context, user, id string) error {
	now := s.now().UTC()
	err := s.store.MarkNotificationRead(ctx, user, id, now)
	if errors.Is(err, parley.ErrNotFound) {
		return parley.Errorf(parley.ErrNotFound, "notification_not_found", "no notification %q among yours", id)
	} else if err != nil {
		return fmt.Errorf("mark notification read: %w", err)
	}
	r := &parley.ReadMark{User: user, Notification: id, At: now}
	if err := s.log.Produce(ctx, s.codec.ReadRecord(r, "")); err != nil {
		return fmt.Errorf("produce read mark: %w", err)
	}
	return nil
}
