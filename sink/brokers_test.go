package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/schema"
)

// On a cluster of three brokers the partitions' leaders differ and most
// partitions are idle (tokens, settings, coverage): Drain fetches from
// every broker at once (one fetch each, sized for three) and writes every
// record of the busy ones.
func testDrainFromThreeBrokers(t *testing.T) {
	e := newEnvOn(t, kafkatest.Options{Brokers: 3, Topics: topics, Partitions: 6})
	const n = 30000
	e.produce(schema.TopicAuditEvents, auditEvents(0, n)...)
	cfg := e.config("three-brokers")
	cfg.BatchRows = 5000
	s, _ := e.newSink(cfg)
	c, cancel := context.WithTimeout(ctx(t), time.Minute)
	defer cancel()
	start := time.Now()
	if err := s.Drain(c); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	t.Logf("drained %d records from 3 brokers in %v", n, time.Since(start).Round(time.Millisecond))
	if got := e.count("SELECT count() FROM audit_events FINAL"); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
	var committed int64
	for _, off := range e.committed("three-brokers")[schema.TopicAuditEvents] {
		committed += off
	}
	if committed != n {
		t.Errorf("committed offsets sum to %d, want %d", committed, n)
	}
}
