package schematest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

func TestValidateMessage(t *testing.T) {
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	ev := &schema.AuditEvent{
		Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, "tenant1", time.Date(2025, 6, 1, 9, 2, 0, 0, time.UTC)),
		ID:       strings.Repeat("e", 32), Action: "token_create", Actor: "alice@example.com",
		Description: "token created", Timestamp: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC), TokenID: strings.Repeat("a", 32),
	}
	ev.Complete()
	value, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	const at = "2025-06-01T09:00:00.000000Z"
	headers := func(rt, sv, et string) []kafka.Header {
		return []kafka.Header{{Key: schema.HeaderRecordType, Value: []byte(rt)}, {Key: schema.HeaderSchemaVersion, Value: []byte(sv)},
			{Key: schema.HeaderEventTime, Value: []byte(et)}}
	}
	if err := v.ValidateMessage([]byte(ev.ID), value, headers(schema.TypeAuditEvent, "2", at)); err != nil {
		t.Errorf("a valid message: %v", err)
	}
	for name, tc := range map[string]struct {
		key, value []byte
		headers    []kafka.Header
		want       string
	}{
		"wrong key":        {[]byte("other"), value, headers(schema.TypeAuditEvent, "2", at), "record key"},
		"wrong type":       {[]byte(ev.ID), value, headers(schema.TypeToken, "2", at), "record_type header"},
		"no headers":       {[]byte(ev.ID), value, nil, "schema_version header"},
		"wrong version":    {[]byte(ev.ID), value, headers(schema.TypeAuditEvent, "1", at), "schema_version header"},
		"wrong event time": {[]byte(ev.ID), value, headers(schema.TypeAuditEvent, "2", "2025-06-01T09:00:00Z"), "event_time header"},
		"not a record":     {[]byte(ev.ID), []byte(`{"record_type":"nope"}`), headers(schema.TypeAuditEvent, "2", at), "no JSON Schema"},
		"schema mismatch":  {[]byte(ev.ID), []byte(`{"record_type":"audit_event","schema_version":2}`), headers(schema.TypeAuditEvent, "2", at), "does not match"},
	} {
		if err := v.ValidateMessage(tc.key, tc.value, tc.headers); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, tc.want)
		}
	}
}

// testCID is the Falcon CID of the test records.
const testCID = "0123456789abcdef0123456789abcdef"
