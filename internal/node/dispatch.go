package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// DispatchStart tells the dispatcher where the tail starts: the next offset
// of every partition it reads. The tail calls it once, before Dispatch, and
// again for partitions it adds later.
func (s *Service) DispatchStart(pos map[parley.TopicPartition]int64) { s.dispatch.start(pos) }

// Dispatch turns records of the tail into live events for the users
// connected here. The tail calls it from one goroutine with the records
// of each poll, in offset order within each partition. ctx bounds the
// store look-ups it may need.
func (s *Service) Dispatch(ctx context.Context, recs []*parley.Record) {
	s.dispatch.handle(ctx, recs)
}

// maxWakeDelay bounds how long the dispatcher holds back waking the
// connections of a poll's first records while it dispatches the rest.
// Dispatching a message to 10,000 members takes a few milliseconds, so a
// poll holding a backlog of them goes out a few messages per frame.
const maxWakeDelay = 10 * time.Millisecond

// dispatcher delivers tailed records to the hub and keeps the tail's
// position, which resuming subscriptions replay up to.
//
// Invariant: the position of a record is advanced before the record is
// published, and a subscription registers before it reads the position.
// So every record is either at or past the position a subscription read
// (and then published to it, held until it goes live) or before it (and
// then replayed to it), and GoLive drops what both paths delivered.
type dispatcher struct {
	s       *Service
	members *memberCache
	seen    *recentSet
	// batch queues a poll's events and wakes their connections once,
	// at the end of the poll or after maxWakeDelay.
	batch *hub.Batch

	// mu guards pos and started.
	mu        sync.Mutex
	pos       parley.StreamCursor
	started   bool
	startedCh chan struct{}
}

func newDispatcher(s *Service) *dispatcher {
	return &dispatcher{
		s:         s,
		members:   newMemberCache(s.store, time.Minute),
		seen:      newRecentSet(1 << 16),
		batch:     s.hub.NewBatch(),
		pos:       parley.StreamCursor{},
		startedCh: make(chan struct{}),
	}
}

func (d *dispatcher) start(pos map[parley.TopicPartition]int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for tp, off := range pos {
		if cur, ok := d.pos[tp]; !ok || off > cur {
			d.pos[tp] = off
		}
	}
	if !d.started {
		d.started = true
		close(d.startedCh)
	}
}

func (d *dispatcher) isStarted() bool {
	select {
	case <-d.startedCh:
		return true
	default:
		return false
	}
}

// snapshot returns the tail's position.
func (d *dispatcher) snapshot() parley.StreamCursor {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pos.Clone()
}

// handle dispatches a poll's records in one batch: a connection that
// several of them go to gets them in one wake-up, so a WebSocket sends
// them in one frame.
func (d *dispatcher) handle(ctx context.Context, recs []*parley.Record) {
	started := time.Now()
	for _, rec := range recs {
		d.handleOne(ctx, rec)
		if d.batch.Waiting() && time.Since(started) >= maxWakeDelay {
			d.batch.Flush()
			started = time.Now()
		}
	}
	d.batch.Flush()
}

func (d *dispatcher) handleOne(ctx context.Context, rec *parley.Record) {
	d.s.metrics.dispatched.WithLabelValues(rec.Topic).Inc()
	dec, err := d.s.decode(ctx, rec, false)
	if err == nil && dec.Topic != nil {
		d.follow(ctx, dec.Topic)
	}
	var users []string
	all := false
	if err == nil && !d.duplicate(dec) {
		users, all = d.recipients(ctx, dec)
	}
	connected := all && d.s.hub.Count() > 0 || !all && slices.ContainsFunc(users, d.s.hub.Connected)

	d.mu.Lock()
	if off := rec.Offset + 1; off > d.pos[rec.TP()] {
		d.pos[rec.TP()] = off
	}
	var stream string
	if connected {
		stream = d.pos.String()
	}
	d.mu.Unlock()

	if !connected {
		return
	}
	del := delivery(dec, rec.Pos(), stream)
	if all {
		d.batch.PublishAll(del)
	} else {
		d.batch.Publish(users, del)
	}
	d.s.metrics.deliveries.Inc()
}

// follow starts tailing a group's dedicated topic. The topic record comes
// after the group's last entry on the shared topic, so nothing of the
// group is dispatched out of order.
func (d *dispatcher) follow(ctx context.Context, tc *parley.TopicChange) {
	if d.s.tailAdd == nil {
		return
	}
	if err := d.s.tailAdd(ctx, tc.Topic); err != nil {
		d.s.logger.Error("cannot tail a group's topic; its live events stop here",
			"group", tc.Group, "topic", tc.Topic, "err", err)
		return
	}
	d.s.logger.Debug("tailing a group's topic", "group", tc.Group, "topic", tc.Topic)
}

