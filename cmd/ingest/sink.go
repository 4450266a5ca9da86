package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/sink"
	"github.com/tokentrail/tokentrail/telemetry"
)

// ClickHouseFlags say how to reach ClickHouse; shared by sink, migrate and
// run (cmd/report takes the same flags).
type ClickHouseFlags struct {
	chconn.Flags
}

// ClickHouseConfig turns the flags into a connection config; a bad flag is
// a usage error.
func (f ClickHouseFlags) ClickHouseConfig() (chconn.Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// openClickHouse connects, creating the DSN's database when missing.
func (f ClickHouseFlags) openClickHouse(ctx context.Context) (driver.Conn, chconn.Config, error) {
	cfg, err := f.ClickHouseConfig()
	if err != nil {
		return nil, cfg, err
	}
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		return nil, cfg, fmt.Errorf("ClickHouse %s: %w", chconn.Redact(cfg.DSN), err)
	}
	return conn, cfg, nil
}

// TopicFlags name the record topics. The names, defaults and variables are
// the collector's, so that one configuration file serves both; `ingest
// run` passes the collector's values in SinkFlags.Topics.
type TopicFlags struct {
	AuditTopic    string `help:"Topic of audit_event records." default:"${audit_topic}" env:"TOKENTRAIL_AUDIT_TOPIC"`
	TokensTopic   string `help:"Topic of token records." default:"${tokens_topic}" env:"TOKENTRAIL_TOKENS_TOPIC"`
	SettingsTopic string `help:"Topic of settings records." default:"${settings_topic}" env:"TOKENTRAIL_SETTINGS_TOPIC"`
}

// SinkFlags are the sink's flags, shared by sink, run and demo. The Kafka
// connection flags (KafkaFlags), the record topics and --once are separate.
type SinkFlags struct {
	ClickHouseFlags
	Group                  string        `help:"Kafka consumer group; sinks in one group share the partitions." default:"${group}" env:"TOKENTRAIL_SINK_GROUP"`
	BatchRows              int           `help:"Flush a batch when it holds this many records." default:"${batch_rows}" env:"TOKENTRAIL_SINK_BATCH_ROWS"`
	BatchAge               time.Duration `help:"Flush a batch this long after its first record." default:"${batch_age}" env:"TOKENTRAIL_SINK_BATCH_AGE"`
	MemoryBudgetMiB        int64         `name:"memory-budget-mib" help:"Memory the sink sizes its buffers from, in MiB: a batch also flushes at 1/10 of it (docs/design.md). Unless GOMEMLIMIT is set, it also sets the Go runtime's soft limit: 80% of it, or 90% of a lower cgroup memory limit." default:"${memory_budget_mib}" env:"TOKENTRAIL_SINK_MEMORY_BUDGET_MIB"`
	DLQTopic               string        `name:"dlq-topic" help:"Dead-letter topic for records that cannot be decoded or validated." default:"${dlq_topic}" env:"TOKENTRAIL_DLQ_TOPIC"`
	Migrate                bool          `help:"Apply the ClickHouse schema at start (default; --no-migrate leaves it to ingest migrate)." default:"true" negatable:"" env:"TOKENTRAIL_SINK_MIGRATE"`
	Cluster                string        `help:"ClickHouse cluster: the schema is created ON CLUSTER with Replicated and Distributed tables (empty: one server)." env:"CLICKHOUSE_CLUSTER" placeholder:"NAME"`
	GroupSessionTimeout    time.Duration `help:"A sink that stops heartbeating (or does not rejoin a rebalance) loses its partitions to the others after this long." default:"${group_session_timeout}" env:"TOKENTRAIL_SINK_GROUP_SESSION_TIMEOUT"`
	GroupHeartbeatInterval time.Duration `help:"Consumer-group heartbeat interval (shorter than --group-session-timeout)." default:"${group_heartbeat_interval}" env:"TOKENTRAIL_SINK_GROUP_HEARTBEAT_INTERVAL"`

	// Topics are the record topics read. Not flags here: `ingest sink`
	// fills them from its TopicFlags, `ingest run` from the collector's
	// flags of the same names.
	Topics TopicFlags `kong:"-"`
}

// SinkCmd is the sink command.
type SinkCmd struct {
	KafkaFlags
	SinkFlags
	TopicFlags
	Once bool `help:"Drain up to the end offsets the topics have at start, commit and exit 0." env:"TOKENTRAIL_ONCE"`
}

