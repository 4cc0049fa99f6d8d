package main

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// histBuckets covers 0 µs to about 2^31 µs (35 minutes) with a relative
// error under 0.2%: values below 1024 µs have a bucket each, larger ones
// keep their top ten bits.
const histBuckets = 23 * 1024

// hist is a latency histogram in microseconds. Record is safe for
// concurrent use and takes no lock, so thousands of reading goroutines can
// share one.
type hist struct {
	counts [histBuckets]atomic.Uint64
}

func bucketOf(us int64) int {
	if us < 0 {
		us = 0
	}
	v := uint64(us)
	if v < 1024 {
		return int(v)
	}
	shift := bits.Len64(v) - 10
	b := shift*1024 + int(v>>uint(shift))
	if b >= histBuckets {
		return histBuckets - 1
	}
	return b
}

// valueOf returns the lowest value that falls in bucket b.
func valueOf(b int) int64 {
	if b < 1024 {
		return int64(b)
	}
	shift := b / 1024
	return int64(b%1024) << uint(shift) // b%1024 holds the value's top bits
}

// Record adds one latency.
func (h *hist) Record(d time.Duration) { h.counts[bucketOf(d.Microseconds())].Add(1) }

// sparse returns the non-empty buckets, for JSON output and merging.
func (h *hist) sparse() map[int]uint64 {
	out := map[int]uint64{}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			out[i] = n
		}
	}
	return out
}

// quantiles summarises a sparse histogram.
type quantiles struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func summarise(sp map[int]uint64) quantiles {
	var total uint64
	top := -1
	for b, n := range sp {
		total += n
		if b > top {
			top = b
		}
	}
	q := quantiles{Count: total}
	if total == 0 {
		return q
	}
	at := func(p float64) float64 {
		want := uint64(p*float64(total-1)) + 1
		var seen uint64
		for b := 0; b <= top; b++ {
			seen += sp[b]
			if seen >= want {
				return float64(valueOf(b)) / 1000
			}
		}
		return float64(valueOf(top)) / 1000
	}
	q.P50, q.P99, q.P999 = at(0.50), at(0.99), at(0.999)
	q.Max = float64(valueOf(top)) / 1000
	return q
}

func mergeSparse(dst, src map[int]uint64) {
	for b, n := range src {
		dst[b] += n
	}
}

// tallyShards spreads the tally's maps over locks so that many readers can
// count at once.
const tallyShards = 64

// tally matches what was acknowledged with what the recipients received,
// by message ID. Each recipient drops repeats itself and reports each
// message once here, so received counts distinct recipients.
type tally struct {
	// keepTimes makes the tally keep each message's send time and its
	// slowest delivery, to time a broadcast's completion.
	keepTimes bool
	shards    [tallyShards]tallyShard
}

type tallyShard struct {
	// mu guards the maps below.
	mu       sync.Mutex
	expected map[uint64]int32 // acknowledged ID -> recipients that must get it
	got      map[uint64]*gotStats
}

// gotStats is what arrived of one ID: one map entry, so that a delivery
// costs one lookup.
type gotStats struct {
	received  int32 // distinct recipients that got it
	sentAt    int64 // send time, Unix ns (keepTimes)
	slowestUs int64 // its slowest delivery so far, µs (keepTimes)
}

func newTally() *tally {
	t := &tally{}
	for i := range t.shards {
		t.shards[i].expected = map[uint64]int32{}
		t.shards[i].got = map[uint64]*gotStats{}
	}
	return t
}

func (t *tally) shard(id uint64) *tallyShard { return &t.shards[(id*0x9E3779B97F4A7C15)>>58] }

// Ack records that the server acknowledged id, which want recipients must
// receive.
func (t *tally) Ack(id uint64, want int) {
	s := t.shard(id)
	s.mu.Lock()
	s.expected[id] = int32(want)
	s.mu.Unlock()
}

// Got records that one more recipient received id, sent at sentNs, after
// lat.
func (t *tally) Got(id uint64, sentNs int64, lat time.Duration) {
	s := t.shard(id)
	s.mu.Lock()
	g := s.got[id]
	if g == nil {
		g = &gotStats{}
		s.got[id] = g
	}
	g.received++
	if t.keepTimes {
		g.sentAt = sentNs
		g.slowestUs = max(g.slowestUs, lat.Microseconds())
	}
	s.mu.Unlock()
}

// completion returns, as a sparse histogram, how long each acknowledged
// message sent in [from, to) took to reach all its recipients. A message
// some recipient never got is left out (it is counted as lost).
func (t *tally) completion(from, to int64) map[int]uint64 {
	out := map[int]uint64{}
	x := t.export(true)
	for id, want := range x.Expected {
		at, ok := x.SentAt[id]
		if !ok || at < from || at >= to || x.Received[id] < want {
			continue
		}
		out[bucketOf(x.Slowest[id])]++
	}
	return out
}

// ids is the tally in a form that can be written as JSON and merged with
// the tallies of other shards of a run.
type ids struct {
	Expected map[uint64]int32 `json:"expected,omitempty"`
	Received map[uint64]int32 `json:"received,omitempty"`
	SentAt   map[uint64]int64 `json:"sent_at,omitempty"`
	Slowest  map[uint64]int64 `json:"slowest_us,omitempty"`
}

// export copies the tally; withTimes adds the send and delivery times.
func (t *tally) export(withTimes bool) ids {
	out := ids{Expected: map[uint64]int32{}, Received: map[uint64]int32{},
		SentAt: map[uint64]int64{}, Slowest: map[uint64]int64{}}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, v := range s.expected {
			out.Expected[k] = v
		}
		for k, g := range s.got {
			out.Received[k] += g.received
			if withTimes && t.keepTimes {
				out.SentAt[k] = g.sentAt
				out.Slowest[k] = max(out.Slowest[k], g.slowestUs)
			}
		}
		s.mu.Unlock()
	}
	return out
}

func (x *ids) merge(y ids) {
	if x.Expected == nil {
		x.Expected, x.Received = map[uint64]int32{}, map[uint64]int32{}
		x.SentAt, x.Slowest = map[uint64]int64{}, map[uint64]int64{}
	}
	for k, v := range y.Expected {
		x.Expected[k] = v
	}
	for k, v := range y.Received {
		x.Received[k] += v
	}
	for k, v := range y.SentAt {
		x.SentAt[k] = v
	}
	for k, v := range y.Slowest {
		x.Slowest[k] = max(x.Slowest[k], v)
	}
}

// losses counts acknowledged deliveries that never arrived and deliveries
// beyond what was expected (a recipient that got an ID twice is counted
// by the recipient itself, as a duplicate).
func (x ids) losses() (acked, lost, extra int64) {
	for id, want := range x.Expected {
		acked++
		got := x.Received[id]
		if got < want {
			lost += int64(want - got)
		} else {
			extra += int64(got - want)
		}
	}
	return acked, lost, extra
}
