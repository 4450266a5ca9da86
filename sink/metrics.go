package sink

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/telemetry"
)

// metrics are the sink's Prometheus metrics, all prefixed tokentrail_sink_.
type metrics struct {
	records      *prometheus.CounterVec // topic
	rowsInserted *prometheus.CounterVec // table
	batchRecords prometheus.Histogram
	flushSeconds prometheus.Histogram   // batch hand-off to commit
	lag          *prometheus.GaugeVec   // topic, partition
	deadLetters  *prometheus.CounterVec // topic, reason
	retries      *prometheus.CounterVec // operation
	commitErrors prometheus.Counter
	inFlight     prometheus.Gauge       // fetched, not yet committed
	wrongTopic   *prometheus.CounterVec // topic, record_type
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "tokentrail", "sink"
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Records fetched from Kafka, by topic."}, []string{"topic"}),
		rowsInserted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_inserted_total",
			Help: "Rows inserted into ClickHouse, by table."}, []string{"table"}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_records",
			Help: "Records per flushed batch.", Buckets: prometheus.ExponentialBuckets(10, 4, 8)}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "flush_duration_seconds",
			Help:    "Time from a batch's hand-off to its offset commit: dead letters, inserts with retries, commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_lag",
			Help: "Records the group has not committed yet: end offset minus committed offset."}, []string{"topic", "partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dlq_records_total",
			Help: "Records written to the dead-letter topic, by source topic and reason."}, []string{"topic", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retries_total",
			Help: "Retried operations after a retryable error: insert (ClickHouse) or fetch (Kafka)."}, []string{"operation"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commit_errors_total",
			Help: "Offset commits that failed (the records are redelivered and deduplicated)."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "records_in_flight",
			Help: "Records fetched whose offsets are not committed yet; bounded by two batches."}),
		wrongTopic: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "wrong_topic_records_total",
			Help: "Valid records found on another record type's topic (written by their type)."}, []string{"topic", "record_type"}),
	}
	var err error
	m.records = register(reg, m.records, &err)
	m.rowsInserted = register(reg, m.rowsInserted, &err)
	m.batchRecords = register(reg, m.batchRecords, &err)
	m.flushSeconds = register(reg, m.flushSeconds, &err)
	m.lag = register(reg, m.lag, &err)
	m.deadLetters = register(reg, m.deadLetters, &err)
	m.retries = register(reg, m.retries, &err)
	m.commitErrors = register(reg, m.commitErrors, &err)
	m.inFlight = register(reg, m.inFlight, &err)
	m.wrongTopic = register(reg, m.wrongTopic, &err)
	return m, err
}

// register registers c through telemetry.Register (a second Sink in one
// process shares the first one's metrics) and keeps the first error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	c, err := telemetry.Register(reg, c)
	if *errp == nil {
		*errp = err
	}
	return c
}

func partitionLabel(p int) string { return strconv.Itoa(p) }
