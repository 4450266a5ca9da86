package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

// ClickHouse is what the sink needs from a connection; a driver.Conn has it.
type ClickHouse interface {
	PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error)
	Ping(ctx context.Context) error
}

// Dependencies are the sink's collaborators.
type Dependencies struct {
	// ClickHouse is the connection to the database holding the tables
	// (see chconn.Open and migrate.Apply). Required.
	ClickHouse ClickHouse
	// Logger; nil = slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil = not registered.
	Registerer prometheus.Registerer
}

// Sink moves records from the topics to ClickHouse. Use it for one Run or
// Drain.
type Sink struct {
	cfg       Config
	budget    budget
	ch        ClickHouse
	log       *slog.Logger
	m         *metrics
	transport *kafka.Transport
	dlq       *kafka.Writer
	topicType map[string]string // topic → the record type it should carry
	used      atomic.Bool
	// failing holds the last insert's error while inserts fail (for
	// Ready), nil once one succeeds.
	failing atomic.Pointer[error]

	stats struct {
		records, deadLetters atomic.Int64
		rows                 [5]atomic.Int64 // by index in tables
	}
}

// Stats are totals since the sink started.
type Stats struct {
	Records     int64            // fetched from Kafka (counted per poll and hand-off, not per record)
	Rows        map[string]int64 // inserted, by table
	DeadLetters int64            // written to the dead-letter topic
}

// New checks the configuration and returns a sink. It does not connect.
func New(cfg Config, deps Dependencies) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.ClickHouse == nil {
		return nil, fmt.Errorf("%w: no ClickHouse connection", ErrConfig)
	}
	transport, err := cfg.Kafka.Transport()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("sink: register metrics: %w", err)
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Sink{
		cfg: cfg, budget: newBudget(cfg.MemoryBudget), ch: deps.ClickHouse, log: log.With("component", "sink"), m: m,
		transport: transport, dlq: newDLQWriter(cfg, transport),
		topicType: map[string]string{
			cfg.Topics.AuditEvents: schema.TypeAuditEvent,
			cfg.Topics.Tokens:      schema.TypeToken,
			cfg.Topics.Settings:    schema.TypeSettings,
			schema.TopicCoverage:   schema.TypeCoverage, // the contract's name; no setting renames it
		},
	}, nil
}

// Run consumes until ctx is done, then flushes and commits what it fetched
// (within Config.ShutdownTimeout) and returns nil. It returns an error when
// an insert fails with a non-retryable error or a dead-letter write fails;
// the batch's offsets are then not committed.
func (s *Sink) Run(ctx context.Context) error { return s.run(ctx, false, nil) }

// RunThenDrain consumes like Run until drain is closed, then like Drain from
// that moment: it returns nil once the group's committed offsets reach the
// end offsets the topics have when drain closes. Closing drain is the stop
// signal for retries, as the end of ctx is for Run (an insert failing after
// it is not retried and its records stay in Kafka: ErrStopped), and what
// follows it takes at most Config.ShutdownTimeout. ingest run uses it to
// write what its collector published before the collector stopped.
func (s *Sink) RunThenDrain(ctx context.Context, drain <-chan struct{}) error {
	return s.run(ctx, false, drain)
}

// Drain consumes up to the end offsets the topics have when it starts,
// commits, and returns nil once the group's committed offsets reach them
// (whichever member of the group wrote the records). When those offsets
// stall, it rejoins the group (see the package documentation). It stops
// early like Run when ctx is done.
func (s *Sink) Drain(ctx context.Context) error { return s.run(ctx, true, nil) }

// Ready reports whether ClickHouse takes inserts and Kafka answers, for
// /readyz. A server that answers pings can still refuse inserts: on a
// cluster a shard may be down, or ZooKeeper, which makes replicated tables
// read-only; so while inserts are being retried the sink is not ready.
func (s *Sink) Ready(ctx context.Context) error {
	if err := s.ch.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if err := s.failing.Load(); err != nil {
		return fmt.Errorf("clickhouse: inserts failing (retrying): %w", *err)
	}
	if err := kafkaconn.Ping(ctx, s.cfg.Kafka); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Stats returns totals since the sink started.
func (s *Sink) Stats() Stats {
	st := Stats{Records: s.stats.records.Load(), DeadLetters: s.stats.deadLetters.Load(), Rows: map[string]int64{}}
	for i, t := range tables {
		st.Rows[t.name] = s.stats.rows[i].Load()
	}
	return st
}

func (s *Sink) run(ctx context.Context, once bool, drainAt <-chan struct{}) error {
	if !s.used.CompareAndSwap(false, true) {
		return errors.New("sink: Run or Drain called twice")
	}
	defer s.transport.CloseIdleConnections()
	defer s.dlq.Close()
	topics := []string{s.cfg.Topics.AuditEvents, s.cfg.Topics.Tokens, s.cfg.Topics.Settings, schema.TopicCoverage}
	if s.cfg.CreateTopics {
		var ts []kafkaconn.Topic
		for _, t := range append(topics, s.cfg.Topics.DLQ) {
			ts = append(ts, kafkaconn.Topic{Name: t, Partitions: s.cfg.Partitions})
		}
		if err := kafkaconn.EnsureTopics(ctx, s.cfg.Kafka, ts...); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	client := &kafka.Client{Addr: kafka.TCP(s.cfg.Kafka.Brokers...), Transport: s.transport}
	var w *drainWatcher
	if once {
		targets, err := s.endOffsets(ctx, client, topics)
		if err != nil {
			return err
		}
		if len(targets) == 0 {
			s.log.Info("nothing to drain: the group is at the end of every partition", "group", s.cfg.Group)
			return nil
		}
		w = newDrainWatcher(s, client, targets)
	}
	s.log.Info("sink started", "group", s.cfg.Group, "topics", topics, "dlq", s.cfg.Topics.DLQ,
		"batch_rows", s.cfg.BatchRows, "batch_bytes", s.budget.batchBytes, "batch_age", s.cfg.BatchAge,
		"memory_budget_mib", s.cfg.MemoryBudget>>20, "go_memory_limit_mib", debug.SetMemoryLimit(-1)>>20, "drain", once)
	return s.runPipeline(ctx, client, topics, w, drainAt)
}
