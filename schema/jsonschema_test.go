package schema_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

// jsonFields lists the JSON names of a struct's fields, embedded ones
// included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Each JSON Schema requires exactly the fields of its Go type, and allows
// nothing else: the two cannot drift apart.
func TestJSONSchemasMatchGoTypes(t *testing.T) {
	for _, typ := range schema.RecordTypes() {
		goType := reflect.TypeOf(schema.New(typ)).Elem()
		data, err := schema.JSONSchemas.ReadFile(schema.JSONSchemaFile(typ))
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
		var props []string
		for p := range doc.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		sort.Strings(doc.Required)
		want := jsonFields(goType)
		if !reflect.DeepEqual(doc.Required, want) || !reflect.DeepEqual(props, want) {
			t.Errorf("%s: required %v, properties %v; Go fields %v", typ, doc.Required, props, want)
		}
		if doc.AdditionalProperties == nil || *doc.AdditionalProperties {
			t.Errorf("%s: additionalProperties must be false", typ)
		}
	}
}

// Records as the collector produces them validate; corrupted ones do not.
func TestProducedRecordsValidate(t *testing.T) {
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	key := []byte("k")
	exp, used := now.Add(time.Hour), now.Add(-time.Minute)
	tok := falcon.Token{ID: "c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d", Label: "Linux servers", Value: "SECRET-VALUE",
		Type: "customer_managed", Status: "valid", CreatedTimestamp: now.Add(-time.Hour), ExpiresTimestamp: &exp, LastUsedTimestamp: &used}
	records := []schema.Record{
		collector.AuditRecord("default", now, falcon.AuditEvent{ID: "5d2e8f41a7c94b0e86f3d1a2b9c07e54", Action: "token_create",
			Actor: "ops@example.com", Description: "created", Timestamp: now, TokenID: tok.ID}),
		collector.AuditRecord("acme.eu-1", now, falcon.AuditEvent{ID: "6d2e8f41a7c94b0e86f3d1a2b9c07e54", Action: "customer_settings_update",
			Timestamp: now}),
		collector.AuditRecord("acme", now, falcon.AuditEvent{ID: "7d2e", Action: "something_new", Timestamp: now}),
		collector.TokenRecord("default", now, tok.ID, collector.TokenState(key, tok), false),
		collector.TokenRecord("default", now, tok.ID, collector.TokenState(key, tok), true),
		collector.TokenRecord("default", now, "x", collector.TokenState(key, falcon.Token{ID: "x", CreatedTimestamp: now}), false),
		collector.SettingsRecord("default", now, collector.SettingsState(falcon.CustomerSettings{TokensRequired: true})),
		collector.SettingsRecord("default", now, checkpoint.Settings{MaxActiveTokens: ptr(int64(50))}),
	}
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
		"token value leaked":        {records[3], func(m map[string]any) { m["value"] = "SECRET-VALUE" }},
		"missing collected_at":      {records[0], func(m map[string]any) { delete(m, "collected_at") }},
		"wrong schema_version":      {records[0], func(m map[string]any) { m["schema_version"] = 2 }},
		"wrong record_type":         {records[6], func(m map[string]any) { m["record_type"] = "token" }},
		"bad fingerprint":           {records[3], func(m map[string]any) { m["value_fingerprint"] = "SECRET" }},
		"bad timestamp":             {records[0], func(m map[string]any) { m["timestamp"] = "yesterday" }},
		"negative max":              {records[7], func(m map[string]any) { m["max_active_tokens"] = -1 }},
		"empty tenant":              {records[0], func(m map[string]any) { m["tenant"] = "" }},
		"empty id":                  {records[0], func(m map[string]any) { m["id"] = "" }},
		"deleted not boolean":       {records[4], func(m map[string]any) { m["deleted"] = "yes" }},
		"expires_timestamp missing": {records[3], func(m map[string]any) { delete(m, "expires_timestamp") }},
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
