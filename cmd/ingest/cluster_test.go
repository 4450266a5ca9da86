package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chcluster"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/queries"
)

// clusterEnv is the operators' example cluster (2 shards × 2 replicas,
// ZooKeeper), a single server for comparison, an emulated tenant whose
// records were collected into Kafka, and the ingest binary.
type clusterEnv struct {
	c      *chcluster.Cluster
	single *chtest.Server
	ce     *collectEnv
	tn     *falcontest.Tenant
	bin    string
	now    time.Time
}

// TestCluster runs the pipeline, the reports and the fault scenarios on
// one cluster.
func TestCluster(t *testing.T) {
	start := time.Now()
	e := &clusterEnv{c: chcluster.Start(t, chcluster.Options{}), single: chtest.Start(t), bin: buildIngest(t)}
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	e.now = clock.Now()
	e.ce = newCollectEnv(t, falcontest.Config{Seed: 13, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 300, Events: 20000, Ties: 200}}})
	e.tn = e.ce.emu.Tenants()[0]
	id, secret := e.tn.Credentials()
	cmd := exec.Command(e.bin, e.ce.args("--once", "--start-time", "all", "--log-level", "warn")...)
	cmd.Env = append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret, "TOKENTRAIL_FINGERPRINT_KEY=k1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("collect --once: %v\n%s", err, tail(string(out)))
	}
	t.Logf("cluster, server, build and collection ready in %v", time.Since(start).Round(time.Millisecond))
	db := e.c.NewDatabase()
	t.Run("Pipeline", func(t *testing.T) { testClusterPipeline(t, e, db) })
	t.Run("Reports", func(t *testing.T) { testClusterReports(t, e, db) })
	t.Run("ReSinkAddsNothing", func(t *testing.T) { testClusterReSink(t, e, db) })
	t.Run("ReplicaKilled", func(t *testing.T) { testClusterReplicaKilled(t, e) })
	t.Run("ShardDown", func(t *testing.T) { testClusterShardDown(t, e) })
	t.Run("ZooKeeperDown", func(t *testing.T) { testClusterZooKeeperDown(t, e) })
	t.Run("StartWithNodeDown", func(t *testing.T) { testClusterStartWithNodeDown(t, e) })
}

// sinkArgs are the flags of a sink on the cluster writing db.
func (e *clusterEnv) sinkArgs(db, group string, extra ...string) []string {
	return append([]string{"sink", "--kafka-brokers", e.ce.brokers, "--clickhouse-dsn", e.c.DSN(db), "--cluster", e.c.Name,
		"--group", group, "--batch-rows", "2000", "--batch-age", "200ms",
		"--group-session-timeout", "6s", "--group-heartbeat-interval", "1s", "--log-level", "warn"}, extra...)
}

func (e *clusterEnv) sinkOnce(t *testing.T, args []string) {
	t.Helper()
	cmd := exec.Command(e.bin, append(args, "--once")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sink --once: %v\n%s", err, tail(string(out)))
	}
}

func query[T any](t testing.TB, conn driver.Conn, q string, args ...any) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func one[T any](t testing.TB, conn driver.Conn, q string, args ...any) T {
	t.Helper()
	r := query[T](t, conn, q, args...)
	if len(r) != 1 {
		t.Fatalf("%s: %d rows", q, len(r))
	}
	return r[0]
}

