package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/parley"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger logs to stderr at debug when PARLEY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startBroker starts an embedded broker on a free loopback port, keeping
// its state in dir (in memory when dir is empty). It applies no retention.
func startBroker(t *testing.T, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(t.Context(), broker.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return b
}

// setup starts a broker and a client, both closed when the test ends.
func setup(t *testing.T) (*broker.Broker, *Client) {
	t.Helper()
	b := startBroker(t, "")
	t.Cleanup(func() { _ = b.Close() })
	c := newClient(t, b.Addr())
	t.Cleanup(c.Close)
	return b, c
}

func newClient(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := New(t.Context(), Config{Brokers: []string{addr}, Logger: testLogger()})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

var topicSeq atomic.Int64

// topicName returns a topic name unique within the test binary.
func topicName(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%d", name, topicSeq.Add(1))
}

func ensure(t *testing.T, c *Client, specs ...TopicSpec) {
	t.Helper()
	if err := c.EnsureTopics(t.Context(), specs); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
}

// produceN produces n records with values prefix0..prefix(n-1), one call
// each, and returns them.
func produceN(t *testing.T, c *Client, topic, key, prefix string, n int) []*parley.Record {
	t.Helper()
	recs := make([]*parley.Record, n)
	for i := range n {
		recs[i] = &parley.Record{Topic: topic, Value: fmt.Appendf(nil, "%s%d", prefix, i)}
		if key != "" {
			recs[i].Key = []byte(key)
		}
		if err := c.Produce(t.Context(), recs[i]); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	return recs
}

// waitFor polls cond every 10 ms until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runBackground runs fn in a goroutine and returns a function that cancels
// its context and waits for it, returning its error.
func runBackground(t *testing.T, fn func(ctx context.Context) error) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- fn(ctx) }()
	stopped := false
	var err error
	stop := func() error {
		if !stopped {
			cancel()
			err = <-errc
			stopped = true
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// deleteRecords moves the log start of tp to offset with DeleteRecords, as
// an outside tool can.
func deleteRecords(t *testing.T, c *Client, tp parley.TopicPartition, offset int64) {
	t.Helper()
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: offset, LeaderEpoch: -1})
	resps, err := c.admin.DeleteRecords(t.Context(), offs)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}
}

func values(recs []*parley.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}
