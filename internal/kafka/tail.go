package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/parley-chat/parley/internal/parley"
)

// ErrTailerDone is returned by Tailer.Run when called twice and by
// Tailer.Add once Run has returned.
var ErrTailerDone = errors.New("tailer done")

// Tailer reads topics live, from their end, without a consumer group: every
// node sees every record produced after it started. It reports where it
// starts on each partition before it hands over any record, so a caller
// can tell what it missed before (and read it from the log) from what it
// will receive.
//
// A Tailer owns a franz-go client of its own. It follows the partitions it
// found when it started or when a topic was added: partitions added to a
// topic later are not read.
type Tailer struct {
	c      *Client
	first  []string // the topics given to NewTailer
	start  func(map[parley.TopicPartition]int64)
	handle func([]*parley.Record)
	recs   []*parley.Record // the poll being handed over, reused

	// mu guards the fields below.
	mu      sync.Mutex
	topics  map[string]bool // tailed or being added
	cl      *kgo.Client     // set while Run consumes
	pending []map[parley.TopicPartition]int64
	wake    context.CancelFunc // cancels the poll in progress
	ran     bool
	done    bool
}

// NewTailer returns a Tailer of the topics. Run starts it.
//
// start is called with the offset of the first record the Tailer will hand
// over on each partition: once by Run for the topics given here, at their
// high watermarks, and once per Add for the added topics, at their log
// starts, each time before handle sees a record of those partitions.
// handle is called with the records of each poll, in offset order within
// a partition: one record when the Tailer keeps up, more when it is
// behind. It may keep the records, not the slice. Both are called from Run's
// goroutine, never concurrently, and must not block for long: the Tailer
// reads nothing meanwhile.
func (c *Client) NewTailer(topics []string, start func(map[parley.TopicPartition]int64),
	handle func([]*parley.Record),
) *Tailer {
	t := &Tailer{
		c:      c,
		first:  slices.Clone(topics),
		start:  start,
		handle: handle,
		topics: make(map[string]bool),
	}
	for _, topic := range topics {
		t.topics[topic] = true
	}
	return t
}

// Tail reads the topics from their end until ctx is done; see NewTailer for
// start and handle. Use NewTailer to add topics while it runs.
func (c *Client) Tail(ctx context.Context, topics []string,
	start func(map[parley.TopicPartition]int64), handle func([]*parley.Record),
) error {
	return c.NewTailer(topics, start, handle).Run(ctx)
}

// Run lists the end offsets of the topics given to NewTailer, reports them
// to start, then hands every record from there to handle until ctx is done,
// when it returns nil. It fails when a topic does not exist or the cluster
// cannot be reached at the start. Run may be called once.
func (t *Tailer) Run(ctx context.Context) error {
	if err := t.markRan(); err != nil {
		return err
	}
	defer t.finish()

	ends, err := t.c.Bounds(ctx, t.first...)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	offsets := make(map[parley.TopicPartition]int64, len(ends))
	for tp, b := range ends {
		offsets[tp] = b.End
	}
	t.start(offsets)

	if err := t.open(offsets); err != nil {
		return err
	}
	return t.loop(ctx)
}

func (t *Tailer) markRan() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ran {
		return ErrTailerDone
	}
	t.ran = true
	return nil
}

// open creates the client that consumes from offsets, and the topics added
// before it existed from their pending offsets.
func (t *Tailer) open(offsets map[parley.TopicPartition]int64) error {
	opts, err := t.c.cfg.baseOpts()
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	opts = append(opts,
		kgo.ConsumePartitions(kgoOffsets(offsets)),
		// A fetch offset out of range means retention passed us or the
		// broker lost the tail of the log: rereading beats skipping.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.cl = cl
	for _, p := range t.pending {
		cl.AddConsumePartitions(kgoOffsets(p))
	}
	return nil
}

func (t *Tailer) finish() {
	t.mu.Lock()
	cl := t.cl
	t.cl, t.done = nil, true
	t.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

func kgoOffsets(offsets map[parley.TopicPartition]int64) map[string]map[int32]kgo.Offset {
	out := make(map[string]map[int32]kgo.Offset)
	for tp, o := range offsets {
		if out[tp.Topic] == nil {
			out[tp.Topic] = make(map[int32]kgo.Offset)
		}
		out[tp.Topic][tp.Partition] = kgo.NewOffset().At(o)
	}
	return out
}

// loop polls and hands records over until ctx is done.
func (t *Tailer) loop(ctx context.Context) error {
	for {
		t.reportPending()
		fetches := t.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Records of an added topic may be in this poll: report its
		// start first.
		t.reportPending()

		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) {
				continue // woken by Add
			}
			if errors.Is(fe.Err, kgo.ErrClientClosed) {
				return fmt.Errorf("tail: %w", fe.Err)
			}
			t.c.log.Warn("tail fetch failed", "topic", fe.Topic,
				"partition", fe.Partition, "err", fe.Err)
		}
		fetches.EachRecord(func(kr *kgo.Record) {
			t.recs = append(t.recs, fromKgo(kr))
		})
		if len(t.recs) > 0 {
			t.handle(t.recs)
			clear(t.recs)
			t.recs = t.recs[:0]
		}
	}
}

// poll waits for records, or for Add to report new topics.
func (t *Tailer) poll(ctx context.Context) kgo.Fetches {
	t.mu.Lock()
	if len(t.pending) > 0 {
		t.mu.Unlock()
		return nil
	}
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.wake = cancel
	cl := t.cl
	t.mu.Unlock()

	fetches := cl.PollFetches(pollCtx)

	t.mu.Lock()
	t.wake = nil
	t.mu.Unlock()
	return fetches
}

func (t *Tailer) reportPending() {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, p := range pending {
		t.start(p)
	}
}

// Add starts reading the topics from their log start: a topic created
// after the Tailer started holds nothing it could have missed. Topics the
// Tailer already reads are ignored. The start offsets of the added
// partitions go to start, from Run's goroutine, before any of their
// records goes to handle. Add may be called before Run; it fails with
// ErrTailerDone after Run returned, and when a topic does not exist.
func (t *Tailer) Add(ctx context.Context, topics ...string) error {
	fresh := t.unknown(topics)
	if len(fresh) == 0 {
		return nil
	}
	bounds, err := t.c.Bounds(ctx, fresh...)
	if err != nil {
		return fmt.Errorf("tail add: %w", err)
	}
	starts := make(map[parley.TopicPartition]int64, len(bounds))
	for tp, b := range bounds {
		starts[tp] = b.Start
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return ErrTailerDone
	}
	for _, topic := range fresh {
		if t.topics[topic] {
			// A concurrent Add got here first.
			maps.DeleteFunc(starts, func(tp parley.TopicPartition, _ int64) bool {
				return tp.Topic == topic
			})
		}
		t.topics[topic] = true
	}
	if len(starts) == 0 {
		return nil
	}
	t.pending = append(t.pending, starts)
	if t.cl != nil {
		t.cl.AddConsumePartitions(kgoOffsets(starts))
	}
	if t.wake != nil {
		t.wake()
	}
	return nil
}

// unknown returns the topics the Tailer does not read yet.
func (t *Tailer) unknown(topics []string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, topic := range topics {
		if !t.topics[topic] && !slices.Contains(out, topic) {
			out = append(out, topic)
		}
	}
	return out
}