// Run implements the command.
func (c *SinkCmd) Run(ctx context.Context, g *Globals) error {
	tel, stopTel, err := g.startTelemetry(ctx)
	if err != nil {
		return err
	}
	defer stopTel()
	f := c.SinkFlags
	f.Topics = c.TopicFlags
	if f.sinkConfig(g).Validate() == nil { // else runSink names the flag
		_, restore := sink.SetMemoryLimit(f.MemoryBudgetMiB<<20, g.Logger())
		defer restore()
	}
	return runSink(ctx, g, c.KafkaFlags, f, c.Once, nil, tel)
}

// sinkConfig turns the flags into a sink configuration; sink.New
// validates it.
func (f SinkFlags) sinkConfig(g *Globals) sink.Config {
	cfg := sink.DefaultConfiguration()
	cfg.Group, cfg.BatchRows, cfg.BatchAge, cfg.MemoryBudget = f.Group, f.BatchRows, f.BatchAge, f.MemoryBudgetMiB<<20
	// A live sink rejoins a rebalance within a heartbeat, so the group need
	// not wait longer for a member to rejoin than for it to heartbeat.
	cfg.SessionTimeout, cfg.RebalanceTimeout, cfg.HeartbeatInterval = f.GroupSessionTimeout, f.GroupSessionTimeout, f.GroupHeartbeatInterval
	cfg.Topics = sink.Topics{AuditEvents: f.Topics.AuditTopic, Tokens: f.Topics.TokensTopic, Settings: f.Topics.SettingsTopic, DLQ: f.DLQTopic}
	cfg.ShutdownTimeout = g.ShutdownTimeout
	return cfg
}

// runSink runs the sink until ctx is done, or with once until it drained
// the end offsets seen at start, or, with a drain channel, until ctx is done
// or it drained the end offsets seen when drain closed. tel may be nil;
// otherwise the sink's metrics and a "sink" readiness check (ClickHouse and
// Kafka answer) are registered on it. Configuration errors are usage errors
// (exit 2).
func runSink(ctx context.Context, g *Globals, k KafkaFlags, f SinkFlags, once bool, drain <-chan struct{}, tel *telemetry.Server) error {
	log := g.Logger()
	kcfg, err := k.KafkaConfig()
	if err != nil {
		return err
	}
	cfg := f.sinkConfig(g)
	cfg.Kafka = kcfg
	if err := cfg.Validate(); err != nil { // before connecting anywhere
		return sinkUsage(err)
	}
	conn, chcfg, err := f.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if f.Migrate {
		if _, err := migrate.Apply(ctx, conn, migrateOptions(chcfg, f.Cluster, log)); err != nil {
			return fmt.Errorf("migrate ClickHouse %s: %w", chconn.Redact(chcfg.DSN), err)
		}
	}
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registry()
	}
	s, err := sink.New(cfg, sink.Dependencies{ClickHouse: conn, Logger: log, Registerer: reg})
	if errors.Is(err, sink.ErrConfig) {
		return sinkUsage(err)
	} else if err != nil {
		return err
	}
	if tel != nil {
		tel.AddCheck("sink", s.Ready)
	}
	start := time.Now()
	switch {
	case once:
		err = s.Drain(ctx)
	case drain != nil:
		err = s.RunThenDrain(ctx, drain)
	default:
		err = s.Run(ctx)
	}
	stopped := ctx.Err() != nil
	select {
	case <-drain:
		stopped = true
	default:
	}
	if errors.Is(err, sink.ErrStopped) && stopped {
		// Stopped on request during an outage: nothing is lost, the
		// records stay in Kafka behind the committed offsets.
		log.Warn("sink stopped with records not written to ClickHouse; their offsets are not committed, so the next run reads them again", "err", err)
		err = nil
	}
	st := s.Stats()
	log.Info("sink stopped", "records", st.Records, "dead_letters", st.DeadLetters,
		"audit_events", st.Rows["audit_events"], "tokens", st.Rows["tokens"], "settings_changes", st.Rows["settings_changes"],
		"elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}

// sinkUsage turns a sink configuration error into a usage error naming the
// flag.
func sinkUsage(err error) error {
	var ce *sink.ConfigError
	if errors.As(err, &ce) {
		return usagef("--%s: %s", ce.Key, ce.Reason)
	}
	return usagef("%v", err)
}
