package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus metrics, all prefixed parley_.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
	wsConns     prometheus.Gauge
	sseConns    prometheus.Gauge
	framesSent  prometheus.Counter
	connDropped *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_http_request_seconds", Help: "HTTP request durations by route " +
				"(WebSocket and SSE excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		wsConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_ws_connections", Help: "Open WebSocket connections.",
		}),
		sseConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_sse_connections", Help: "Open SSE streams.",
		}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_ws_frames_sent_total", Help: "WebSocket data frames written.",
		}),
		connDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_connections_dropped_total",
			Help: "WebSocket connections and SSE streams the server ended, by reason.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.seconds, m.wsConns, m.sseConns,
		m.framesSent, m.connDropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument counts the requests of a route by status code and, when
// timed, observes their duration.
func (m *metrics) instrument(route string, h http.Handler, timed bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code())).Inc()
		if timed {
			m.seconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// connection underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code returns the status written; a hijacked WebSocket counts as 101.
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusSwitchingProtocols
	}
	return w.status
}

// dropLogInterval is how often a dropped connection is logged at warn; the
// others in between go to debug.
const dropLogInterval = 10 * time.Second

// rateLimitedLog logs at warn at most once an interval, at debug otherwise,
// so that a storm of slow clients cannot flood the log.
type rateLimitedLog struct {
	logger   *slog.Logger
	interval time.Duration
	last     atomic.Int64 // UnixNano of the last warn
}

func newRateLimitedLog(l *slog.Logger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{logger: l, interval: interval}
}

func (l *rateLimitedLog) warn(msg string, attrs ...any) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last >= int64(l.interval) && l.last.CompareAndSwap(last, now) {
		l.logger.Warn(msg, attrs...)
		return
	}
	l.logger.Debug(msg, attrs...)
}
