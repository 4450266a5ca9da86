package sink

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

var decodeSeeds = []string{
	`{"record_type":"audit_event","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05.123456789Z","id":"ev-1","action":"create_token","actor":"alice","description":"Created","timestamp":"2026-01-02T03:04:05Z","token_id":"tok-1"}`,
	`{"record_type":"token","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"tok-1","label":"ci","type":"installation","status":"valid","value_fingerprint":"ab12","created_timestamp":"2025-01-01T00:00:00+02:00","expires_timestamp":null,"last_used_timestamp":"2026-01-01T00:00:00Z","revoked_timestamp":null,"deleted":false}`,
	`{"record_type":"token","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"tok-2","deleted":true}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","max_active_tokens":5,"tokens_required":true}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","max_active_tokens":null,"tokens_required":false}`,
	` { "record_type" : "settings" , "schema_version" : 1 , "tenant" : "t\u00e9" , "collected_at" : "2026-01-02T03:04:05Z" } `,
	`{"record_type":"audit_event","schema_version":1,"tenant":"tê","collected_at":"2026-01-02T03:04:05Z","id":"ev-1","timestamp":"2026-01-02T03:04:05Z","id":"ev-2","timestamp":null}`,
	`{"record_type":"audit_event","schema_version":2,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"ev-1","timestamp":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"audit_event","schema_version":1.0,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"ev-1","timestamp":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"audit_event","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"ev 1","timestamp":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"audit_event","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","ID":"ev-1","timestamp":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"audit_event","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"ev-1","timestamp":"2026-01-02T03:04:05Z","extra":[1,{"a":null}]}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","max_active_tokens":-1}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","max_active_tokens":12345678901234567890}`,
	`{"record_type":"nope","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"token","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"tok-1"}`,
	`{"schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"settings","schema_version":01,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02 03:04:05"}`,
	`{"record_type":"settings","schema_version":1,"tenant":"a\"b","collected_at":"2026-01-02T03:04:05Z"}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z"} x`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z",}`,
	"{\"record_type\":\"settings\",\"schema_version\":1,\"tenant\":\"\xff\",\"collected_at\":\"2026-01-02T03:04:05Z\"}",
	`[]`, `null`, ``, `{}`, `{"tenant":5}`,
}

// FuzzFastDecode checks that the fast path never disagrees with
// schema.Decode: whatever it accepts, schema.Decode accepts as the same
// record, and decode as a whole always returns what schema.Decode returns.
func FuzzFastDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newDecoder()
		want, wantErr := schema.Decode(data)
		if got, ok := d.fast(data); ok {
			if wantErr != nil {
				t.Fatalf("fast path accepted what schema.Decode rejects (%v): %q", wantErr, data)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fast path = %#v\nschema.Decode = %#v\ninput %q", got, want, data)
			}
		}
		got, err := d.decode(data)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || !reflect.DeepEqual(got, want) {
			t.Fatalf("decode = %v, %v; schema.Decode = %v, %v", got, err, want, wantErr)
		}
	})
}

func TestFastPathTakesCollectorRecords(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	exp := now.Add(time.Hour)
	max := int64(3)
	for _, rec := range []schema.Record{
		&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, "t", now), ID: "e", Action: "a", Timestamp: now},
		&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, "t", now), ID: "k", CreatedTimestamp: now, ExpiresTimestamp: &exp},
		&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, "t", now), MaxActiveTokens: &max},
		&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, "t", now)},
	} {
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := newDecoder().fast(data)
		if !ok {
			t.Errorf("fast path refused a collector record: %s", data)
			continue
		}
		if !reflect.DeepEqual(got, rec) {
			t.Errorf("fast path = %#v, want %#v", got, rec)
		}
	}
}

func TestDecodeErrorsKeepTheirKind(t *testing.T) {
	for in, want := range map[string]error{
		`{`: schema.ErrMalformed,
		`{"record_type":"x","schema_version":1,"tenant":"t","collected_at":"2026-01-02T03:04:05Z"}`:        schema.ErrUnknownRecordType,
		`{"record_type":"settings","schema_version":9,"tenant":"t","collected_at":"2026-01-02T03:04:05Z"}`: schema.ErrUnsupportedVersion,
		`{"record_type":"settings","schema_version":1,"tenant":"","collected_at":"2026-01-02T03:04:05Z"}`:  schema.ErrInvalid,
	} {
		if _, err := newDecoder().decode([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", in, err, want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(decodeSeeds[0])
	for _, bc := range []struct {
		name string
		fn   func([]byte) (schema.Record, error)
	}{{"schema", schema.Decode}, {"sink", newDecoder().decode}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.fn(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
