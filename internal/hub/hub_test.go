package hub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/internal/parley"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func del(topic string, part int32, off int64) *Delivery {
	return &Delivery{Data: []byte("x"), Pos: parley.Position{Topic: topic, Partition: part, Offset: off}}
}

func next(t *testing.T, s *Subscription) []*Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ds, err := s.Next(ctx, 0)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ds
}

func TestPublishReachesOnlyTheUsersSubscriptions(t *testing.T) {
	h := New(Limits{})
	a1, a2, b := h.Register("alice"), h.Register("alice"), h.Register("bob")
	defer a1.Close()
	defer a2.Close()
	defer b.Close()
	for _, s := range []*Subscription{a1, a2, b} {
		s.GoLive(nil)
	}

	h.Publish([]string{"alice"}, del("t", 0, 1))
	if len(next(t, a1)) != 1 || len(next(t, a2)) != 1 {
		t.Fatal("alice's subscriptions did not both get the delivery")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if ds, err := b.Next(ctx, 0); err == nil {
		t.Fatalf("bob got %d deliveries meant for alice", len(ds))
	}
	if h.Count() != 3 || !h.Connected("bob") || h.Connected("carol") {
		t.Errorf("Count %d, Connected(bob) %v", h.Count(), h.Connected("bob"))
	}
}

func TestGoLiveDropsWhatTheReplayCovered(t *testing.T) {
	h := New(Limits{})
	s := h.Register("alice")
	defer s.Close()
	h.Publish([]string{"alice"}, del("t", 0, 4)) // also replayed
	h.Publish([]string{"alice"}, del("t", 0, 5)) // live only
	h.Publish([]string{"alice"}, del("u", 1, 0)) // a partition the replay did not cover

	if err := s.Push(context.Background(), del("t", 0, 4)); err != nil {
		t.Fatal(err)
	}
	s.GoLive(map[parley.TopicPartition]int64{{Topic: "t", Partition: 0}: 5})

	var got []int64
	for _, d := range next(t, s) {
		got = append(got, d.Pos.Offset)
	}
	if len(got) != 3 || got[0] != 4 || got[1] != 5 || got[2] != 0 {
		t.Errorf("offsets %v, want [4 5 0]", got)
	}
}

func TestSlowSubscriptionFailsAloneAndBounded(t *testing.T) {
	h := New(Limits{QueueLen: 10})
	slow, fast := h.Register("slow"), h.Register("fast")
	defer slow.Close()
	defer fast.Close()
	slow.GoLive(nil)
	fast.GoLive(nil)

	for i := range 50 {
		h.Publish([]string{"slow", "fast"}, del("t", 0, int64(i)))
		next(t, fast)
	}
	if !errors.Is(slow.Err(), parley.ErrSlowConsumer) {
		t.Fatalf("slow.Err() = %v, want ErrSlowConsumer", slow.Err())
	}
	if _, err := slow.Next(context.Background(), 0); !errors.Is(err, parley.ErrSlowConsumer) {
		t.Errorf("Next after failing: %v", err)
	}
	if fast.Err() != nil {
		t.Errorf("fast failed too: %v", fast.Err())
	}
}

func TestPushWaitsForRoom(t *testing.T) {
	h := New(Limits{QueueLen: 2})
	s := h.Register("a")
	defer s.Close()
	s.GoLive(nil)

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 10 {
			if err := s.Push(context.Background(), del("t", 0, int64(i))); err != nil {
				t.Errorf("Push: %v", err)
				return
			}
		}
	})
	got := 0
	for got < 10 {
		got += len(next(t, s))
	}
	wg.Wait()
}

func TestCloseUnregistersAndWakesReader(t *testing.T) {
	h := New(Limits{})
	s := h.Register("a")
	s.GoLive(nil)
	done := make(chan error)
	go func() {
		_, err := s.Next(context.Background(), 0)
		done <- err
	}()
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Next = %v, want ErrClosed", err)
	}
	if h.Count() != 0 {
		t.Errorf("Count = %d after Close", h.Count())
	}
}

