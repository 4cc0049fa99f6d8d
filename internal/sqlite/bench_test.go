package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// BenchmarkArchive archives batches of 500 DM messages spread over 100
// conversations, the shape the archiver writes, and reports messages/s.
func BenchmarkArchive(b *testing.B) {
	const batchSize = 500
	s := openTest(b)
	tp := parley.TopicPartition{Topic: "direct-messages"}
	body := "a message of an ordinary length, some sixty bytes or so long"
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	var off int64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		batch := &parley.Batch{Messages: make([]parley.Message, batchSize)}
		for i := range batch.Messages {
			from, to := fmt.Sprintf("u%d", off%100), fmt.Sprintf("u%d", off%100+100)
			batch.Messages[i] = parley.Message{
				ID:           fmt.Sprintf("m%d", off),
				Type:         parley.TypeMessage,
				Conversation: parley.DMConversation(from, to),
				From:         from,
				Body:         body,
				SentAt:       start.Add(time.Duration(off) * time.Millisecond),
				Seq:          off,
				Pos:          parley.Position{Topic: tp.Topic, Offset: off},
			}
			off++
		}
		batch.Offsets = map[parley.TopicPartition]int64{tp: off}
		b.StartTimer()

		if err := s.Archive(b.Context(), batch); err != nil {
			b.Fatalf("Archive: %v", err)
		}
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkArchiveNotifications archives batches of 500 notifications,
// each to one of 1,000 users, as the notification processor writes them,
// and reports notifications/s.
func BenchmarkArchiveNotifications(b *testing.B) {
	const batchSize = 500
	s := openTest(b)
	tp := parley.TopicPartition{Topic: "notifications"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	var off int64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		batch := &parley.Batch{Notifications: make([]parley.Notification, batchSize)}
		for i := range batch.Notifications {
			batch.Notifications[i] = parley.Notification{
				ID:        fmt.Sprintf("n%x", off*2654435761), // spread like the hashed IDs
				To:        []string{fmt.Sprintf("u%d", off%1000)},
				Title:     "Build finished",
				Body:      "the nightly build of main passed",
				Kind:      "ci",
				Priority:  "normal",
				CreatedAt: start.Add(time.Duration(off) * time.Millisecond),
				Pos:       parley.Position{Topic: tp.Topic, Offset: off},
			}
			off++
		}
		batch.Offsets = map[parley.TopicPartition]int64{tp: off}
		b.StartTimer()

		if err := s.Archive(b.Context(), batch); err != nil {
			b.Fatalf("Archive: %v", err)
		}
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "notifications/s")
}
