// Package hub fans events out to the live connections of one node.
//
// A connection (WebSocket or SSE) holds a Subscription: a bounded queue of
// encoded events for one user. The dispatcher publishes each event once, to
// the users it concerns; the hub appends the same *Delivery to each of their
// subscriptions without copying it, through a Batch that wakes each reader
// once for all the events of a poll. A subscription whose reader falls behind
// by more than its limits is closed with parley.ErrSlowConsumer, and its
// client resumes from its last stream cursor; it can never hold more memory
// than the limits allow, nor slow the dispatcher down.
//
// A new subscription starts out holding: while its owner replays what the
// client missed (Push), live events are held aside, then GoLive queues the
// held ones that the replay did not already cover.
package hub

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/parley-chat/parley/internal/parley"
)

// Delivery is one encoded event, shared by every subscription it goes to.
// It must not be modified once published.
type Delivery struct {
	// Data is the event as JSON, one line.
	Data []byte
	// Stream is the stream cursor to resume after this event; empty for
	// events that are not part of the stream (errors, pings).
	Stream string
	// Pos is where the event's record is in Kafka; Pos.Topic is empty when
	// the event has no record.
	Pos parley.Position
}

// Limits bound one subscription. Zero fields take the defaults.
type Limits struct {
	// QueueLen is the most deliveries waiting for the reader (default 4096).
	QueueLen int
	// QueueBytes is the most bytes of Data waiting (default 4 MiB).
	QueueBytes int
}

func (l Limits) withDefaults() Limits {
	if l.QueueLen <= 0 {
		l.QueueLen = 4096
	}
	if l.QueueBytes <= 0 {
		l.QueueBytes = 4 << 20
	}
	return l
}

const shardCount = 64

// keptQueueCap is the largest queue array a drained subscription keeps for
// its next deliveries; a larger one, left by a burst, is let go.
const keptQueueCap = 16

// Hub is the registry of one node's subscriptions. Safe for concurrent use.
type Hub struct {
	limits Limits
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	// mu guards subs.
	mu sync.RWMutex
	// subs lists each user's subscriptions, usually one; a slice costs
	// less to keep and to go through than a set.
	subs map[string][]*Subscription
}

// New returns an empty hub.
func New(limits Limits) *Hub {
	h := &Hub{limits: limits.withDefaults(), seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].subs = map[string][]*Subscription{}
	}
	return h
}

func (h *Hub) shard(user string) *shard {
	return &h.shards[maphash.String(h.seed, user)%shardCount]
}

