package parley

import (
	"context"
	"time"
)

// Record is a Kafka record as Parley sees it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key, nil when absent.
func (r *Record) Header(key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Pos returns the record's position.
func (r *Record) Pos() Position { return Position{r.Topic, r.Partition, r.Offset} }

// Bounds are a partition's log start offset and high watermark.
type Bounds struct {
	Start int64
	End   int64
}

// Log is the durable, ordered record log under Parley: Kafka. Package kafka
// implements it; its methods are safe for concurrent use.
type Log interface {
	// Produce writes the records and returns once every one is acknowledged
	// by all in-sync replicas (acks=all, idempotent producer). On success it
	// has set each record's Partition and Offset. Records with the same
	// topic and key keep their order. On error, some records may have been
	// written and others not; the error wraps ErrUnavailable when the
	// broker could not be reached.
	Produce(ctx context.Context, recs ...*Record) error
	// Replay calls fn for each record of tp with from <= offset < to, in
	// order, and stops at the first error fn returns. Records that
	// retention removed are silently absent.
	Replay(ctx context.Context, tp TopicPartition, from, to int64, fn func(*Record) error) error
	// Bounds returns the bounds of every partition of the topics.
	Bounds(ctx context.Context, topics ...string) (map[TopicPartition]Bounds, error)
}

// TP returns the record's partition.
func (r *Record) TP() TopicPartition { return TopicPartition{r.Topic, r.Partition} }