// The pipeline's output equals the emulator's truth, read through one node
// of each shard: every audit event once in the whole cluster, no id on two
// shards, and every token's current state; the Distributed tables show the
// same. The smallest memory budget makes each 2,000-record batch (~0.7 MB)
// go as several blocks of 200 KiB in one INSERT into the Distributed
// tables.
func testClusterPipeline(t *testing.T, e *clusterEnv, db string) {
	e.sinkOnce(t, e.sinkArgs(db, "cluster", "--memory-budget-mib", "16"))
	e.c.WaitReplicated(t, db)
	seen := map[string]int{}
	perShard := []int{}
	for _, shard := range e.c.Shards {
		conn := shard[len(shard)-1].Conn(t, db) // not the DSN's first node
		ids := query[string](t, conn, "SELECT id FROM audit_events_local FINAL")
		perShard = append(perShard, len(ids))
		for _, id := range ids {
			seen[id]++
		}
		// A token's events live on the shard of its states.
		q := "SELECT countIf(token_id NOT IN (SELECT id FROM tokens_local)), count() FROM audit_events_local WHERE token_id IN (SELECT id FROM tokens)"
		var away, withToken uint64
		if err := conn.QueryRow(context.Background(), q).Scan(&away, &withToken); err != nil {
			t.Fatal(err)
		}
		if away != 0 || withToken == 0 {
			t.Errorf("shard %d: %d of %d events of known tokens have their token's states on another shard", len(perShard), away, withToken)
		}
	}
	if len(perShard) != 2 || perShard[0] == 0 || perShard[1] == 0 {
		t.Errorf("events per shard = %v; want both shards used", perShard)
	}
	if missing, dups, extra := compareIDs(seen, e.tn.AuditEventIDs(false)); missing+dups+extra != 0 {
		t.Errorf("audit events across shards: %d missing, %d on two shards or twice, %d unexpected", missing, dups, extra)
	}
	conn := e.c.Conn(t, db)
	if n := one[uint64](t, conn, "SELECT count() FROM audit_events FINAL"); n != uint64(len(e.tn.AuditEventIDs(false))) {
		t.Errorf("audit_events (Distributed) FINAL holds %d rows, want %d", n, len(e.tn.AuditEventIDs(false)))
	}
	type tokenRow struct {
		ID, Label, Status string
		Deleted           uint8
	}
	rows, err := conn.Query(context.Background(), "SELECT id, label, status, deleted FROM tokens FINAL")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tokenRow{}
	for rows.Next() {
		var r tokenRow
		if err := rows.Scan(&r.ID, &r.Label, &r.Status, &r.Deleted); err != nil {
			t.Fatal(err)
		}
		got[r.ID] = r
	}
	rows.Close()
	truth := e.tn.Tokens()
	if len(got) != len(truth) {
		t.Errorf("tokens FINAL holds %d tokens, the emulator %d", len(got), len(truth))
	}
	for _, tok := range truth {
		if r := got[tok.ID]; r.Label != tok.Label || r.Status != tok.Status || r.Deleted != 0 {
			t.Errorf("token %s: %+v, emulator %+v", tok.ID, r, tok)
		}
	}
}

// Every report gives the same rows on the cluster as on a single server fed
// the same records.
func testClusterReports(t *testing.T, e *clusterEnv, db string) {
	sdb := e.single.NewDatabase()
	args := e.sinkArgs(sdb, "single")
	args[4] = e.single.DSN(sdb)
	args = append(args[:5], args[7:]...) // no --cluster
	e.sinkOnce(t, args)
	cluster, single := e.c.Conn(t, db), e.single.Conn(t, sdb)
	total := 0
	for _, r := range queries.All() {
		v, err := r.Resolve(map[string]string{}, e.now)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		want, err := queries.Run(ctx, single, r, v)
		if err != nil {
			cancel()
			t.Fatalf("%s on one server: %v", r.Name, err)
		}
		got, err := queries.Run(ctx, cluster, r, v)
		cancel()
		if err != nil {
			t.Errorf("%s on the cluster: %v", r.Name, err)
			continue
		}
		for i := range want.Tables {
			w, g := rowStrings(want.Tables[i]), rowStrings(got.Tables[i])
			total += len(w)
			if strings.Join(w, "\n") != strings.Join(g, "\n") {
				t.Errorf("%s/%s: cluster gives %d rows, one server %d; first difference: %s", r.Name, want.Tables[i].Section.Name, len(g), len(w), firstDiff(w, g))
			}
		}
	}
	if total == 0 {
		t.Error("every report is empty: the comparison shows nothing")
	}
}

// rowStrings renders a table's rows, sorted: rows that tie on a report's
// ORDER BY may come back in another order from several shards.
func rowStrings(tab queries.Table) []string {
	out := make([]string, len(tab.Rows))
	for i, r := range tab.Rows {
		out[i] = fmt.Sprint(r...)
	}
	sort.Strings(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("one server %q, cluster %q", a[i], b[i])
		}
	}
	return "one list is longer"
}

// A second sink group reads every record again: after FINAL nothing is
// added, and no id lands on a second shard.
func testClusterReSink(t *testing.T, e *clusterEnv, db string) {
	conn := e.c.Conn(t, db)
	counts := func() [3]uint64 {
		return [3]uint64{
			one[uint64](t, conn, "SELECT count() FROM audit_events FINAL"),
			one[uint64](t, conn, "SELECT count() FROM tokens FINAL"),
			one[uint64](t, conn, "SELECT count() FROM token_changes FINAL"),
		}
	}
	before := counts()
	e.sinkOnce(t, e.sinkArgs(db, "cluster-again", "--no-migrate"))
	if after := counts(); after != before {
		t.Errorf("after a re-sink: %v rows, before %v", after, before)
	}
	if n := one[uint64](t, conn, "SELECT count() FROM audit_events"); n <= before[0] {
		t.Logf("the re-sink's rows were merged away already (%d rows without FINAL)", n)
	}
}

