package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/parley-chat/parley/internal/parley"
)

// Group consumer tuning.
const (
	// maxPollRecords bounds the records one handle call receives.
	maxPollRecords = 1000
	// Backoff between attempts at a batch whose handling failed.
	retryMin = time.Second
	retryMax = 30 * time.Second
	// commitTimeout bounds the commit after a successful handle, which
	// runs even when ctx was cancelled meanwhile.
	commitTimeout = 10 * time.Second
	// commitRetryInterval is how soon a failed commit is tried again when
	// no new records come.
	commitRetryInterval = 5 * time.Second
	// A group member's fetch waits until groupFetchMinBytes are ready or
	// groupFetchMaxWait passed. The groups archive, and a store writes a
	// batch of a hundred records in about the time of one: under load the
	// archiver then commits one transaction per fetch instead of one per
	// couple of records. Live delivery does not go through the groups, so
	// the wait delays only history, and by no more than groupFetchMaxWait.
	groupFetchMinBytes = 64 << 10
	groupFetchMaxWait  = 20 * time.Millisecond
	// idleAfter is how long a member given a Wake goes without records
	// before it stops fetching, counted from its last records or from its
	// last resume. Until then the client fetches on: every
	// groupFetchMaxWait the broker answers an empty fetch, which for the
	// two groups of an idle server is about a hundred answers a second
	// and 3% of a core. After a resume, the first fetches can take a while
	// on a real cluster (the fetch session adds the partitions back), so
	// the member does not pause again at its first empty poll.
	idleAfter = time.Second
	// idlePoll bounds each poll of a member given a Wake, so that it
	// notices when it has been idle for idleAfter.
	idlePoll = 100 * time.Millisecond
	// defaultWakeCheck is how long a paused member waits for its Wake
	// before it fetches anyway, in case a signal never comes.
	defaultWakeCheck = 10 * time.Second
)

// A Wake tells group members that stopped fetching while idle that
// records may have arrived. Whoever reads the same topics live (the live
// reader) signals it when a poll brings records. Safe for concurrent use.
type Wake struct {
	ch chan struct{}
	// check bounds how long a paused member waits for a signal.
	check time.Duration
	// paused counts the members waiting for a signal now.
	paused atomic.Int32
}

// NewWake returns a Wake without a signal pending.
func NewWake() *Wake { return &Wake{ch: make(chan struct{}, 1), check: defaultWakeCheck} }

// Signal wakes a paused member, or the next one to pause, which then
// fetches again at once. It never blocks.
func (w *Wake) Signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Paused reports how many members are waiting for a signal.
func (w *Wake) Paused() int { return int(w.paused.Load()) }

// Consume reads the topics as a member of the consumer group and hands the
// records to handle, a poll at a time: records of several partitions, in
// offset order within each. It commits a poll's offsets only after handle
// returned nil. When handle fails, it calls it again with the same records,
// waiting from one second up to thirty between attempts, and never skips
// them. It returns nil once ctx is done, and an error only when it cannot
// start.
//
// A topic that starts with "^" is a regular expression (then every topic
// is): topics created later that match it join the subscription within
// seconds.
//
// A group without committed offsets starts at the log start. So does a
// partition whose log was renumbered since the group committed: the
// embedded broker numbers a partition from 0 again when it restarts after
// retention emptied it. Consume detects that from a committed offset above
// the high watermark, or from the record before the committed offset,
// whose timestamp and checksum it keeps in the commit's metadata.
//
// With a wake, a member that got no records for idleAfter stops fetching
// until wake is signalled, or for defaultWakeCheck at most. Provided the
// live reader signals wake for every poll of records of these topics, a
// record then waits for the live reader to see it and for one fetch of
// up to groupFetchMaxWait. A nil wake never pauses.
//
// Partitions move between members only between two handle calls, so a
// member never commits for a partition it lost. Consume owns a franz-go
// client of its own; handle is called from Consume's goroutine only.
// Delivery is at least once: after a crash between handle and the commit,
// the records are handled again.
func (c *Client) Consume(ctx context.Context, group string, topics []string,
	handle func(ctx context.Context, recs []*parley.Record) error, wake *Wake,
) error {
	g := &groupConsumer{
		c:      c,
		group:  group,
		topics: topics,
		handle: handle,
		wake:   wake,
		log:    c.log.With("group", group),

		uncommitted: map[parley.TopicPartition]*kgo.Record{},
	}
	cl, err := g.open(topics)
	if err != nil {
		return fmt.Errorf("consume group %s: %w", group, err)
	}
	defer cl.CloseAllowingRebalance()

	g.log.Info("group consumer started", "topics", topics)
	for {
		fetches := g.poll(ctx, cl)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			g.log.Info("group consumer stopped")
			return nil
		}
		g.logErrors(fetches)
		g.retryCommit(ctx, cl)
		krs := fetches.Records()
		g.process(ctx, cl, krs)
		cl.AllowRebalance()
		g.pauseIfIdle(ctx, cl, len(krs) > 0)
	}
}

