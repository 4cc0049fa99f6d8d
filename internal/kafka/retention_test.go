package kafka

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/parley-chat/parley/internal/parley"
)

// produceAt produces n records with key to topic, values prefix0.., each
// stamped at ts, one call each. It uses a franz-go client without a
// delivery timeout: franz-go counts that timeout from the record's
// timestamp, so Client.Produce fails records stamped in the past.
func produceAt(t *testing.T, addr, topic, key, prefix string, n int, ts time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	defer cl.Close()
	for i := range n {
		r := &kgo.Record{
			Topic:     topic,
			Key:       []byte(key),
			Value:     fmt.Appendf(nil, "%s%d", prefix, i),
			Timestamp: ts,
		}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// keyFor returns a key that murmur2 sends to partition p of n.
func keyFor(p, n int32) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("key-%d", i)
		if murmur2Partition([]byte(k), n) == p {
			return k
		}
	}
}

func bounds(t *testing.T, c *Client, topic string) map[parley.TopicPartition]parley.Bounds {
	t.Helper()
	b, err := c.Bounds(t.Context(), topic)
	if err != nil {
		t.Fatalf("bounds: %v", err)
	}
	return b
}

func replayAll(t *testing.T, c *Client, tp parley.TopicPartition) []string {
	t.Helper()
	var got []*parley.Record
	err := c.Replay(t.Context(), tp, 0, 1000, func(r *parley.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return values(got)
}

func TestApplyRetentionKeepsNewestRecord(t *testing.T) {
	b, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{
		Name:       topic,
		Partitions: 3,
		Configs:    map[string]string{"retention.ms": "60000"},
	})
	old, now := time.Now().Add(-time.Hour), time.Now()
	mixed := parley.TopicPartition{Topic: topic, Partition: 0}
	allOld := parley.TopicPartition{Topic: topic, Partition: 1}
	empty := parley.TopicPartition{Topic: topic, Partition: 2}
	produceAt(t, b.Addr(), topic, keyFor(0, 3), "old", 5, old)
	produceAt(t, b.Addr(), topic, keyFor(0, 3), "new", 2, now)
	produceAt(t, b.Addr(), topic, keyFor(1, 3), "old", 3, old)

	// The second run finds nothing more to delete.
	for range 2 {
		if err := c.ApplyRetention(t.Context(), topic); err != nil {
			t.Fatalf("apply retention: %v", err)
		}
	}

	got := bounds(t, c, topic)
	want := map[parley.TopicPartition]parley.Bounds{
		mixed:  {Start: 5, End: 7},
		allOld: {Start: 2, End: 3},
		empty:  {Start: 0, End: 0},
	}
	for tp, w := range want {
		if got[tp] != w {
			t.Errorf("partition %d: bounds %+v, want %+v", tp.Partition, got[tp], w)
		}
	}
	if v := replayAll(t, c, mixed); !slices.Equal(v, []string{"new0", "new1"}) {
		t.Errorf("partition with new records holds %v, want new0, new1", v)
	}
	if v := replayAll(t, c, allOld); !slices.Equal(v, []string{"old2"}) {
		t.Errorf("partition of old records holds %v, want its last, old2", v)
	}
}

func TestApplyRetentionKeepsForever(t *testing.T) {
	b, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{
		Name:       topic,
		Partitions: 1,
		Configs:    map[string]string{"retention.ms": "-1"},
	})
	produceAt(t, b.Addr(), topic, "k", "old", 4, time.Now().Add(-365*24*time.Hour))

	// No topic named: every topic of the broker.
	if err := c.ApplyRetention(t.Context()); err != nil {
		t.Fatalf("apply retention: %v", err)
	}
	tp := parley.TopicPartition{Topic: topic}
	if got := bounds(t, c, topic)[tp]; got != (parley.Bounds{Start: 0, End: 4}) {
		t.Fatalf("bounds = %+v, want 0..4 untouched", got)
	}
}

func TestApplyRetentionMissingTopic(t *testing.T) {
	_, c := setup(t)
	if err := c.ApplyRetention(t.Context(), "missing"); !errors.Is(err, parley.ErrNotFound) {
		t.Fatalf("apply retention to a missing topic: err = %v, want ErrNotFound", err)
	}
}

// TestApplyRetentionAfterWaiting lets records age for real rather than
// stamping them in the past.
func TestApplyRetentionAfterWaiting(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{
		Name:       topic,
		Partitions: 1,
		Configs:    map[string]string{"retention.ms": "200"},
	})
	produceN(t, c, topic, "", "v", 5)
	time.Sleep(300 * time.Millisecond)

	if err := c.ApplyRetention(t.Context(), topic); err != nil {
		t.Fatalf("apply retention: %v", err)
	}
	tp := parley.TopicPartition{Topic: topic}
	if got := bounds(t, c, topic)[tp]; got != (parley.Bounds{Start: 4, End: 5}) {
		t.Fatalf("bounds = %+v, want 4..5: the last record kept", got)
	}
}
