package schema_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

// Each JSON Schema requires exactly the fields of its record type and
// allows nothing else, and accepts null and each JSON type exactly where the
// definition does: the two cannot drift apart.
func TestJSONSchemasMatchDefinitions(t *testing.T) {
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	produced := map[string][]byte{}
	for _, r := range producedRecords() {
		if _, ok := produced[r.Type()]; !ok {
			produced[r.Type()], _ = schema.Marshal(r)
		}
	}
	for _, typ := range schema.RecordTypes() {
		data, err := schema.JSONSchemas.ReadFile(schema.JSONSchemaFile(typ, schema.Version))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Required             []string                   `json:"required"`
			Properties           map[string]json.RawMessage `json:"properties"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var props, want []string
		for p := range doc.Properties {
			props = append(props, p)
		}
		for _, f := range schema.Fields(typ) {
			want = append(want, f.Name)
		}
		sort.Strings(props)
		sort.Strings(doc.Required)
		sort.Strings(want)
		if !reflect.DeepEqual(doc.Required, want) || !reflect.DeepEqual(props, want) {
			t.Errorf("%s: required %v, properties %v; fields %v", typ, doc.Required, props, want)
		}
		if doc.AdditionalProperties == nil || *doc.AdditionalProperties {
			t.Errorf("%s: additionalProperties must be false", typ)
		}

		base := produced[typ]
		if base == nil {
			t.Fatalf("no produced %s record", typ)
		}
		if err := v.Validate(base); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		wrong := map[string][]any{
			"string":  {5, true},
			"integer": {"5", 1.5},
			"boolean": {"true", 1},
			// Not the contract's fixed precision, or not a time at all.
			"time": {"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789Z", "2026-01-02T03:04:05.123+00:00", "yesterday", 5},
		}
		for _, f := range schema.Fields(typ) {
			check := func(val any, ok bool) {
				var m map[string]any
				_ = json.Unmarshal(base, &m)
				m[f.Name] = val
				rec, _ := json.Marshal(m)
				if err := v.Validate(rec); (err == nil) != ok {
					t.Errorf("%s.%s (%s, nullable %v) = %v: valid %v, want %v", typ, f.Name, f.JSONType, f.Nullable, val, err == nil, ok)
				}
			}
			check(nil, f.Nullable)
			for _, val := range wrong[f.JSONType] {
				check(val, false)
			}
		}
	}
}

// producedRecords are records as the collector builds them, of every type.
func producedRecords() []schema.Record {
	now := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	key := []byte("k")
	exp, used := now.Add(time.Hour), now.Add(-time.Minute)
	tok := falcon.Token{ID: "c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d", Label: "Linux servers", Value: "SECRET-VALUE",
		Type: "customer_managed", Status: "valid", CreatedTimestamp: now.Add(-time.Hour), ExpiresTimestamp: &exp, LastUsedTimestamp: &used}
	return []schema.Record{
		collector.AuditRecord(testCID, "default", now, falcon.AuditEvent{ID: "5d2e8f41a7c94b0e86f3d1a2b9c07e54", Action: "token_create",
			Actor: "ops@example.com", Description: "created", Timestamp: now, TokenID: tok.ID}),
		collector.AuditRecord(testCID, "acme.eu-1", now, falcon.AuditEvent{ID: "6d2e8f41a7c94b0e86f3d1a2b9c07e54", Action: "customer_settings_update",
			Timestamp: now}),
		collector.AuditRecord(testCID, "acme", now, falcon.AuditEvent{ID: "7d2e", Action: "something_new", Timestamp: now}),
		collector.TokenRecord(testCID, "default", now, tok.ID, collector.TokenState(key, tok), false),
		collector.TokenRecord(testCID, "default", now, tok.ID, collector.TokenState(key, tok), true),
		collector.TokenRecord(testCID, "default", now, "x", collector.TokenState(key, falcon.Token{ID: "x", CreatedTimestamp: now}), false),
		collector.SettingsRecord(testCID, "default", now, collector.SettingsState(falcon.CustomerSettings{TokensRequired: true})),
		collector.SettingsRecord(testCID, "default", now, checkpoint.Settings{MaxActiveTokens: ptr(int64(50))}),
		collector.CoverageRecord(testCID, "default", now, collector.PollCoverage{Started: now.Add(-time.Second),
			AuditFrom: now.Add(-time.Minute), AuditTo: now, QueryFrom: now.Add(-6 * time.Minute), APITotal: 3, Published: 3,
			TokensSnapshot: true, Tokens: 12, SettingsSnapshot: true}),
	}
}

// Records as the collector produces them validate; corrupted ones do not.
func TestProducedRecordsValidate(t *testing.T) {
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	records := producedRecords()
	for _, r := range records {
		m, err := collector.Message("t", r)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(m.Value); err != nil {
			t.Errorf("%s: %v\n%s", r.Type(), err, m.Value)
		}
		if _, err := schema.Decode(m.Value); err != nil {
			t.Errorf("schema.Decode rejects a valid %s record: %v", r.Type(), err)
		}
	}

	base := func(r schema.Record) map[string]any {
		m, _ := collector.Message("t", r)
		var out map[string]any
		_ = json.Unmarshal(m.Value, &out)
		return out
	}
	for name, tc := range map[string]struct {
		rec    schema.Record
		mutate func(map[string]any)
	}{
		"token value leaked":           {records[3], func(m map[string]any) { m["value"] = "SECRET-VALUE" }},
		"missing collected_at":         {records[0], func(m map[string]any) { delete(m, "collected_at") }},
		"wrong schema_version":         {records[0], func(m map[string]any) { m["schema_version"] = 3 }},
		"settings event token_id \"\"": {records[1], func(m map[string]any) { m["token_id"] = "" }},
		"nanosecond event_time":        {records[3], func(m map[string]any) { m["event_time"] = "2025-06-01T12:00:00.123456789Z" }},
		"no cid":                       {records[6], func(m map[string]any) { delete(m, "cid") }},
		"wrong record_type":            {records[6], func(m map[string]any) { m["record_type"] = "token" }},
		"bad fingerprint":              {records[3], func(m map[string]any) { m["value_fingerprint"] = "SECRET" }},
		"bad timestamp":                {records[0], func(m map[string]any) { m["timestamp"] = "yesterday" }},
		"negative max":                 {records[7], func(m map[string]any) { m["max_active_tokens"] = -1 }},
		"empty tenant":                 {records[0], func(m map[string]any) { m["tenant"] = "" }},
		"empty id":                     {records[0], func(m map[string]any) { m["id"] = "" }},
		"deleted not boolean":          {records[4], func(m map[string]any) { m["deleted"] = "yes" }},
		"expires_timestamp missing":    {records[3], func(m map[string]any) { delete(m, "expires_timestamp") }},
	} {
		m := base(tc.rec)
		tc.mutate(m)
		data, _ := json.Marshal(m)
		if err := v.Validate(data); err == nil {
			t.Errorf("%s: accepted %s", name, data)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// schema.Marshal writes every time in TimeLayout, and encoding/json writes
// the same bytes (the records' MarshalJSON).
func TestMarshalFixedTimeFormat(t *testing.T) {
	layout := regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$`)
	for _, r := range producedRecords() {
		data, err := schema.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		viaJSON, err := json.Marshal(r)
		if err != nil || string(viaJSON) != string(data) {
			t.Errorf("json.Marshal = %s, %v\nschema.Marshal = %s", viaJSON, err, data)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range schema.Fields(r.Type()) {
			if s, ok := m[f.Name].(string); ok && f.JSONType == "time" && !layout.MatchString(s) {
				t.Errorf("%s.%s = %q", r.Type(), f.Name, s)
			}
		}
		back, err := schema.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := schema.Marshal(back)
		if string(again) != string(data) {
			t.Errorf("decode and encode changed the record:\n%s\n%s", data, again)
		}
	}
}
