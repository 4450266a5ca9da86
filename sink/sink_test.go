package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema"
)

// TestSink runs the integration tests against one ClickHouse server for the
// package; each test has its own Kafka cluster and database.
func TestSink(t *testing.T) {
	server = chtest.Start(t)
	t.Run("RedeliveriesAreAbsorbed", testRedeliveriesAreAbsorbed)
	t.Run("PoisonRecordsAreDeadLettered", testPoisonRecordsAreDeadLettered)
	t.Run("RollingUpgrade", testRollingUpgrade)
	t.Run("DeadLetterFailureStops", testDeadLetterFailureStops)
	t.Run("RebalanceLosesNothing", testRebalanceLosesNothing)
	t.Run("DrainWithAnotherMember", testDrainWithAnotherMember)
	t.Run("DrainWithDeadJoiningMember", testDrainWithDeadJoiningMember)
	t.Run("BatchSentInBlocks", testBatchSentInBlocks)
	t.Run("SharesGroupWithKafkaGoMember", testSharesGroupWithKafkaGoMember)
	t.Run("DrainFromThreeBrokers", testDrainFromThreeBrokers)
	t.Run("ClickHouseOutage", testClickHouseOutage) // last: restarts the server
}

// Every record is delivered at least twice: produced twice, then read
// again by a second group. Every table still holds one row per key.
func testRedeliveriesAreAbsorbed(t *testing.T) {
	e := newEnv(t, 3)
	const nAudit, nTokens, nVersions, nTenants = 5000, 200, 3, 4
	audit := auditEvents(0, nAudit)
	var tokens, sets []kafka.Message
	for v := range nVersions {
		at := base.Add(time.Duration(v) * time.Hour)
		for i := range nTokens {
			tokens = append(tokens, token(tenantOf(i), i, at, []string{"valid", "expired", "revoked"}[v]))
		}
		for i := range nTenants {
			sets = append(sets, settings(tenantOf(i), int64(v), at))
		}
	}
	for range 2 { // the collector re-sent everything
		e.produce(schema.TopicAuditEvents, audit...)
		e.produce(schema.TopicTokens, tokens...)
		e.produce(schema.TopicSettings, sets...)
	}
	var inserted int64
	for _, group := range []string{"g1", "g2"} { // g2 re-reads everything
		s, _ := e.newSink(e.config(group))
		if err := s.Drain(ctx(t)); err != nil {
			t.Fatalf("drain %s: %v", group, err)
		}
		st := s.Stats()
		if want := int64(2 * (len(audit) + len(tokens) + len(sets))); st.Records != want {
			t.Errorf("group %s fetched %d records, want %d", group, st.Records, want)
		}
		for _, n := range st.Rows {
			inserted += n
		}
	}
	distinct := map[string]uint64{
		"audit_events":     nAudit,
		"tokens":           nTokens,
		"token_changes":    nTokens * nVersions,
		"settings_changes": nTenants * nVersions,
	}
	for table, want := range distinct {
		if got := e.count("SELECT count() FROM " + table + " FINAL"); got != want {
			t.Errorf("%s: count() FINAL = %d, want %d distinct", table, got, want)
		}
	}
	// tokens and token_changes both get every token record.
	if want := int64(4 * (nAudit + 2*nTokens*nVersions + nTenants*nVersions)); inserted != want {
		t.Errorf("inserted %d rows, want %d (every record four times)", inserted, want)
	}
	// The newest collected state wins.
	var status string
	if err := e.conn.QueryRow(ctx(t), "SELECT status FROM tokens FINAL WHERE id = 'tok-0007'").Scan(&status); err != nil || status != "revoked" {
		t.Errorf("tok-0007 status = %q, %v; want revoked (its newest version)", status, err)
	}
	for table := range distinct {
		if n := e.count("SELECT count() FROM " + table + " WHERE tenant = ''"); n != 0 {
			t.Errorf("%s has %d rows without a tenant", table, n)
		}
	}
}

func tenantOf(i int) string { return []string{"cid-a", "cid-b", "cid-c", "cid-d"}[i%4] }

// Drain in a group where another member holds some partitions finishes
// once the group, not this member alone, has committed the end offsets.
func testDrainWithAnotherMember(t *testing.T) {
	e := newEnv(t, 3)
	e.produce(schema.TopicAuditEvents, auditEvents(0, 20_000)...)
	runner, _ := e.newSink(e.config("mixed"))
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- runner.Run(c) }()
	time.Sleep(500 * time.Millisecond) // the runner joins first
	drainer, _ := e.newSink(e.config("mixed"))
	if err := drainer.Drain(ctx(t)); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 20_000 {
		t.Errorf("after Drain returned: %d rows, want 20000", n)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("runner fetched %d, drainer %d", runner.Stats().Records, drainer.Stats().Records)
}
