package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/hub"
)

// metrics are the node's Prometheus metrics, all prefixed parley_.
type metrics struct {
	produced       *prometheus.CounterVec
	produceErrors  prometheus.Counter
	produceSeconds prometheus.Histogram
	dispatched     *prometheus.CounterVec
	deliveries     prometheus.Counter
	archived       *prometheus.CounterVec
	deadLetters    *prometheus.CounterVec
	archiveSeconds prometheus.Histogram
	replayed       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, h *hub.Hub) *metrics {
	m := &metrics{
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_produced_records_total", Help: "Records this node wrote to Kafka, by type.",
		}, []string{"type"}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_produce_errors_total", Help: "Produce calls that failed.",
		}),
		produceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_produce_seconds", Help: "Time from produce to Kafka's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		dispatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_dispatched_records_total", Help: "Records the live reader handled, by topic.",
		}, []string{"topic"}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_live_deliveries_total", Help: "Events queued to live connections.",
		}),
		archived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_archived_records_total", Help: "Records written to the store, by topic.",
		}, []string{"topic"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_dead_letters_total", Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		archiveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_archive_batch_seconds", Help: "Time to write one batch to the store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_resume_replayed_events_total", Help: "Events replayed to resuming connections.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.produced, m.produceErrors, m.produceSeconds, m.dispatched, m.deliveries,
			m.archived, m.deadLetters, m.archiveSeconds, m.replayed,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "parley_live_connections", Help: "Live subscriptions on this node.",
			}, func() float64 { return float64(h.Count()) }))
	}
	return m
}
