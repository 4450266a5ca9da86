package falcon

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/telemetry"
)

// Metrics are the client's Prometheus metrics. A nil *Metrics is valid and
// records nothing.
type Metrics struct {
	requests    *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	retries     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	cooldown    prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Collectors already registered under the same names are reused,
// so several clients can share one registry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_falcon_requests_total",
			Help: "Falcon API HTTP requests by operation and HTTP status (\"error\" when no response arrived).",
		}, []string{"operation", "status"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_falcon_rate_limited_total",
			Help: "Falcon API 429 responses by operation.",
		}, []string{"operation"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_falcon_retries_total",
			Help: "Falcon API request retries by operation.",
		}, []string{"operation"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokentrail_falcon_request_duration_seconds",
			Help:    "Duration of single Falcon API HTTP requests (one try), by operation.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"operation"}),
		cooldown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokentrail_falcon_cooldown_seconds_total",
			Help: "Seconds during which all Falcon API requests were paused after a 429.",
		}),
	}
	m.requests, _ = telemetry.Register(reg, m.requests)
	m.rateLimited, _ = telemetry.Register(reg, m.rateLimited)
	m.retries, _ = telemetry.Register(reg, m.retries)
	m.duration, _ = telemetry.Register(reg, m.duration)
	m.cooldown, _ = telemetry.Register(reg, m.cooldown)
	return m
}

// request records one HTTP try; status 0 means no response.
func (m *Metrics) request(op string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := "error"
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(op, s).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
	if status == 429 {
		m.rateLimited.WithLabelValues(op).Inc()
	}
}

func (m *Metrics) retry(op string) {
	if m != nil {
		m.retries.WithLabelValues(op).Inc()
	}
}

func (m *Metrics) addCooldown(d time.Duration) {
	if m != nil && d > 0 {
		m.cooldown.Add(d.Seconds())
	}
}
