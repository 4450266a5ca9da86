package sink

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

// Config configures a Sink. Start from DefaultConfiguration (its defaults
// are listed with each field): every setting means what it says, and New
// refuses zero sizes and durations with a *ConfigError naming the key.
type Config struct {
	// Kafka says how to reach the brokers.
	Kafka kafkaconn.Config
	// Group is the consumer group; default "tokentrail-sink".
	Group string
	// Topics are the topics read and the dead-letter topic.
	Topics Topics

	// BatchRows flushes a batch when it holds this many records; default 100,000.
	BatchRows int
	// BatchAge flushes a batch this long after its first record; default 2s.
	BatchAge time.Duration

	// MemoryBudget is the memory, in bytes, the sink sizes its buffers
	// from: the bytes a batch may hold before it flushes (a batch also
	// flushes on BatchRows and BatchAge) and the Kafka client's fetch
	// sizes (see budget.go for the rule). It is not a hard limit: set the
	// Go runtime's soft limit with SetMemoryLimit. Default 256 MiB; at
	// least 16 MiB.
	MemoryBudget int64

	// FetchMaxWait is how long a broker holds a fetch when no data is
	// ready; default 1s.
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
	DLQ                           string
}

// DefaultTopics are the contract's topic names.
func DefaultTopics() Topics {
	return Topics{AuditEvents: schema.TopicAuditEvents, Tokens: schema.TopicTokens,
		Settings: schema.TopicSettings, DLQ: schema.TopicDLQ}
}

// DefaultConfiguration returns the defaults, for a local broker.
func DefaultConfiguration() Config {
	return Config{
		Kafka:             kafkaconn.DefaultConfiguration(),
		Group:             "tokentrail-sink",
		Topics:            DefaultTopics(),
		BatchRows:         100_000,
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

// ConfigError names the setting, by its configuration key (the flag name
// where there is one), that New refused.
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return "sink: " + e.Key + ": " + e.Reason }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Validate checks c as New does, for callers that want configuration
// errors before any I/O. Every setting means what it says: start from
// DefaultConfiguration; zero sizes and durations are refused.
func (c Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	for key, v := range map[string]string{"group": c.Group, "audit-topic": c.Topics.AuditEvents, "tokens-topic": c.Topics.Tokens,
		"settings-topic": c.Topics.Settings, "dlq-topic": c.Topics.DLQ} {
		if strings.TrimSpace(v) == "" {
			return bad(key, "empty")
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"batch-rows", c.BatchRows}, {"partitions", c.Partitions}} {
		if f.v <= 0 {
			return bad(f.key, "%d is not positive", f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   time.Duration
	}{{"batch-age", c.BatchAge}, {"fetch-max-wait", c.FetchMaxWait}, {"group-session-timeout", c.SessionTimeout},
		{"group-heartbeat-interval", c.HeartbeatInterval}, {"rebalance-timeout", c.RebalanceTimeout}, {"lag-interval", c.LagInterval},
		{"commit-timeout", c.CommitTimeout}, {"dlq-timeout", c.DLQTimeout}, {"retry-min", c.RetryMin}, {"retry-max", c.RetryMax}} {
		if f.v <= 0 {
			return bad(f.key, "%v is not positive", f.v)
		}
	}
	if c.ShutdownTimeout < 0 {
		return bad("shutdown-timeout", "%v is negative", c.ShutdownTimeout)
	}
	if c.MemoryBudget < minMemoryBudget {
		return bad("memory-budget-mib", "%d MiB is under the minimum of %d MiB", c.MemoryBudget>>20, minMemoryBudget>>20)
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return bad("group-heartbeat-interval", "%v must be shorter than the group session timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.RetryMax < c.RetryMin {
		return bad("retry-max", "%v is below retry-min %v", c.RetryMax, c.RetryMin)
	}
	if err := c.Kafka.Validate(); err != nil {
		return bad("kafka-brokers", "%v", err)
	}
	return nil
}
