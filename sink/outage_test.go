package sink_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// ClickHouse is stopped for 30 s in the middle of a run and started again:
// the sink retries without crashing, stops fetching while it cannot write
// (at most two batches in flight), and loses nothing.
func testClickHouseOutage(t *testing.T) {
	e := newEnv(t, 3)
	cfg := e.config("outage")
	s, reg := e.newSink(cfg)
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(c) }()

	const before, during = 5_000, 100_000
	e.produce(schema.TopicAuditEvents, auditEvents(0, before)...)
	e.waitCount("SELECT count() FROM audit_events", before, 30*time.Second)

	server.Kill()
	down := time.Now()
	e.produce(schema.TopicAuditEvents, auditEvents(before, during)...)

	// Sample while the server is down: records fetched but not committed,
	// and the heap, against their value at the start of the outage.
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapAtStart := ms.HeapAlloc
	var maxInFlight, maxHeap float64
	var maxFetched int64
	for time.Since(down) < 30*time.Second {
		maxInFlight = max(maxInFlight, metricValue(t, reg, "tokentrail_sink_records_in_flight", nil))
		maxFetched = max(maxFetched, s.Stats().Records)
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, float64(ms.HeapAlloc))
		time.Sleep(250 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned during the outage: %v", err)
	default:
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: max %v records in flight, %d fetched of %d, heap %.0f MiB at start, max %.0f MiB",
		maxInFlight, maxFetched, before+during, float64(heapAtStart)/(1<<20), maxHeap/(1<<20))
	// Two batches, nothing more, were fetched ahead of ClickHouse.
	if limit := float64(2 * cfg.BatchRows); maxInFlight > limit {
		t.Errorf("%v records in flight during the outage, want at most %v", maxInFlight, limit)
	}
	if limit := int64(before + 2*cfg.BatchRows); maxFetched > limit {
		t.Errorf("fetched %d records while ClickHouse was down, want at most %d", maxFetched, limit)
	}
	if retries := metricValue(t, reg, "tokentrail_sink_retries_total", map[string]string{"operation": "insert"}); retries == 0 {
		t.Error("no insert retried during the outage")
	}
	if lag := metricValue(t, reg, "tokentrail_sink_consumer_lag", nil); lag == 0 {
		t.Error("consumer lag was not reported during the outage")
	}

	e.waitCount("SELECT count() FROM audit_events FINAL", before+during, 90*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after the outage: %v", err)
	}
	for table, n := range s.Stats().Rows {
		if table == "audit_events" && n < before+during {
			t.Errorf("inserted %d audit rows, want at least %d", n, before+during)
		}
	}
}

// Several sinks in one group share the partitions; members joining and
// leaving lose nothing, and redelivered records are absorbed by the keys.
func testRebalanceLosesNothing(t *testing.T) {
	e := newEnv(t, 3)
	const step = 10_000
	var wg sync.WaitGroup
	type member struct {
		cancel context.CancelFunc
		err    error
		stats  func() int64
	}
	start := func() *member {
		s, _ := e.newSink(e.config("shared"))
		c, cancel := context.WithCancel(context.Background())
		m := &member{cancel: cancel, stats: func() int64 { return s.Stats().Records }}
		wg.Add(1)
		go func() { defer wg.Done(); m.err = s.Run(c) }()
		return m
	}
	produce := func(from int) {
		e.produce(schema.TopicAuditEvents, auditEvents(from, step)...)
	}
	a := start()
	produce(0)
	b := start() // joins: rebalance
	produce(step)
	time.Sleep(time.Second)
	a.cancel() // leaves: its partitions move to b
	produce(2 * step)
	e.waitCount("SELECT count() FROM audit_events FINAL", 3*step, 90*time.Second)
	b.cancel()
	wg.Wait()
	if a.err != nil || b.err != nil {
		t.Errorf("Run errors: %v, %v", a.err, b.err)
	}
	if a.stats() == 0 || b.stats() == 0 {
		t.Errorf("records fetched per member = %d, %d; want both to have had partitions", a.stats(), b.stats())
	}
	t.Logf("fetched %d + %d records for %d distinct", a.stats(), b.stats(), 3*step)
}
