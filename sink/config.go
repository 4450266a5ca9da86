package sink

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

// Config configures a Sink. Zero durations and sizes take the defaults
// listed with each field (DefaultConfiguration returns them filled in).
type Config struct {
	// Kafka says how to reach the brokers.
	Kafka kafkaconn.Config
	// Group is the consumer group; default "tokentrail-sink".
	Group string
	// Topics are the topics read and the dead-letter topic.
	Topics Topics

	// BatchRows flushes a batch when it holds this many records; default 50,000.
	BatchRows int
	// BatchAge flushes a batch this long after its first record; default 2s.
	BatchAge time.Duration

	// MemoryBudget is the memory, in bytes, the sink sizes its buffers
	// from: the bytes a batch may hold before it flushes (a batch also
	// flushes on BatchRows and BatchAge), the reader's queue and fetch
	// size (see budget.go for the rule). It is not a hard limit: set the
	// Go runtime's soft limit with SetMemoryLimit. Default 256 MiB; at
	// least 16 MiB.
	MemoryBudget int64

	// FetchMaxWait is how long the client waits for a fetch when no data
	// is ready (the broker is asked for 3/4 of it); default 1s. Closing the
	// reader waits for pending fetches, so it takes up to this long; Drain,
	// which closes it as soon as it is done, uses at most drainMaxWait.
	FetchMaxWait time.Duration

	// SessionTimeout, HeartbeatInterval and RebalanceTimeout are the group
	// timings; defaults 30s, 3s and 30s. A crashed member's partitions move
	// to the others after SessionTimeout.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration

	// LagInterval is how often the consumer-lag gauge is refreshed;
	// default 10s.
	LagInterval time.Duration

	// CommitTimeout bounds one offset commit; default 10s.
	CommitTimeout time.Duration
	// DLQTimeout bounds one dead-letter write, retries included; default 30s.
	DLQTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between insert attempts;
	// defaults 100ms and 10s. Retryable errors are retried until they stop
	// or the sink is stopped.
	RetryMin, RetryMax time.Duration
	// ShutdownTimeout bounds the final flush and commit once the context
	// given to Run is done; default 30s.
	ShutdownTimeout time.Duration

	// CreateTopics creates the topics (Partitions partitions each) when
	// missing. DefaultConfiguration sets it.
	CreateTopics bool
	// Partitions for created topics; default 3.
	Partitions int
}

// Topics names the topics read and the dead-letter topic.
type Topics struct {
	AuditEvents, Tokens, Settings string
	// Coverage is the topic of the collector's coverage records; empty
	// means schema.TopicCoverage.
	Coverage string
	DLQ      string
}

// DefaultTopics are the contract's topic names.
func DefaultTopics() Topics {
	return Topics{AuditEvents: schema.TopicAuditEvents, Tokens: schema.TopicTokens,
		Settings: schema.TopicSettings, Coverage: schema.TopicCoverage, DLQ: schema.TopicDLQ}
}

// DefaultConfiguration returns the defaults, for a local broker.
func DefaultConfiguration() Config {
	return Config{
		Kafka:             kafkaconn.DefaultConfiguration(),
		Group:             "tokentrail-sink",
		Topics:            DefaultTopics(),
		BatchRows:         50_000,
		BatchAge:          2 * time.Second,
		MemoryBudget:      256 << 20,
		FetchMaxWait:      time.Second,
		SessionTimeout:    30 * time.Second,
		HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout:  30 * time.Second,
		LagInterval:       10 * time.Second,
		CommitTimeout:     10 * time.Second,
		DLQTimeout:        30 * time.Second,
		RetryMin:          100 * time.Millisecond,
		RetryMax:          10 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		CreateTopics:      true,
		Partitions:        3,
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("sink: invalid configuration")

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfiguration()
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.Topics == (Topics{}) {
		c.Topics = d.Topics
	}
	if c.Topics.Coverage == "" { // added after the other topics: configurations predating it lack it
		c.Topics.Coverage = d.Topics.Coverage
	}
	if c.Topics.AuditEvents == "" || c.Topics.Tokens == "" || c.Topics.Settings == "" || c.Topics.DLQ == "" {
		return c, fmt.Errorf("%w: every topic needs a name: %+v", ErrConfig, c.Topics)
	}
	if c.BatchRows < 0 || c.BatchAge < 0 {
		return c, fmt.Errorf("%w: negative batch size or age", ErrConfig)
	}
	if c.MemoryBudget < minMemoryBudget {
		return c, fmt.Errorf("%w: memory budget %d MiB is under the minimum of %d MiB", ErrConfig, c.MemoryBudget>>20, minMemoryBudget>>20)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.BatchRows, d.BatchRows)
	def(&c.BatchAge, d.BatchAge)
	def(&c.FetchMaxWait, d.FetchMaxWait)
	def(&c.SessionTimeout, d.SessionTimeout)
	def(&c.HeartbeatInterval, d.HeartbeatInterval)
	def(&c.RebalanceTimeout, d.RebalanceTimeout)
	def(&c.LagInterval, d.LagInterval)
	def(&c.CommitTimeout, d.CommitTimeout)
	def(&c.DLQTimeout, d.DLQTimeout)
	def(&c.RetryMin, d.RetryMin)
	def(&c.RetryMax, d.RetryMax)
	def(&c.ShutdownTimeout, d.ShutdownTimeout)
	defInt(&c.Partitions, d.Partitions)
	if c.HeartbeatInterval >= c.SessionTimeout {
		return c, fmt.Errorf("%w: heartbeat interval %v must be shorter than the session timeout %v", ErrConfig, c.HeartbeatInterval, c.SessionTimeout)
	}
	if err := c.Kafka.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return c, nil
}
