package schema_test

import (
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// A record encodes with every time in the contract's one layout, and
// decodes back; its Kafka headers carry its event time.
func ExampleMarshal() {
	at := time.Date(2026, 11, 23, 13, 50, 55, 702784932, time.UTC)
	ev := &schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, "3f9a1c0e5b7d42e8a6c4b2d0e8f6a4c2", "acme-prod", at),
		ID: "f9320f75f8a4755c51b7d3b64920d100", Action: "customer_settings_update", Actor: "7f3a0c9e",
		Timestamp: time.Date(2026, 11, 23, 13, 48, 12, 0, time.UTC)}
	ev.Complete() // event_time and actor_kind follow from the other fields
	data, _ := schema.Marshal(ev)
	fmt.Println(string(data))
	for _, h := range schema.Headers(ev) {
		fmt.Printf("%s=%s\n", h.Key, h.Value)
	}
	back, err := schema.Decode(data)
	fmt.Println(back.Key(), err)
	// Output:
	// {"record_type":"audit_event","schema_version":2,"cid":"3f9a1c0e5b7d42e8a6c4b2d0e8f6a4c2","tenant":"acme-prod","collected_at":"2026-11-23T13:50:55.702784Z","event_time":"2026-11-23T13:48:12.000000Z","event_time_source":"audit_event","id":"f9320f75f8a4755c51b7d3b64920d100","action":"customer_settings_update","actor":"7f3a0c9e","actor_kind":"api_client","description":"","timestamp":"2026-11-23T13:48:12.000000Z","token_id":null}
	// record_type=audit_event
	// schema_version=2
	// event_time=2026-11-23T13:48:12.000000Z
	// f9320f75f8a4755c51b7d3b64920d100 <nil>
}

// Columns is the row mapping every ClickHouse writer uses: one buffer per
// column of the record type's tables, in Table.Columns order.
func ExampleColumns() {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var rows schema.Columns[schema.Settings]
	_ = rows.Append(&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, "c1", "acme", at),
		ID: schema.SettingsID("c1", "acme", at), TokensRequired: true})
	for _, t := range schema.Tables() {
		if t.RecordType == schema.TypeSettings {
			fmt.Println(t.InsertQuery())
			fmt.Println(rows.Len(), "row,", len(rows.Values()), "columns")
		}
	}
	// Output:
	// INSERT INTO settings_changes (id, max_active_tokens, tokens_required, audit_event_id, changed_after, schema_version, cid, tenant, collected_at, event_time, event_time_source, version)
	// 1 row, 12 columns
}
