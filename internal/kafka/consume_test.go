package kafka

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/parley-chat/parley/internal/parley"
)

// groupRecorder collects the records a group consumer handled.
type groupRecorder struct {
	mu    sync.Mutex
	calls [][]string // values per handle call, failed ones included
	recs  []*parley.Record
	fail  int // how many calls to fail
}

func (g *groupRecorder) handle(_ context.Context, recs []*parley.Record) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, values(recs))
	if g.fail > 0 {
		g.fail--
		return errors.New("store down")
	}
	g.recs = append(g.recs, recs...)
	return nil
}

func (g *groupRecorder) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recs)
}

func (g *groupRecorder) values() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return values(g.recs)
}

func consumeUntil(t *testing.T, c *Client, group, topic string, rec *groupRecorder, n int) {
	t.Helper()
	stop := runBackground(t, func(ctx context.Context) error {
		return c.Consume(ctx, group, []string{topic}, rec.handle, nil)
	})
	waitFor(t, "the group to handle its records", func() bool { return rec.count() >= n })
	waitFor(t, "the group to commit", func() bool {
		infos, err := c.DescribeTopics(t.Context(), topic)
		return err == nil && infos[0].Lag[group] == 0 && len(infos[0].Lag) > 0
	})
	if err := stop(); err != nil {
		t.Fatalf("consume: %v", err)
	}
}

func TestConsumeRetriesAndCommitsAfterHandle(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 2})
	produceN(t, c, topic, "", "old", 10)

	first := &groupRecorder{fail: 1}
	consumeUntil(t, c, "archiver", topic, first, 10)
	if len(first.calls) < 2 || !slices.Equal(first.calls[0], first.calls[1]) {
		t.Fatalf("calls = %v, want the failed call's records handed over again", first.calls)
	}
	got := first.values()
	slices.Sort(got)
	if want := []string{"old0", "old1", "old2", "old3", "old4", "old5", "old6", "old7",
		"old8", "old9"}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want old0..old9 once each", got)
	}

	// A second member after the first stopped resumes after the commits.
	produceN(t, c, topic, "", "new", 5)
	second := &groupRecorder{}
	consumeUntil(t, c, "archiver", topic, second, 5)
	for _, v := range second.values() {
		if !strings.HasPrefix(v, "new") {
			t.Fatalf("second consumer handled %s, committed before it started", v)
		}
	}
	if second.count() != 5 {
		t.Fatalf("second consumer handled %v, want the 5 new records", second.values())
	}
}

func TestConsumeOrderWithinPartition(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 3})
	for _, key := range []string{"x", "y", "z"} {
		produceN(t, c, topic, key, key, 30)
	}

	rec := &groupRecorder{}
	consumeUntil(t, c, "ordered", topic, rec, 90)
	last := map[parley.TopicPartition]int64{}
	for _, r := range rec.recs {
		tp := parley.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if prev, ok := last[tp]; ok && r.Offset != prev+1 {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
		}
		last[tp] = r.Offset
	}
}

// TestConsumeAfterRenumberedLog reproduces KAFKA-NOTES limit 5: kfake,
// restarted after a partition was emptied, numbers its records from 0
// again, below the group's committed offset. Parley's retention never
// empties a partition, but DeleteRecords from an outside tool can. The
// group must read the new records, whether there are fewer or more of them
// than it had committed.
func TestConsumeAfterRenumberedLog(t *testing.T) {
	for _, n := range []int{3, 8} {
		t.Run(strings.Repeat("n", n), func(t *testing.T) {
			consumeAfterRenumberedLog(t, n)
		})
	}
}

func consumeAfterRenumberedLog(t *testing.T, n int) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	c := newClient(t, b.Addr())
	topic := topicName(t)
	tp := parley.TopicPartition{Topic: topic}
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	produceN(t, c, topic, "", "old", 5)
	consumeUntil(t, c, "archiver", topic, &groupRecorder{}, 5)
	deleteRecords(t, c, tp, 5)
	c.Close()
	_ = b.Close()

	b = startBroker(t, dir)
	defer b.Close()
	c = newClient(t, b.Addr())
	defer c.Close()
	bounds, err := c.Bounds(t.Context(), topic)
	if err != nil {
		t.Fatalf("bounds: %v", err)
	}
	t.Logf("after restart: partition bounds %+v, group committed 5", bounds[tp])

	produceN(t, c, topic, "", "new", n)
	rec := &groupRecorder{}
	consumeUntil(t, c, "archiver", topic, rec, n)
	want := make([]string, n)
	for i := range want {
		want[i] = "new" + string(rune('0'+i))
	}
	if got := rec.values(); !slices.Equal(got, want) {
		t.Fatalf("group handled %v after the restart, want %v", got, want)
	}
}

// fetchCounter counts the fetch requests a client writes.
type fetchCounter struct{ n atomic.Int64 }

func (f *fetchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key == int16(kmsg.Fetch) {
		f.n.Add(1)
	}
}

// A member given a Wake stops fetching once its polls come back empty, and
// handles a record produced meanwhile only when the wake is signalled.
func TestConsumePausesWhileIdleUntilWoken(t *testing.T) {
	b, _ := setup(t)
	fetches := &fetchCounter{}
	c, err := New(t.Context(), Config{Brokers: []string{b.Addr()}, Logger: testLogger(),
		hooks: []kgo.Hook{fetches}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 2})
	wake := NewWake()
	wake.check = time.Hour // only a signal ends the pause
	rec := &groupRecorder{}
	stop := runBackground(t, func(ctx context.Context) error {
		return c.Consume(ctx, "archiver", []string{topic}, rec.handle, wake)
	})
	defer stop()

	produceN(t, c, topic, "", "first", 1)
	waitFor(t, "the first record to be handled", func() bool { return rec.count() == 1 })
	waitFor(t, "the member to pause", func() bool { return wake.Paused() == 1 })

	// A member that fetched on would send a fetch every 20 ms; one in
	// flight when it paused may still be counted.
	before := fetches.n.Load()
	time.Sleep(300 * time.Millisecond)
	if n := fetches.n.Load() - before; n > 1 {
		t.Fatalf("%d fetches in 300 ms while paused, want at most 1", n)
	}

	produceN(t, c, topic, "", "second", 1)
	time.Sleep(300 * time.Millisecond)
	if n := rec.count(); n != 1 {
		t.Fatalf("handled %d records while paused, want 1", n)
	}
	wake.Signal()
	waitFor(t, "the second record to be handled", func() bool { return rec.count() == 2 })
	if got := rec.values(); !slices.Equal(got, []string{"first0", "second0"}) {
		t.Fatalf("handled %v, want first0 and second0", got)
	}
}

// Without a signal, a paused member fetches again after the wake's check
// interval: a lost signal delays history, it does not stop it.
func TestConsumePausedFetchesAgainWithoutSignal(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	wake := NewWake()
	wake.check = 200 * time.Millisecond
	rec := &groupRecorder{}
	stop := runBackground(t, func(ctx context.Context) error {
		return c.Consume(ctx, "archiver", []string{topic}, rec.handle, wake)
	})
	defer stop()

	waitFor(t, "the member to pause", func() bool { return wake.Paused() == 1 })
	produceN(t, c, topic, "", "late", 3)
	waitFor(t, "the records to be handled", func() bool { return rec.count() == 3 })
}