// pauseIfIdle pauses a member given a wake once it has had no records
// for idleAfter. Not while a failed commit waits to be retried: that
// needs polls.
func (g *groupConsumer) pauseIfIdle(ctx context.Context, cl *kgo.Client, got bool) {
	if g.wake == nil {
		return
	}
	if got || g.active.IsZero() {
		g.active = time.Now()
		return
	}
	if time.Since(g.active) < idleAfter || g.commitWaiting() || ctx.Err() != nil {
		return
	}
	g.pause(ctx, cl)
	g.active = time.Now()
}

// pause stops fetching until the wake is signalled, its check interval
// passed or ctx is done. What a fetch in flight brings meanwhile waits for
// the next poll, after the resume.
func (g *groupConsumer) pause(ctx context.Context, cl *kgo.Client) {
	topics := cl.GetConsumeTopics()
	cl.PauseFetchTopics(topics...)
	g.wake.paused.Add(1)
	t := time.NewTimer(g.wake.check)
	select {
	case <-ctx.Done():
	case <-g.wake.ch:
	case <-t.C:
	}
	t.Stop()
	g.wake.paused.Add(-1)
	cl.ResumeFetchTopics(topics...)
}

// poll waits for records: while a failed commit waits to be retried, for
// commitRetryInterval at most, so a quiet partition's offsets still get
// committed; with a wake, for idlePoll at most, so that Consume can pause.
func (g *groupConsumer) poll(ctx context.Context, cl *kgo.Client) kgo.Fetches {
	var wait time.Duration
	switch {
	case g.commitWaiting():
		wait = commitRetryInterval
	case g.wake != nil:
		wait = idlePoll
	default:
		return cl.PollRecords(ctx, maxPollRecords)
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return cl.PollRecords(pctx, maxPollRecords)
}

// commitWaiting reports whether a failed commit waits to be retried.
func (g *groupConsumer) commitWaiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.uncommitted) > 0
}

// retryCommit commits the records whose commit failed, for the partitions
// the member still owns.
func (g *groupConsumer) retryCommit(ctx context.Context, cl *kgo.Client) {
	g.mu.Lock()
	krs := slices.Collect(maps.Values(g.uncommitted))
	clear(g.uncommitted)
	g.mu.Unlock()
	if len(krs) > 0 {
		g.commit(ctx, cl, krs)
	}
}

// groupConsumer is the state of one Consume call.
type groupConsumer struct {
	c      *Client
	group  string
	topics []string
	handle func(ctx context.Context, recs []*parley.Record) error
	wake   *Wake // nil: never pause
	log    *slog.Logger

	// active is when the member last got records or resumed; used by
	// Consume's goroutine only.
	active time.Time

	// mu guards marks and uncommitted.
	mu sync.Mutex
	// marks holds the commit metadata fetched with the group's offsets:
	// the mark of the last record handled before each commit.
	marks map[parley.TopicPartition]string
	// uncommitted holds, per partition, the last handled record whose
	// commit failed; dropped when the partition leaves the member.
	uncommitted map[parley.TopicPartition]*kgo.Record
}