// Register adds a holding subscription for the user. The caller replays
// what the client missed with Push, then calls GoLive, and Close when done.
func (h *Hub) Register(user string) *Subscription {
	s := &Subscription{hub: h, user: user, limits: h.limits, holding: true,
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
	sh := h.shard(user)
	sh.mu.Lock()
	sh.subs[user] = append(sh.subs[user], s)
	sh.mu.Unlock()
	return s
}

func (h *Hub) unregister(s *Subscription) {
	sh := h.shard(s.user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.subs[s.user]
	i := slices.Index(list, s)
	if i < 0 {
		return
	}
	last := len(list) - 1
	list[i], list[last] = list[last], nil
	if last == 0 {
		delete(sh.subs, s.user)
	} else {
		sh.subs[s.user] = list[:last]
	}
}

// Publish queues d on every subscription of the users and wakes their
// readers. It never blocks on a reader.
func (h *Hub) Publish(users []string, d *Delivery) { h.publish(users, d, nil) }

// PublishAll queues d on every subscription of the node.
func (h *Hub) PublishAll(d *Delivery) { h.publishAll(d, nil) }

// publish queues d on the users' subscriptions. With a nil ready list it
// wakes their readers at once; otherwise it adds the subscriptions whose
// queues it made non-empty to *ready, for the caller to wake.
func (h *Hub) publish(users []string, d *Delivery, ready *[]*Subscription) {
	for _, u := range users {
		sh := h.shard(u)
		sh.mu.RLock()
		for _, s := range sh.subs[u] {
			s.offer(d, ready)
		}
		sh.mu.RUnlock()
	}
}

func (h *Hub) publishAll(d *Delivery, ready *[]*Subscription) {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, list := range sh.subs {
			for _, s := range list {
				s.offer(d, ready)
			}
		}
		sh.mu.RUnlock()
	}
}

// A Batch publishes like Publish and PublishAll, but wakes the readers of
// the subscriptions it queued to only at Flush. A reader then finds every
// delivery of the batch in its queue, and a WebSocket sends them in one
// frame instead of one frame each: when the dispatcher is behind, a
// message to a large group costs one write per member for several
// messages, not for each. A Batch is for one goroutine at a time.
type Batch struct {
	hub *Hub
	// ready lists the subscriptions whose queues went from empty to
	// non-empty since the last Flush.
	ready []*Subscription
}

// keptReadyCap is the longest ready list a Batch keeps between flushes.
const keptReadyCap = 1 << 16

// NewBatch returns an empty batch on the hub.
func (h *Hub) NewBatch() *Batch { return &Batch{hub: h} }

// Publish queues d on every subscription of the users.
func (b *Batch) Publish(users []string, d *Delivery) { b.hub.publish(users, d, &b.ready) }

// PublishAll queues d on every subscription of the node.
func (b *Batch) PublishAll(d *Delivery) { b.hub.publishAll(d, &b.ready) }

// Waiting reports whether a reader waits for Flush to be woken.
func (b *Batch) Waiting() bool { return len(b.ready) > 0 }

// Flush wakes the readers of the subscriptions the batch queued to since
// the last Flush, unless they have emptied their queues meanwhile.
func (b *Batch) Flush() {
	for _, s := range b.ready {
		s.mu.Lock()
		s.batched = false
		if s.err == nil && len(s.queue) > 0 {
			s.signalLocked(true)
		}
		s.mu.Unlock()
	}
	clear(b.ready)
	if cap(b.ready) > keptReadyCap {
		b.ready = nil
	} else {
		b.ready = b.ready[:0]
	}
}

// Connected reports whether the user has at least one subscription here.
func (h *Hub) Connected(user string) bool {
	sh := h.shard(user)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.subs[user]) > 0
}

// Count returns the number of subscriptions.
func (h *Hub) Count() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, list := range sh.subs {
			n += len(list)
		}
		sh.mu.RUnlock()
	}
	return n
}

// Subscription is one connection's queue of events.
type Subscription struct {
	hub    *Hub
	user   string
	limits Limits
	wake   chan struct{} // a token when the queue gained something
	notify func()        // set by OnReady; called under mu
	room   chan struct{} // a token when the reader took from the queue
	done   chan struct{} // closed by fail or Close

	// mu guards the fields below.
	mu        sync.Mutex
	queue     []*Delivery
	bytes     int
	holding   bool
	held      []*Delivery
	heldBytes int
	batched   bool // on a Batch's ready list
	err       error
}

// User returns the subscription's user.
func (s *Subscription) User() string { return s.user }

// Done is closed when the subscription ends.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended, nil while it runs.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// offer queues a live delivery, or holds it while the subscription holds;
// see Hub.publish for ready.
func (s *Subscription) offer(d *Delivery, ready *[]*Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.holding {
		if len(s.held) >= s.limits.QueueLen || s.heldBytes+len(d.Data) > s.limits.QueueBytes {
			s.failLocked(parley.ErrSlowConsumer)
			return
		}
		s.held = append(s.held, d)
		s.heldBytes += len(d.Data)
		return
	}
	s.enqueueLocked(d, ready)
}

// enqueueLocked queues d; see Hub.publish for ready.
func (s *Subscription) enqueueLocked(d *Delivery, ready *[]*Subscription) {
	if len(s.queue) >= s.limits.QueueLen || s.bytes+len(d.Data) > s.limits.QueueBytes {
		s.failLocked(parley.ErrSlowConsumer)
		return
	}
	s.queue = append(s.queue, d)
	s.bytes += len(d.Data)
	first := len(s.queue) == 1
	if ready == nil {
		s.signalLocked(first)
	} else if first && !s.batched {
		s.batched = true
		*ready = append(*ready, s)
	}
}

