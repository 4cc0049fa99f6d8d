package parley

import "testing"

// BenchmarkStreamCursorString encodes the cursor of a node with the
// default topics (6 DM, 6 group and 3 notification partitions), as the
// dispatcher does for every event it delivers.
func BenchmarkStreamCursorString(b *testing.B) {
	c := StreamCursor{}
	for p := range int32(6) {
		c[TopicPartition{"direct-messages", p}] = 1_000_000 + int64(p)
		c[TopicPartition{"group-messages", p}] = 2_000_000 + int64(p)
	}
	for p := range int32(3) {
		c[TopicPartition{"notifications", p}] = 3_000_000 + int64(p)
	}
	b.ReportAllocs()
	for i := range b.N {
		c[TopicPartition{"direct-messages", int32(i % 6)}]++
		_ = c.String()
	}
}
