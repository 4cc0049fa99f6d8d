package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// Archive writes one poll of a consumer group to the store: the archiver's
// group on the message topics and the notification processor's group on
// the notifications topic both hand their records here. Records that
// cannot be understood go to the dead-letter topic first. The consumer
// commits the records' offsets only after Archive returned nil, so a node
// killed half-way leaves them to be archived again, which the store
// ignores.
func (s *Service) Archive(ctx context.Context, recs []*parley.Record) error {
	now := s.now()
	b := &parley.Batch{Offsets: map[parley.TopicPartition]int64{}}
	var dead []*parley.Record
	for _, r := range recs {
		if off := r.Offset + 1; off > b.Offsets[r.TP()] {
			b.Offsets[r.TP()] = off
		}
		dec, err := s.decode(ctx, r, true)
		var d *parley.DeadLetterError
		if errors.As(err, &d) {
			dead = append(dead, s.deadLetter(r, err, now))
			continue
		} else if err != nil {
			return err
		}
		// A poll holds records of one kind, mostly: room for all of
		// them saves growing a slice of large structs as they come.
		switch {
		case dec.Message != nil:
			if b.Messages == nil {
				b.Messages = make([]parley.Message, 0, len(recs))
			}
			b.Messages = append(b.Messages, *dec.Message)
		case dec.Notification != nil:
			if dec.Notification.Expired(now) {
				break
			}
			if b.Notifications == nil {
				b.Notifications = make([]parley.Notification, 0, len(recs))
			}
			b.Notifications = append(b.Notifications, *dec.Notification)
		case dec.Read != nil:
			b.Reads = append(b.Reads, *dec.Read)
		}
	}

	if len(dead) > 0 {
		if err := s.log.Produce(ctx, dead...); err != nil {
			return fmt.Errorf("produce dead letters: %w", err)
		}
	}
	start := time.Now()
	if err := s.store.Archive(ctx, b); err != nil {
		return fmt.Errorf("archive batch: %w", err)
	}
	s.metrics.archiveSeconds.Observe(time.Since(start).Seconds())
	for i := 0; i < len(recs); { // one Add per run of a topic's records
		j := i + 1
		for j < len(recs) && recs[j].Topic == recs[i].Topic {
			j++
		}
		s.metrics.archived.WithLabelValues(recs[i].Topic).Add(float64(j - i))
		i = j
	}
	return nil
}

// lastDeadLog rate-limits the warning about dead letters.
var lastDeadLog atomic.Int64

func (s *Service) deadLetter(r *parley.Record, err error, now time.Time) *parley.Record {
	reason := "invalid_record"
	var d *parley.DeadLetterError
	if errors.As(err, &d) {
		reason = d.Reason
	}
	s.metrics.deadLetters.WithLabelValues(reason).Inc()
	attrs := []any{"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason}
	if last := lastDeadLog.Load(); now.UnixNano()-last > int64(10*time.Second) &&
		lastDeadLog.CompareAndSwap(last, now.UnixNano()) {
		s.logger.Warn("record sent to dead letters", attrs...)
	} else {
		s.logger.Debug("record sent to dead letters", attrs...)
	}
	return s.codec.DeadLetter(r, err, now)
}

// RepairArchivedOffsets handles a broker that lost a partition's offsets:
// kfake, restarted after retention emptied a partition, numbers it from 0
// again. A store that had archived the partition up to a higher offset
// would then take the new records for archived ones when a stream resumes.
// For each such partition the archived offset is moved back to the log
// start. Call it at start-up, before the archiver runs.
func (s *Service) RepairArchivedOffsets(ctx context.Context) error {
	archived, err := s.store.ArchivedOffsets(ctx)
	if err != nil {
		return fmt.Errorf("load archived offsets: %w", err)
	}
	if len(archived) == 0 {
		return nil
	}
	topics := map[string]bool{}
	for tp := range archived {
		topics[tp.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	bounds, err := s.log.Bounds(ctx, names...)
	if err != nil {
		return fmt.Errorf("load partition bounds: %w", err)
	}
	for tp, off := range archived {
		b, ok := bounds[tp]
		if !ok || off <= b.End {
			continue
		}
		s.logger.Warn("broker offsets went back; archiving the partition again from its start",
			"topic", tp.Topic, "partition", tp.Partition, "archived", off, "high_watermark", b.End)
		if err := s.store.ResetArchivedOffset(ctx, tp, b.Start); err != nil {
			return fmt.Errorf("reset archived offset: %w", err)
		}
	}
	return nil
}