func (g *groupConsumer) open(topics []string) (*kgo.Client, error) {
	opts, err := g.c.cfg.baseOpts()
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(topics, func(t string) bool { return strings.HasPrefix(t, "^") }) {
		// Patterns: topics created later (a group's dedicated topic) join
		// the group's subscription at the next metadata refresh.
		opts = append(opts, kgo.ConsumeRegex(), kgo.MetadataMaxAge(5*time.Second))
	}
	opts = append(opts,
		kgo.ConsumerGroup(g.group),
		kgo.ConsumeTopics(topics...),
		kgo.FetchMinBytes(groupFetchMinBytes),
		kgo.FetchMaxWait(groupFetchMaxWait),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnOffsetsFetched(g.fetched),
		kgo.AdjustFetchOffsetsFn(g.adjust),
		kgo.OnPartitionsAssigned(g.assigned),
		kgo.OnPartitionsRevoked(g.revoked),
		kgo.OnPartitionsLost(g.lost),
	)
	return kgo.NewClient(opts...)
}

func (g *groupConsumer) logErrors(fetches kgo.Fetches) {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		g.log.Warn("group fetch failed", "topic", fe.Topic, "partition", fe.Partition,
			"err", fe.Err)
	}
}

// process hands krs to handle until it succeeds or ctx is done, then
// commits them.
func (g *groupConsumer) process(ctx context.Context, cl *kgo.Client, krs []*kgo.Record) {
	if len(krs) == 0 {
		return
	}
	recs := make([]*parley.Record, len(krs))
	for i, kr := range krs {
		recs[i] = fromKgo(kr)
	}
	if !g.handleRetrying(ctx, recs) {
		return
	}

	g.commit(ctx, cl, krs)
}

// commit commits the offsets after krs. Even if ctx was cancelled during
// handle: the records are handled, and not committing them means handling
// them again. A failed commit is kept for retryCommit: the next poll's
// commit covers only the partitions it has records of.
func (g *groupConsumer) commit(ctx context.Context, cl *kgo.Client, krs []*kgo.Record) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	cctx = kgo.PreCommitFnContext(cctx, markCommit(krs))
	err := cl.CommitRecords(cctx, krs...)
	if err == nil {
		return
	}
	g.log.Warn("group commit failed; retrying", "records", len(krs), "err", err)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, kr := range krs {
		tp := parley.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}
		if old, ok := g.uncommitted[tp]; !ok || kr.Offset > old.Offset {
			g.uncommitted[tp] = kr
		}
	}
}

// handleRetrying calls handle until it returns nil, which it reports as
// true, or ctx is done.
func (g *groupConsumer) handleRetrying(ctx context.Context, recs []*parley.Record) bool {
	wait := retryMin
	for attempt := 1; ; attempt++ {
		err := g.handle(ctx, recs)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		first := recs[0]
		g.log.Warn("group handle failed", "topic", first.Topic, "partition", first.Partition,
			"offset", first.Offset, "records", len(recs), "attempt", attempt,
			"retry_in", wait, "err", err)

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// adjust makes a partition whose log was renumbered since the group's
// commit start from its log start. kfake numbers a partition from 0 again
// after a restart when retention had emptied it; starting from the
// committed offset would silently skip as many new records. A renumbered
// log shows as a committed offset above the high watermark, or as a record
// before the committed offset that is not the one the group handled there.
func (g *groupConsumer) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset,
) (map[string]map[int32]kgo.Offset, error) {
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	ends, err := g.c.admin.ListEndOffsets(fresh(ctx), topics...)
	if err != nil {
		// kgo still resets an offset past the end to the log start when
		// it fetches there.
		g.log.Warn("group offsets not checked", "err", err)
		return offsets, nil
	}

	for topic, ps := range offsets {
		for p, o := range ps {
			committed := o.EpochOffset().Offset
			end, ok := ends.Lookup(topic, p)
			if committed <= 0 || !ok || end.Err != nil {
				continue
			}
			tp := parley.TopicPartition{Topic: topic, Partition: p}
			if g.renumbered(ctx, tp, committed, end.Offset) {
				ps[p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return offsets, nil
}

// renumbered reports whether tp's log no longer holds, before committed,
// the records the group handled.
func (g *groupConsumer) renumbered(ctx context.Context, tp parley.TopicPartition,
	committed, end int64,
) bool {
	log := g.log.With("topic", tp.Topic, "partition", tp.Partition,
		"committed", committed, "high_watermark", end)
	if committed > end {
		log.Warn("committed offset above high watermark, reading from log start")
		return true
	}

	want := g.mark(tp)
	if want == "" {
		return false // committed by another program: nothing to compare
	}
	var got string
	err := g.c.Replay(ctx, tp, committed-1, committed, func(r *parley.Record) error {
		got = recordMark(r.Time, r.Value)
		return nil
	})
	switch {
	case err != nil:
		log.Warn("committed offset not checked", "err", err)
	case got != "" && got != want:
		log.Warn("log renumbered since the group committed, reading from log start")
		return true
	}
	return false
}

func (g *groupConsumer) mark(tp parley.TopicPartition) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.marks[tp]
}

// fetched keeps the metadata of the group's committed offsets for adjust,
// which franz-go calls next.
func (g *groupConsumer) fetched(ctx context.Context, _ *kgo.Client,
	resp *kmsg.OffsetFetchResponse,
) error {
	marks := make(map[parley.TopicPartition]string)
	var ids map[[16]byte]string // resolved on first need
	add := func(topic string, id [16]byte, p int32, meta *string) {
		if meta == nil || !strings.HasPrefix(*meta, markPrefix) {
			return
		}
		if topic == "" {
			if ids == nil {
				ids = g.topicIDs(ctx)
			}
			topic = ids[id]
		}
		marks[parley.TopicPartition{Topic: topic, Partition: p}] = *meta
	}

	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			add(t.Topic, [16]byte{}, p.Partition, p.Metadata)
		}
	}
	for _, gr := range resp.Groups {
		for _, t := range gr.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, t.TopicID, p.Partition, p.Metadata)
			}
		}
	}

	g.mu.Lock()
	g.marks = marks
	g.mu.Unlock()
	return nil
}

