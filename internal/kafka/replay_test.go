package kafka

import (
	"errors"
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

func TestReplayRanges(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	produceN(t, c, topic, "", "v", 20)
	tp := parley.TopicPartition{Topic: topic}

	tests := []struct {
		name     string
		from, to int64
		want     []int64
	}{
		{"middle", 5, 10, span(5, 10)},
		{"from the start", 0, 3, span(0, 3)},
		{"to beyond the end", 15, 1000, span(15, 20)},
		{"empty range", 7, 7, nil},
		{"from the end", 20, 30, nil},
		{"everything", 0, 20, span(0, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			err := c.Replay(t.Context(), tp, tt.from, tt.to, func(r *parley.Record) error {
				got = append(got, r.Offset)
				return nil
			})
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("replay [%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestReplayStopsAtFirstError(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	produceN(t, c, topic, "", "v", 10)

	stop := errors.New("stop")
	var got []int64
	tp := parley.TopicPartition{Topic: topic}
	err := c.Replay(t.Context(), tp, 0, 10, func(r *parley.Record) error {
		got = append(got, r.Offset)
		if r.Offset == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("replay: err = %v, want the callback's error", err)
	}
	if !slices.Equal(got, span(0, 4)) {
		t.Fatalf("replay handed %v, want 0..3", got)
	}
}

func TestReplayFromBelowLogStart(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	tp := parley.TopicPartition{Topic: topic}
	produceN(t, c, topic, "", "old", 5)
	deleteRecords(t, c, tp, 5)
	produceN(t, c, topic, "", "new", 3)

	var got []*parley.Record
	err := c.Replay(t.Context(), tp, 0, 100, func(r *parley.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !slices.Equal(values(got), []string{"new0", "new1", "new2"}) || got[0].Offset != 5 {
		t.Fatalf("replay from 0 = %v, want new0..new2 from offset 5", values(got))
	}
}

func TestReplayUnknownTopic(t *testing.T) {
	_, c := setup(t)
	err := c.Replay(t.Context(), parley.TopicPartition{Topic: "missing"}, 0, 10,
		func(*parley.Record) error { return nil })
	if !errors.Is(err, parley.ErrNotFound) {
		t.Fatalf("replay a missing topic: err = %v, want ErrNotFound", err)
	}
}

func TestBounds(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 2})
	produceN(t, c, topic, "same-key", "v", 4)

	bounds, err := c.Bounds(t.Context(), topic)
	if err != nil {
		t.Fatalf("bounds: %v", err)
	}
	if len(bounds) != 2 {
		t.Fatalf("bounds = %v, want 2 partitions", bounds)
	}
	p := murmur2Partition([]byte("same-key"), 2)
	want := map[parley.TopicPartition]parley.Bounds{
		{Topic: topic, Partition: p}:     {Start: 0, End: 4},
		{Topic: topic, Partition: 1 - p}: {Start: 0, End: 0},
	}
	for tp, b := range want {
		if bounds[tp] != b {
			t.Errorf("bounds[%v] = %+v, want %+v", tp, bounds[tp], b)
		}
	}

	if _, err := c.Bounds(t.Context(), "missing"); !errors.Is(err, parley.ErrNotFound) {
		t.Errorf("bounds of a missing topic: err = %v, want ErrNotFound", err)
	}
}

func span(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
