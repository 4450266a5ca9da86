package report

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// renderJSON writes one JSON document:
//
//	{"report": ..., "title": ..., "description": ..., "params": {...}, "notes": [...] (when any),
//	 "sections": [{"name", "title", "columns": [{"name", "type"}], "rows": [{column: value}]}]}
//
// Object keys keep the declared parameter and column order. Column types
// are logical (string, integer, number, date, datetime, array) so that the
// document does not change with the ClickHouse version. Times are RFC 3339
// UTC, dates 2006-01-02, NULL is null.
func renderJSON(w io.Writer, res *queries.Result) error {
	var b bytes.Buffer
	b.WriteString(`{"report":`)
	str(&b, res.Report.Name)
	b.WriteString(`,"title":`)
	str(&b, res.Report.Title)
	b.WriteString(`,"description":`)
	str(&b, res.Report.Description)
	b.WriteString(`,"params":{`)
	for i, p := range res.Values.Params() {
		if i > 0 {
			b.WriteByte(',')
		}
		str(&b, p.Name)
		b.WriteByte(':')
		v, _ := res.Values.Get(p.Name)
		value(&b, queries.Column{Kind: queries.KindDateTime}, v)
	}
	b.WriteString(`}`)
	if len(res.Notes) > 0 { // only when there are: documents without notes keep their shape
		b.WriteString(`,"notes":[`)
		for i, n := range res.Notes {
			if i > 0 {
				b.WriteByte(',')
			}
			str(&b, n)
		}
		b.WriteByte(']')
	}
	b.WriteString(`,"sections":[`)
	for i, t := range res.Tables {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		str(&b, t.Section.Name)
		b.WriteString(`,"title":`)
		str(&b, t.Section.Title)
		b.WriteString(`,"columns":[`)
		for j, c := range t.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":`)
			str(&b, c.Name)
			b.WriteString(`,"type":`)
			str(&b, jsonType(c))
			b.WriteByte('}')
		}
		b.WriteString(`],"rows":[`)
		for r, row := range t.Rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, v := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				str(&b, t.Columns[j].Name)
				b.WriteByte(':')
				value(&b, t.Columns[j], v)
			}
			b.WriteByte('}')
		}
		b.WriteString(`]}`)
	}
	b.WriteString("]}")
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

func str(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

func value(b *bytes.Buffer, c queries.Column, v any) {
	switch x := v.(type) {
	case time.Time:
		if c.Kind == queries.KindDate {
			str(b, x.Format(time.DateOnly))
		} else {
			str(b, x.Format(time.RFC3339))
		}
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			value(b, queries.Column{Kind: elemKind(c)}, e)
		}
		b.WriteByte(']')
	default:
		enc, err := json.Marshal(x)
		if err != nil { // NaN or Inf: JSON has no such number
			enc = []byte("null")
		}
		b.Write(enc)
	}
}

func jsonType(c queries.Column) string {
	switch c.Kind {
	case queries.KindInt:
		return "integer"
	case queries.KindFloat:
		return "number"
	case queries.KindDate:
		return "date"
	case queries.KindDateTime:
		return "datetime"
	case queries.KindArray:
		return "array"
	}
	return "string"
}
