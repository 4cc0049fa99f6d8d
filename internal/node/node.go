// Package node is what one Parley node does: the logic behind every request
// (accounts, sends, groups, history, notifications, subscriptions), the live
// dispatcher that turns the records it tails into events for the users
// connected here, and the archiver that writes records to the store.
//
// A node keeps nothing another node needs. Entries go to Kafka before
// anyone hears of them; accounts and memberships go to the store. The only
// state a node holds is caches (memberships, recent sends) that it can
// rebuild, and the subscriptions of its own connections.
//
// How delivery and resume fit together is described in docs/design.md.
package node

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// Config configures a Service. Store and Log are required.
type Config struct {
	Store parley.Store
	Log   parley.Log
	// Topics names the topics; zero fields take the defaults.
	Topics parley.Topics
	// DefaultStrategy is the topic strategy of new groups; "" is shared.
	DefaultStrategy string
	// Hub receives live events; nil means a new hub with default limits.
	Hub *hub.Hub
	// Registerer takes the node's Prometheus metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// CreateTopic creates dedicated group topics; nil refuses the dedicated
	// strategy.
	CreateTopic TopicCreator
	// MoveGrace is how long a group move waits for sends that read the old
	// strategy; it must exceed the producer's delivery timeout. Zero means
	// 11 seconds.
	MoveGrace time.Duration
}

// Service is one node's logic. Its methods are safe for concurrent use.
type Service struct {
	store    parley.Store
	log      parley.Log
	codec    parley.Codec
	hub      *hub.Hub
	logger   *slog.Logger
	now      func() time.Time
	strategy string
	metrics  *metrics

	dispatch    *dispatcher
	sends       *sendCache
	users       userCache
	createTopic TopicCreator
	moveGrace   time.Duration
	tailAdd     TailAdder

	// gen is the Seq generation once genLoaded; see generation.go.
	gen       atomic.Int64
	genLoaded atomic.Bool

	// wg tracks the replay goroutines of subscriptions.
	wg sync.WaitGroup
	// closing is closed by Close; replays stop on it.
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns a Service. Run its dispatcher by handing Dispatch and
// DispatchStart to a tail of MessageTopics and the notifications topic, and
// its archiver by handing Archive to consumer groups.
func New(cfg Config) *Service {
	s := &Service{
		store:    cfg.Store,
		log:      cfg.Log,
		codec:    parley.Codec{Topics: cfg.Topics.WithDefaults()},
		hub:      cfg.Hub,
		logger:   cfg.Logger,
		now:      cfg.Now,
		strategy: cfg.DefaultStrategy,
		sends:    newSendCache(100_000, 10*time.Minute),
		closing:  make(chan struct{}),

		createTopic: cfg.CreateTopic,
		moveGrace:   cfg.MoveGrace,
	}
	if s.moveGrace <= 0 {
		s.moveGrace = 11 * time.Second
	}
	if s.hub == nil {
		s.hub = hub.New(hub.Limits{})
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.logger = s.logger.With("component", "node")
	if s.now == nil {
		s.now = time.Now
	}
	// Stores keep microseconds: truncate here so a message read back from
	// history equals the one delivered live.
	clock := s.now
	s.now = func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	if s.strategy == "" {
		s.strategy = parley.StrategyShared
	}
	s.metrics = newMetrics(cfg.Registerer, s.hub)
	s.dispatch = newDispatcher(s)
	return s
}

// Topics returns the topic names in use.
func (s *Service) Topics() parley.Topics { return s.codec.Topics }

// TailTopics returns the topics the dispatcher must tail: the message
// topics and the notifications topic.
func (s *Service) TailTopics() []string {
	t := s.codec.Topics
	return []string{t.DirectMessages, t.GroupMessages, t.Notifications}
}

// ArchiveTopics returns the topics the archiver's consumer group reads, as
// regular expressions: the message topics and every dedicated group topic,
// also those created later.
func (s *Service) ArchiveTopics() []string {
	t := s.codec.Topics
	return []string{"^" + regexp.QuoteMeta(t.DirectMessages) + "$",
		"^" + regexp.QuoteMeta(t.GroupMessages) + "$", "^" + regexp.QuoteMeta(t.GroupPrefix) + ".+"}
}

// NotifyTopics returns the topics the notification processor reads.
func (s *Service) NotifyTopics() []string { return []string{s.codec.Topics.Notifications} }

// Hub returns the hub live events go to.
func (s *Service) Hub() *hub.Hub { return s.hub }

// Ready reports whether the store and the log answer, and the dispatcher
// has started.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return errors.Join(parley.ErrUnavailable, err)
	}
	if p, ok := s.log.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return errors.Join(parley.ErrUnavailable, err)
		}
	}
	if !s.dispatch.isStarted() {
		return parley.Errorf(parley.ErrUnavailable, "not_ready", "the live reader has not started yet")
	}
	return nil
}

// Close stops the replays of subscriptions and waits for them.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
}
