// Package broker runs the embedded Kafka-protocol broker that `parley serve`
// uses when no external cluster is given: franz-go's kfake, in-process, with
// its state persisted in a data folder. Clients reach it over the Kafka
// protocol on a TCP listener like any cluster, so the rest of Parley runs the
// same code path in both modes.
//
// The package is the only importer of kfake. It works around two of kfake's
// limits. kfake listens on 127.0.0.1 with a random port unless given a
// listen function, so Broker supplies one that binds exactly the configured
// address.
//
// And the broker applies no retention of its own. kfake's retention may
// remove every record of a partition, and when kfake then restarts from its
// data folder it numbers that partition from offset 0 again, so new records
// would get offsets below older ones. Parley orders conversation history and
// stream cursors by offset, so offsets must never go back. Broker therefore
// never calls kfake's retention or compaction, and sets
// log.cleaner.backoff.ms so far out that kfake's own cleaner timer never
// fires. Retention is the caller's job: kafka.Client.ApplyRetention, run on
// a timer, deletes expired records but keeps the newest record of every
// partition, which keeps its high watermark across any restart. Compaction
// and retention.bytes do not run in embedded mode.
//
// Known limits (see docs/limits.md): one broker, so replication factor 1; no
// SASL for clients built on librdkafka; without Fsync, records survive a
// killed process but not a power cut; with FsyncSends, records from outside
// producers reach the disk up to 50 ms after their acknowledgement; kfake
// saves the log start only when closed, so after a killed process the
// records retention had deleted but whose files it kept come back until
// retention runs again (offsets stay right); a partition emptied by hand (a
// DeleteRecords up to its end from an outside tool) is still numbered from
// 0 again after a restart.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/parley-chat/parley/internal/parley"
)

// DefaultListen is the address the broker listens on when Config.Listen is
// empty.
const DefaultListen = "127.0.0.1:9092"

// cleanerBackoff is the log.cleaner.backoff.ms the broker gives kfake: ten
// years, so that kfake's cleaner timer, which would apply retention.ms and
// could empty a partition, never fires. kfake turns it into a
// time.Duration, which holds it without overflow.
const cleanerBackoff = 10 * 365 * 24 * time.Hour

// Config configures the embedded broker.
type Config struct {
	// DataDir is the folder that holds the broker's topics, records, group
	// offsets and producer state. It is created when missing. Empty keeps
	// everything in memory, which only tests should want.
	DataDir string
	// Listen is the host:port the broker accepts connections on. Empty
	// means DefaultListen; port 0 picks a free port.
	Listen string
	// Advertise is the host:port the broker tells clients to connect to in
	// its metadata. Empty means the listen address, with 127.0.0.1 in place
	// of an unspecified host such as 0.0.0.0.
	Advertise string
	// Fsync says when acknowledged records reach the disk. The zero value
	// is FsyncOff: they survive a killed process (they are in the page
	// cache) but not a power cut, as with Kafka's own defaults.
	//
	// FsyncSends keeps kfake writing to the page cache and fsyncs from
	// outside it: a send through Parley's Log from SyncedLog returns only
	// after the partitions it wrote to were fsynced, one fsync of a
	// partition serving every send that waited for it (a group commit).
	// Records from other producers, and consumer offsets, are fsynced
	// within 50 ms of their acknowledgement.
	//
	// FsyncAll is kfake's SyncWrites: kfake fsyncs the segment and the
	// index of each partition's batch in turn, in its single loop, before
	// it acknowledges the produce, whoever the producer. Every produce and
	// fetch waits behind those fsyncs (docs/limits.md).
	//
	// Without DataDir there is nothing to sync, and the mode is ignored.
	Fsync FsyncMode
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
}

// Broker is a running embedded broker. Its methods are safe for concurrent
// use.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	log     *slog.Logger
	syncer  *syncer // nil unless Fsync is FsyncSends

	closeOnce sync.Once
}

// Start starts a broker listening on cfg.Listen and loads the state kept in
// cfg.DataDir. It returns once the broker accepts connections. The broker
// runs until Close; ctx only bounds the start.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
	}

	l := &listener{listen: cfg.Listen, advertise: cfg.Advertise}
	cluster, err := kfake.NewCluster(options(cfg, l)...)
	if err != nil {
		if l.err != nil {
			return nil, l.err
		}
		return nil, fmt.Errorf("start broker: %w", err)
	}

	b := &Broker{cluster: cluster, addr: l.addr, log: cfg.Logger}
	if cfg.Fsync == FsyncSends && cfg.DataDir != "" {
		b.syncer = newSyncer(cfg.DataDir, cfg.Logger)
		b.syncer.start()
	}
	b.log.Info("broker started", "addr", b.addr, "data_dir", cfg.DataDir,
		"fsync", cfg.Fsync)
	return b, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Fsync == "" {
		cfg.Fsync = FsyncOff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "broker")
	return cfg
}

