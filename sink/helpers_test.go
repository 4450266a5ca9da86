package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/sink"
)

// env is one test's Kafka cluster and ClickHouse database.
type env struct {
	t       *testing.T
	brokers []string
	conn    driver.Conn
	db      string
}

var topics = []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings, schema.TopicCoverage, schema.TopicDLQ}

func newEnv(t *testing.T, partitions int) *env {
	t.Helper()
	return newEnvOn(t, kafkatest.Options{Topics: topics, Partitions: partitions})
}

// newEnvOn is newEnv on a Kafka cluster of o's shape.
func newEnvOn(t *testing.T, o kafkatest.Options) *env {
	t.Helper()
	_, brokers := kafkatest.Start(t, o)
	db := server.NewDatabase()
	if err := server.Conn(t, "").Exec(ctx(t), "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	conn := server.Conn(t, db)
	if _, err := migrate.Apply(ctx(t), conn, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, brokers: brokers, conn: conn, db: db}
}

// config is a sink configuration with test-sized timings.
func (e *env) config(group string) sink.Config {
	cfg := sink.DefaultConfiguration()
	cfg.Kafka = kafkaconn.Config{Brokers: e.brokers}
	cfg.Group = group
	cfg.BatchRows = 2000
	cfg.BatchAge = 200 * time.Millisecond
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 300 * time.Millisecond
	cfg.RebalanceTimeout = 3 * time.Second
	cfg.RetryMax = 2 * time.Second
	cfg.LagInterval = 500 * time.Millisecond
	return cfg
}

func (e *env) newSink(cfg sink.Config) (*sink.Sink, *prometheus.Registry) {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	s, err := sink.New(cfg, sink.Dependencies{ClickHouse: e.conn, Logger: testLogger(), Registerer: reg})
	if err != nil {
		e.t.Fatal(err)
	}
	return s, reg
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (e *env) produce(topic string, msgs ...kafka.Message) {
	e.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Hash{}, BatchSize: 5000, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	for len(msgs) > 0 {
		n := min(len(msgs), 20000)
		if err := w.WriteMessages(ctx(e.t), msgs[:n]...); err != nil {
			e.t.Fatalf("produce to %s: %v", topic, err)
		}
		msgs = msgs[n:]
	}
}

func (e *env) count(query string) uint64 {
	e.t.Helper()
	var n uint64
	if err := e.conn.QueryRow(ctx(e.t), query).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitCount polls until query returns want.
func (e *env) waitCount(query string, want uint64, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var got uint64
	for time.Now().Before(deadline) {
		if got = e.count(query); got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("%s = %d after %v, want %d", query, got, within, want)
}

// committed returns the group's committed offsets by topic and partition.
func (e *env) committed(group string) map[string]map[int]int64 {
	e.t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(e.brokers...)}
	meta, err := client.Metadata(ctx(e.t), &kafka.MetadataRequest{Topics: topics[:3]})
	if err != nil {
		e.t.Fatal(err)
	}
	parts := map[string][]int{}
	for _, tp := range meta.Topics {
		for _, p := range tp.Partitions {
			parts[tp.Name] = append(parts[tp.Name], p.ID)
		}
	}
	res, err := client.OffsetFetch(ctx(e.t), &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]map[int]int64{}
	for topic, ps := range res.Topics {
		out[topic] = map[int]int64{}
		for _, p := range ps {
			out[topic][p.Partition] = p.CommittedOffset
		}
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func msg(rec schema.Record) kafka.Message {
	data, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	return kafka.Message{Key: []byte(rec.Key()), Value: data,
		Headers: []kafka.Header{{Key: schema.HeaderRecordType, Value: []byte(rec.Type())}}}
}

// auditEvents are audit events from to from+n-1, spread over the tenants.
func auditEvents(from, n int) []kafka.Message {
	msgs := make([]kafka.Message, 0, n)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, auditEvent(tenantOf(i), i, base))
	}
	return msgs
}

func auditEvent(tenant string, i int, collected time.Time) kafka.Message {
	return msg(&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, tenant, collected),
		ID: fmt.Sprintf("ev-%07d", i), Action: "update_token", Actor: "alice@example.com",
		Description: "Updated token", Timestamp: base.Add(-time.Duration(i) * time.Minute), TokenID: fmt.Sprintf("tok-%04d", i%100)})
}

func token(tenant string, i int, collected time.Time, status string) kafka.Message {
	exp := collected.Add(30 * 24 * time.Hour)
	return msg(&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, testCID, tenant, collected),
		ID: fmt.Sprintf("tok-%04d", i), TokenState: schema.TokenState{Label: "ci", TokenType: "installation", Status: status,
			ValueFingerprint: "fp", CreatedTimestamp: base.Add(-time.Hour), ExpiresTimestamp: &exp}})
}

func settings(tenant string, maxActive int64, collected time.Time) kafka.Message {
	return msg(&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, testCID, tenant, collected),
		ID: schema.SettingsID(testCID, tenant, collected), MaxActiveTokens: &maxActive, TokensRequired: true})
}

// metricValue sums a metric's samples whose labels include want.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

var server *chtest.Server

// testCID is the Falcon CID of the test records.
const testCID = "0123456789abcdef0123456789abcdef"
