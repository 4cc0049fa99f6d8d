package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// SendInput is what a client sends.
type SendInput struct {
	Body string
	// ClientID, when set, makes the send idempotent: a retry with the same
	// client ID from the same sender yields the first message.
	ClientID string
}

// SendDM sends a direct message from one user to another.
func (s *Service) SendDM(ctx context.Context, from, to string, in SendInput) (parley.Message, error) {
	if err := checkSend(in); err != nil {
		return parley.Message{}, err
	}
	if _, err := s.User(ctx, to); err != nil {
		return parley.Message{}, err
	}
	return s.send(ctx, parley.DMConversation(from, to), "", from, in)
}

// SendGroup posts a message to a group the sender is a member of.
func (s *Service) SendGroup(ctx context.Context, from, groupID string, in SendInput) (parley.Message, error) {
	if err := checkSend(in); err != nil {
		return parley.Message{}, err
	}
	g, _, err := s.memberOf(ctx, from, groupID)
	if err != nil {
		return parley.Message{}, err
	}
	strategy, err := s.settled(ctx, g)
	if err != nil {
		return parley.Message{}, err
	}
	return s.send(ctx, parley.GroupConversation(groupID), strategy, from, in)
}

func checkSend(in SendInput) error {
	if err := parley.CheckBody(in.Body); err != nil {
		return err
	}
	return parley.CheckClientID(in.ClientID)
}

// send writes a message to Kafka and returns it once Kafka acknowledged
// it. With a client ID, a message already sent is returned instead: from
// this node's recent sends, then from the store.
func (s *Service) send(ctx context.Context, conv, strategy, from string, in SendInput) (
	parley.Message, error) {
	m := parley.Message{
		Type: parley.TypeMessage, Conversation: conv, From: from,
		Body: in.Body, ClientID: in.ClientID, SentAt: s.now().UTC(),
	}
	if in.ClientID == "" {
		m.ID = parley.NewID("m")
		return m, s.produceEntries(ctx, strategy, &m)
	}

	m.ID = parley.MessageID(conv, from, in.ClientID)
	done, prev, ok := s.sends.begin(m.ID)
	if ok {
		return prev, nil
	}
	var err error
	defer func() { done(m, err) }()

	old, lerr := s.store.MessageByID(ctx, conv, m.ID)
	switch {
	case lerr == nil:
		m = old
		return m, nil
	case !errors.Is(lerr, parley.ErrNotFound):
		err = fmt.Errorf("look up client id: %w", lerr)
		return parley.Message{}, err
	}
	err = s.produceEntries(ctx, strategy, &m)
	return m, err
}

// produceEntries writes entries of one conversation, in order, and sets
// their positions once Kafka acknowledged all of them.
func (s *Service) produceEntries(ctx context.Context, strategy string, ms ...*parley.Message) error {
	gen, err := s.generation(ctx)
	if err != nil {
		return err
	}
	recs := make([]*parley.Record, len(ms))
	for i, m := range ms {
		recs[i] = s.codec.EntryRecord(m, strategy)
	}
	start := time.Now()
	if err := s.log.Produce(ctx, recs...); err != nil {
		s.metrics.produceErrors.Inc()
		return fmt.Errorf("produce %s: %w", ms[0].Type, err)
	}
	s.metrics.produceSeconds.Observe(time.Since(start).Seconds())
	epoch := parley.EpochShared
	if strategy == parley.StrategyDedicated {
		epoch = parley.EpochDedicated
	}
	for i, m := range ms {
		s.metrics.produced.WithLabelValues(m.Type).Inc()
		m.Pos = recs[i].Pos()
		m.Seq = parley.WithGeneration(parley.SeqOf(epoch, recs[i].Offset), gen)
	}
	return nil
}

// sendCache remembers this node's recent sends by message ID, so a retry
// that reaches the same node before the archiver stored the first send
// gets the first message back, and concurrent retries produce once.
type sendCache struct {
	max int
	ttl time.Duration

	// mu guards the fields below.
	mu       sync.Mutex
	done     map[string]sentEntry
	order    []string // IDs in insertion order, for eviction
	inflight map[string]*inflightSend
}

type sentEntry struct {
	m  parley.Message
	at time.Time
}

type inflightSend struct {
	wait chan struct{}
	m    parley.Message
	err  error
}

func newSendCache(max int, ttl time.Duration) *sendCache {
	return &sendCache{max: max, ttl: ttl, done: map[string]sentEntry{}, inflight: map[string]*inflightSend{}}
}

// begin starts a send of id. When the ID was sent recently it returns that
// message and ok. Otherwise the caller sends and must call done with the
// outcome; a concurrent send of the same ID waits for it.
func (c *sendCache) begin(id string) (done func(parley.Message, error), prev parley.Message, ok bool) {
	for {
		c.mu.Lock()
		if e, found := c.done[id]; found && time.Since(e.at) < c.ttl {
			c.mu.Unlock()
			return nil, e.m, true
		}
		f := c.inflight[id]
		if f == nil {
			f = &inflightSend{wait: make(chan struct{})}
			c.inflight[id] = f
			c.mu.Unlock()
			return func(m parley.Message, err error) { c.finish(id, f, m, err) }, parley.Message{}, false
		}
		c.mu.Unlock()

		<-f.wait
		if f.err == nil {
			return nil, f.m, true
		}
		// The other send failed; try ourselves.
	}
}

func (c *sendCache) finish(id string, f *inflightSend, m parley.Message, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, id)
	f.m, f.err = m, err
	close(f.wait)
	if err != nil {
		return
	}
	if _, exists := c.done[id]; !exists {
		c.order = append(c.order, id)
	}
	c.done[id] = sentEntry{m: m, at: time.Now()}
	for len(c.order) > c.max {
		delete(c.done, c.order[0])
		c.order = c.order[1:]
	}
}
