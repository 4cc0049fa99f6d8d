package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/parley"
)

// serveConfig is everything `parley serve` takes.
type serveConfig struct {
	Data        string
	HTTP        string
	KafkaListen string
	Kafka       string // external brokers; empty = embedded broker
	Database    string // empty = SQLite in Data
	APIKey      string
	JWTSecret   string
	TokenTTL    time.Duration
	Fsync       fsyncFlag
	LogLevel    string
	Pprof       string
	LogFormat   string

	Topics              parley.Topics
	GroupStrategy       string
	DMPartitions        int
	GroupPartitions     int
	NotifyPartitions    int
	DedicatedPartitions int
	Replication         int
	MessageRetention    time.Duration
	NotifyRetention     time.Duration
	DeadRetention       time.Duration
	RetentionInterval   time.Duration

	KafkaTLS        bool
	KafkaTLSCA      string
	KafkaTLSCert    string
	KafkaTLSKey     string
	KafkaSASL       string
	KafkaSASLUser   string
	KafkaSASLPass   string
	Archiver        bool
	ArchiverGroup   string
	NotifierGroup   string
	generatedAPIKey bool
}

func (c *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", "./parley-data",
		"folder for the embedded broker's and SQLite's data")
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:8080",
		"address of the HTTP API, WebSocket, SSE and web UI")
	fs.StringVar(&c.KafkaListen, "kafka-listen", "127.0.0.1:9092",
		"address the embedded broker listens on (ignored with --kafka)")
	fs.StringVar(&c.Kafka, "kafka", "",
		"comma-separated brokers of an external Kafka cluster instead of the embedded one")
	fs.StringVar(&c.Database, "database", "",
		"postgres:// URL of PostgreSQL; default SQLite in the data folder")
	fs.StringVar(&c.APIKey, "api-key", "",
		"server API key; generated and kept in the data folder when empty")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "",
		"secret that signs user tokens; generated and kept in the data folder when empty")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 24*time.Hour,
		"lifetime of the tokens register and login issue")
	fs.Var(&c.Fsync, "fsync",
		"when the embedded broker fsyncs: off; sends (before a send is acknowledged, "+
			"sends sharing an fsync; other producers' records within 50 ms); "+
			"all (every write before kfake acknowledges it)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Pprof, "pprof", "",
		"serve Go's profiling endpoints (/debug/pprof/) on this address; off when empty")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")

	fs.StringVar(&c.Topics.DirectMessages, "dm-topic", parley.DefaultTopics.DirectMessages,
		"topic of direct messages")
	fs.StringVar(&c.Topics.GroupMessages, "group-topic", parley.DefaultTopics.GroupMessages,
		"shared topic of group messages")
	fs.StringVar(&c.Topics.Notifications, "notification-topic", parley.DefaultTopics.Notifications,
		"topic of notifications")
	fs.StringVar(&c.Topics.DeadLetters, "dead-letter-topic", parley.DefaultTopics.DeadLetters,
		"topic of refused records")
	fs.StringVar(&c.Topics.GroupPrefix, "dedicated-topic-prefix", parley.DefaultTopics.GroupPrefix,
		"prefix of a group's dedicated topic, followed by the group's ID")
	fs.StringVar(&c.GroupStrategy, "group-strategy", parley.StrategyShared,
		"topic strategy of new groups: shared or dedicated")
	fs.IntVar(&c.DMPartitions, "dm-partitions", 6,
		"partitions of the DM topic when Parley creates it")
	fs.IntVar(&c.GroupPartitions, "group-partitions", 6,
		"partitions of the group topic when Parley creates it")
	fs.IntVar(&c.NotifyPartitions, "notification-partitions", 3,
		"partitions of the notifications topic when Parley creates it")
	fs.IntVar(&c.DedicatedPartitions, "dedicated-partitions", 1,
		"partitions of a group's dedicated topic (a group's entries all go to one partition)")
	fs.IntVar(&c.Replication, "replication-factor", -1,
		"replication factor of created topics; -1 = the cluster's default")
	fs.DurationVar(&c.MessageRetention, "message-retention", 7*24*time.Hour,
		"Kafka retention of message topics (history stays in the store)")
	fs.DurationVar(&c.NotifyRetention, "notification-retention", 7*24*time.Hour,
		"Kafka retention of notifications")
	fs.DurationVar(&c.DeadRetention, "dead-letter-retention", 30*24*time.Hour,
		"Kafka retention of dead letters")
	fs.DurationVar(&c.RetentionInterval, "retention-interval", time.Minute,
		"how often the embedded broker applies retention")

	fs.BoolVar(&c.KafkaTLS, "kafka-tls", false, "connect to --kafka over TLS")
	fs.StringVar(&c.KafkaTLSCA, "kafka-tls-ca", "",
		"PEM file of the CA that signed the brokers' certificates")
	fs.StringVar(&c.KafkaTLSCert, "kafka-tls-cert", "",
		"PEM client certificate for TLS client authentication")
	fs.StringVar(&c.KafkaTLSKey, "kafka-tls-key", "", "PEM key of --kafka-tls-cert")
	fs.StringVar(&c.KafkaSASL, "kafka-sasl", "",
		"SASL mechanism for --kafka: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&c.KafkaSASLUser, "kafka-user", "", "SASL user")
	fs.StringVar(&c.KafkaSASLPass, "kafka-password", "", "SASL password")
	fs.BoolVar(&c.Archiver, "archiver", true,
		"run the archiver and notification processor on this node (a cluster needs them on at least one)")
	fs.StringVar(&c.ArchiverGroup, "archiver-group", "parley-archiver",
		"consumer group of the archiver")
	fs.StringVar(&c.NotifierGroup, "notifier-group", "parley-notifier",
		"consumer group of the notification processor")
}

