package hub

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkPublishToGroup publishes one delivery to 10,000 users with a
// subscription each, as the dispatcher does for a message to a large
// group. Each subscription's reader is woken through OnReady and takes
// the delivery, so every Publish finds empty queues.
func BenchmarkPublishToGroup(b *testing.B) {
	const members = 10000
	h := New(Limits{})
	users := make([]string, members)
	subs := make([]*Subscription, members)
	var woken atomic.Int64
	for i := range users {
		users[i] = "member-" + strconv.Itoa(i)
		subs[i] = h.Register(users[i])
		subs[i].GoLive(nil)
		subs[i].OnReady(func() { woken.Add(1) })
	}
	d := &Delivery{Data: []byte(`{"type":"message"}`)}
	b.ResetTimer()
	for range b.N {
		h.Publish(users, d)
		b.StopTimer()
		for _, s := range subs {
			s.TryNext(0)
		}
		b.StartTimer()
	}
	b.StopTimer()
	if woken.Load() != int64(b.N)*members {
		b.Fatalf("woken %d times, want %d", woken.Load(), int64(b.N)*members)
	}
	for _, s := range subs {
		s.Close()
	}
}
