package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Marshal encodes r as the contract says: its fields in declaration order,
// every time in TimeLayout, optional values and empty nullable strings as
// null. The records' MarshalJSON methods call it, so encoding/json gives the
// same bytes.
func Marshal(r Record) ([]byte, error) {
	if d, ok := defs[r.Type()]; ok {
		if b, ok := d.marshal(r); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("schema: marshal %T: not a record type of this schema", r)
}

func (df *def[R]) marshal(r Record) ([]byte, bool) {
	p, ok := r.(any).(*R)
	if !ok {
		return nil, false
	}
	return df.appendJSON(make([]byte, 0, 640), p), true
}

// MarshalJSON implements json.Marshaler (Marshal).
func (a AuditEvent) MarshalJSON() ([]byte, error) { return Marshal(&a) }

// MarshalJSON implements json.Marshaler (Marshal).
func (t Token) MarshalJSON() ([]byte, error) { return Marshal(&t) }

// MarshalJSON implements json.Marshaler (Marshal).
func (s Settings) MarshalJSON() ([]byte, error) { return Marshal(&s) }

// MarshalJSON implements json.Marshaler (Marshal).
func (c Coverage) MarshalJSON() ([]byte, error) { return Marshal(&c) }

func (df *def[R]) appendJSON(b []byte, r *R) []byte {
	b = append(b, '{')
	for i, f := range df.fields {
		if i == 0 {
			b = append(b, f.key[1:]...) // no comma
		} else {
			b = append(b, f.key...)
		}
		switch p := f.ptr(r).(type) {
		case *string:
			if f.null && *p == "" {
				b = append(b, "null"...)
			} else {
				b = appendString(b, *p)
			}
		case *int:
			b = strconv.AppendInt(b, int64(*p), 10)
		case *bool:
			b = strconv.AppendBool(b, *p)
		case *time.Time:
			b = appendTime(b, *p)
		case **time.Time:
			if *p == nil {
				b = append(b, "null"...)
			} else {
				b = appendTime(b, **p)
			}
		case *int64:
			b = strconv.AppendInt(b, *p, 10)
		case **int64:
			if *p == nil {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendInt(b, **p, 10)
			}
		}
	}
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"')
}

// appendString writes s as a JSON string: printable ASCII without quotes or
// backslashes as is, anything else the way encoding/json escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
