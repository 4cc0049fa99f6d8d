package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parley-chat/parley/internal/api"
	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/sqlite"
)

func init() {
	register("serve", "run a Parley node (embedded broker and SQLite unless told otherwise)", runServe)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", "serve [flags]", stderr)
	cfg.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if err := cfg.loadSecrets(); err != nil {
		return err
	}
	n := &server{cfg: cfg, logger: logger, stdout: stdout,
		archiverWake: kafka.NewWake(), notifierWake: kafka.NewWake()}
	return n.run(ctx)
}

// server is one running node and the parts it owns.
type server struct {
	cfg    serveConfig
	logger *slog.Logger
	stdout io.Writer

	broker *broker.Broker // nil with --kafka
	kafka  *kafka.Client
	store  parley.Store
	svc    *node.Service
	api    *api.Server

	// The live reader wakes the archiver and the notification processor
	// when they stopped fetching while idle (kafka.Client.Consume).
	archiverWake, notifierWake *kafka.Wake
}

func (s *server) run(ctx context.Context) error {
	defer s.close()
	if err := s.open(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	if s.cfg.Pprof != "" {
		stopPprof, err := servePprof(s.cfg.Pprof, s.logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	httpSrv := &http.Server{Handler: s.api, ReadHeaderTimeout: 10 * time.Second}
	s.banner(ln.Addr().String())

	// The Kafka side comes up in the background: the HTTP server answers
	// (and /readyz says why it is not ready) while the broker or the store
	// is unreachable.
	bgCtx, stopBackground := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.runKafkaSide(bgCtx) })

	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()

	select {
	case <-ctx.Done():
		err = nil
	case err = <-httpErr:
		err = fmt.Errorf("serve HTTP: %w", err)
	}
	s.logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.api.Shutdown(shutCtx)
	httpSrv.Shutdown(shutCtx)
	stopBackground()
	wg.Wait()
	return err
}

// open builds the broker, the Kafka client, the store, the service and
// the API. None of them needs the network to be up yet.
func (s *server) open(ctx context.Context) error {
	brokers := splitList(s.cfg.Kafka)
	if len(brokers) == 0 {
		b, err := broker.Start(ctx, broker.Config{
			DataDir: filepath.Join(s.cfg.Data, "kafka"), Listen: s.cfg.KafkaListen,
			Fsync: s.cfg.Fsync.mode, Logger: s.logger,
		})
		if err != nil {
			return fmt.Errorf("start embedded broker: %w", err)
		}
		s.broker = b
		brokers = []string{b.Addr()}
	}

	kcfg, err := s.kafkaConfig(brokers)
	if err != nil {
		return err
	}
	if s.kafka, err = kafka.New(ctx, kcfg); err != nil {
		return fmt.Errorf("create kafka client: %w", err)
	}
	if s.store, err = s.openStore(ctx); err != nil {
		return err
	}

	// With --fsync=sends, a send waits for the embedded broker's fsync.
	var log parley.Log = s.kafka
	if s.broker != nil {
		log = s.broker.SyncedLog(s.kafka)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.svc = node.New(node.Config{
		Store: s.store, Log: log, Topics: s.cfg.Topics, DefaultStrategy: s.cfg.GroupStrategy,
		Registerer: reg, Logger: s.logger, CreateTopic: s.createGroupTopic,
	})
	s.api, err = api.New(api.Config{
		Service: s.svc, Secret: []byte(s.cfg.JWTSecret), APIKey: s.cfg.APIKey, TokenTTL: s.cfg.TokenTTL,
		Admin: topicAdmin{s.kafka, s.svc.Topics()}, Registry: reg, UI: webUI(),
		Logger: s.logger,
	})
	if err != nil {
		return fmt.Errorf("create API: %w", err)
	}
	return nil
}

func (s *server) openStore(ctx context.Context) (parley.Store, error) {
	db := s.cfg.Database
	if db == "" || strings.HasPrefix(db, "sqlite:") {
		path := strings.TrimPrefix(db, "sqlite:")
		if path == "" {
			path = filepath.Join(s.cfg.Data, "parley.db")
		}
		st, err := sqlite.Open(ctx, path, s.logger)
		if err != nil {
			return nil, fmt.Errorf("open SQLite: %w", err)
		}
		return st, nil
	}
	return openPostgres(ctx, db, s.logger)
}

func (s *server) kafkaConfig(brokers []string) (kafka.Config, error) {
	cfg := kafka.Config{Brokers: brokers, ClientID: "parley", Logger: s.logger,
		NoCompression: s.broker != nil}
	if s.cfg.KafkaSASL != "" {
		cfg.SASL = &kafka.SASLConfig{Mechanism: s.cfg.KafkaSASL, User: s.cfg.KafkaSASLUser,
			Password: s.cfg.KafkaSASLPass}
	}
	if !s.cfg.KafkaTLS {
		return cfg, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.KafkaTLSCA != "" {
		pem, err := os.ReadFile(s.cfg.KafkaTLSCA)
		if err != nil {
			return cfg, fmt.Errorf("read --kafka-tls-ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return cfg, usageError{"--kafka-tls-ca holds no PEM certificate"}
		}
	}
	if s.cfg.KafkaTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.KafkaTLSCert, s.cfg.KafkaTLSKey)
		if err != nil {
			return cfg, fmt.Errorf("load --kafka-tls-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	cfg.TLS = tc
	return cfg, nil
}

// runKafkaSide creates the topics, then runs the live reader and the two
// consumer groups until ctx ends, retrying while the broker is away.
func (s *server) runKafkaSide(ctx context.Context) {
	if !s.retry(ctx, "create topics", func() error { return s.kafka.EnsureTopics(ctx, s.topicSpecs()) }) {
		return
	}
	if !s.retry(ctx, "check archived offsets", func() error { return s.svc.RepairArchivedOffsets(ctx) }) {
		return
	}
	if !s.retry(ctx, "load seq generation", func() error { return s.svc.LoadSeqGeneration(ctx) }) {
		return
	}

	var wg sync.WaitGroup
	if s.broker != nil {
		wg.Go(func() { s.applyRetention(ctx) })
	}
	wg.Go(func() { s.loop(ctx, "live reader", func() error { return s.tail(ctx) }) })
	if !s.cfg.Archiver {
		s.logger.Info("archiver and notification processor disabled on this node")
		wg.Wait()
		return
	}
	wg.Go(func() {
		s.loop(ctx, "archiver", func() error {
			return s.kafka.Consume(ctx, s.cfg.ArchiverGroup, s.svc.ArchiveTopics(), s.svc.Archive,
				s.archiverWake)
		})
	})
	wg.Go(func() {
		s.loop(ctx, "notification processor", func() error {
			return s.kafka.Consume(ctx, s.cfg.NotifierGroup, s.svc.NotifyTopics(), s.svc.Archive,
				s.notifierWake)
		})
	})
	s.logger.Info("live reader, archiver and notification processor started")
	wg.Wait()
}

// tail runs the live reader over the message topics, the notifications
// topic and every dedicated group topic; groups that move to a topic of
// their own later are added by the dispatcher.
func (s *server) tail(ctx context.Context) error {
	dedicated, err := s.kafka.ListTopics(ctx, s.svc.Topics().GroupPrefix)
	if err != nil {
		return fmt.Errorf("list group topics: %w", err)
	}
	t := s.kafka.NewTailer(append(s.svc.TailTopics(), dedicated...), s.svc.DispatchStart,
		func(recs []*parley.Record) {
			s.svc.Dispatch(ctx, recs)
			s.wakeGroups(recs)
		})
	s.svc.SetTailAdder(func(ctx context.Context, topic string) error { return t.Add(ctx, topic) })
	return t.Run(ctx)
}

// wakeGroups signals the archiver's wake when the live reader's poll
// brought records of the message topics, and the notification processor's
// when it brought notifications. The live reader reads every topic either
// group does, so a group that stopped fetching while idle starts again.
func (s *server) wakeGroups(recs []*parley.Record) {
	notifications := s.svc.Topics().Notifications
	var messages, notes bool
	for _, r := range recs {
		if r.Topic == notifications {
			notes = true
		} else {
			messages = true
		}
	}
	if messages {
		s.archiverWake.Signal()
	}
	if notes {
		s.notifierWake.Signal()
	}
}

// createGroupTopic creates a group's dedicated topic.
func (s *server) createGroupTopic(ctx context.Context, name string) error {
	return s.kafka.EnsureTopics(ctx, []kafka.TopicSpec{{
		Name: name, Partitions: int32(s.cfg.DedicatedPartitions), ReplicationFactor: int16(s.cfg.Replication),
		Configs: map[string]string{"retention.ms": strconv.FormatInt(s.cfg.MessageRetention.Milliseconds(), 10)},
	}})
}

// applyRetention enforces the topics' retention on the embedded broker
// every --retention-interval. kfake's own retention could empty a
// partition, and after a restart kfake would number it from 0 again, under
// the cursors clients hold; Client.ApplyRetention always keeps a
// partition's newest record. A real cluster applies retention itself.
func (s *server) applyRetention(ctx context.Context) {
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		topics := s.topicNames()
		if dedicated, err := s.kafka.ListTopics(ctx, s.svc.Topics().GroupPrefix); err == nil {
			topics = append(topics, dedicated...)
		}
		if err := s.kafka.ApplyRetention(ctx, topics...); err != nil && ctx.Err() == nil {
			s.logger.Warn("apply retention", "err", err)
		}
	}
}

func (s *server) topicNames() []string {
	t := s.svc.Topics()
	return []string{t.DirectMessages, t.GroupMessages, t.Notifications, t.DeadLetters}
}

// retry runs fn until it succeeds or ctx ends, backing off; it reports
// whether fn succeeded.
func (s *server) retry(ctx context.Context, what string, fn func() error) bool {
	backoff := 500 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.logger.Warn("kafka step failed; retrying", "step", what, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// loop runs a long-lived part again when it stops with an error. A part
// that fails right after start (a topic the broker has just created and
// not yet announced) is logged at warn; one that keeps failing at error.
func (s *server) loop(ctx context.Context, what string, fn func() error) {
	for failures := 1; ctx.Err() == nil; failures++ {
		err := fn()
		if ctx.Err() != nil || err == nil {
			return
		}
		level := slog.LevelWarn
		if failures >= 5 {
			level = slog.LevelError
		}
		s.logger.Log(ctx, level, "background part stopped; restarting", "part", what,
			"failures", failures, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *server) topicSpecs() []kafka.TopicSpec {
	t := s.svc.Topics()
	rf := int16(s.cfg.Replication)
	ms := func(d time.Duration) map[string]string {
		return map[string]string{"retention.ms": strconv.FormatInt(d.Milliseconds(), 10)}
	}
	return []kafka.TopicSpec{
		{Name: t.DirectMessages, Partitions: int32(s.cfg.DMPartitions), ReplicationFactor: rf,
			Configs: ms(s.cfg.MessageRetention)},
		{Name: t.GroupMessages, Partitions: int32(s.cfg.GroupPartitions), ReplicationFactor: rf,
			Configs: ms(s.cfg.MessageRetention)},
		{Name: t.Notifications, Partitions: int32(s.cfg.NotifyPartitions), ReplicationFactor: rf,
			Configs: ms(s.cfg.NotifyRetention)},
		{Name: t.DeadLetters, Partitions: 1, ReplicationFactor: rf, Configs: ms(s.cfg.DeadRetention)},
	}
}

// banner prints where everything is.
func (s *server) banner(httpAddr string) {
	w := s.stdout
	fmt.Fprintf(w, "Parley is running.\n")
	fmt.Fprintf(w, "  HTTP API, WebSocket, SSE, web UI  http://%s/\n", httpAddr)
	if s.broker != nil {
		fmt.Fprintf(w, "  embedded Kafka broker             %s\n", s.broker.Addr())
		fmt.Fprintf(w, "  data folder                       %s\n", s.cfg.Data)
	} else {
		fmt.Fprintf(w, "  Kafka brokers                     %s\n", s.cfg.Kafka)
	}
	if s.cfg.Database == "" {
		fmt.Fprintf(w, "  store                             SQLite, %s\n", filepath.Join(s.cfg.Data, "parley.db"))
	} else {
		fmt.Fprintf(w, "  store                             %s\n", redactURL(s.cfg.Database))
	}
	if s.cfg.generatedAPIKey {
		fmt.Fprintf(w, "  server API key (generated; kept in %s)\n      %s\n",
			filepath.Join(s.cfg.Data, "secrets.json"), s.cfg.APIKey)
	}
	s.logger.Info("parley started", "http", httpAddr, "embedded_broker", s.broker != nil)
}

func (s *server) close() {
	if s.svc != nil {
		s.svc.Close()
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.logger.Warn("close store", "err", err)
		}
	}
	if s.broker != nil {
		if err := s.broker.Close(); err != nil {
			s.logger.Warn("close broker", "err", err)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redactURL hides the password of a database URL.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return u
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***@" + rest[at+1:]
}
