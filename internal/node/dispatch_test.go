package node

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// TestDispatchWakesAConnectionOncePerPoll hands the dispatcher one poll of
// three DMs to bob: his connection is woken once, with all three queued,
// so that a WebSocket sends them in one frame.
func TestDispatchWakesAConnectionOncePerPoll(t *testing.T) {
	h := hub.New(hub.Limits{})
	s := New(Config{Hub: h})
	sub := h.Register("bob")
	defer sub.Close()
	sub.GoLive(nil)
	wakes, queuedAtWake := 0, 0.0
	sub.OnReady(func() {
		wakes++
		var m dto.Metric
		if err := s.metrics.deliveries.Write(&m); err != nil {
			t.Errorf("read the deliveries counter: %v", err)
		}
		queuedAtWake = m.GetCounter().GetValue()
	})

	conv := parley.DMConversation("alice", "bob")
	var recs []*parley.Record
	for i := range 3 {
		m := &parley.Message{ID: fmt.Sprintf("m%d", i), Type: parley.TypeMessage,
			Conversation: conv, From: "alice", Body: "hi", SentAt: time.Now()}
		r := s.codec.EntryRecord(m, parley.StrategyShared)
		r.Offset = int64(i)
		recs = append(recs, r)
	}
	s.DispatchStart(map[parley.TopicPartition]int64{recs[0].TP(): 0})
	s.Dispatch(t.Context(), recs)

	if wakes != 1 || queuedAtWake != 3 {
		t.Fatalf("the connection was woken %d times for one poll, first with %v of its 3 events "+
			"queued; want once, with all 3", wakes, queuedAtWake)
	}
	ds, err := sub.TryNext(0)
	if err != nil || len(ds) != 3 {
		t.Fatalf("TryNext = %d deliveries, %v; want the poll's 3", len(ds), err)
	}
}
