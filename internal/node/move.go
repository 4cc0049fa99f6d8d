package node

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// TopicCreator creates a group's dedicated topic with the settings the
// operator configured. It must succeed when the topic exists already.
type TopicCreator func(ctx context.Context, topic string) error

// TailAdder makes the node's tail read a topic from its start. The
// dispatcher calls it, from the tail's goroutine, when it meets the record
// that moves a group to its dedicated topic.
type TailAdder func(ctx context.Context, topic string) error

// SetTailAdder sets the function that adds topics to the tail. Call it
// before the tail starts.
func (s *Service) SetTailAdder(add TailAdder) { s.tailAdd = add }

// MoveGroup moves a group from the shared topic to a topic of its own,
// while it has traffic, without losing, duplicating or reordering a
// message:
//
//  1. it creates the topic and marks the group as moving: from then on
//     sends to the group wait (on every node: the mark is in the store);
//  2. it waits out the producer's delivery timeout, so that every send
//     that read the old strategy has been acknowledged or has failed;
//  3. it writes the topic record to the shared topic, keyed by the group
//     and so after every entry the group has there; each node's dispatcher
//     starts tailing the new topic when it reads that record;
//  4. it marks the group dedicated, and the waiting sends go to the new
//     topic. Their cursors carry the dedicated epoch (see parley.SeqOf), so
//     history orders them after everything on the shared topic.
//
// A move that failed half-way can be run again.
func (s *Service) MoveGroup(ctx context.Context, groupID string) (parley.Group, error) {
	g, err := s.store.Group(ctx, groupID)
	if err != nil {
		return parley.Group{}, parley.Errorf(parley.ErrNotFound, "group_not_found", "no group %q", groupID)
	}
	if g.Strategy == parley.StrategyDedicated {
		return parley.Group{}, parley.Errorf(parley.ErrConflict, "already_dedicated",
			"group %q already has its own topic", groupID)
	}
	if s.createTopic == nil {
		return parley.Group{}, parley.Errorf(parley.ErrUnavailable, "no_topic_admin",
			"this node cannot create topics")
	}
	topic := s.codec.Topics.Dedicated(groupID)
	s.logger.Info("moving group to its own topic", "group", groupID, "topic", topic)
	if err := s.createTopic(ctx, topic); err != nil {
		return parley.Group{}, fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := s.store.SetGroupStrategy(ctx, groupID, parley.StrategyMoving); err != nil {
		return parley.Group{}, fmt.Errorf("mark group moving: %w", err)
	}

	select {
	case <-ctx.Done():
		return parley.Group{}, ctx.Err()
	case <-time.After(s.moveGrace):
	}
	if err := s.log.Produce(ctx, s.codec.TopicRecord(groupID)); err != nil {
		return parley.Group{}, fmt.Errorf("produce topic record: %w", err)
	}
	if err := s.store.SetGroupStrategy(ctx, groupID, parley.StrategyDedicated); err != nil {
		return parley.Group{}, fmt.Errorf("mark group dedicated: %w", err)
	}
	g.Strategy = parley.StrategyDedicated
	s.logger.Info("group moved to its own topic", "group", groupID, "topic", topic)
	return g, nil
}

// settled returns the group's strategy once no move is under way, waiting
// for a move to end (at most a minute).
func (s *Service) settled(ctx context.Context, g parley.Group) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for g.Strategy == parley.StrategyMoving {
		if time.Now().After(deadline) {
			return "", parley.Errorf(parley.ErrUnavailable, "group_moving",
				"the group is moving to its own topic; try again")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		var err error
		if g, err = s.store.Group(ctx, g.ID); err != nil {
			return "", fmt.Errorf("load group: %w", err)
		}
	}
	return g.Strategy, nil
}
