package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// tailRecorder collects what a Tailer reports, checking that start and
// handle are never called concurrently and that each partition's start
// comes before its records.
type tailRecorder struct {
	t      *testing.T
	mu     sync.Mutex
	busy   bool
	starts []map[parley.TopicPartition]int64
	next   map[parley.TopicPartition]int64
	recs   []*parley.Record
	times  []time.Time
}

func newTailRecorder(t *testing.T) *tailRecorder {
	return &tailRecorder{t: t, next: map[parley.TopicPartition]int64{}}
}

func (r *tailRecorder) enter() {
	r.mu.Lock()
	if r.busy {
		r.t.Error("tailer callbacks called concurrently")
	}
	r.busy = true
}

func (r *tailRecorder) leave() {
	r.busy = false
	r.mu.Unlock()
}

func (r *tailRecorder) start(m map[parley.TopicPartition]int64) {
	r.enter()
	defer r.leave()
	r.starts = append(r.starts, m)
	for tp, o := range m {
		r.next[tp] = o
	}
}

func (r *tailRecorder) handle(recs []*parley.Record) {
	r.enter()
	defer r.leave()
	for _, rec := range recs {
		r.handleOne(rec)
	}
}

func (r *tailRecorder) handleOne(rec *parley.Record) {
	tp := parley.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
	want, ok := r.next[tp]
	switch {
	case !ok:
		r.t.Errorf("record %s/%d@%d handled before its start", rec.Topic, rec.Partition, rec.Offset)
	case rec.Offset != want:
		r.t.Errorf("record %s/%d@%d handled, want offset %d next", rec.Topic, rec.Partition,
			rec.Offset, want)
	}
	r.next[tp] = rec.Offset + 1
	r.recs = append(r.recs, rec)
	r.times = append(r.times, time.Now())
}

func (r *tailRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

func (r *tailRecorder) startCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts)
}

func TestTailStartsAtEndAndKeepsOrder(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 2})
	produceN(t, c, topic, "a", "old", 3)
	produceN(t, c, topic, "b", "old", 2)

	rec := newTailRecorder(t)
	stop := runBackground(t, func(ctx context.Context) error {
		return c.Tail(ctx, []string{topic}, rec.start, rec.handle)
	})
	waitFor(t, "the start offsets", func() bool { return rec.startCount() == 1 })

	want := map[parley.TopicPartition]int64{{Topic: topic}: 0, {Topic: topic, Partition: 1}: 0}
	want[parley.TopicPartition{Topic: topic, Partition: murmur2Partition([]byte("a"), 2)}] += 3
	want[parley.TopicPartition{Topic: topic, Partition: murmur2Partition([]byte("b"), 2)}] += 2
	if fmt.Sprint(rec.starts[0]) != fmt.Sprint(want) {
		t.Fatalf("start = %v, want the end offsets %v", rec.starts[0], want)
	}

	produceN(t, c, topic, "a", "a", 20)
	produceN(t, c, topic, "b", "b", 20)
	waitFor(t, "40 live records", func() bool { return rec.count() == 40 })
	if err := stop(); err != nil {
		t.Fatalf("tail: %v", err)
	}
	for _, r := range rec.recs {
		if strings.HasPrefix(string(r.Value), "old") {
			t.Fatalf("tail handed %s, produced before it started", r.Value)
		}
	}
}

