package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
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
	`{"record_type":"audit_event","schema_version":2,"cid":"c1","tenant":"t1","collected_at":"2026-01-02T03:04:05.123456Z","event_time":"2026-01-02T03:04:05.000000Z","event_time_source":"audit_event","id":"ev-1","action":"a","actor":"x@y","actor_kind":"user","description":"d","timestamp":"2026-01-02T03:04:05.000000Z","token_id":null}`,
	`{"record_type":"token","schema_version":2,"cid":"c1","tenant":"t1","collected_at":"2026-02-30T03:04:05.123456Z","event_time":"2026-01-02T24:04:05.000000Z","event_time_source":"snapshot","id":"k","created_timestamp":"0000-01-02T03:04:05.000000Z","changed_after":"2026-01-02T03:04:05.000000+01:00","audit_event_id":null}`,
	`{"record_type":"settings","schema_version":2,"cid":"c1","tenant":"t1","collected_at":"2026-01-02T03:04:05.123456Z","event_time":"2026-01-02T03:04:05.123456Z","event_time_source":"snapshot","id":"s","max_active_tokens":null,"tokens_required":true,"audit_event_id":"e","changed_after":null}`,
	`{"record_type":"settings","schema_version":1,"tenant":"t1","collected_at":x2026-01-02T03:04:05.000000Z"}`,
	`{"record_type":"token","schema_version":1,"tenant":"t1","collected_at":"2026-01-02T03:04:05Z","id":"k","created_timestamp":"2026-01-02T03:04:05Z","expires_timestamp":"` + strings.Repeat("\x00", len(TimeLayout)) + `"}`,
}

// FuzzDecode checks that the fast path never disagrees with encoding/json
// (decodeStrict): whatever it accepts, decodeStrict accepts as the same
// record, and Decode always returns what decodeStrict returns. The Decoder
// has decoded other records before, and decodes the input twice: what it
// remembers of earlier records (strings, times) must not change a verdict.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	before := auditStream(2)
	for _, s := range decodeSeeds {
		if _, err := decodeStrict([]byte(s)); err == nil {
			before = append(before, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		for _, b := range before {
			if _, err := d.Decode(b); err != nil {
				t.Fatal(err)
			}
		}
		want, wantErr := decodeStrict(data)
		for range 2 {
			if got, ok := d.fast(data); ok {
				if wantErr != nil {
					t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", wantErr, data)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("fast path = %#v\nencoding/json = %#v\ninput %q", got, want, data)
				}
			}
		}
		got, err := d.Decode(data)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode = %v, %v; encoding/json = %v, %v", got, err, want, wantErr)
		}
	})
}

// full returns a record of def df with every field set to a value other
// than its zero (optional ones included), as the collector could write it.
func full[R any](df *def[R], now time.Time) *R {
	r := new(R)
	for i, f := range df.fields {
		switch p := f.ptr(r).(type) {
		case *string:
			*p = fmt.Sprintf("v%d", i)
		case *int:
			*p = Version
		case *bool:
			*p = true
		case *time.Time:
			*p = now.Add(time.Duration(i) * time.Second)
		case **time.Time:
			t := now.Add(time.Duration(i) * time.Minute)
			*p = &t
		case **int64:
			n := int64(i)
			*p = &n
		}
	}
	df.env(r).RecordType = df.typ
	df.env(r).EventTimeSource = EventTimeAudit
	return r
}

// The fast path takes every field of every record type as the collector
// writes it: a field it did not read would send every record to
// encoding/json (and fail this test).
func TestFastPathTakesCollectorRecords(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	exp := now.Add(time.Hour)
	max := int64(3)
	for _, rec := range []Record{
		full(auditDef, now), full(tokenDef, now), full(settingsDef, now),
		&AuditEvent{Envelope: NewEnvelope(TypeAuditEvent, "0123456789abcdef0123456789abcdef", "t", now), ID: "e", Action: "a", Timestamp: now},
		&Token{Envelope: NewEnvelope(TypeToken, "0123456789abcdef0123456789abcdef", "t", now), ID: "k", TokenState: TokenState{CreatedTimestamp: now, ExpiresTimestamp: &exp}},
		&Settings{Envelope: NewEnvelope(TypeSettings, "0123456789abcdef0123456789abcdef", "t", now), ID: "s1", MaxActiveTokens: &max},
		&Settings{Envelope: NewEnvelope(TypeSettings, "0123456789abcdef0123456789abcdef", "t", now), ID: "s2"},
	} {
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		got, ok := d.fast(data)
		if !ok {
			t.Errorf("fast path refused a collector record: %s", data)
			continue
		}
		if !reflect.DeepEqual(got, rec) {
			t.Errorf("fast path = %#v, want %#v", got, rec)
		}
	}
}