// options translates cfg into kfake's options.
func options(cfg Config, l *listener) []kfake.Opt {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("parley"),
		kfake.ListenFn(l.open),
		kfake.WithLogger(logger{cfg.Logger}),
		// An option wins over the broker configs kept in the data
		// folder, so a value a client altered lasts until a restart.
		kfake.BrokerConfigs(map[string]string{
			"log.cleaner.backoff.ms": strconv.FormatInt(cleanerBackoff.Milliseconds(), 10),
		}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.Fsync == FsyncAll {
		opts = append(opts, kfake.SyncWrites())
	}
	return opts
}

// Addr returns the host:port clients dial to reach the broker.
func (b *Broker) Addr() string { return b.addr }

// SyncedLog returns log when the broker's Fsync is not FsyncSends. With
// FsyncSends it returns a Log whose Produce returns only once the broker
// has fsynced the partitions the records went to; log must produce to
// this broker. A failed fsync fails the Produce with an error that wraps
// parley.ErrUnavailable, though the records were written: a sender that
// retries with its client ID gets one message.
func (b *Broker) SyncedLog(log parley.Log) parley.Log {
	if b.syncer == nil {
		return log
	}
	return syncedLog{Log: log, s: b.syncer}
}

type syncedLog struct {
	parley.Log
	s *syncer
}

func (l syncedLog) Produce(ctx context.Context, recs ...*parley.Record) error {
	if err := l.Log.Produce(ctx, recs...); err != nil {
		return err
	}
	return l.s.sync(ctx, recs)
}

// Close stops the broker, which writes its state to the data folder.
// Connected clients see their connections close. With FsyncSends, Close
// fsyncs every partition before it returns. Close is idempotent and
// always returns nil; the error is for io.Closer.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.cluster.Close()
		if b.syncer != nil {
			b.syncer.close()
		}
		b.log.Info("broker stopped", "addr", b.addr)
	})
	return nil
}

// listener binds the configured address in place of the one kfake asks for,
// and makes the broker advertise the address clients should dial.
type listener struct {
	listen    string
	advertise string

	// Set by open, which kfake calls once from NewCluster.
	addr string
	err  error
}

func (l *listener) open(network, _ string) (net.Listener, error) {
	ln, err := net.Listen(network, l.listen)
	if err != nil {
		l.err = listenError(l.listen, err)
		return nil, l.err
	}

	adv, err := advertised(l.advertise, ln.Addr())
	if err != nil {
		_ = ln.Close()
		l.err = err
		return nil, err
	}
	l.addr = adv.String()
	return advertisedListener{Listener: ln, adv: adv}, nil
}

// listenError turns net.Listen's error into "listen ADDR: REASON", keeping
// the system error for errors.Is (syscall.EADDRINUSE).
func listenError(addr string, err error) error {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return fmt.Errorf("listen %s: %w", addr, sysErr.Err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("listen %s: %w", addr, opErr.Err)
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}

// advertised returns the address to advertise for a listener bound to
// bound: adv when given, else bound with an unspecified host replaced by
// 127.0.0.1.
func advertised(adv string, bound net.Addr) (*net.TCPAddr, error) {
	if adv != "" {
		a, err := net.ResolveTCPAddr("tcp", adv)
		if err != nil {
			return nil, fmt.Errorf("resolve advertised address: %w", err)
		}
		return a, nil
	}

	a, ok := bound.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("listen: unexpected address type %T", bound)
	}
	out := *a
	if out.IP.IsUnspecified() {
		out.IP = net.IPv4(127, 0, 0, 1)
	}
	return &out, nil
}

// advertisedListener reports adv as its address: kfake puts the listener's
// address in the metadata it sends to clients.
type advertisedListener struct {
	net.Listener
	adv net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.adv }

// logger passes kfake's logs to slog. kfake's info and debug lines describe
// single requests, so both go to debug.
type logger struct{ l *slog.Logger }

func (g logger) Logf(level kfake.LogLevel, format string, args ...any) {
	detail := lazyf{format, args}
	switch level {
	case kfake.LogLevelError:
		g.l.Error("kfake", "detail", detail)
	case kfake.LogLevelWarn:
		g.l.Warn("kfake", "detail", detail)
	default:
		g.l.Debug("kfake", "detail", detail)
	}
}

// lazyf formats its line only when a handler asks for the value, so debug
// chatter costs nothing when debug is off.
type lazyf struct {
	format string
	args   []any
}

func (f lazyf) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf(f.format, f.args...))
}
