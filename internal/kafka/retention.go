package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/parley-chat/parley/internal/parley"
)

// ApplyRetention enforces the retention.ms of the topics, or of every topic
// but the internal ones when none is named. On each partition it deletes,
// with DeleteRecords, the records before the first one whose timestamp is
// within the retention, but it always keeps the newest record of the
// partition, however old.
//
// It is the retention of the embedded broker, whose own is switched off:
// kfake numbers a partition from offset 0 again when it restarts after
// retention emptied it, and Parley orders history and stream cursors by
// offset. A partition that keeps a record keeps its high watermark across a
// restart, clean or not. The caller runs it on a timer in embedded mode; a
// real cluster applies retention itself and never renumbers.
//
// A topic's retention is the retention.ms the broker reports for it, set on
// the topic or inherited from the broker; -1 or no value keeps its records
// forever. retention.bytes is not applied. The error wraps
// parley.ErrNotFound when a named topic does not exist; partitions that
// failed do not stop the others.
func (c *Client) ApplyRetention(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		all, err := c.ListTopics(ctx, "")
		if err != nil {
			return err
		}
		topics = all
	}
	if len(topics) == 0 {
		return nil
	}

	configs, err := c.topicConfigs(ctx, topics)
	if err != nil {
		return err
	}
	bounds, err := c.Bounds(ctx, topics...)
	if err != nil {
		return err
	}

	now := time.Now().UnixMilli()
	dels := make(kadm.Offsets)
	for _, topic := range topics {
		ms, ok := c.retentionMs(topic, configs[topic])
		if !ok || ms >= now {
			continue // nothing can be old enough yet
		}
		if err := c.expired(ctx, topic, now-ms, bounds, dels); err != nil {
			return err
		}
	}
	return c.deleteExpired(ctx, dels, bounds)
}

// retentionMs returns the topic's retention.ms from its configs, and false
// when its records are kept forever.
func (c *Client) retentionMs(topic string, configs map[string]string) (int64, bool) {
	v, ok := configs["retention.ms"]
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		// The broker checks the type of the configs it accepts, so this
		// takes a broker that does not.
		c.log.Warn("retention not applied", "topic", topic, "retention_ms", v, "err", err)
		return 0, false
	}
	return ms, ms >= 0
}

// expired adds to dels, for every partition of topic that holds a record
// older than cutoff (Unix milliseconds) besides its newest one, the offset
// its log should start at.
func (c *Client) expired(ctx context.Context, topic string, cutoff int64,
	bounds map[parley.TopicPartition]parley.Bounds, dels kadm.Offsets,
) error {
	// Where no record is at or after cutoff, kadm answers with the high
	// watermark.
	after, err := c.admin.ListOffsetsAfterMilli(fresh(ctx), cutoff, topic)
	if err == nil {
		err = after.Error()
	}
	if err != nil {
		return wrapErr("list offsets of "+topic+" by time", err)
	}

	after.Each(func(o kadm.ListedOffset) {
		b := bounds[parley.TopicPartition{Topic: o.Topic, Partition: o.Partition}]
		// The high watermark is the one listed before: records produced
		// since are newer, and the one at End-1 stays.
		to := min(o.Offset, b.End-1)
		if o.Offset < 0 || to <= b.Start {
			return
		}
		dels.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: to, LeaderEpoch: -1})
	})
	return nil
}

// deleteExpired moves the log start of each partition of dels to its
// offset. bounds, the partitions' bounds before, only serve the logs.
func (c *Client) deleteExpired(ctx context.Context, dels kadm.Offsets,
	bounds map[parley.TopicPartition]parley.Bounds,
) error {
	if len(dels) == 0 {
		return nil
	}
	resps, err := c.admin.DeleteRecords(fresh(ctx), dels)
	if err != nil {
		return wrapErr("delete expired records", err)
	}

	var errs []error
	var trimmed, removed int64
	resps.Each(func(r kadm.DeleteRecordsResponse) {
		tp := parley.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if r.Err != nil {
			step := fmt.Sprintf("delete expired records of %s/%d", r.Topic, r.Partition)
			errs = append(errs, wrapErr(step, r.Err))
			return
		}
		from := bounds[tp].Start
		trimmed++
		removed += r.LowWatermark - from
		c.log.Debug("expired records deleted", "topic", r.Topic, "partition", r.Partition,
			"from", from, "log_start", r.LowWatermark)
	})
	c.log.Debug("retention applied", "partitions", trimmed, "records", removed)
	return errors.Join(errs...)
}
