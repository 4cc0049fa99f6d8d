package parley

import (
	"testing"
	"time"
)

// dmRecord returns a DM record as the server writes it: a deterministic
// message ID, a client ID and a body of about 40 bytes.
func dmRecord() *Record {
	conv := DMConversation("alice", "bob")
	m := &Message{
		ID: MessageID(conv, "alice", "c-7f3a9b2e41"), Type: TypeMessage,
		Conversation: conv, From: "alice", ClientID: "c-7f3a9b2e41",
		Body:   "On my way, see you at the station at six.",
		SentAt: time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC),
	}
	r := testCodec.EntryRecord(m, "")
	r.Offset = 1_000_000
	return r
}

// BenchmarkDecodeDM decodes a DM record, which every node does twice for
// each message: once in the live reader and once in the archiver.
func BenchmarkDecodeDM(b *testing.B) {
	r := dmRecord()
	if d, err := testCodec.Decode(r); err != nil || d.Message == nil {
		b.Fatalf("Decode: %v %+v", err, d)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = testCodec.Decode(r)
	}
}