// A Decoder's records stay as decoded while later calls fill and replace
// the chunks their strings are copied into (long strings, allocated on
// their own, included) and the slabs records are allocated from, and
// while records the fast path fills and then refuses come between them.
func TestDecoderRecordsStayIndependent(t *testing.T) {
	stream := auditStream(1000)
	for i := 0; i < len(stream); i += 50 {
		var ev AuditEvent
		if err := json.Unmarshal(stream[i], &ev); err != nil {
			t.Fatal(err)
		}
		ev.Description = strings.Repeat("long description ", i/10)
		stream[i], _ = Marshal(&ev)
	}
	var d Decoder
	got := make([]Record, len(stream))
	for i, data := range stream {
		// Refused at its end, after every field is set.
		next := stream[(i+1)%len(stream)]
		if _, err := d.Decode(append(next[:len(next):len(next)], '}')); err == nil {
			t.Fatal("a record with a second } decoded")
		}
		var err error
		if got[i], err = d.Decode(data); err != nil {
			t.Fatal(err)
		}
	}
	for i, data := range stream {
		want, err := decodeStrict(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("record %d = %#v after later calls, want %#v", i, got[i], want)
		}
	}
}

// With Reuse, the fast path hands out one record per type, each call
// overwriting the last, with nothing left of the record before (a field the
// next one lacks included); the strings a caller copied out stay valid.
func TestDecoderReuse(t *testing.T) {
	stream := auditStream(200)
	for i := 0; i < len(stream); i += 7 { // records without a token_id
		var ev AuditEvent
		if err := json.Unmarshal(stream[i], &ev); err != nil {
			t.Fatal(err)
		}
		ev.TokenID = ""
		stream[i], _ = Marshal(&ev)
	}
	d := Decoder{Reuse: true}
	var first Record
	kept := make([]string, len(stream))
	for i, data := range stream {
		got, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeStrict(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d = %#v, want %#v", i, got, want)
		}
		if first == nil {
			first = got
		} else if got != first {
			t.Fatalf("record %d is a new record, want the one reused", i)
		}
		kept[i] = got.(*AuditEvent).Description
	}
	for i, data := range stream {
		want, _ := decodeStrict(data)
		if kept[i] != want.(*AuditEvent).Description {
			t.Fatalf("description %d kept %q, want %q", i, kept[i], want.(*AuditEvent).Description)
		}
	}
}

// A Decoder returns one string for each value of a low-cardinality field
// (the sink's column buffers hold it once, not once a record).
func TestDecoderSharesStrings(t *testing.T) {
	var d Decoder
	first := map[string]*byte{}
	for _, data := range auditStream(2000) {
		r, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		ev := r.(*AuditEvent)
		for _, s := range []string{ev.CID, ev.Tenant, ev.EventTimeSource, ev.Action, ev.Actor, ev.ActorKind} {
			if p, ok := first[s]; !ok {
				first[s] = unsafe.StringData(s)
			} else if p != unsafe.StringData(s) {
				t.Fatalf("%q decoded as a new string", s)
			}
		}
	}
	if len(first) < 50 {
		t.Fatalf("%d values, want the stream's 50 actors and more", len(first))
	}
}

func TestDecodeErrorsKeepTheirKind(t *testing.T) {
	for in, want := range map[string]error{
		`{`: ErrMalformed,
		`{"record_type":"x","schema_version":1,"tenant":"t","collected_at":"2026-01-02T03:04:05Z"}`:        ErrUnknownRecordType,
		`{"record_type":"settings","schema_version":9,"tenant":"t","collected_at":"2026-01-02T03:04:05Z"}`: ErrUnsupportedVersion,
		`{"record_type":"settings","schema_version":1,"tenant":"","collected_at":"2026-01-02T03:04:05Z"}`:  ErrInvalid,
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", in, err, want)
		}
	}
}

// BenchmarkDecode compares encoding/json (strict) with a Decoder (the
// sink's, reused across records) on an audit event as the collector writes it.
func BenchmarkDecode(b *testing.B) {
	v2 := &AuditEvent{Envelope: NewEnvelope(TypeAuditEvent, "0123456789abcdef0123456789abcdef", "t1", time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)),
		ID: "ev-1", Action: "create_token", Actor: "alice", Description: "Created", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), TokenID: "tok-1"}
	v2.Complete()
	v2data, _ := Marshal(v2)
	for _, bc := range []struct {
		name string
		data []byte
		fn   func([]byte) (Record, error)
	}{{"strict", []byte(decodeSeeds[0]), decodeStrict}, {"decoder", []byte(decodeSeeds[0]), new(Decoder).Decode},
		{"decoder-v2", v2data, new(Decoder).Decode}} {
		data := bc.data
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
