package storetest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// archiveBatchSize is how many records each benchmarked batch holds, about
// what the archiver writes per transaction under load.
const archiveBatchSize = 500

// BenchArchiveDMs archives batches of 500 DM messages spread over 100
// conversations, the shape the archiver writes, and reports messages/s.
func BenchArchiveDMs(b *testing.B, st parley.Store) {
	tp := parley.TopicPartition{Topic: "direct-messages"}
	body := "a message of an ordinary length, some sixty bytes or so long"
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	benchArchive(b, st, archiveBatchSize, "msgs/s", func(batch *parley.Batch, off int64) parley.Position {
		from, to := fmt.Sprintf("u%d", off%100), fmt.Sprintf("u%d", off%100+100)
		pos := parley.Position{Topic: tp.Topic, Offset: off}
		batch.Messages = append(batch.Messages, parley.Message{
			ID:           fmt.Sprintf("m%d", off),
			Type:         parley.TypeMessage,
			Conversation: parley.DMConversation(from, to),
			From:         from,
			Body:         body,
			SentAt:       start.Add(time.Duration(off) * time.Millisecond),
			Seq:          off,
			Pos:          pos,
		})
		return pos
	})
}

// BenchArchiveSpreadDMs archives DMs as many pairs of users sending with
// client IDs make them: batches of size messages going round convs
// conversations, IDs hashed from the client ID as a send makes them, six
// partitions. With convs well above size, a batch holds at most one
// message of a conversation, so every message touches its conversation's
// pages of its own. It reports µs/msg; run it with a fixed iteration count
// (-benchtime 3000x) to compare stores or schemas at the same size.
func BenchArchiveSpreadDMs(b *testing.B, st parley.Store, convs, size int) {
	body := "a message of an ordinary length, some sixty bytes or so long"
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	n := benchArchive(b, st, size, "msgs/s", func(batch *parley.Batch, off int64) parley.Position {
		pair := off % int64(convs)
		from, to := fmt.Sprintf("user%d", pair), fmt.Sprintf("peer%d", pair)
		conv := parley.DMConversation(from, to)
		clientID := strconv.FormatInt(off, 16)
		pos := parley.Position{Topic: "direct-messages", Partition: int32(off % 6), Offset: off / 6}
		batch.Messages = append(batch.Messages, parley.Message{
			ID: parley.MessageID(conv, from, clientID), Type: parley.TypeMessage,
			Conversation: conv, From: from, Body: body, ClientID: clientID,
			SentAt: start.Add(time.Duration(off) * time.Millisecond), Seq: off, Pos: pos,
		})
		return pos
	})
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/msg")
}

// BenchArchiveNotifications archives batches of 500 notifications, each
// to one of 1,000 users, as the notification processor writes them, and
// reports notifications/s.
func BenchArchiveNotifications(b *testing.B, st parley.Store) {
	tp := parley.TopicPartition{Topic: "notifications"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(batch *parley.Batch, off int64) parley.Position {
		pos := parley.Position{Topic: tp.Topic, Offset: off}
		batch.Notifications = append(batch.Notifications, parley.Notification{
			ID:        fmt.Sprintf("n%x", off*2654435761), // spread like the hashed IDs
			To:        []string{fmt.Sprintf("u%d", off%1000)},
			Title:     "Build finished",
			Body:      "the nightly build of main passed",
			Kind:      "ci",
			Priority:  "normal",
			CreatedAt: start.Add(time.Duration(off) * time.Millisecond),
			Pos:       pos,
		})
		return pos
	}
	benchArchive(b, st, archiveBatchSize, "notifications/s", add)
}

// benchArchive times Archive alone on batches of size records: add puts
// the off-th record into the batch, outside the timer, and returns its
// position, which the batch's offsets then pass. The rate is reported as
// unit; it returns how many records were archived.
func benchArchive(b *testing.B, st parley.Store, size int, unit string,
	add func(batch *parley.Batch, off int64) parley.Position,
) int64 {
	var off int64
	for b.Loop() {
		b.StopTimer()
		batch := &parley.Batch{Offsets: map[parley.TopicPartition]int64{}}
		for range size {
			pos := add(batch, off)
			batch.Offsets[parley.TopicPartition{Topic: pos.Topic, Partition: pos.Partition}] = pos.Offset + 1
			off++
		}
		b.StartTimer()

		if err := st.Archive(b.Context(), batch); err != nil {
			b.Fatalf("Archive: %v", err)
		}
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), unit)
	return off
}
