package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

// BenchmarkSink drains 1,000,000 audit-event records (zstd, as the
// collector publishes them) from kfake into ClickHouse, and measures in the
// same run the two limits of a pipelined sink on this machine:
//
//   - read: a bare kafka-go consumer-group read of the records (FetchMessage
//     only: no decoding, no inserting), in this process, as the sink reads;
//   - insert: the same rows inserted by `clickhouse-client --query "INSERT
//     INTO audit_events (...) FORMAT JSONEachRow"`, the server's own rate;
//   - sink: the whole `ingest sink --once` child process (start, migrate,
//     group join, drain, commit, exit) and its peak RSS.
//
// TOKENTRAIL_BENCH_RECORDS overrides the record count. Results are recorded
// in docs/benchmarks.md.
func BenchmarkSink(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("TOKENTRAIL_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	chClient, err := exec.LookPath("clickhouse-client")
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal("clickhouse-client not found and CI=true")
		}
		b.Skip("clickhouse-client not installed")
	}
	ch := chtest.Start(b)
	bin := buildIngestBinary(b)
	_, brokers := kafkatest.Start(b, kafkatest.Options{
		Topics: []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings, schema.TopicDLQ}})
	e := &sinkEnv{t: b, ch: ch, brokers: brokers}
	e.produceAudit(0, n, kafka.Zstd)
	rows := filepath.Join(b.TempDir(), "rows.json")
	writeJSONEachRow(b, rows, n)

	for i := 0; i < b.N; i++ {
		read := bareRead(b, brokers, fmt.Sprintf("bench-read-%d", i), n)
		insert := clientInsert(b, chClient, ch, rows)
		e.db = ch.NewDatabase()
		sink, rss := sinkOnce(b, bin, e.args("sink", "--once", "--group", fmt.Sprintf("bench-sink-%d", i),
			"--log-level", cmp.Or(os.Getenv("BENCH_LOG_LEVEL"), "warn"), "--batch-rows", "50000", "--batch-age", "2s"))
		if got := e.count("SELECT count() FROM audit_events FINAL"); got != uint64(n) {
			b.Fatalf("the sink inserted %d distinct rows, want %d", got, n)
		}
		rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
		limit := min(rate(read), rate(insert))
		b.ReportMetric(rate(read), "read_rows/s")
		b.ReportMetric(rate(insert), "insert_rows/s")
		b.ReportMetric(rate(sink), "sink_rows/s")
		b.ReportMetric(100*rate(sink)/limit, "%_of_limit")
		b.ReportMetric(float64(rss)/(1<<20), "sink_rss_MiB")
		b.Logf("%d records: bare read %v (%.0f/s), clickhouse-client insert %v (%.0f/s), ingest sink --once %v (%.0f/s, %.0f%% of the slower limit), sink max RSS %.0f MiB",
			n, read.Round(time.Millisecond), rate(read), insert.Round(time.Millisecond), rate(insert),
			sink.Round(time.Millisecond), rate(sink), 100*rate(sink)/limit, float64(rss)/(1<<20))
	}
}

// bareRead times a consumer-group read of n records, configured as the
// sink's reader is.
func bareRead(b *testing.B, brokers []string, group string, n int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group,
		GroupTopics: []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings},
		MinBytes:    1, MaxBytes: 1 << 20, MaxWait: time.Second, QueueCapacity: 1000, StartOffset: kafka.FirstOffset})
	defer r.Close()
	for range n {
		if _, err := r.FetchMessage(ctx); err != nil {
			b.Fatalf("bare read: %v", err)
		}
	}
	return time.Since(start)
}

// clientInsert times clickhouse-client inserting the rows file into a fresh
// database.
func clientInsert(b *testing.B, client string, ch *chtest.Server, rows string) time.Duration {
	db := ch.NewDatabase()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn := ch.Conn(b, "")
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		b.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, conn, migrate.Options{Database: db}); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(rows)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	host, port, _ := strings.Cut(ch.Addr, ":")
	cmd := exec.CommandContext(ctx, client, "--host", host, "--port", port, "--database", db, "--query",
		"INSERT INTO audit_events (tenant, id, action, actor, description, timestamp, token_id, collected_at, version, schema_version) FORMAT JSONEachRow")
	cmd.Stdin = f
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("clickhouse-client: %v\n%s", err, out)
	}
	return time.Since(start)
}

// sinkOnce times the whole `ingest sink --once` process and returns its
// peak resident set size in bytes: VmHWM from /proc/<pid>/status, polled
// every 10 ms. (rusage's Maxrss is not used: os/exec starts the child with
// CLONE_VM, so the child's Maxrss includes this process's RSS at exec time.)
func sinkOnce(b *testing.B, bin string, args []string) (time.Duration, int64) {
	cmd := exec.Command(bin, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		var hwm int64
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if v := vmHWM(status); v > hwm {
				hwm = v
			}
			select {
			case <-done:
				peak <- hwm
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	d := time.Since(start)
	close(done)
	hwm := <-peak
	if err != nil {
		b.Fatalf("ingest sink --once: %v\n%s", err, out.String())
	}
	if f := os.Getenv("BENCH_LOG_FILE"); f != "" {
		_ = os.WriteFile(f, []byte(out.String()), 0o644)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	b.Logf("ingest sink --once used %v user + %v system CPU", time.Duration(ru.Utime.Nano()).Round(time.Millisecond),
		time.Duration(ru.Stime.Nano()).Round(time.Millisecond))
	return d, hwm
}

// vmHWM reads a process's peak RSS in bytes (0 once it has exited).
func vmHWM(status string) int64 {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// writeJSONEachRow writes the rows the sink derives from auditMessage(0..n).
func writeJSONEachRow(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	const dt = "2006-01-02 15:04:05"
	for i := range n {
		var ev schema.AuditEvent
		if err := json.Unmarshal(auditMessage(i).Value, &ev); err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(map[string]any{
			"tenant": ev.Tenant, "id": ev.ID, "action": ev.Action, "actor": ev.Actor, "description": ev.Description,
			"timestamp": ev.Timestamp.UTC().Format(dt), "token_id": ev.TokenID, "collected_at": ev.CollectedAt.UTC().Format(dt),
			"version": ev.CollectedAt.UnixNano(), "schema_version": ev.SchemaVersion,
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
