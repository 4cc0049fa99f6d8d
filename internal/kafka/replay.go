package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/parley-chat/parley/internal/parley"
)

// Replay's fetch sizes: a fetch returns at least one batch whatever its
// size, so these only bound how much one round trip carries.
const (
	replayMaxBytes = 4 << 20
	// replayAttempts bounds how often Replay asks again after the
	// partition moved to another leader or its log start moved.
	replayAttempts = 5
)

// decompressor is shared by every Replay; it is safe for concurrent use.
var decompressor = kgo.DefaultDecompressor()

// Bounds returns the log start offset and high watermark of every partition
// of the topics. A topic that does not exist makes the error wrap
// parley.ErrNotFound.
func (c *Client) Bounds(ctx context.Context, topics ...string,
) (map[parley.TopicPartition]parley.Bounds, error) {
	out := make(map[parley.TopicPartition]parley.Bounds)
	if len(topics) == 0 {
		return out, nil
	}

	starts, err := c.admin.ListStartOffsets(fresh(ctx), topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, wrapErr("list start offsets", err)
	}
	ends, err := c.admin.ListEndOffsets(fresh(ctx), topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, wrapErr("list end offsets", err)
	}

	starts.Each(func(o kadm.ListedOffset) {
		tp := parley.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		b := out[tp]
		b.Start = o.Offset
		out[tp] = b
	})
	ends.Each(func(o kadm.ListedOffset) {
		tp := parley.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		b := out[tp]
		b.End = o.Offset
		out[tp] = b
	})
	return out, nil
}

// Replay calls fn for every record of tp with from <= offset < to, in
// offset order, and returns at the first error of fn, at the high
// watermark the call started with, or when ctx is done. Offsets below the
// log start are skipped: retention removed them. It fetches directly from
// the partition's leader over the shared client, without a consumer.
func (c *Client) Replay(ctx context.Context, tp parley.TopicPartition, from, to int64,
	fn func(*parley.Record) error,
) error {
	if to <= from {
		return nil
	}
	r := &replay{c: c, tp: tp, fn: fn, end: to}
	if err := r.locate(ctx); err != nil {
		return err
	}
	r.off = from
	if err := r.clamp(ctx); err != nil {
		return err
	}

	for attempts := 0; r.off < r.end; {
		err := r.next(ctx)
		if err == nil {
			attempts = 0
			continue
		}
		if r.fnErr != nil || !recoverable(err) || attempts >= replayAttempts {
			return err
		}
		attempts++
		if err := r.locate(ctx); err != nil {
			return err
		}
		if err := r.clamp(ctx); err != nil {
			return err
		}
	}
	return nil
}

// replay is the state of one Replay call.
type replay struct {
	c      *Client
	tp     parley.TopicPartition
	fn     func(*parley.Record) error
	fnErr  error // the error fn returned, if any
	leader int32
	id     kadm.TopicID
	end    int64 // offset to stop before
	off    int64 // next offset to fetch
}

// locate looks up the partition's leader and the topic's ID.
func (r *replay) locate(ctx context.Context) error {
	md, err := r.c.admin.Metadata(fresh(ctx), r.tp.Topic)
	if err != nil {
		return wrapErr("replay metadata", err)
	}
	td, ok := md.Topics[r.tp.Topic]
	if !ok || td.Err != nil {
		return wrapErr("replay metadata", topicErr(td.Err))
	}
	pd, ok := td.Partitions[r.tp.Partition]
	if !ok {
		return fmt.Errorf("replay %s/%d: %w", r.tp.Topic, r.tp.Partition,
			parley.ErrNotFound)
	}
	r.leader, r.id = pd.Leader, td.ID
	return nil
}

// clamp moves r.off up to the log start and r.end down to the high
// watermark.
func (r *replay) clamp(ctx context.Context) error {
	bounds, err := r.c.Bounds(ctx, r.tp.Topic)
	if err != nil {
		return err
	}
	b, ok := bounds[r.tp]
	if !ok {
		return fmt.Errorf("replay %s/%d: %w", r.tp.Topic, r.tp.Partition,
			parley.ErrNotFound)
	}
	r.off = max(r.off, b.Start)
	r.end = min(r.end, b.End)
	return nil
}

func topicErr(err error) error {
	if err == nil {
		return kerr.UnknownTopicOrPartition
	}
	return err
}

// next fetches once from r.off and hands the records below r.end to fn.
func (r *replay) next(ctx context.Context) error {
	rp, err := r.fetch(ctx)
	if err != nil {
		return err
	}

	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:    r.off,
		Topic:     r.tp.Topic,
		Partition: r.tp.Partition,
	}, rp, decompressor, nil)
	if fp.Err != nil {
		return fmt.Errorf("replay %s/%d: %w", r.tp.Topic, r.tp.Partition, fp.Err)
	}

	progressed := false
	for _, kr := range fp.Records {
		if kr.Offset < r.off {
			continue
		}
		if kr.Offset >= r.end {
			r.off = r.end
			return nil
		}
		if err := r.fn(fromKgo(kr)); err != nil {
			r.fnErr = err
			return err
		}
		r.off = kr.Offset + 1
		progressed = true
	}
	if !progressed {
		return r.noProgress(fp)
	}
	return nil
}

// noProgress handles a fetch that returned no record at or past r.off:
// the records there are gone (compacted, aborted) or the end moved down.
func (r *replay) noProgress(fp kgo.FetchPartition) error {
	if fp.HighWatermark >= 0 && fp.HighWatermark <= r.off {
		r.end = r.off
		return nil
	}
	return fmt.Errorf("replay %s/%d at %d: %w", r.tp.Topic, r.tp.Partition, r.off,
		errNoProgress)
}

var errNoProgress = errors.New("fetch returned no records")

// fetch asks the leader for the records from r.off.
func (r *replay) fetch(ctx context.Context) (*kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = replayMaxBytes
	req.SessionEpoch = -1 // no fetch session: one request, one answer

	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = r.tp.Topic
	rt.TopicID = r.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = r.tp.Partition
	rp.FetchOffset = r.off
	rp.PartitionMaxBytes = replayMaxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp, err := req.RequestWith(ctx, r.c.cl.Broker(int(r.leader)))
	if err != nil {
		return nil, wrapErr("replay fetch", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, wrapErr("replay fetch", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("replay fetch: %w", errNoProgress)
	}
	return &resp.Topics[0].Partitions[0], nil
}

// recoverable reports whether a fetch error goes away after a refresh:
// the leader moved, or retention moved the log start past r.off.
func recoverable(err error) bool {
	var kErr *kerr.Error
	if !errors.As(err, &kErr) {
		return false
	}
	return errors.Is(err, kerr.OffsetOutOfRange) || kErr.Retriable
}
