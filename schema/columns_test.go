package schema_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

func TestRowsRejectTimesDateTimeCannotHold(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var audit schema.Columns[schema.AuditEvent]
	var tokens schema.Columns[schema.Token]
	for _, tc := range []struct {
		add   func() error
		field string
	}{
		{func() error {
			return audit.Append(&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, "t", now), ID: "a",
				Timestamp: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)})
		}, "timestamp"},
		{func() error {
			return audit.Append(&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, testCID, "t",
				time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)), ID: "a", Timestamp: now})
		}, "collected_at"},
		{func() error {
			return tokens.Append(&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, testCID, "t", now), ID: "k", TokenState: schema.TokenState{CreatedTimestamp: now,
				RevokedTimestamp: ptr(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))}})
		}, "revoked_timestamp"},
	} {
		err := tc.add()
		var de *schema.DecodeError
		if !errors.As(err, &de) || de.Field != tc.field || !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("err = %v, want an invalid %s", err, tc.field)
		}
	}
	if n := audit.Len() + tokens.Len(); n != 0 {
		t.Errorf("%d rows appended from rejected records", n)
	}
	for _, c := range append(audit.Values(), tokens.Values()...) {
		if n := lenOf(c); n != 0 {
			t.Errorf("a rejected record left %d values in a %T column", n, c)
		}
	}
	// A deleted token seen without created_timestamp is stored at the epoch.
	if err := tokens.Append(&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, testCID, "t", now), ID: "gone", Deleted: true}); err != nil {
		t.Fatal(err)
	}
	row := map[string]any{}
	for i, c := range schema.Tables()[1].Columns {
		row[c.Name] = index0(tokens.Values()[i])
	}
	if got := row["created_timestamp"].(time.Time); !got.Equal(time.Unix(0, 0)) || row["deleted"] != uint8(1) || row["id"] != "gone" {
		t.Errorf("deleted token row: %v", row)
	}
}

func lenOf(c any) int {
	switch c := c.(type) {
	case []string:
		return len(c)
	case []time.Time:
		return len(c)
	case []*time.Time:
		return len(c)
	case []uint8:
		return len(c)
	case []uint16:
		return len(c)
	case []uint64:
		return len(c)
	case []*int64:
		return len(c)
	}
	panic(c)
}

func index0(c any) any {
	switch c := c.(type) {
	case []string:
		return c[0]
	case []time.Time:
		return c[0]
	case []*time.Time:
		return c[0]
	case []uint8:
		return c[0]
	case []uint16:
		return c[0]
	case []uint64:
		return c[0]
	case []*int64:
		return c[0]
	}
	panic(c)
}

// testCID is the Falcon CID of the test records.
const testCID = "0123456789abcdef0123456789abcdef"

// Equal tells apart states that differ in any one field, and compares times
// as instants.
func TestTokenStateEqual(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := schema.TokenState{Label: "l", TokenType: "t", Status: "valid", ValueFingerprint: "f", CreatedTimestamp: now,
		ExpiresTimestamp: ptr(now), LastUsedTimestamp: ptr(now), RevokedTimestamp: ptr(now)}
	same := base
	same.CreatedTimestamp = now.In(time.FixedZone("x", 3600))
	same.ExpiresTimestamp = ptr(now.In(time.FixedZone("y", -3600)))
	if !base.Equal(same) {
		t.Error("the same instants in other zones differ")
	}
	v := reflect.ValueOf(&base).Elem()
	for i := 0; i < v.NumField(); i++ {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch p := f.Addr().Interface().(type) {
		case *string:
			*p += "x"
		case *time.Time:
			*p = p.Add(time.Second)
		case **time.Time:
			*p = nil
		default:
			t.Fatalf("field %s of a type the test does not change", v.Type().Field(i).Name)
		}
		if base.Equal(changed) || changed.Equal(base) {
			t.Errorf("a change of %s is not seen", v.Type().Field(i).Name)
		}
	}
}
