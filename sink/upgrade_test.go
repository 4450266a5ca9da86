package sink_test

import (
	"time"

	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// During a rolling upgrade the topics hold schema_version 1 records (from
// collectors not yet upgraded) and 2 ones side by side. The sink stores
// both, deriving what version 1 lacks as the collector would have written
// it, and dead-letters neither.
func testRollingUpgrade(t *testing.T) {
	e := newEnv(t, 1)
	v1 := func(key, value string) kafka.Message {
		return kafka.Message{Key: []byte(key), Value: []byte(value), Headers: []kafka.Header{
			{Key: schema.HeaderRecordType, Value: []byte("x")}, {Key: schema.HeaderSchemaVersion, Value: []byte("1")}}}
	}
	v2 := func(r schema.Record) kafka.Message {
		data, err := schema.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Message{Key: []byte(r.Key()), Value: data}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	ev := &schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, "acme", at), ID: "ev-new",
		Action: "token_revoke", Actor: "7f3a0c9e", Timestamp: at.Add(-time.Minute), TokenID: "tok-new"}
	ev.Complete()
	tok := &schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, testCID, "acme", at), ID: "tok-new",
		TokenState: schema.TokenState{Status: "revoked", CreatedTimestamp: at.Add(-time.Hour)}, Change: schema.Change{AuditEventID: "ev-new"}}
	tok.EventTime, tok.EventTimeSource = ev.Timestamp, schema.EventTimeAudit
	set := &schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, testCID, "acme", at),
		ID: schema.SettingsID(testCID, "acme", at), TokensRequired: true}

	e.produce(schema.TopicAuditEvents,
		v1("ev-old", `{"record_type":"audit_event","schema_version":1,"tenant":"acme","collected_at":"2026-03-01T11:00:00.5Z","id":"ev-old","action":"customer_settings_update","actor":"ops@example.com","description":"d","timestamp":"2026-03-01T10:59:00Z","token_id":""}`),
		v2(ev))
	e.produce(schema.TopicTokens,
		v1("tok-old", `{"record_type":"token","schema_version":1,"tenant":"acme","collected_at":"2026-03-01T11:00:00Z","id":"tok-old","label":"l","type":"customer_managed","status":"valid","value_fingerprint":"","created_timestamp":"2026-01-01T00:00:00Z","expires_timestamp":null,"last_used_timestamp":null,"revoked_timestamp":null,"deleted":true}`),
		v2(tok))
	e.produce(schema.TopicSettings,
		v1("acme", `{"record_type":"settings","schema_version":1,"tenant":"acme","collected_at":"2026-03-01T11:00:00Z","max_active_tokens":null,"tokens_required":false}`),
		v2(set))

	s, _ := e.newSink(e.config("upgrade"))
	if err := s.Drain(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.DeadLetters != 0 || st.Records != 6 {
		t.Fatalf("stats %+v: want 6 records, none dead-lettered", st)
	}
	for query, want := range map[string]uint64{
		// The status column is Falcon's last status (last_status); deleted says the token is gone.
		// Version 1: cid unknown, event time and actor kind derived.
		"SELECT count() FROM audit_events WHERE id = 'ev-old' AND schema_version = 1 AND cid = '' AND event_time = timestamp AND event_time_source = 'audit_event' AND actor_kind = 'user' AND token_id = ''":                            1,
		"SELECT count() FROM tokens WHERE id = 'tok-old' AND schema_version = 1 AND status = 'valid' AND deleted = 1 AND event_time = collected_at AND event_time_source = 'snapshot' AND audit_event_id = '' AND changed_after IS NULL": 1,
		"SELECT count() FROM settings_changes WHERE schema_version = 1 AND length(id) = 32 AND cid = '' AND event_time = collected_at":                                                                                                   1,
		// Version 2 as written.
		"SELECT count() FROM audit_events WHERE id = 'ev-new' AND schema_version = 2 AND cid = '" + testCID + "' AND actor_kind = 'api_client' AND event_time = toDateTime('2026-03-01 11:59:00', 'UTC')":                                  1,
		"SELECT count() FROM tokens WHERE id = 'tok-new' AND schema_version = 2 AND cid = '" + testCID + "' AND audit_event_id = 'ev-new' AND event_time_source = 'audit_event' AND event_time = toDateTime('2026-03-01 11:59:00', 'UTC')": 1,
		"SELECT count() FROM settings_changes WHERE schema_version = 2 AND id = '" + set.ID + "' AND cid = '" + testCID + "'":                                                                                                              1,
	} {
		if got := e.count(query); got != want {
			t.Errorf("%s: %d, want %d", query, got, want)
		}
	}
}
