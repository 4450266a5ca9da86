package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/sink"
)

// While 1,000,000 records of 512 bytes wait in Kafka, ClickHouse goes down
// for a minute under a draining `ingest sink --once` at its default
// settings: the sink's peak RSS stays under its memory budget, it fetches
// no more than its two batches ahead of ClickHouse, each bounded by 1/10 of
// the budget in bytes (at 100,000 records a batch, the row bound alone,
// twice as many would wait in memory), and once the server is back it
// drains everything and exits 0.
func TestSinkMemoryBoundWhileClickHouseDown(t *testing.T) {
	const n, size = 1_000_000, 512
	outage := time.Minute
	ch := chtest.Start(t) // its own server: this test stops it
	bin := buildIngestBinary(t)
	e := newSinkEnv(t, ch)
	produceBatches(t, e.brokers, n, func(i int) kafka.Message { return auditMessageSized(i, size) })

	metrics := freeAddr(t)
	logs := filepath.Join(t.TempDir(), "sink.log")
	// Default batching: the test's small batches would not show the bound.
	cmd := e.child(bin, logs, "sink", "--once", "--kafka-brokers", e.brokers[0], "--clickhouse-dsn", ch.DSN(e.db),
		"--group-session-timeout", "2s", "--group-heartbeat-interval", "300ms", "--metrics-addr", metrics)
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	deadline := time.Now().Add(2 * time.Minute)
	for e.countIfExists("SELECT count() FROM audit_events") <= 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no row inserted within 2 minutes\n%s", tailFile(logs, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ch.Kill()
	t.Logf("ClickHouse down for %v", outage)
	var fetched float64
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		fetched = max(fetched, metric(metrics, "tokentrail_sink_records_total"))
	}
	hwmDown := vmHWM(status)
	inserted := metric(metrics, "tokentrail_sink_rows_inserted_total")
	if err := ch.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm int64
	giveUp := time.After(3 * time.Minute)
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest sink --once after the outage: %v\n%s", err, tailFile(logs, 20))
			}
			waiting = false
		case <-time.After(10 * time.Millisecond):
			hwm = max(hwm, vmHWM(status))
		case <-giveUp:
			t.Fatalf("ingest sink --once did not finish within 3 minutes of ClickHouse's return\n%s", tailFile(logs, 20))
		}
	}
	budget := sink.DefaultConfiguration().MemoryBudget
	t.Logf("peak RSS %d MiB during the outage, %d MiB in all (budget %d MiB); %.0f records fetched and %.0f rows inserted when it ended",
		hwmDown>>20, max(hwm, hwmDown)>>20, budget>>20, fetched, inserted)
	if hwmDown == 0 || max(hwm, hwmDown) > budget {
		t.Errorf("peak RSS %d MiB, want under the %d MiB budget", max(hwm, hwmDown)>>20, budget>>20)
	}
	// Two batches at most were fetched ahead of the inserts, each flushed
	// once its records reach budget/10 bytes (docs/design.md).
	perBatch := float64(budget/10/size + 1)
	if ahead := fetched - inserted; ahead > 2*perBatch {
		t.Errorf("%.0f records of %d bytes fetched ahead of ClickHouse during the outage, want at most two batches of %.0f", ahead, size, perBatch)
	}
	if got := e.count("SELECT count() FROM audit_events FINAL"); got != n {
		t.Errorf("%d distinct rows after the outage, want %d", got, n)
	}
}
