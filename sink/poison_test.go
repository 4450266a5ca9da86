package sink_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// Poison records go to the dead-letter topic with headers pointing back to
// them, and every good record around them is inserted.
func testPoisonRecordsAreDeadLettered(t *testing.T) {
	e := newEnv(t, 3)
	env := `"schema_version":1,"tenant":"cid-a","collected_at":"2026-03-01T12:00:00Z"`
	poison := map[string]string{ // value → what the dlq_error header says
		`{"record_type":"audit_event", oops`:                                                   "malformed record",
		`{"record_type":"audit_evnt",` + env + `,"id":"x","timestamp":"2026-03-01T12:00:00Z"}`: "unknown record_type",
		`{"record_type":"audit_event","schema_version":99,"tenant":"cid-a","collected_at":"2026-03-01T12:00:00Z","id":"x","timestamp":"2026-03-01T12:00:00Z"}`: "unsupported schema_version",
		`{"record_type":"audit_event",` + env + `,"id":"","timestamp":"2026-03-01T12:00:00Z"}`:                                                                 "invalid record: id: empty",
		`{"record_type":"audit_event",` + env + `,"id":"old","timestamp":"1960-01-01T00:00:00Z"}`:                                                              "timestamp: 1960-01-01T00:00:00Z is outside",
		`{"record_type":"token",` + env + `,"id":"has space","created_timestamp":"2026-03-01T12:00:00Z"}`:                                                      "invalid record: id",
		`{"record_type":"settings",` + env + `,"max_active_tokens":-5}`:                                                                                        "max_active_tokens: negative",
	}
	topicOf := func(v string) string {
		switch {
		case strings.Contains(v, `"token"`):
			return schema.TopicTokens
		case strings.Contains(v, `"settings"`):
			return schema.TopicSettings
		}
		return schema.TopicAuditEvents
	}
	var audit []kafka.Message
	good := 0
	for v := range poison {
		if topicOf(v) != schema.TopicAuditEvents {
			continue
		}
		for range 50 {
			audit = append(audit, auditEvent("cid-a", good, base))
			good++
		}
		audit = append(audit, kafka.Message{Key: []byte("k"), Value: []byte(v), Headers: []kafka.Header{{Key: "origin", Value: []byte("test")}}})
	}
	// A valid token record on the audit topic is written by its type.
	audit = append(audit, token("cid-a", 9999, base, "valid"))
	e.produce(schema.TopicAuditEvents, audit...)
	e.produce(schema.TopicTokens, token("cid-a", 1, base, "valid"),
		kafka.Message{Value: []byte(firstKey(poison, schema.TopicTokens, topicOf))}, token("cid-a", 2, base, "valid"))
	e.produce(schema.TopicSettings, settings("cid-a", 3, base),
		kafka.Message{Value: []byte(firstKey(poison, schema.TopicSettings, topicOf))}, settings("cid-a", 4, base.Add(time.Second)))

	s, reg := e.newSink(e.config("poison"))
	if err := s.Drain(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := e.count("SELECT count() FROM audit_events FINAL"); got != uint64(good) {
		t.Errorf("audit_events: %d rows, want the %d good records", got, good)
	}
	if got := e.count("SELECT count() FROM tokens FINAL"); got != 3 {
		t.Errorf("tokens: %d rows, want 3 (two from the tokens topic, one from the audit topic)", got)
	}
	if got := e.count("SELECT count() FROM settings_changes FINAL"); got != 2 {
		t.Errorf("settings_changes: %d rows, want 2", got)
	}
	if got := metricValue(t, reg, "tokentrail_sink_wrong_topic_records_total", map[string]string{"record_type": "token"}); got != 1 {
		t.Errorf("wrong-topic records = %v, want 1", got)
	}
	if got := metricValue(t, reg, "tokentrail_sink_dlq_records_total", nil); got != float64(len(poison)) {
		t.Errorf("dlq_records_total = %v, want %d", got, len(poison))
	}

	dead := readAll(t, e, schema.TopicDLQ)
	if len(dead) != len(poison) {
		t.Fatalf("dead-letter topic holds %d records, want %d", len(dead), len(poison))
	}
	for _, d := range dead {
		h := headers(d)
		want, ok := poison[string(d.Value)]
		if !ok {
			t.Errorf("unexpected dead letter %q", d.Value)
			continue
		}
		if !strings.Contains(h[schema.HeaderDLQError], want) {
			t.Errorf("%s: dlq_error = %q, want it to mention %q", d.Value, h[schema.HeaderDLQError], want)
		}
		if h[schema.HeaderDLQTopic] != topicOf(string(d.Value)) {
			t.Errorf("%s: dlq_source_topic = %q", d.Value, h[schema.HeaderDLQTopic])
		}
		if h["origin"] != "" && h["origin"] != "test" {
			t.Errorf("%s: original header lost: %v", d.Value, h)
		}
		part, err1 := strconv.Atoi(h[schema.HeaderDLQPartition])
		off, err2 := strconv.ParseInt(h[schema.HeaderDLQOffset], 10, 64)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: bad partition/offset headers %v", d.Value, h)
			continue
		}
		// The headers point at the poison record itself.
		if src := readAt(t, e, h[schema.HeaderDLQTopic], part, off); string(src.Value) != string(d.Value) {
			t.Errorf("%s/%d@%d holds %q, not the dead letter %q", h[schema.HeaderDLQTopic], part, off, src.Value, d.Value)
		}
	}
}

