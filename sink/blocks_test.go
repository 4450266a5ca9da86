package sink_test

import (
	"fmt"
	"testing"

	"github.com/tokentrail/tokentrail/schema"
)

// A batch larger than the budget's block size is sent as one INSERT of
// several blocks: every row arrives once and whole (no column shifted
// against another between blocks), and the server squashes each INSERT's
// blocks into one part.
func testBatchSentInBlocks(t *testing.T) {
	e := newEnv(t, 1)
	const n = 10_000
	e.produce(schema.TopicAuditEvents, auditEvents(0, n)...)
	cfg := e.config("blocks")
	cfg.BatchRows = n
	cfg.MemoryBudget = 16 << 20 // batches of ~840 KB sent in blocks of ~210 KB
	s, reg := e.newSink(cfg)
	if err := s.Drain(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := e.count("SELECT count() FROM audit_events"); got != n {
		t.Errorf("%d rows, want %d", got, n)
	}
	if got := e.count("SELECT uniqExact(id) FROM audit_events"); got != n {
		t.Errorf("%d distinct ids, want %d", got, n)
	}
	// ev-0000042 happened 42 minutes before base.
	if bad := e.count(fmt.Sprintf("SELECT count() FROM audit_events WHERE toUInt32(substring(id, 4)) * 60 != %d - toUInt32(timestamp)", base.Unix())); bad != 0 {
		t.Errorf("%d rows whose timestamp is not their id's", bad)
	}
	// One part per batch and month (the events span two months, and one
	// batch holds both sides of the boundary).
	batches := metricValue(t, reg, "tokentrail_sink_batch_records", nil)
	parts := e.count("SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'audit_events' AND level = 0")
	months := e.count("SELECT uniqExact(toYYYYMM(timestamp)) FROM audit_events")
	if batches < 2 || float64(parts) > batches+float64(months-1) {
		t.Errorf("%d parts inserted for %v batches over %d months; want one part per batch and month, and more than one batch", parts, batches, months)
	}
}
