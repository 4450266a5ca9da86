package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema"
)

// runEnv is a live pipeline: an emulated tenant that keeps changing, an
// in-process Kafka, a private ClickHouse and `ingest run` as a child process.
type runEnv struct {
	*collectEnv
	ch      *chtest.Server
	db      string
	metrics string
	cmd     *exec.Cmd
	exited  chan error
	stderr  *syncBuffer
}

func startRunEnv(t *testing.T, faults falcontest.Faults) *runEnv {
	t.Helper()
	ch := chtest.Start(t)
	bin := buildIngest(t)
	ce := newCollectEnv(t, falcontest.Config{Seed: 7, Faults: faults,
		Tenants: []falcontest.TenantConfig{{Tokens: 40, Events: 3000, Ties: 50}}})
	tn := ce.emu.Tenants()[0]
	id, secret := tn.Credentials()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ce.emu.RunActivity(ctx, falcontest.Activity{Interval: 20 * time.Millisecond, Rand: 3})
	}()
	t.Cleanup(func() { cancel(); <-done })

	e := &runEnv{collectEnv: ce, ch: ch, db: ch.NewDatabase(), metrics: freePort(t), exited: make(chan error, 1), stderr: &syncBuffer{}}
	args := ce.args("--start-time", "all", "--poll-interval", "300ms", "--settle-lag", "0s",
		"--clickhouse-dsn", ch.DSN(e.db), "--batch-age", "200ms", "--log-level", "info",
		"--group-session-timeout", "6s", "--group-heartbeat-interval", "1s",
		"--metrics-addr", e.metrics, "--shutdown-timeout", "20s")
	args[0] = "run" // ce.args are collect's; run takes them all
	e.cmd = exec.Command(bin, args...)
	e.cmd.Env = append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret)
	e.cmd.Stderr = e.stderr
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.exited <- e.cmd.Wait() }()
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("ingest run stderr (tail):\n%s", tail(e.stderr.String()))
		}
	})
	return e
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// get fetches a path of the metrics server; ok is false while it is down.
func (e *runEnv) get(path string) (code int, body string, ok bool) {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + e.metrics + path)
	if err != nil {
		return 0, "", false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), true
}

// scrape sums each series of the Prometheus text exposition by metric name.
func scrape(body string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if j := strings.LastIndexByte(rest, ' '); j >= 0 {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest[j:]), 64); err == nil {
				out[name] += v
			}
		}
	}
	return out
}