// duplicate reports whether a message with a client ID was seen before:
// two nodes that each got the same retried send both produce it, and
// clients must see it once.
func (d *dispatcher) duplicate(dec parley.Decoded) bool {
	m := dec.Message
	if m == nil || m.ClientID == "" {
		return false
	}
	return !d.seen.add(m.Conversation + "\x00" + m.ID)
}

// recipients returns the users an event goes to, or all for every user.
func (d *dispatcher) recipients(ctx context.Context, dec parley.Decoded) (users []string, all bool) {
	switch {
	case dec.Message != nil:
		m := dec.Message
		kind, ids, _ := parley.ParseConversation(m.Conversation)
		if kind == parley.KindDM {
			return dedupe(ids), false
		}
		users = d.members.get(ctx, ids[0])
		if m.Type == parley.TypeMember {
			users = d.members.apply(ids[0], users, m.Member)
		}
		if m.Type == parley.TypeMember && !slices.Contains(users, m.Member.User) {
			users = append(slices.Clip(users), m.Member.User)
		}
		return users, false
	case dec.Read != nil:
		r := dec.Read
		if kind, ids, ok := parley.ParseConversation(r.Conversation); ok && kind == parley.KindDM {
			return dedupe(ids), false // the peer sees the read receipt
		}
		return []string{r.User}, false
	case dec.Notification != nil:
		n := dec.Notification
		if n.Expired(d.s.now()) {
			return nil, false
		}
		return n.To, n.Broadcast()
	}
	return nil, false
}

func dedupe(ids []string) []string {
	if len(ids) == 2 && ids[0] == ids[1] {
		return ids[:1]
	}
	return ids
}

// memberCache caches the member lists of groups for the dispatcher. An
// entry is dropped when a membership event passes, and after ttl at the
// latest, in case an event was lost.
type memberCache struct {
	store parley.Store
	ttl   time.Duration

	// mu guards groups.
	mu     sync.Mutex
	groups map[string]cachedMembers
}

type cachedMembers struct {
	users []string
	at    time.Time
}

const maxCachedGroups = 100_000

func newMemberCache(store parley.Store, ttl time.Duration) *memberCache {
	return &memberCache{store: store, ttl: ttl, groups: map[string]cachedMembers{}}
}

func (c *memberCache) get(ctx context.Context, groupID string) []string {
	c.mu.Lock()
	e, ok := c.groups[groupID]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.users
	}
	members, err := c.store.Members(ctx, groupID)
	if err != nil {
		// Without the store no member list: the event is not delivered
		// live, and clients get it from history or on resume.
		return nil
	}
	users := make([]string, len(members))
	for i, m := range members {
		users[i] = m.User
	}
	c.mu.Lock()
	if len(c.groups) >= maxCachedGroups {
		clear(c.groups)
	}
	c.groups[groupID] = cachedMembers{users: users, at: time.Now()}
	c.mu.Unlock()
	return users
}

// apply updates the group's cached member list, users, with a membership
// change and returns the new list. Updating it in place, rather than
// reading the list again, keeps a group that thousands join in a row from
// costing a read of the whole list per join.
func (c *memberCache) apply(groupID string, users []string, ch *parley.MemberChange) []string {
	switch ch.Action {
	case parley.ActionJoined:
		if !slices.Contains(users, ch.User) {
			// Appending writes past the length that earlier readers of
			// the list see, never into it.
			users = append(users, ch.User)
		}
	case parley.ActionRemoved, parley.ActionLeft:
		users = slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == ch.User })
	case parley.ActionRole:
		return users
	default:
		c.mu.Lock()
		delete(c.groups, groupID)
		c.mu.Unlock()
		return users
	}
	c.mu.Lock()
	if e, ok := c.groups[groupID]; ok {
		c.groups[groupID] = cachedMembers{users: users, at: e.at}
	}
	c.mu.Unlock()
	return users
}

// recentSet remembers the last n keys added.
type recentSet struct {
	// mu guards the fields below.
	mu   sync.Mutex
	keys map[string]struct{}
	ring []string
	next int
}

func newRecentSet(n int) *recentSet {
	return &recentSet{keys: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add adds key and reports whether it was new.
func (r *recentSet) add(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[key]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.keys, old)
	}
	r.ring[r.next] = key
	r.next = (r.next + 1) % len(r.ring)
	r.keys[key] = struct{}{}
	return true
}