// faultRun is a long-running sink on its own topics and database.
type faultRun struct {
	e       *clusterEnv
	t       *testing.T
	db      string
	topic   string
	group   string
	metrics string
	cmd     *exec.Cmd
	exited  chan error
	stderr  *syncBuffer
}

func (e *clusterEnv) startFaultRun(t *testing.T, name string) *faultRun {
	f := &faultRun{e: e, t: t, db: e.c.NewDatabase(), topic: "cluster." + name, group: "fault-" + name, metrics: freePort(t),
		exited: make(chan error, 1), stderr: &syncBuffer{}}
	args := e.sinkArgs(f.db, f.group, "--audit-topic", f.topic+".audit", "--tokens-topic", f.topic+".tokens",
		"--settings-topic", f.topic+".settings", "--dlq-topic", f.topic+".dlq", "--metrics-addr", f.metrics, "--batch-rows", "500")
	f.cmd = exec.Command(e.bin, args...)
	f.cmd.Stderr = f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.exited <- f.cmd.Wait() }()
	t.Cleanup(func() {
		_ = f.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("sink stderr (tail):\n%s", tail(f.stderr.String()))
		}
	})
	return f
}

// produce writes audit events from..from+n to the run's topic.
func (f *faultRun) produce(from, n int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := kafkaconn.DefaultConfiguration()
	kc.Brokers = strings.Split(f.e.ce.brokers, ",")
	if err := kafkaconn.EnsureTopics(ctx, kc, kafkaconn.Topic{Name: f.topic + ".audit", Partitions: 3}); err != nil {
		f.t.Fatal(err)
	}
	// A transport of its own: kafka.DefaultTransport is shared by the whole
	// test binary and caches metadata for 6 s, so a topic created after its
	// last refresh stays unknown to it for up to 6 s.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Topic: f.topic + ".audit", RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Hash{}, BatchSize: 500, BatchTimeout: 5 * time.Millisecond, Transport: tr}
	defer w.Close()
	msgs := make([]kafka.Message, 0, n)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, auditMessage(i))
	}
	// A topic just created takes a moment to show in the writer's metadata.
	for try := 0; ; try++ {
		err := w.WriteMessages(ctx, msgs[0])
		if err == nil {
			break
		} else if !errors.Is(err, kafka.UnknownTopicOrPartition) || try == 99 {
			f.t.Fatalf("produce: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := w.WriteMessages(ctx, msgs[1:]...); err != nil {
		f.t.Fatalf("produce: %v", err)
	}
}

func (f *faultRun) waitFor(what string, d time.Duration, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case err := <-f.exited:
			f.t.Fatalf("the sink exited (%v) while waiting for %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rows counts distinct events through the Distributed table; -1 while the
// cluster cannot answer.
func (f *faultRun) rows() int64 {
	conn := f.e.c.Conn(f.t, f.db)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(id) FROM audit_events").Scan(&n); err != nil {
		return -1
	}
	return int64(n)
}

// committed sums the group's committed offsets on the audit topic.
func (f *faultRun) committed() int64 {
	f.t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(strings.Split(f.e.ce.brokers, ",")...), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: f.group, Topics: map[string][]int{f.topic + ".audit": {0, 1, 2}}})
	if err != nil {
		f.t.Fatalf("offset fetch: %v", err)
	}
	var sum int64
	for _, p := range res.Topics[f.topic+".audit"] {
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum
}

func (f *faultRun) readyz() int {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + f.metrics + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// finish waits until all n events arrived and are committed, then stops
// the sink with SIGTERM.
func (f *faultRun) finish(n int) {
	f.t.Helper()
	f.waitFor(fmt.Sprintf("all %d events in ClickHouse", n), 3*time.Minute, func() bool { return f.rows() == int64(n) })
	f.waitFor("the offsets of every event committed", time.Minute, func() bool { return f.committed() == int64(n) })
	f.waitFor("/readyz ready", time.Minute, func() bool { return f.readyz() == http.StatusOK })
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-f.exited:
		if err != nil {
			f.t.Errorf("sink after SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		f.t.Error("sink did not stop within a minute of SIGTERM")
	}
}

// One replica (the DSN's first host) is killed while the sink writes: the
// sink goes on with the other replica and commits everything; nothing is
// lost, and the killed replica catches up when it returns. (Rows it had
// stored but not yet passed on are unreadable while it is down: the sink
// inserts without a quorum, see docs/design.md.)
func testClusterReplicaKilled(t *testing.T, e *clusterEnv) {
	f := e.startFaultRun(t, "replica")
	f.produce(0, 5000)
	f.waitFor("the first rows", time.Minute, func() bool { return f.rows() > 0 })
	victim := e.c.Shards[0][0]
	victim.Kill()
	f.produce(5000, 5000)
	f.waitFor("every offset committed with a replica down", 2*time.Minute, func() bool { return f.committed() == 10000 })
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := e.c.WaitZooKeeper(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	f.finish(10000)
	e.c.WaitReplicated(t, f.db)
	for s, shard := range e.c.Shards {
		a := one[uint64](t, shard[0].Conn(t, f.db), "SELECT count() FROM audit_events_local FINAL")
		b := one[uint64](t, shard[1].Conn(t, f.db), "SELECT count() FROM audit_events_local FINAL")
		if a != b || a == 0 {
			t.Errorf("shard %d replicas hold %d and %d events", s+1, a, b)
		}
	}
}

// A whole shard is down: the sink commits nothing it did not store on
// every shard, /readyz turns unready, and everything arrives once the
// shard returns.
func testClusterShardDown(t *testing.T, e *clusterEnv) {
	f := e.startFaultRun(t, "shard")
	f.produce(0, 3000)
	f.waitFor("the first 3000 events", time.Minute, func() bool { return f.rows() == 3000 && f.committed() == 3000 })
	shard := e.c.Shards[1]
	for _, n := range shard {
		n.Kill()
	}
	f.produce(3000, 3000)
	f.waitFor("/readyz unready with a shard down", time.Minute, func() bool { return f.readyz() == http.StatusServiceUnavailable })
	time.Sleep(3 * time.Second) // retries keep failing
	if c := f.committed(); c != 3000 {
		t.Errorf("committed offsets sum to %d with shard 2 down; want 3000 (nothing of the second 3000 stored on every shard)", c)
	}
	for _, n := range shard {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.c.WaitZooKeeper(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	f.finish(6000)
}

// ZooKeeper is down for 30 s: replicated tables turn read-only, inserts are
// retried, /readyz is unready, and the sink resumes when it returns.
func testClusterZooKeeperDown(t *testing.T, e *clusterEnv) {
	f := e.startFaultRun(t, "zookeeper")
	f.produce(0, 2000)
	f.waitFor("the first 2000 events", time.Minute, func() bool { return f.rows() == 2000 && f.committed() == 2000 })
	e.c.ZooKeeper.Kill()
	down := time.Now()
	f.produce(2000, 2000)
	f.waitFor("/readyz unready with ZooKeeper down", time.Minute, func() bool { return f.readyz() == http.StatusServiceUnavailable })
	if c := f.committed(); c != 2000 {
		t.Errorf("committed offsets sum to %d with ZooKeeper down; want 2000", c)
	}
	time.Sleep(time.Until(down.Add(30 * time.Second)))
	if err := e.c.ZooKeeper.Start(); err != nil {
		t.Fatal(err)
	}
	f.finish(4000)
}

// A sink started while a node is down, with the schema current, starts at
// once (no DDL waits for the node) and writes.
func testClusterStartWithNodeDown(t *testing.T, e *clusterEnv) {
	f := &faultRun{e: e, t: t, db: e.c.NewDatabase(), topic: "cluster.nodedown", group: "nodedown"}
	topics := []string{"--audit-topic", f.topic + ".audit", "--tokens-topic", f.topic + ".tokens",
		"--settings-topic", f.topic + ".settings", "--dlq-topic", f.topic + ".dlq"}
	f.produce(0, 1000)
	e.sinkOnce(t, e.sinkArgs(f.db, f.group, topics...))
	down := e.c.Shards[1][1]
	down.Kill()
	defer func() {
		if err := down.Start(); err != nil {
			t.Error(err)
		}
	}()
	f.produce(1000, 1000)
	start := time.Now()
	e.sinkOnce(t, e.sinkArgs(f.db, f.group, topics...))
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("sink --once with a node down took %v", d)
	}
	if n := f.rows(); n != 2000 {
		t.Errorf("%d events after the run with a node down, want 2000", n)
	}
}