func (e *runEnv) waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case err := <-e.exited:
			t.Fatalf("ingest run exited (%v) while waiting for %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunMetricsAndReadiness scrapes /metrics of a running `ingest run` and
// sees every series operators are promised change, then stops ClickHouse and
// sees /readyz turn unready (and ready again once it is back).
func TestRunMetricsAndReadiness(t *testing.T) {
	// 429 storms and 5xx on reads make the rate-limit and retry series move.
	e := startRunEnv(t, falcontest.Faults{RateLimitStormRate: 0.1, ServerErrorRate: 0.05,
		Operations: []string{falcontest.OpAuditEventsRead, falcontest.OpTokensRead}})
	var first map[string]float64
	e.waitFor(t, "the first scrape", 60*time.Second, func() bool {
		code, body, ok := e.get("/metrics")
		if ok && code == 200 {
			first = scrape(body)
		}
		return first != nil
	})
	// A poison record makes the DLQ series move.
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(e.brokers, ",")...), Topic: schema.TopicAuditEvents, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	e.waitFor(t, "writing a poison record", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return w.WriteMessages(ctx, kafka.Message{Key: []byte("poison"), Value: []byte("{not json")}) == nil
	})

	series := []string{
		"tokentrail_collector_records_collected_total",
		"tokentrail_collector_records_published_total",
		"tokentrail_collector_checkpoint_commits_total",
		"tokentrail_collector_checkpoint_age_seconds",
		"tokentrail_falcon_requests_total",
		"tokentrail_falcon_rate_limited_total",
		"tokentrail_falcon_retries_total",
		"tokentrail_sink_rows_inserted_total",
		"tokentrail_sink_batch_records_count",
		"tokentrail_sink_flush_duration_seconds_count",
		"tokentrail_sink_consumer_lag",
		"tokentrail_sink_dlq_records_total",
	}
	changed := map[string]bool{}
	e.waitFor(t, "every series to change", 90*time.Second, func() bool {
		code, body, ok := e.get("/metrics")
		if !ok || code != 200 {
			return false
		}
		now := scrape(body)
		for _, s := range series {
			if _, present := now[s]; present && now[s] != first[s] {
				changed[s] = true
			}
		}
		return len(changed) == len(series)
	})

	code, body, _ := e.get("/readyz")
	if code != 200 {
		t.Fatalf("/readyz = %d %s while everything runs", code, body)
	}
	if code, _, _ := e.get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	e.ch.Kill()
	e.waitFor(t, "/readyz to turn unready with ClickHouse stopped", 60*time.Second, func() bool {
		code, body, _ = e.get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || ready.Ready {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	if ready.Checks["falcon"] != "ok" || ready.Checks["kafka"] != "ok" || ready.Checks["sink"] == "ok" {
		t.Errorf("/readyz checks with ClickHouse down = %v; want only the sink failing", ready.Checks)
	}
	if err := e.ch.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "/readyz to recover", 60*time.Second, func() bool {
		code, _, _ = e.get("/readyz")
		return code == 200
	})
}

// TestRunSIGTERMFlushesAndCommits stops a busy `ingest run` with SIGTERM:
// it must exit 0, every record published before the signal must be in
// ClickHouse, the sink's committed offsets must reach the end of the topics,
// and the collector's checkpoint must match what is on the audit topic.
func TestRunSIGTERMFlushesAndCommits(t *testing.T) {
	e := startRunEnv(t, falcontest.Faults{})
	conn := e.ch.Conn(t, "")
	rows := func() uint64 {
		var n uint64
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.audit_events", e.db)).Scan(&n)
		return n
	}
	e.waitFor(t, "rows in ClickHouse", 90*time.Second, func() bool { return rows() >= 3000 })
	time.Sleep(700 * time.Millisecond) // mid-stream: activity keeps producing
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.exited:
		if err != nil {
			t.Fatalf("ingest run after SIGTERM: %v\n%s", err, tail(e.stderr.String()))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ingest run did not exit within 60s of SIGTERM")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := e.pollClient()
	onTopic := map[string]time.Time{}
	err := topicread.Read(ctx, client, schema.TopicAuditEvents, func(m topicread.Message) error {
		r, err := schema.Decode(m.Value)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", m.Offset, err)
		}
		a := r.(*schema.AuditEvent)
		onTopic[a.ID] = a.Timestamp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inCH := map[string]bool{}
	res, err := conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT id FROM %s.audit_events", e.db))
	if err != nil {
		t.Fatal(err)
	}
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			t.Fatal(err)
		}
		inCH[id] = true
	}
	res.Close()
	missing := 0
	for id := range onTopic {
		if !inCH[id] {
			missing++
		}
	}
	if missing > 0 || len(inCH) != len(onTopic) {
		t.Fatalf("after SIGTERM: %d audit events on the topic, %d in ClickHouse, %d published but not inserted", len(onTopic), len(inCH), missing)
	}

	// The sink committed everything it inserted: its group's offsets are at
	// the end of every partition.
	for _, topic := range []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings} {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			t.Fatal(err)
		}
		var parts []int
		ends := map[string][]kafka.OffsetRequest{}
		for _, p := range meta.Topics[0].Partitions {
			parts = append(parts, p.ID)
			ends[topic] = append(ends[topic], kafka.LastOffsetOf(p.ID))
		}
		lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: ends})
		if err != nil {
			t.Fatal(err)
		}
		of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "tokentrail-sink", Topics: map[string][]int{topic: parts}})
		if err != nil {
			t.Fatal(err)
		}
		committed := map[int]int64{}
		for _, p := range of.Topics[topic] {
			committed[p.Partition] = p.CommittedOffset
		}
		for _, p := range lo.Topics[topic] {
			if p.LastOffset > 0 && committed[p.Partition] != p.LastOffset {
				t.Errorf("%s[%d]: sink committed offset %d, end offset %d", topic, p.Partition, committed[p.Partition], p.LastOffset)
			}
		}
	}

	// The checkpoint matches the topic: its cursor is the newest published
	// timestamp, and the IDs it remembers were all published.
	fs, err := checkpoint.OpenFileStore(e.dir + "/state")
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.Load(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for _, ts := range onTopic {
		if ts.After(newest) {
			newest = ts
		}
	}
	if !st.Audit.Cursor.Equal(newest) {
		t.Errorf("checkpoint cursor %v, newest published event %v", st.Audit.Cursor, newest)
	}
	for id := range st.Audit.Recent {
		if _, ok := onTopic[id]; !ok {
			t.Errorf("checkpoint remembers %s, which is not on the topic", id)
		}
	}
	if !strings.Contains(e.stderr.String(), "collector stopped") || !strings.Contains(e.stderr.String(), "sink stopped") {
		t.Errorf("no graceful stop logged:\n%s", tail(e.stderr.String()))
	}
}
