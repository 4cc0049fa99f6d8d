package postgres

import (
	"testing"

	"github.com/parley-chat/parley/internal/storetest"
)

func BenchmarkArchive(b *testing.B) { storetest.BenchArchiveDMs(b, openTest(b)) }