func TestOnReadyCallsOnFirstDeliveryAndOnEnd(t *testing.T) {
	h := New(Limits{})
	s := h.Register("alice")
	defer s.Close()
	s.GoLive(nil)
	h.Publish([]string{"alice"}, del("t", 0, 1))

	calls := 0
	s.OnReady(func() { calls++ })
	if calls != 1 {
		t.Fatalf("OnReady with a delivery queued called f %d times, want 1 at once", calls)
	}
	h.Publish([]string{"alice"}, del("t", 0, 2))
	if calls != 1 {
		t.Fatalf("a delivery to a non-empty queue called f again (%d calls)", calls)
	}
	if ds, err := s.TryNext(0); len(ds) != 2 || err != nil {
		t.Fatalf("TryNext = %d deliveries, %v; want 2, nil", len(ds), err)
	}
	if ds, err := s.TryNext(0); len(ds) != 0 || err != nil {
		t.Fatalf("TryNext on an empty queue = %d deliveries, %v", len(ds), err)
	}
	h.Publish([]string{"alice"}, del("t", 0, 3))
	if calls != 2 {
		t.Fatalf("a delivery to the emptied queue made %d calls, want 2", calls)
	}
	s.Fail(parley.ErrSlowConsumer)
	if calls != 3 {
		t.Fatalf("the end of the subscription made %d calls, want 3", calls)
	}
}

func TestCloseRemovesOnlyThatSubscription(t *testing.T) {
	h := New(Limits{})
	var subs []*Subscription
	for range 3 {
		s := h.Register("alice")
		s.GoLive(nil)
		subs = append(subs, s)
	}
	subs[1].Close()
	subs[1].Close() // closing twice is harmless
	h.Publish([]string{"alice"}, del("t", 0, 1))
	for _, i := range []int{0, 2} {
		if ds, err := subs[i].TryNext(0); len(ds) != 1 || err != nil {
			t.Fatalf("subscription %d got %d deliveries, %v", i, len(ds), err)
		}
	}
	if h.Count() != 2 {
		t.Fatalf("Count = %d, want 2", h.Count())
	}
	subs[0].Close()
	subs[2].Close()
	if h.Count() != 0 || h.Connected("alice") {
		t.Fatalf("after closing all: Count %d, Connected %v", h.Count(), h.Connected("alice"))
	}
}

func TestBatchWakesEachReaderOnceAtFlush(t *testing.T) {
	h := New(Limits{})
	a, b, c := h.Register("alice"), h.Register("bob"), h.Register("carol")
	defer a.Close()
	defer b.Close()
	defer c.Close()
	calls := map[string]int{}
	for _, s := range []*Subscription{a, b, c} {
		s.GoLive(nil)
		s.OnReady(func() { calls[s.User()]++ })
	}

	batch := h.NewBatch()
	batch.Publish([]string{"alice", "bob"}, del("t", 0, 1))
	batch.PublishAll(del("t", 0, 2))
	batch.Publish([]string{"alice"}, del("t", 0, 3))
	if len(calls) != 0 {
		t.Fatalf("readers woken before Flush: %v", calls)
	}
	if !batch.Waiting() {
		t.Fatal("Waiting() = false with three readers to wake")
	}
	// carol's reader empties her queue before the flush: nothing to
	// wake her for.
	if ds, _ := c.TryNext(0); len(ds) != 1 {
		t.Fatalf("carol's queue holds %d deliveries, want 1", len(ds))
	}
	batch.Flush()
	if calls["alice"] != 1 || calls["bob"] != 1 || calls["carol"] != 0 {
		t.Fatalf("calls after Flush = %v, want alice and bob once, carol never", calls)
	}
	if batch.Waiting() {
		t.Fatal("Waiting() = true after Flush")
	}
	if ds, _ := a.TryNext(0); len(ds) != 3 {
		t.Fatalf("alice's reader found %d deliveries after the flush, want all 3", len(ds))
	}

	// The next batch wakes alice again, once her queue was emptied.
	batch.Publish([]string{"alice"}, del("t", 0, 4))
	batch.Flush()
	batch.Flush()
	if calls["alice"] != 2 {
		t.Fatalf("alice woken %d times after the second batch, want 2", calls["alice"])
	}
}

func TestBatchWakesReaderParkedInNext(t *testing.T) {
	h := New(Limits{})
	s := h.Register("alice")
	defer s.Close()
	s.GoLive(nil)
	got := make(chan int)
	go func() {
		ds, _ := s.Next(t.Context(), 0)
		got <- len(ds)
	}()
	time.Sleep(20 * time.Millisecond) // time for the reader to park
	batch := h.NewBatch()
	batch.Publish([]string{"alice"}, del("t", 0, 1))
	batch.Publish([]string{"alice"}, del("t", 0, 2))
	batch.Flush()
	select {
	case n := <-got:
		if n < 1 {
			t.Fatalf("Next returned %d deliveries", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a reader parked in Next was not woken by Flush")
	}
}
