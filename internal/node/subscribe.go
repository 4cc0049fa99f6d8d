package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// replayWindow is how many offsets of a partition one store query of a
// replay covers, bounding the entries it loads at once.
const replayWindow = 5000

// Subscribe opens a live stream of the user's events. With a nil cursor the
// stream starts now, with a "ready" event. With a cursor from an earlier
// stream it first replays every event after the cursor (from the store for
// what the archiver has written, from Kafka for the rest) exactly once, then
// sends "ready" and goes live. The caller reads with Next and must Close
// the subscription; the replay stops with ctx.
func (s *Service) Subscribe(ctx context.Context, user string, from parley.StreamCursor) (
	*hub.Subscription, error) {
	select {
	case <-s.dispatch.startedCh:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closing:
		return nil, parley.Errorf(parley.ErrUnavailable, "shutting_down", "the server is shutting down")
	}

	// Register before reading the tail's position: see dispatcher.
	sub := s.hub.Register(user)
	live := s.dispatch.snapshot()
	if from == nil {
		if err := sub.Push(ctx, readyDelivery(live.String())); err != nil {
			sub.Close()
			return nil, err
		}
		sub.GoLive(live)
		return sub, nil
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		covered, err := s.replay(ctx, sub, from, live)
		if err != nil {
			s.logger.Debug("replay failed", "user", user, "err", err)
			sub.Fail(err)
			return
		}
		if err := sub.Push(ctx, readyDelivery(covered.String())); err != nil {
			sub.Fail(err)
			return
		}
		sub.GoLive(covered)
	}()
	return sub, nil
}

// replay pushes what the user missed between from and live, partition by
// partition, and returns the position the stream has covered.
func (s *Service) replay(ctx context.Context, sub *hub.Subscription, from, live parley.StreamCursor) (
	parley.StreamCursor, error) {
	archived, err := s.store.ArchivedOffsets(ctx)
	if err != nil {
		return nil, fmt.Errorf("load archived offsets: %w", err)
	}
	bounds, err := s.log.Bounds(ctx, topicsOf(live)...)
	if err != nil {
		return nil, fmt.Errorf("load partition bounds: %w", err)
	}

	r := &replayer{s: s, sub: sub, user: sub.User(), progress: from.Clone(), groups: map[string]bool{}}
	covered := live.Clone()
	for _, tp := range sortedTPs(live) {
		start, end := from[tp], live[tp]
		if start > bounds[tp].End {
			// The broker numbered the partition anew (see
			// RepairArchivedOffsets): all of it is after the cursor.
			start = 0
		} else if start > end {
			// The cursor came from a node whose tail is ahead of ours.
			covered[tp] = start
			continue
		}
		start = max(start, bounds[tp].Start)
		if start >= end {
			continue
		}
		if err := r.partition(ctx, tp, start, end, archived[tp]); err != nil {
			return nil, err
		}
		r.progress[tp] = end
	}
	return covered, nil
}

// replayer pushes one subscription's missed events.
type replayer struct {
	s        *Service
	sub      *hub.Subscription
	user     string
	progress parley.StreamCursor // what the client has, as pushed so far
	groups   map[string]bool     // membership of the user, looked up once
}

// partition replays [start, end) of tp: from the store below the archived
// offset, from Kafka above it.
func (r *replayer) partition(ctx context.Context, tp parley.TopicPartition,
	start, end, archived int64) error {
	storeEnd := min(archived, end)
	for lo := start; lo < storeEnd; lo += replayWindow {
		hi := min(lo+replayWindow, storeEnd)
		entries, err := r.s.store.UserEntries(ctx, r.user, tp, lo, hi)
		if err != nil {
			return fmt.Errorf("load entries to replay: %w", err)
		}
		for _, e := range entries {
			dec := parley.Decoded{Message: e.Message, Notification: e.Notification}
			if err := r.push(ctx, dec, e.Pos()); err != nil {
				return err
			}
		}
	}
	from := max(start, storeEnd)
	if from >= end {
		return nil
	}
	return r.s.log.Replay(ctx, tp, from, end, func(rec *parley.Record) error {
		dec, err := r.s.decode(ctx, rec, true)
		var d *parley.DeadLetterError
		if errors.As(err, &d) || err == nil && !r.visible(ctx, dec) {
			return nil
		} else if err != nil {
			return err
		}
		return r.push(ctx, dec, rec.Pos())
	})
}

func (r *replayer) push(ctx context.Context, dec parley.Decoded, pos parley.Position) error {
	if n := dec.Notification; n != nil && n.Expired(r.s.now()) {
		return nil
	}
	r.progress[pos.TP()] = pos.Offset + 1
	r.s.metrics.replayed.Inc()
	return r.sub.Push(ctx, delivery(dec, pos, r.progress.String()))
}

// visible reports whether a record read from Kafka is for the user. Read
// marks are not replayed: the conversation list has the read state.
func (r *replayer) visible(ctx context.Context, dec parley.Decoded) bool {
	switch {
	case dec.Message != nil:
		kind, ids, _ := parley.ParseConversation(dec.Message.Conversation)
		if kind == parley.KindDM {
			return ids[0] == r.user || ids[1] == r.user
		}
		member, ok := r.groups[ids[0]]
		if !ok {
			_, err := r.s.store.Member(ctx, ids[0], r.user)
			member = err == nil
			r.groups[ids[0]] = member
		}
		return member || dec.Message.Type == parley.TypeMember && dec.Message.Member.User == r.user
	case dec.Notification != nil:
		return dec.Notification.Broadcast() || slices.Contains(dec.Notification.To, r.user)
	}
	return false
}

func topicsOf(c parley.StreamCursor) []string {
	set := map[string]bool{}
	for tp := range c {
		set[tp.Topic] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func sortedTPs(c parley.StreamCursor) []parley.TopicPartition {
	return slices.SortedFunc(maps.Keys(c), func(a, b parley.TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}