// topicIDs maps the IDs of the consumed topics to their names, for offset
// responses that name topics by ID only.
func (g *groupConsumer) topicIDs(ctx context.Context) map[[16]byte]string {
	out := make(map[[16]byte]string)
	md, err := g.c.admin.Metadata(fresh(ctx), g.topics...)
	if err != nil {
		g.log.Warn("group topic ids not resolved", "err", err)
		return out
	}
	for _, td := range md.Topics {
		out[td.ID] = td.Topic
	}
	return out
}

// markPrefix starts the commit metadata Parley writes.
const markPrefix = "parley1:"

// recordMark identifies a record well enough to tell it from another
// record at the same offset: its timestamp and a checksum of its value.
func recordMark(ts time.Time, value []byte) string {
	return fmt.Sprintf("%s%d:%08x", markPrefix, ts.UnixMilli(), crc32.ChecksumIEEE(value))
}

// markCommit returns a hook that puts, on every partition of the commit,
// the mark of the last of krs on that partition.
func markCommit(krs []*kgo.Record) func(*kmsg.OffsetCommitRequest) error {
	last := make(map[parley.TopicPartition]string)
	for _, kr := range krs {
		last[parley.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}] =
			recordMark(kr.Timestamp, kr.Value)
	}
	return func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			t := &req.Topics[i]
			for j := range t.Partitions {
				p := &t.Partitions[j]
				tp := parley.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if m, ok := last[tp]; ok {
					p.Metadata = &m
				}
			}
		}
		return nil
	}
}

// assigned logs new partitions and wakes a paused member: records a
// partition's previous owner had not handled yet bring no signal.
func (g *groupConsumer) assigned(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	g.log.Info("partitions assigned", "partitions", ps)
	if g.wake != nil && len(ps) > 0 {
		g.wake.Signal()
	}
}

func (g *groupConsumer) revoked(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	if len(ps) > 0 {
		g.log.Info("partitions revoked", "partitions", ps)
	}
	g.forget(ps)
}

func (g *groupConsumer) lost(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	if len(ps) > 0 {
		g.log.Warn("partitions lost", "partitions", ps)
	}
	g.forget(ps)
}

// forget drops the failed commits of partitions the member no longer owns:
// their new owner reads from the last commit that went through.
func (g *groupConsumer) forget(ps map[string][]int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for t, parts := range ps {
		for _, p := range parts {
			delete(g.uncommitted, parley.TopicPartition{Topic: t, Partition: p})
		}
	}
}
