package sqlite

import (
	"testing"

	"github.com/parley-chat/parley/internal/storetest"
)

func BenchmarkArchive(b *testing.B) { storetest.BenchArchiveDMs(b, openTest(b)) }

// BenchmarkArchiveIndexCost archives DMs spread over 2,000 conversations
// in batches of 140 (about what the archiver writes per transaction at
// 5,000 DMs/s) with the schema as it is and with each of the two indexes
// keyed by conversation dropped, to show what each costs a message. Run it
// with -benchtime 3000x so that every variant archives as many messages.
func BenchmarkArchiveIndexCost(b *testing.B) {
	for _, v := range []struct{ name, drop string }{
		{"schema", ""},
		{"without_messages_by_id", "DROP INDEX messages_by_id"},
		{"without_messages_by_seq", "DROP INDEX messages_by_seq"},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := openTest(b)
			if v.drop != "" {
				if _, err := s.w.Exec(v.drop); err != nil {
					b.Fatal(err)
				}
			}
			storetest.BenchArchiveSpreadDMs(b, s, 2000, 140)
		})
	}
}

func BenchmarkArchiveNotifications(b *testing.B) {
	storetest.BenchArchiveNotifications(b, openTest(b))
}
