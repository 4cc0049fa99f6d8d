package broker_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T, cfg broker.Config) *broker.Broker {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	b, err := broker.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return b
}

func client(t *testing.T, b *broker.Broker) *kafka.Client {
	t.Helper()
	c, err := kafka.New(t.Context(), kafka.Config{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

func TestStartListensOnConfiguredAddress(t *testing.T) {
	b := start(t, broker.Config{})
	defer b.Close()
	if b.Addr() == "127.0.0.1:0" {
		t.Fatalf("Addr() = %s, want the port picked", b.Addr())
	}
	c := client(t, b)
	defer c.Close()
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func TestStartFailsWhenAddressTaken(t *testing.T) {
	b := start(t, broker.Config{})
	defer b.Close()

	_, err := broker.Start(t.Context(), broker.Config{Listen: b.Addr()})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second start: err = %v, want address already in use", err)
	}
	want := fmt.Sprintf("listen %s: address already in use", b.Addr())
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := start(t, broker.Config{DataDir: dir})
	c := client(t, b)
	ensure(t, c, kafka.TopicSpec{Name: "kept", Partitions: 1})
	produce(t, c, "kept", 10)
	c.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	b = start(t, broker.Config{DataDir: dir})
	defer b.Close()
	c = client(t, b)
	defer c.Close()

	var got []string
	tp := parley.TopicPartition{Topic: "kept"}
	err := c.Replay(t.Context(), tp, 0, 100, func(r *parley.Record) error {
		got = append(got, string(r.Value))
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(got) != 10 || got[0] != "v0" || got[9] != "v9" {
		t.Fatalf("after restart got %v, want v0..v9", got)
	}
}

// TestRetentionRunsAfterRestart checks the broker's own retention timer: a
// kfake restarted from its data folder applies no retention by itself.
func TestRetentionRunsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	b := start(t, broker.Config{DataDir: dir, RetentionInterval: time.Hour})
	c := client(t, b)
	ensure(t, c, kafka.TopicSpec{
		Name:       "short",
		Partitions: 1,
		Configs:    map[string]string{"retention.ms": "300"},
	})
	produce(t, c, "short", 5)
	c.Close()
	_ = b.Close()

	b = start(t, broker.Config{DataDir: dir, RetentionInterval: 20 * time.Millisecond})
	defer b.Close()
	c = client(t, b)
	defer c.Close()

	tp := parley.TopicPartition{Topic: "short"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		bounds, err := c.Bounds(t.Context(), "short")
		if err != nil {
			t.Fatalf("bounds: %v", err)
		}
		if bounds[tp].Start == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bounds after restart = %+v, want the log start at 5", bounds[tp])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	b := start(t, broker.Config{})
	if err := b.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("start with a cancelled context succeeded")
	}
}

func ensure(t *testing.T, c *kafka.Client, specs ...kafka.TopicSpec) {
	t.Helper()
	if err := c.EnsureTopics(t.Context(), specs); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
}

func produce(t *testing.T, c *kafka.Client, topic string, n int) {
	t.Helper()
	for i := range n {
		r := &parley.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)}
		if err := c.Produce(t.Context(), r); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}
