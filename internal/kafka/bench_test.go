package kafka

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/parley"
)

// BenchmarkProduceConcurrent has 100 goroutines, like HTTP handlers, each
// producing one 200-byte record at a time and waiting for its ack.
func BenchmarkProduceConcurrent(b *testing.B) {
	br, err := broker.Start(b.Context(), broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatalf("start broker: %v", err)
	}
	defer br.Close()
	c, err := New(b.Context(), Config{Brokers: []string{br.Addr()}})
	if err != nil {
		b.Fatalf("new client: %v", err)
	}
	defer c.Close()
	if err := c.EnsureTopics(b.Context(), []TopicSpec{{Name: "bench", Partitions: 6}}); err != nil {
		b.Fatalf("ensure: %v", err)
	}

	value := make([]byte, 200)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range 100 {
		wg.Go(func() {
			key := fmt.Appendf(nil, "conv-%d", g)
			for next.Add(1) <= int64(b.N) {
				r := &parley.Record{Topic: "bench", Key: key, Value: value}
				if err := c.Produce(b.Context(), r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
