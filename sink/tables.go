package sink

import (
	"fmt"

	"github.com/tokentrail/tokentrail/schema"
)

// table is one ClickHouse table the sink inserts into (schema.Tables): its
// column list, and the batch's column buffers in that order.
type table struct {
	name    string
	columns []string
	query   string
	rows    func(b *batch) int
	values  func(b *batch, lo, hi int) []any // rows lo to hi-1
}

// tables in insert order (schema.Tables). tokens and token_changes get the
// same rows.
var tables = func() []table {
	var out []table
	for _, st := range schema.Tables() {
		t := table{name: st.Name, query: st.InsertQuery()}
		for _, c := range st.Columns {
			t.columns = append(t.columns, c.Name)
		}
		switch st.RecordType {
		case schema.TypeAuditEvent:
			t.rows, t.values = func(b *batch) int { return b.audit.Len() }, func(b *batch, lo, hi int) []any { return b.audit.Slice(lo, hi) }
		case schema.TypeToken:
			t.rows, t.values = func(b *batch) int { return b.tokens.Len() }, func(b *batch, lo, hi int) []any { return b.tokens.Slice(lo, hi) }
		case schema.TypeSettings:
			t.rows, t.values = func(b *batch) int { return b.settings.Len() }, func(b *batch, lo, hi int) []any { return b.settings.Slice(lo, hi) }
		case schema.TypeCoverage:
			t.rows, t.values = func(b *batch) int { return b.coverage.Len() }, func(b *batch, lo, hi int) []any { return b.coverage.Slice(lo, hi) }
		default:
			panic("sink: no column buffer for record type " + st.RecordType)
		}
		out = append(out, t)
	}
	return out
}()

// add appends a record's row to the batch's columns; a time ClickHouse
// cannot store is an invalid field.
func (b *batch) add(r schema.Record) error {
	switch r := r.(type) {
	case *schema.AuditEvent:
		return b.audit.Append(r)
	case *schema.Token:
		return b.tokens.Append(r)
	case *schema.Settings:
		return b.settings.Append(r)
	case *schema.Coverage:
		return b.coverage.Append(r)
	}
	return &schema.DecodeError{Field: "record_type", Reason: fmt.Sprintf("%q has no table", r.Type()), Err: schema.ErrUnknownRecordType}
}