func firstKey(m map[string]string, topic string, topicOf func(string) string) string {
	for k := range m {
		if topicOf(k) == topic {
			return k
		}
	}
	panic("no poison for " + topic)
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// readAll reads every record of a topic, partition by partition.
func readAll(t *testing.T, e *env, topic string) []kafka.Message {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(e.brokers...)}
	meta, err := client.Metadata(ctx(t), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range meta.Topics[0].Partitions {
		offs, err := client.ListOffsets(ctx(t), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p.ID)}}})
		if err != nil {
			t.Fatal(err)
		}
		end := offs.Topics[topic][0].LastOffset
		for off := int64(0); off < end; off++ {
			out = append(out, readAt(t, e, topic, p.ID, off))
		}
	}
	return out
}

func readAt(t *testing.T, e *env, topic string, partition int, offset int64) kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: topic, Partition: partition, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(c)
	if err != nil {
		t.Fatalf("read %s/%d@%d: %v", topic, partition, offset, err)
	}
	if m.Offset != offset {
		t.Fatalf("read %s/%d@%d: got offset %d", topic, partition, offset, m.Offset)
	}
	return m
}

// A dead letter that cannot be written stops the sink before it commits:
// the poison record and its batch will be read again.
func testDeadLetterFailureStops(t *testing.T) {
	e := newEnv(t, 1)
	e.produce(schema.TopicAuditEvents, auditEvent("cid-a", 1, base), kafka.Message{Value: []byte("{")}, auditEvent("cid-a", 2, base))
	cfg := e.config("dlq-down")
	cfg.Topics.DLQ = "no.such.topic" // kfake does not create topics on write
	cfg.CreateTopics = false
	cfg.DLQTimeout = 3 * time.Second
	s, _ := e.newSink(cfg)
	c, cancel := context.WithTimeout(ctx(t), 60*time.Second)
	defer cancel()
	err := s.Run(c)
	if err == nil || c.Err() != nil || !strings.Contains(err.Error(), "dead-letter topic no.such.topic") {
		t.Fatalf("Run = %v (ctx %v); want a dead-letter write error before the deadline", err, c.Err())
	}
	for topic, parts := range e.committed("dlq-down") {
		for p, off := range parts {
			if off >= 0 {
				t.Errorf("%s/%d: offset %d committed after a failed dead-letter write", topic, p, off)
			}
		}
	}
}
