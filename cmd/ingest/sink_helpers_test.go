package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema"
)

// sinkEnv is a Kafka cluster with the tokentrail topics and a ClickHouse
// database that does not exist yet.
type sinkEnv struct {
	t       testing.TB
	ch      *chtest.Server
	brokers []string
	db      string
}

func newSinkEnv(t testing.TB, ch *chtest.Server) *sinkEnv {
	t.Helper()
	// kfake directly rather than kafkatest: a short minimum session timeout
	// lets a killed sink's partitions move on within 2s instead of 6s.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second),
		kfake.SeedTopics(3, schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings, schema.TopicCoverage, schema.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &sinkEnv{t: t, ch: ch, brokers: c.ListenAddrs(), db: ch.NewDatabase()}
}

// args are the flags every sink test passes.
func (e *sinkEnv) args(cmd string, extra ...string) []string {
	a := []string{cmd, "--kafka-brokers", e.brokers[0], "--clickhouse-dsn", e.ch.DSN(e.db),
		"--batch-rows", "5000", "--batch-age", "200ms",
		"--group-session-timeout", "2s", "--group-heartbeat-interval", "300ms"}
	if cmd == "migrate" {
		a = []string{cmd, "--clickhouse-dsn", e.ch.DSN(e.db)}
	}
	return append(a, extra...)
}

func (e *sinkEnv) conn() driver.Conn { return e.ch.Conn(e.t, e.db) }

func (e *sinkEnv) count(query string) uint64 {
	e.t.Helper()
	var n uint64
	if err := e.conn().QueryRow(e.ctx(30*time.Second), query).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// produceAudit writes audit events n from..from+count.
func (e *sinkEnv) produceAudit(from, count int, compression kafka.Compression) {
	e.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: schema.TopicAuditEvents, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Hash{}, BatchSize: 5000, BatchTimeout: 5 * time.Millisecond, Compression: compression}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	msgs := make([]kafka.Message, 0, 20000)
	flush := func() {
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			e.t.Fatalf("produce: %v", err)
		}
		msgs = msgs[:0]
	}
	for i := from; i < from+count; i++ {
		msgs = append(msgs, auditMessage(i))
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
}

var sinkTestBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func auditMessage(i int) kafka.Message {
	ev := &schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, fmt.Sprintf("cid-%d", i%7), sinkTestBase),
		ID: fmt.Sprintf("ev-%08d", i), Action: "update_token", Actor: "alice@example.com",
		Description: "Updated token label and expiry", Timestamp: sinkTestBase.Add(-time.Duration(i) * time.Second),
		TokenID: fmt.Sprintf("tok-%05d", i%5000)}
	data, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return kafka.Message{Key: []byte(ev.ID), Value: data}
}

// ctx returns a context that expires after d or when the test ends.
func (e *sinkEnv) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	e.t.Cleanup(cancel)
	return ctx
}

// ingestCLI runs the command line in-process.
func ingestCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb lockedBuffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildIngestBinary compiles this command into a temporary directory.
func buildIngestBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ingest")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out.String())
	}
	return bin
}

// testCID is the Falcon CID of the test records.
const testCID = "0123456789abcdef0123456789abcdef"
