package sink_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tokentrail/tokentrail/schema"
)

// During a rolling upgrade a sink of an earlier release (kafka-go's Reader)
// and one of this release (franz-go) are members of the same group at
// once. They must agree on an assignor, split the partitions and, between
// them, consume every record. The earlier member here reads and commits
// without inserting; the records it read plus the rows this sink inserted
// are every record, and each did some.
func testSharesGroupWithKafkaGoMember(t *testing.T) {
	e := newEnv(t, 3)
	const group, n = "mixed", 3000
	old := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, GroupID: group, GroupTopics: topics[:4],
		MaxWait: 100 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond, SessionTimeout: 6 * time.Second,
		RebalanceTimeout: 3 * time.Second, StartOffset: kafka.FirstOffset})
	var mu sync.Mutex
	readByOld := map[string]bool{}
	c, cancel := context.WithCancel(ctx(t))
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		old.Close()
	}()
	wg.Go(func() {
		for {
			m, err := old.FetchMessage(c)
			if err != nil {
				return
			}
			mu.Lock()
			readByOld[string(m.Key)] = true
			mu.Unlock()
			_ = old.CommitMessages(c, m)
		}
	})
	s, _ := e.newSink(e.config(group))
	var runErr error
	wg.Go(func() { runErr = s.Run(c) })

	// Both members hold partitions of the audit topic in one generation.
	admin, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		res, err := req.RequestWith(ctx(t), admin)
		holding := 0
		if err == nil && len(res.Groups) == 1 && res.Groups[0].State == "Stable" {
			for _, m := range res.Groups[0].Members {
				var a kmsg.ConsumerMemberAssignment
				if a.ReadFrom(m.MemberAssignment) != nil {
					continue
				}
				for _, tp := range a.Topics {
					if tp.Topic == schema.TopicAuditEvents && len(tp.Partitions) > 0 {
						holding++
					}
				}
			}
		}
		if holding == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group did not settle with both members holding audit partitions: %+v, %v", res, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	e.produce(schema.TopicAuditEvents, auditEvents(0, n)...)
	deadline = time.Now().Add(time.Minute)
	for {
		inserted := e.count("SELECT count() FROM audit_events FINAL")
		mu.Lock()
		old := len(readByOld)
		mu.Unlock()
		if inserted > 0 && old > 0 && int(inserted)+old == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: the sink inserted %d rows and the kafka-go member read %d records, want %d between them, each some", inserted, old, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// No record was both read by the other member and inserted.
	rows, err := e.conn.Query(ctx(t), "SELECT DISTINCT id FROM audit_events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		both := readByOld[key]
		mu.Unlock()
		if both {
			t.Errorf("record %s was read by both members", key)
		}
	}
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Errorf("Run: %v", runErr)
	}
}
