package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

func TestProduceSetsPositionsAndKeepsKeyOrder(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 3})

	var recs []*parley.Record
	for i := range 30 {
		key := fmt.Sprintf("k%d", i%3)
		recs = append(recs, &parley.Record{
			Topic:   topic,
			Key:     []byte(key),
			Value:   fmt.Appendf(nil, "%s-%d", key, i),
			Headers: []parley.Header{{Key: "h", Value: []byte("x")}},
		})
	}
	if err := c.Produce(t.Context(), recs...); err != nil {
		t.Fatalf("produce: %v", err)
	}

	last := map[string]*parley.Record{}
	for _, r := range recs {
		want := murmur2Partition(r.Key, 3)
		if r.Partition != want {
			t.Errorf("key %s went to partition %d, want %d (murmur2)", r.Key, r.Partition, want)
		}
		if p := last[string(r.Key)]; p != nil && r.Offset <= p.Offset {
			t.Errorf("key %s: offset %d after %d, want increasing", r.Key, r.Offset, p.Offset)
		}
		if r.Time.IsZero() {
			t.Errorf("record %s has no time", r.Value)
		}
		last[string(r.Key)] = r
	}

	// Read back one partition: the key's records in the order produced.
	first := recs[0]
	var got []*parley.Record
	tp := parley.TopicPartition{Topic: topic, Partition: first.Partition}
	err := c.Replay(t.Context(), tp, 0, 1000, func(r *parley.Record) error {
		if string(r.Key) == string(first.Key) {
			got = append(got, r)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(got) != 10 || string(got[0].Value) != "k0-0" || string(got[9].Value) != "k0-27" {
		t.Fatalf("replayed %v, want k0-0 ... k0-27", values(got))
	}
	if string(got[0].Header("h")) != "x" {
		t.Errorf("header h = %q, want x", got[0].Header("h"))
	}
}

func TestProduceConcurrentCallers(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 4})

	const callers, each = 50, 40
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			key := []byte(fmt.Sprintf("conv-%d", g))
			prev := int64(-1)
			for i := range each {
				r := &parley.Record{Topic: topic, Key: key, Value: []byte{byte(i)}}
				if err := c.Produce(t.Context(), r); err != nil {
					errs <- err
					return
				}
				if r.Offset <= prev {
					errs <- fmt.Errorf("key %s: offset %d after %d", key, r.Offset, prev)
					return
				}
				prev = r.Offset
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	bounds, err := c.Bounds(t.Context(), topic)
	if err != nil {
		t.Fatalf("bounds: %v", err)
	}
	var total int64
	for _, b := range bounds {
		total += b.End
	}
	if total != callers*each {
		t.Fatalf("topic holds %d records, want %d", total, callers*each)
	}
}

func TestProduceWithoutKeySpreads(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 4})

	seen := map[int32]bool{}
	for range 200 {
		r := &parley.Record{Topic: topic, Value: []byte("x")}
		if err := c.Produce(t.Context(), r); err != nil {
			t.Fatalf("produce: %v", err)
		}
		seen[r.Partition] = true
	}
	if len(seen) < 2 {
		t.Fatalf("200 unkeyed records all went to partitions %v, want them spread", seen)
	}
}

func TestProduceUnavailable(t *testing.T) {
	b := startBroker(t, "")
	c, err := New(t.Context(), Config{
		Brokers:         []string{b.Addr()},
		DeliveryTimeout: time.Second,
	})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	defer c.Close()
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	_ = b.Close()

	start := time.Now()
	err = c.Produce(t.Context(), &parley.Record{Topic: topic, Value: []byte("lost")})
	if !errors.Is(err, parley.ErrUnavailable) {
		t.Fatalf("produce to a stopped broker: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("produce took %v, want about the delivery timeout", took)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, parley.ErrUnavailable) {
		t.Errorf("ping a stopped broker: err = %v, want ErrUnavailable", err)
	}
}

func TestProduceRespectsContext(t *testing.T) {
	b := startBroker(t, "")
	c := newClient(t, b.Addr())
	defer c.Close()
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	_ = b.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Produce(ctx, &parley.Record{Topic: topic, Value: []byte("lost")})
	if err == nil {
		t.Fatal("produce to a stopped broker succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("produce took %v after a 200 ms deadline", took)
	}
}

func TestNewWithoutBrokerStartsAndPingFails(t *testing.T) {
	b := startBroker(t, "")
	addr := b.Addr()
	_ = b.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	c, err := New(ctx, Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatalf("new against a stopped broker: %v; want a client that says it is unavailable", err)
	}
	defer c.Close()
	if err := c.Ping(ctx); !errors.Is(err, parley.ErrUnavailable) {
		t.Fatalf("ping against a stopped broker: err = %v, want ErrUnavailable", err)
	}
}

func TestSASLMechanisms(t *testing.T) {
	for _, m := range []string{MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512} {
		if _, err := (&SASLConfig{Mechanism: m, User: "u", Password: "p"}).mechanism(); err != nil {
			t.Errorf("mechanism %s: %v", m, err)
		}
	}
	_, err := (&SASLConfig{Mechanism: "GSSAPI"}).mechanism()
	if !errors.Is(err, parley.ErrInvalid) {
		t.Errorf("mechanism GSSAPI: err = %v, want ErrInvalid", err)
	}
}

// murmur2Partition is the partition Kafka's Java client picks for key among
// n partitions: the positive murmur2 hash of the key modulo n.
func murmur2Partition(key []byte, n int32) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(key))
	rest := key
	for len(rest) >= 4 {
		k := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16 | uint32(rest[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		rest = rest[4:]
	}
	switch len(rest) {
	case 3:
		h ^= uint32(rest[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(rest[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(rest[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h&0x7fffffff) % n
}
