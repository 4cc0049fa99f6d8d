package node

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// DMHistory returns a page of the DM between user and peer, oldest first.
func (s *Service) DMHistory(ctx context.Context, user, peer string, p parley.Page) ([]parley.Message, error) {
	if _, err := s.User(ctx, peer); err != nil {
		return nil, err
	}
	return s.history(ctx, parley.DMConversation(user, peer), p)
}

// GroupHistory returns a page of a group's history, for a member.
func (s *Service) GroupHistory(ctx context.Context, user, groupID string, p parley.Page) (
	[]parley.Message, error) {
	if _, _, err := s.memberOf(ctx, user, groupID); err != nil {
		return nil, err
	}
	return s.history(ctx, parley.GroupConversation(groupID), p)
}

func (s *Service) history(ctx context.Context, conv string, p parley.Page) ([]parley.Message, error) {
	p, err := checkPage(p)
	if err != nil {
		return nil, err
	}
	ms, err := s.store.History(ctx, conv, p)
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	return ms, nil
}

func checkPage(p parley.Page) (parley.Page, error) {
	switch {
	case p.Limit == 0:
		p.Limit = parley.DefaultPageLimit
	case p.Limit < 0 || p.Limit > parley.MaxPageLimit:
		return p, parley.Errorf(parley.ErrInvalid, "invalid_limit", "limit must be 1 to %d", parley.MaxPageLimit)
	}
	if p.Before < 0 || p.After < 0 {
		return p, parley.Errorf(parley.ErrInvalid, "invalid_cursor", "cursors are not negative")
	}
	return p, nil
}

// Conversations lists a user's conversations with unread counts and the
// newest entry, newest activity first.
func (s *Service) Conversations(ctx context.Context, user string) ([]parley.ConversationSummary, error) {
	cs, err := s.store.Conversations(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return cs, nil
}

// MarkRead moves the user's read cursor in a conversation forward and tells
// the user's other connections (and, in a DM, the peer) live.
func (s *Service) MarkRead(ctx context.Context, user, conv string, seq int64) error {
	strategy, err := s.access(ctx, user, conv)
	if err != nil {
		return err
	}
	if seq <= 0 {
		return parley.Errorf(parley.ErrInvalid, "invalid_cursor", "a read mark needs a cursor")
	}
	if err := s.store.MarkRead(ctx, user, conv, seq); err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	r := &parley.ReadMark{User: user, Conversation: conv, Seq: seq, At: s.now().UTC()}
	if err := s.log.Produce(ctx, s.codec.ReadRecord(r, strategy)); err != nil {
		return fmt.Errorf("produce read mark: %w", err)
	}
	return nil
}

// access checks that user may read conv and returns the conversation's
// group strategy ("" for a DM).
func (s *Service) access(ctx context.Context, user, conv string) (string, error) {
	kind, ids, ok := parley.ParseConversation(conv)
	notFound := parley.Errorf(parley.ErrNotFound, "conversation_not_found",
		"no conversation %q among yours", conv)
	switch {
	case !ok:
		return "", notFound
	case kind == parley.KindDM:
		if ids[0] != user && ids[1] != user {
			return "", notFound
		}
		return "", nil
	}
	g, _, err := s.memberOf(ctx, user, ids[0])
	if err != nil {
		return "", notFound
	}
	return s.settled(ctx, g)
}
