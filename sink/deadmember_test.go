package sink_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tokentrail/tokentrail/schema"
)

// A member that died while waiting for its JoinGroup response (a sink
// SIGKILLed during a rebalance) can be given partitions in the rebalance
// that the drainer completes, and then never commit them: kfake never
// expires it. Drain notices that the group's commits stalled, says so and
// rejoins, which drops the dead member; it then drains everything. Which
// member leads the rebalance (and so whether the dead one keeps its
// partitions) is random, so three groups try.
func testDrainWithDeadJoiningMember(t *testing.T) {
	e := newEnv(t, 3)
	e.produce(schema.TopicAuditEvents, auditEvents(0, 6000)...)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			group := fmt.Sprintf("dead-joiner-%d", g)
			cfg := e.config(group)
			// The dead member's join: a first member that joins and stops,
			// then a second that sends JoinGroup and dies while the group
			// waits for the first to rejoin.
			first := rawJoin(t, e.brokers[0], group, cfg.SessionTimeout, cfg.RebalanceTimeout)
			defer first.Close()
			readResponse(t, first)
			rawJoin(t, e.brokers[0], group, cfg.SessionTimeout, cfg.RebalanceTimeout).Close()
			s, _ := e.newSink(cfg)
			start := time.Now()
			// Drain stops early, without error, when its context ends: the
			// committed offsets then tell that it did not finish.
			c, cancel := context.WithTimeout(ctx(t), time.Minute)
			defer cancel()
			if err := s.Drain(c); err != nil {
				t.Errorf("%s: Drain: %v", group, err)
				return
			}
			t.Logf("%s: drained in %v", group, time.Since(start).Round(time.Millisecond))
			var sum int64
			for _, off := range e.committed(group)[schema.TopicAuditEvents] {
				sum += off
			}
			if sum != 6000 {
				t.Errorf("%s: committed offsets of %s sum to %d, want 6000", group, schema.TopicAuditEvents, sum)
			}
		})
	}
	wg.Wait()
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 6000 {
		t.Errorf("audit_events holds %d rows, want 6000", n)
	}
}

// rawJoin sends a JoinGroup v1 for a new member of group on a connection
// of its own, as kafka-go does, and returns the connection.
func rawJoin(t *testing.T, broker, group string, session, rebalance time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", broker)
	if err != nil {
		t.Fatal(err)
	}
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 1
	req.Group = group
	req.SessionTimeoutMillis = int32(session / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(rebalance / time.Millisecond)
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	buf := kmsg.NewRequestFormatter(kmsg.FormatterClientID("dead-member")).AppendRequest(nil, req, 1)
	if _, err := conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the broker reads the request before the connection closes
	return conn
}

// readResponse reads one response from conn and discards it.
func readResponse(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("reading a JoinGroup response: %v", err)
	}
	if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
		t.Fatalf("reading a JoinGroup response: %v", err)
	}
}
