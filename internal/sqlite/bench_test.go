package sqlite

import (
	"testing"

	"github.com/parley-chat/parley/internal/storetest"
)

func BenchmarkArchive(b *testing.B) { storetest.BenchArchiveDMs(b, openTest(b)) }

func BenchmarkArchiveNotifications(b *testing.B) {
	storetest.BenchArchiveNotifications(b, openTest(b))
}