// fsyncFlag is --fsync: off, sends or all (true and false as all and off).
type fsyncFlag struct{ mode broker.FsyncMode }

func (f *fsyncFlag) String() string {
	if f == nil || f.mode == "" {
		return string(broker.FsyncOff)
	}
	return string(f.mode)
}

func (f *fsyncFlag) Set(s string) error {
	m, err := broker.ParseFsyncMode(s)
	if err != nil {
		return errors.New("want off, sends or all")
	}
	f.mode = m
	return nil
}

// check validates the configuration.
func (c *serveConfig) check() error {
	switch {
	case c.GroupStrategy != parley.StrategyShared && c.GroupStrategy != parley.StrategyDedicated:
		return usageError{fmt.Sprintf("--group-strategy must be shared or dedicated, not %q", c.GroupStrategy)}
	case c.DMPartitions < 1 || c.GroupPartitions < 1 || c.NotifyPartitions < 1 || c.DedicatedPartitions < 1:
		return usageError{"partition counts must be at least 1"}
	case c.TokenTTL <= 0:
		return usageError{"--token-ttl must be positive"}
	case c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") &&
		!strings.HasPrefix(c.Database, "postgresql://") && !strings.HasPrefix(c.Database, "sqlite:"):
		return usageError{"--database must be a postgres:// URL or sqlite:PATH"}
	case c.Kafka != "" && (c.APIKey == "" || c.JWTSecret == ""):
		return usageError{"with --kafka, give --api-key and --jwt-secret: every node of a cluster must share them"}
	case c.Kafka != "" && c.Fsync.mode != "" && c.Fsync.mode != broker.FsyncOff:
		return usageError{"--fsync is for the embedded broker; with --kafka, durability is the " +
			"cluster's (acks=all and its replication)"}
	case c.KafkaSASL != "" && c.Kafka == "":
		return usageError{"--kafka-sasl needs --kafka: the embedded broker does not ask for passwords"}
	case c.KafkaTLS && c.Kafka == "":
		return usageError{"--kafka-tls needs --kafka: the embedded broker listens without TLS"}
	}
	return nil
}

// secrets are the generated API key and JWT secret, kept in the data
// folder so a restart keeps tokens and API clients working.
type secrets struct {
	APIKey    string `json:"api_key"`
	JWTSecret string `json:"jwt_secret"`
}

// loadSecrets fills an empty API key and JWT secret from secrets.json in
// the data folder, generating and saving them the first time.
func (c *serveConfig) loadSecrets() error {
	if c.APIKey != "" && c.JWTSecret != "" {
		return nil
	}
	path := filepath.Join(c.Data, "secrets.json")
	var s secrets
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read secrets: %w", err)
	}
	changed := false
	if s.APIKey == "" {
		s.APIKey, changed = "pk_"+randomHex(24), true
	}
	if s.JWTSecret == "" {
		s.JWTSecret, changed = randomHex(32), true
	}
	if changed {
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("save secrets: %w", err)
		}
	}
	if c.APIKey == "" {
		c.APIKey, c.generatedAPIKey = s.APIKey, true
	}
	if c.JWTSecret == "" {
		c.JWTSecret = s.JWTSecret
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newLogger builds the process's logger from --log-level and --log-format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: use text or json", format)}
}
