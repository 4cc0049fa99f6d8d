package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/parley-chat/parley/internal/parley"
)

// Produce writes the records through the shared idempotent producer and
// waits until the brokers acknowledged every one of them (acks=all). It
// then sets each record's Partition and Offset; a record whose Time is zero
// gets the time the client stamped on it. Records are batched with those
// of concurrent callers, so many goroutines may produce at once without
// waiting for one another.
//
// A record with a key goes to the partition murmur2 of the key picks, as
// with Kafka's Java client; one without a key goes to a partition that
// changes from batch to batch. Records of one call with the same topic and
// key keep their order.
//
// Produce returns when ctx is done or after the delivery timeout. The
// error then wraps parley.ErrUnavailable if the brokers could not be
// reached. Some records may have been written even when it fails.
func (c *Client) Produce(ctx context.Context, recs ...*parley.Record) error {
	if len(recs) == 0 {
		return nil
	}
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(r)
	}

	// ProduceSync lists results in the order records completed, not the
	// order given; the records themselves carry their positions.
	results := c.cl.ProduceSync(ctx, krs...)
	if err := results.FirstErr(); err != nil {
		return wrapErr(fmt.Sprintf("produce to %s", recs[0].Topic), err)
	}

	for i, kr := range krs {
		recs[i].Partition = kr.Partition
		recs[i].Offset = kr.Offset
		if recs[i].Time.IsZero() {
			recs[i].Time = kr.Timestamp
		}
	}
	return nil
}

// toKgo converts r to a franz-go record. The record shares r's byte slices.
func toKgo(r *parley.Record) *kgo.Record {
	kr := &kgo.Record{
		Topic:     r.Topic,
		Key:       r.Key,
		Value:     r.Value,
		Timestamp: r.Time,
	}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}

// fromKgo converts a consumed franz-go record. The result shares kr's byte
// slices, which franz-go does not reuse.
func fromKgo(kr *kgo.Record) *parley.Record {
	r := &parley.Record{
		Topic:     kr.Topic,
		Partition: kr.Partition,
		Offset:    kr.Offset,
		Key:       kr.Key,
		Value:     kr.Value,
		Time:      kr.Timestamp,
	}
	if len(kr.Headers) > 0 {
		r.Headers = make([]parley.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = parley.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}
