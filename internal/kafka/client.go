// Package kafka is Parley's Kafka client, built on franz-go (kgo and kadm);
// it is the only package that imports them. It implements parley.Log
// (produce, replay, bounds) and adds what the nodes and the CLI need on top:
// a live reader that tails topics from their end without a consumer group
// (Tailer), a group consumer that commits only what its handler accepted
// (Consume), topic administration (EnsureTopics, DescribeTopics,
// AlterTopic, ListTopics, CommitGroupOffsets), and retention for the
// embedded broker (ApplyRetention).
//
// One Client holds one franz-go client that every producer and admin call
// shares; Tailer and Consume each open a client of their own, because a
// franz-go client consumes one set of partitions and belongs to at most one
// group.
//
// The same code runs against the embedded broker (kfake) and a real
// cluster. Where kfake differs, the doc of the function concerned says so.
//
// Retention differs most. A real cluster applies each topic's retention
// itself, and its offsets never go back. kfake, restarted after retention
// removed every record of a partition, numbers that partition from 0 again,
// and Parley orders history and stream cursors by offset. So the embedded
// broker applies no retention, and in embedded mode the server calls
// ApplyRetention on a timer: it deletes records past retention.ms with
// DeleteRecords but keeps the newest record of every partition, which
// keeps the partition's high watermark across a restart. Consume still
// detects a renumbered partition, which an outside tool can cause by
// deleting every record of one.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/parley-chat/parley/internal/parley"
)

// DefaultDeliveryTimeout bounds how long Produce waits for the broker to
// acknowledge a record when Config.DeliveryTimeout is zero.
const DefaultDeliveryTimeout = 10 * time.Second

// fetchMaxWait is how long the broker may hold a fetch that has no data.
// A fetch returns as soon as a record arrives, so this only bounds how long
// a consumer takes to notice a new assignment or a closed client.
const fetchMaxWait = 200 * time.Millisecond

// SASL mechanisms SASLConfig accepts.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Config configures a Client.
type Config struct {
	// Brokers are the host:port seeds of the cluster. At least one.
	Brokers []string
	// ClientID names the client in the brokers' logs and quotas. Empty
	// means "parley".
	ClientID string
	// Logger receives franz-go's logs and the package's own; nil discards
	// them.
	Logger *slog.Logger
	// Linger is how long the producer waits for more records before it
	// sends a batch. Zero sends at once, which is what a chat wants:
	// franz-go's default of 10 ms adds about 6 ms to every message.
	Linger time.Duration
	// DeliveryTimeout bounds how long Produce waits for a record to be
	// acknowledged, retries included. Zero means DefaultDeliveryTimeout;
	// franz-go allows no less than one second.
	DeliveryTimeout time.Duration
	// NoCompression sends record batches uncompressed. Right for a broker
	// in the same process, where compressing only costs CPU twice: once to
	// produce and once for every reader. Otherwise batches are compressed
	// with snappy.
	NoCompression bool
	// TLS, when not nil, makes every connection use TLS with this config.
	TLS *tls.Config
	// SASL, when not nil, authenticates every connection.
	SASL *SASLConfig

	// hooks watch every client's requests; set by tests only.
	hooks []kgo.Hook
}

// SASLConfig is a SASL login.
type SASLConfig struct {
	// Mechanism is MechanismPlain, MechanismSCRAMSHA256 or
	// MechanismSCRAMSHA512.
	Mechanism string
	User      string
	Password  string
}

// Client talks to a Kafka cluster. Its methods are safe for concurrent use.
type Client struct {
	cfg   Config
	log   *slog.Logger
	cl    *kgo.Client
	admin *kadm.Client
}

var _ parley.Log = (*Client)(nil)

// New returns a Client for the cluster. It does not wait for a broker: a
// node must start, and say it is not ready, while Kafka is away. Use Ping
// to check that a broker answers. New fails only on a configuration error.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("new kafka client: %w: no brokers", parley.ErrInvalid)
	}

	opts, err := cfg.producerOpts()
	if err != nil {
		return nil, fmt.Errorf("new kafka client: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("new kafka client: %w", err)
	}

	return &Client{cfg: cfg, log: cfg.Logger, cl: cl, admin: kadm.NewClient(cl)}, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.ClientID == "" {
		cfg.ClientID = "parley"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "kafka")
	switch {
	case cfg.DeliveryTimeout <= 0:
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	case cfg.DeliveryTimeout < time.Second:
		cfg.DeliveryTimeout = time.Second
	}
	return cfg
}

// baseOpts are the options every franz-go client of the package uses.
func (cfg Config) baseOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(kslog.New(cfg.Logger.With("lib", "franz-go"))),
		kgo.FetchMaxWait(fetchMaxWait),
	}
	if len(cfg.hooks) > 0 {
		opts = append(opts, kgo.WithHooks(cfg.hooks...))
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	if cfg.SASL != nil {
		m, err := cfg.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// producerOpts are the options of the shared client.
func (cfg Config) producerOpts() ([]kgo.Opt, error) {
	opts, err := cfg.baseOpts()
	if err != nil {
		return nil, err
	}
	if cfg.NoCompression {
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	return append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(cfg.Linger),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		// murmur2 on the key, like Kafka's Java client, so that kcat,
		// other clients and Parley agree on a key's partition.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	), nil
}

func (s *SASLConfig) mechanism() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case MechanismPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case MechanismSCRAMSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case MechanismSCRAMSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	default:
		return nil, fmt.Errorf("sasl mechanism %q: %w", s.Mechanism, parley.ErrInvalid)
	}
}

// Ping asks a broker for the cluster's brokers, a cheap request that proves
// the cluster answers. The error wraps parley.ErrUnavailable.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.cl.Ping(ctx); err != nil {
		return fmt.Errorf("ping kafka: %w: %w", parley.ErrUnavailable, err)
	}
	return nil
}

// Close closes the shared client. Records still waiting for their ack fail.
// Tailers and Consume calls stop with their own contexts, not with Close.
func (c *Client) Close() {
	c.cl.Close()
}

// wrapErr wraps err, the failure of a request to the cluster, with
// parley.ErrNotFound when a topic does not exist, and with
// parley.ErrUnavailable when the cluster could not be reached or may
// succeed if asked again, so that callers can tell a down broker from a
// refused request.
func wrapErr(step string, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition),
		errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("%s: %w: %w", step, parley.ErrNotFound, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", step, parley.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	var kErr *kerr.Error
	switch {
	case errors.Is(err, kgo.ErrRecordTimeout),
		errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, kgo.ErrClientClosed),
		errors.As(err, &netErr):
		return true
	case errors.As(err, &kErr):
		return kErr.Retriable
	}
	return false
}

// fresh marks ctx so that kadm asks the brokers for metadata instead of
// answering from franz-go's cache, which can keep a topic unknown for up to
// five seconds after it was created, or keep its old partition count after
// it grew.
func fresh(ctx context.Context) context.Context {
	// Asking for the authorized operations is what bypasses the cache.
	return kadm.WithAuthorizedOps(ctx)
}