func TestTailerAddStartsAtLogStart(t *testing.T) {
	_, c := setup(t)
	first, later := topicName(t), topicName(t)
	ensure(t, c, TopicSpec{Name: first, Partitions: 1})

	rec := newTailRecorder(t)
	tailer := c.NewTailer([]string{first}, rec.start, rec.handle)
	stop := runBackground(t, tailer.Run)
	waitFor(t, "the start offsets", func() bool { return rec.startCount() == 1 })

	// A group moves to its own topic: created now, written before the
	// tailer hears of it.
	ensure(t, c, TopicSpec{Name: later, Partitions: 1})
	produceN(t, c, later, "", "early", 3)
	if err := tailer.Add(t.Context(), later); err != nil {
		t.Fatalf("add: %v", err)
	}
	if err := tailer.Add(t.Context(), later, first); err != nil {
		t.Fatalf("add again: %v", err)
	}
	waitFor(t, "the added topic's start", func() bool { return rec.startCount() == 2 })
	produceN(t, c, later, "", "late", 2)
	produceN(t, c, first, "", "first", 1)
	waitFor(t, "6 records", func() bool { return rec.count() == 6 })
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}

	wantStart := map[parley.TopicPartition]int64{{Topic: later}: 0}
	if fmt.Sprint(rec.starts[1]) != fmt.Sprint(wantStart) {
		t.Errorf("added start = %v, want %v", rec.starts[1], wantStart)
	}
	var got []string
	for _, r := range rec.recs {
		if r.Topic == later {
			got = append(got, string(r.Value))
		}
	}
	if !slices.Equal(got, []string{"early0", "early1", "early2", "late0", "late1"}) {
		t.Errorf("added topic's records = %v, want early0..2, late0..1", got)
	}
	if err := tailer.Add(t.Context(), topicName(t)); !errors.Is(err, ErrTailerDone) &&
		!errors.Is(err, parley.ErrNotFound) {
		t.Errorf("add after run: err = %v, want ErrTailerDone or ErrNotFound", err)
	}
}

func TestTailerAddBeforeRun(t *testing.T) {
	_, c := setup(t)
	first, added := topicName(t), topicName(t)
	ensure(t, c, TopicSpec{Name: first, Partitions: 1}, TopicSpec{Name: added, Partitions: 1})
	produceN(t, c, added, "", "v", 2)

	rec := newTailRecorder(t)
	tailer := c.NewTailer([]string{first}, rec.start, rec.handle)
	if err := tailer.Add(t.Context(), added); err != nil {
		t.Fatalf("add: %v", err)
	}
	stop := runBackground(t, tailer.Run)
	waitFor(t, "2 records", func() bool { return rec.count() == 2 })
	_ = stop()
	if len(rec.starts) != 2 {
		t.Fatalf("starts = %v, want one for the first topic and one for the added", rec.starts)
	}
}

func TestTailUnknownTopic(t *testing.T) {
	_, c := setup(t)
	err := c.Tail(t.Context(), []string{"missing"}, func(map[parley.TopicPartition]int64) {},
		func([]*parley.Record) {})
	if !errors.Is(err, parley.ErrNotFound) {
		t.Fatalf("tail a missing topic: err = %v, want ErrNotFound", err)
	}
}

// TestTailLatency measures the time from Produce returning to handle
// seeing the record, one record at a time.
func TestTailLatency(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 3})

	got := make(chan time.Time, 1)
	stop := runBackground(t, func(ctx context.Context) error {
		return c.Tail(ctx, []string{topic}, func(map[parley.TopicPartition]int64) {},
			func([]*parley.Record) { got <- time.Now() })
	})
	defer stop()
	time.Sleep(100 * time.Millisecond) // let the tailer's fetches start

	const n = 200
	lat := make([]time.Duration, 0, n)
	for i := range n {
		r := &parley.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("x")}
		sent := time.Now()
		if err := c.Produce(t.Context(), r); err != nil {
			t.Fatalf("produce: %v", err)
		}
		select {
		case at := <-got:
			lat = append(lat, at.Sub(sent))
		case <-time.After(5 * time.Second):
			t.Fatalf("record %d not handled within 5 s", i)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[n/2], lat[n*99/100]
	t.Logf("produce→handle latency over %d records: p50 %v, p99 %v, max %v",
		n, p50, p99, lat[n-1])
	if p50 > 50*time.Millisecond {
		t.Errorf("p50 latency %v, want a few ms", p50)
	}
}
