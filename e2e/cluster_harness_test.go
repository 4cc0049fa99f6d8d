package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/parley-chat/parley/internal/testenv"
)

// Cluster is a set of Parley nodes sharing the real Kafka cluster and the
// PostgreSQL server of the integration environment (see package testenv).
// Each Cluster isolates itself from the others that ran on the same
// services before it: its topics, consumer groups and database schema
// carry a random suffix, and are deleted when the test ends.
//
// The services are shared, and the failure tests kill brokers and restart
// the database under everyone's feet: tests that start a Cluster must not
// call t.Parallel.
type Cluster struct {
	Nodes   []*Server
	Brokers []string
	// Database is the node's --database URL: the environment's URL with
	// search_path set to the cluster's own schema.
	Database string
	Schema   string

	DMTopic, GroupTopic, NotifyTopic, DeadTopic string
	ArchiverGroup, NotifierGroup                string

	flags []string
}

// clusterCleanupTimeout bounds the deletion of a cluster's topics, groups
// and schema.
const clusterCleanupTimeout = 30 * time.Second

// StartCluster starts n nodes on the shared Kafka cluster and PostgreSQL
// server, one after the other, each ready before the next starts. It
// skips the test (or fails it under PARLEY_REQUIRE_ALL=1) when the services
// are not configured. extra flags go to every node.
func StartCluster(t *testing.T, n int, extra ...string) *Cluster {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	pgURL := testenv.PostgresURL(t)

	suffix := randomSuffix(t)
	c := &Cluster{
		Brokers:       brokers,
		Schema:        "e2e_" + suffix,
		DMTopic:       "dm-" + suffix,
		GroupTopic:    "grp-" + suffix,
		NotifyTopic:   "ntf-" + suffix,
		DeadTopic:     "dead-" + suffix,
		ArchiverGroup: "archiver-" + suffix,
		NotifierGroup: "notifier-" + suffix,
	}
	c.createSchema(t, pgURL)
	c.Database = withSearchPath(t, pgURL, c.Schema)
	// Registered before the nodes start, so it runs after they stopped.
	t.Cleanup(func() { c.cleanup(t, pgURL) })

	c.flags = append([]string{
		"--kafka", strings.Join(brokers, ","),
		"--database", c.Database,
		"--replication-factor", "3",
		"--dm-topic", c.DMTopic,
		"--group-topic", c.GroupTopic,
		"--notification-topic", c.NotifyTopic,
		"--dead-letter-topic", c.DeadTopic,
		"--dedicated-topic-prefix", c.GroupTopic + ".",
		"--archiver-group", c.ArchiverGroup,
		"--notifier-group", c.NotifierGroup,
	}, extra...)
	for range n {
		c.Nodes = append(c.Nodes, StartServer(t, c.flags...))
	}
	t.Cleanup(func() { c.saveLogs(t) })
	return c
}

// LogDirEnv names a folder where a failed cluster test leaves each node's
// whole output, for a look beyond the last lines the test prints.
const LogDirEnv = "PARLEY_E2E_LOG_DIR"

// saveLogs writes every node's output to LogDirEnv when the test failed.
// It runs before the nodes stop, so it misses their last words.
func (c *Cluster) saveLogs(t *testing.T) {
	dir := os.Getenv(LogDirEnv)
	if dir == "" || !t.Failed() {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	for i, s := range c.Nodes {
		path := filepath.Join(dir, fmt.Sprintf("%s-node%d.log", name, i))
		if err := os.WriteFile(path, []byte(s.Output()), 0o644); err != nil {
			t.Logf("save log: %v", err)
			continue
		}
		t.Logf("node %d's output: %s", i, path)
	}
}

// randomSuffix returns 12 random lowercase hex digits, legal in topic,
// group and schema names alike.
func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// withSearchPath returns the URL with the search_path run-time parameter,
// which pgx sends to the server with every new connection.
func withSearchPath(t *testing.T, raw, schema string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *Cluster) createSchema(t *testing.T, pgURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+c.Schema); err != nil {
		t.Fatalf("create schema %s: %v", c.Schema, err)
	}
}

// cleanup deletes the cluster's schema, topics and consumer groups. It
// reports failures without failing the test: what it leaves behind only
// takes room.
func (c *Cluster) cleanup(t *testing.T, pgURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterCleanupTimeout)
	defer cancel()

	// Tests that restart PostgreSQL may leave it starting up; try a few
	// times.
	var err error
	for range 10 {
		if err = dropSchema(ctx, pgURL, c.Schema); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Logf("drop schema %s: %v", c.Schema, err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		t.Logf("kafka client for cleanup: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.DeleteGroups(ctx, c.ArchiverGroup, c.NotifierGroup); err != nil {
		t.Logf("delete groups: %v", err)
	}
	if _, err := adm.DeleteTopics(ctx, c.DMTopic, c.GroupTopic, c.NotifyTopic, c.DeadTopic); err != nil {
		t.Logf("delete topics: %v", err)
	}
}

func dropSchema(ctx context.Context, pgURL, schema string) error {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	return err
}

// API returns the server API key's caller on node i.
func (c *Cluster) API(i int) *User {
	s := c.Nodes[i]
	return &User{Name: "server", Token: s.APIKey, s: s}
}

// On returns the same user talking to another node.
func (u *User) On(s *Server) *User {
	return &User{Name: u.Name, Token: u.Token, s: s}
}

// waitUntil polls cond every 100 ms until it holds, and fails the test
// with what after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
