package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// TestRestartAfterRetentionKeepsOffsets reproduces the case the embedded
// mode's retention exists for: every record of a partition is older than
// its retention, and the broker restarts. Offsets must go on from where
// they were, whether the broker was closed or killed.
func TestRestartAfterRetentionKeepsOffsets(t *testing.T) {
	tests := []struct {
		name string
		// stop stops the broker and returns the folder to restart from.
		stop func(t *testing.T, b *broker.Broker, dir string) string
	}{
		{"closed", func(t *testing.T, b *broker.Broker, dir string) string {
			_ = b.Close()
			return dir
		}},
		{"killed", func(t *testing.T, b *broker.Broker, dir string) string {
			// A copy of the folder while the broker runs holds what a
			// killed process leaves: the files as written, without the
			// snapshot kfake writes on Close.
			crashed := filepath.Join(t.TempDir(), "crashed")
			if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
				t.Fatalf("copy data folder: %v", err)
			}
			_ = b.Close()
			return crashed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := start(t, broker.Config{DataDir: dir})
			c := client(t, b)
			ensure(t, c, kafka.TopicSpec{
				Name:       "short",
				Partitions: 1,
				Configs:    map[string]string{"retention.ms": "200"},
			})
			produce(t, c, "short", 5)
			time.Sleep(300 * time.Millisecond)
			if err := c.ApplyRetention(t.Context(), "short"); err != nil {
				t.Fatalf("apply retention: %v", err)
			}
			if got := bounds(t, c); got != (parley.Bounds{Start: 4, End: 5}) {
				t.Fatalf("bounds after retention = %+v, want 4..5", got)
			}
			c.Close()
			dir = tt.stop(t, b, dir)

			b = start(t, broker.Config{DataDir: dir})
			defer b.Close()
			c = client(t, b)
			defer c.Close()
			got := bounds(t, c)
			t.Logf("bounds after restart: %+v", got)
			if got.End != 5 || got.Start > 4 {
				t.Fatalf("bounds after restart = %+v, want the end at 5, the start at 4 or below",
					got)
			}
			r := &parley.Record{Topic: "short", Value: []byte("new")}
			if err := c.Produce(t.Context(), r); err != nil {
				t.Fatalf("produce: %v", err)
			}
			if r.Offset != 5 {
				t.Fatalf("new record at offset %d, want 5", r.Offset)
			}
		})
	}
}

// bounds returns the bounds of partition 0 of topic "short".
func bounds(t *testing.T, c *kafka.Client) parley.Bounds {
	t.Helper()
	b, err := c.Bounds(t.Context(), "short")
	if err != nil {
		t.Fatalf("bounds: %v", err)
	}
	return b[parley.TopicPartition{Topic: "short"}]
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
