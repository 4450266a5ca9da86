package schema_test

import (
	"errors"
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
			return audit.Append(&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, "t", now), ID: "a",
				Timestamp: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)})
		}, "timestamp"},
		{func() error {
			return audit.Append(&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, "t",
				time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)), ID: "a", Timestamp: now})
		}, "collected_at"},
		{func() error {
			return tokens.Append(&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, "t", now), ID: "k", CreatedTimestamp: now,
				RevokedTimestamp: ptr(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))})
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
	if err := tokens.Append(&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, "t", now), ID: "gone", Deleted: true}); err != nil {
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
