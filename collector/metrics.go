package collector

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/telemetry"
)

// metrics are the collector's Prometheus metrics, labelled by tenant.
type metrics struct {
	collected  *prometheus.CounterVec   // tenant, record_type
	published  *prometheus.CounterVec   // tenant, record_type
	errors     *prometheus.CounterVec   // tenant, stage
	pollDur    *prometheus.HistogramVec // tenant
	publishDur prometheus.Histogram
	commits    *prometheus.CounterVec // tenant

	mu      sync.Mutex
	workers []*worker
	now     func() time.Time
}

var (
	ckptAgeDesc = prometheus.NewDesc("tokentrail_collector_checkpoint_age_seconds",
		"Seconds since the tenant's checkpoint was last committed.", []string{"tenant"}, nil)
	cursorLagDesc = prometheus.NewDesc("tokentrail_collector_audit_cursor_lag_seconds",
		"Seconds between now and the tenant's audit cursor (the newest exported event timestamp).", []string{"tenant"}, nil)
)

func newMetrics(reg prometheus.Registerer, now func() time.Time) *metrics {
	m := &metrics{now: now}
	m.collected, _ = telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokentrail_collector_records_collected_total",
		Help: "Records read from Falcon that are due for publishing (new audit events, new, changed or deleted tokens, changed settings).",
	}, []string{"tenant", "record_type"}))
	m.published, _ = telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokentrail_collector_records_published_total",
		Help: "Records acknowledged by Kafka.",
	}, []string{"tenant", "record_type"}))
	m.errors, _ = telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokentrail_collector_errors_total",
		Help: "Failures by stage: audit, tokens, settings (Falcon reads), publish, checkpoint, invalid (records the API sent that cannot be published).",
	}, []string{"tenant", "stage"}))
	m.pollDur, _ = telemetry.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tokentrail_collector_poll_duration_seconds",
		Help:    "Duration of one poll of a tenant (settings, tokens, audit events).",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 16),
	}, []string{"tenant"}))
	m.publishDur, _ = telemetry.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tokentrail_collector_publish_batch_duration_seconds",
		Help:    "Time for Kafka to acknowledge one batch of records.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}))
	m.commits, _ = telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokentrail_collector_checkpoint_commits_total",
		Help: "Checkpoints committed.",
	}, []string{"tenant"}))
	if reg != nil {
		// A second collector on the same registry keeps the first one's
		// gauges; the counters above are shared.
		_ = reg.Register(m)
	}
	return m
}

// Describe implements prometheus.Collector for the per-tenant gauges.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- ckptAgeDesc
	ch <- cursorLagDesc
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ws := append([]*worker(nil), m.workers...)
	m.mu.Unlock()
	now := m.now()
	for _, w := range ws {
		if c := w.lastCommit.Load(); c != 0 {
			ch <- prometheus.MustNewConstMetric(ckptAgeDesc, prometheus.GaugeValue, now.Sub(time.Unix(0, c)).Seconds(), w.name)
		}
		if c := w.cursor.Load(); c != 0 {
			ch <- prometheus.MustNewConstMetric(cursorLagDesc, prometheus.GaugeValue, now.Sub(time.Unix(0, c)).Seconds(), w.name)
		}
	}
}

func (m *metrics) track(w *worker) {
	m.mu.Lock()
	m.workers = append(m.workers, w)
	m.mu.Unlock()
}