// signalLocked wakes the reader: one parked in Next, and the OnReady
// function when the queue has just become non-empty.
func (s *Subscription) signalLocked(first bool) {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if first && s.notify != nil {
		s.notify()
	}
}

// Push queues a delivery of the replay, waiting for room in the queue
// rather than failing, until ctx is done or the subscription ends.
func (s *Subscription) Push(ctx context.Context, d *Delivery) error {
	for {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		if len(s.queue) < s.limits.QueueLen && s.bytes+len(d.Data) <= s.limits.QueueBytes {
			s.enqueueLocked(d, nil)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
		case <-s.room:
		}
	}
}

// GoLive ends holding: it queues the held deliveries whose records the
// replay did not cover (offset >= covered[partition]; deliveries of other
// partitions and without a record always), and from then on live
// deliveries go straight to the queue.
func (s *Subscription) GoLive(covered map[parley.TopicPartition]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.held
	s.held, s.heldBytes, s.holding = nil, 0, false
	for _, d := range held {
		if s.err != nil {
			return
		}
		if d.Pos.Topic != "" {
			if end, ok := covered[d.Pos.TP()]; ok && d.Pos.Offset < end {
				continue
			}
		}
		s.enqueueLocked(d, nil)
	}
}

// Next waits for deliveries and returns up to max of them (all queued when
// max <= 0). It returns the subscription's error once it has ended and its
// queue is drained; ctx's error when ctx ends first.
func (s *Subscription) Next(ctx context.Context, max int) ([]*Delivery, error) {
	for {
		if out, err := s.TryNext(max); len(out) > 0 || err != nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.wake:
		case <-s.done:
		}
	}
}

// TryNext is Next without the wait: with nothing queued it returns no
// deliveries and a nil error. A reader that has no goroutine waiting uses
// it with OnReady.
func (s *Subscription) TryNext(max int) ([]*Delivery, error) {
	s.mu.Lock()
	n := len(s.queue)
	if n == 0 {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	if max <= 0 || max > n {
		max = n
	}
	out := make([]*Delivery, max)
	copy(out, s.queue)
	clear(s.queue[:max])
	switch {
	case max < n:
		s.queue = s.queue[max:]
	case cap(s.queue) <= keptQueueCap:
		s.queue = s.queue[:0] // the next delivery needs no allocation
	default:
		s.queue = nil // let a burst's array go
	}
	for _, d := range out {
		s.bytes -= len(d.Data)
	}
	s.mu.Unlock()
	select {
	case s.room <- struct{}{}:
	default:
	}
	return out, nil
}

// OnReady makes the subscription call f when its queue goes from empty to
// holding deliveries and when it ends, so that its reader needs no
// goroutine parked in Next. If deliveries are queued already, or the
// subscription has ended, f runs at once. A reader woken by f must take
// deliveries with TryNext until it gets none: f is not called again while
// the queue stays non-empty. f runs under the subscription's lock, so it
// must be quick and must not call the subscription.
func (s *Subscription) OnReady(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notify = f
	if len(s.queue) > 0 || s.err != nil {
		f()
	}
}

// Fail ends the subscription with err; its reader sees err from Next.
func (s *Subscription) Fail(err error) {
	s.mu.Lock()
	s.failLocked(err)
	s.mu.Unlock()
}

func (s *Subscription) failLocked(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	s.queue, s.held, s.bytes, s.heldBytes = nil, nil, 0, 0
	close(s.done)
	if s.notify != nil {
		s.notify()
	}
}

// Close ends the subscription and removes it from the hub. Its owner must
// call it, also after the subscription failed: a failed subscription stays
// registered (and ignored) until then, because failing happens inside
// Publish, under the lock that unregistering needs.
func (s *Subscription) Close() {
	s.Fail(ErrClosed)
	s.hub.unregister(s)
}

// ErrClosed is the error of a subscription its owner closed.
var ErrClosed = errors.New("subscription closed")
