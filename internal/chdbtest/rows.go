package chdbtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// decodeFunc turns one JSONCompact value (json.Number, string, nil or
// []any) into a value of its column's scan type.
type decodeFunc func(any) (reflect.Value, error)

type columnType struct {
	name, typ string
	scan      reflect.Type
	decode    decodeFunc
}

func (c *columnType) Name() string             { return c.name }
func (c *columnType) Nullable() bool           { return strings.HasPrefix(c.typ, "Nullable(") }
func (c *columnType) ScanType() reflect.Type   { return c.scan }
func (c *columnType) DatabaseTypeName() string { return c.typ }

type rows struct {
	cols []*columnType
	data [][]any
	next int
	cur  []reflect.Value
	err  error
}

// decodeResult reads a JSONCompact result (empty for a statement without
// one).
func decodeResult(out string) (*rows, error) {
	if strings.TrimSpace(out) == "" {
		return &rows{}, nil
	}
	var res struct {
		Meta []struct{ Name, Type string }
		Data [][]any
	}
	d := json.NewDecoder(bytes.NewReader([]byte(out)))
	d.UseNumber()
	if err := d.Decode(&res); err != nil {
		return nil, fmt.Errorf("chdbtest: decode JSONCompact result: %w", err)
	}
	r := &rows{data: res.Data}
	for _, m := range res.Meta {
		scan, dec, err := decoderFor(m.Type)
		if err != nil {
			return nil, fmt.Errorf("chdbtest: column %s: %w", m.Name, err)
		}
		r.cols = append(r.cols, &columnType{name: m.Name, typ: m.Type, scan: scan, decode: dec})
	}
	return r, nil
}

func (r *rows) Next() bool {
	if r.err != nil || r.next >= len(r.data) {
		return false
	}
	raw := r.data[r.next]
	r.next++
	if len(raw) != len(r.cols) {
		r.err = fmt.Errorf("chdbtest: row of %d values for %d columns", len(raw), len(r.cols))
		return false
	}
	r.cur = make([]reflect.Value, len(raw))
	for i, v := range raw {
		x, err := r.cols[i].decode(v)
		if err != nil {
			r.err = fmt.Errorf("chdbtest: column %s (%s): %w", r.cols[i].name, r.cols[i].typ, err)
			return false
		}
		r.cur[i] = x
	}
	return true
}

func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("chdbtest: Scan of %d values into %d destinations", len(r.cur), len(dest))
	}
	for i, d := range dest {
		if err := assign(d, r.cur[i]); err != nil {
			return fmt.Errorf("chdbtest: column %s: %w", r.cols[i].name, err)
		}
	}
	return nil
}

func (r *rows) ColumnTypes() []driver.ColumnType {
	out := make([]driver.ColumnType, len(r.cols))
	for i, c := range r.cols {
		out[i] = c
	}
	return out
}

func (r *rows) Columns() []string {
	out := make([]string, len(r.cols))
	for i, c := range r.cols {
		out[i] = c.name
	}
	return out
}

func (r *rows) Close() error         { return nil }
func (r *rows) Err() error           { return r.err }
func (r *rows) HasData() bool        { return len(r.data) > 0 }
func (r *rows) Totals(...any) error  { return errors.New("chdbtest: Totals is not supported") }
func (r *rows) ScanStruct(any) error { return errors.New("chdbtest: ScanStruct is not supported") }

// assign stores v in the variable dst points to, converting between
// numeric types and looking through a non-NULL pointer.
func assign(dst any, v reflect.Value) error {
	d := reflect.ValueOf(dst)
	if d.Kind() != reflect.Pointer || d.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dst)
	}
	e := d.Elem()
	switch {
	case v.Type().AssignableTo(e.Type()):
		e.Set(v)
	case isNumber(v.Kind()) && isNumber(e.Kind()):
		e.Set(v.Convert(e.Type()))
	case v.Kind() == reflect.Pointer && !v.IsNil():
		return assign(dst, v.Elem())
	default:
		return fmt.Errorf("cannot scan %s into %T", v.Type(), dst)
	}
	return nil
}

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

var intTypes = map[string]reflect.Type{
	"Int8": reflect.TypeFor[int8](), "Int16": reflect.TypeFor[int16](), "Int32": reflect.TypeFor[int32](),
	"Int64": reflect.TypeFor[int64](), "UInt8": reflect.TypeFor[uint8](), "UInt16": reflect.TypeFor[uint16](),
	"UInt32": reflect.TypeFor[uint32](), "UInt64": reflect.TypeFor[uint64](),
}

// decoderFor maps a ClickHouse type name to the Go type clickhouse-go
// scans it as and a decoder of its JSONCompact values.
func decoderFor(typ string) (reflect.Type, decodeFunc, error) {
	wrapped := func(prefix string) (string, bool) {
		if strings.HasPrefix(typ, prefix) && strings.HasSuffix(typ, ")") {
			return typ[len(prefix) : len(typ)-1], true
		}
		return "", false
	}
	if inner, ok := wrapped("LowCardinality("); ok {
		return decoderFor(inner)
	}
	if inner, ok := wrapped("Nullable("); ok {
		et, ed, err := decoderFor(inner)
		if err != nil {
			return nil, nil, err
		}
		pt := reflect.PointerTo(et)
		return pt, func(v any) (reflect.Value, error) {
			if v == nil {
				return reflect.Zero(pt), nil
			}
			x, err := ed(v)
			if err != nil {
				return x, err
			}
			p := reflect.New(et)
			p.Elem().Set(x)
			return p, nil
		}, nil
	}
	if inner, ok := wrapped("Array("); ok {
		et, ed, err := decoderFor(inner)
		if err != nil {
			return nil, nil, err
		}
		st := reflect.SliceOf(et)
		return st, func(v any) (reflect.Value, error) {
			a, ok := v.([]any)
			if !ok {
				return reflect.Value{}, fmt.Errorf("want an array, got %T", v)
			}
			s := reflect.MakeSlice(st, len(a), len(a))
			for i, x := range a {
				xv, err := ed(x)
				if err != nil {
					return xv, err
				}
				s.Index(i).Set(xv)
			}
			return s, nil
		}, nil
	}
	if t, ok := intTypes[typ]; ok {
		return t, func(v any) (reflect.Value, error) {
			s := fmt.Sprint(v)
			if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
				n, err := strconv.ParseUint(s, 10, 64)
				return reflect.ValueOf(n).Convert(t), err
			}
			n, err := strconv.ParseInt(s, 10, 64)
			return reflect.ValueOf(n).Convert(t), err
		}, nil
	}
	switch {
	case typ == "Float32" || typ == "Float64":
		t := reflect.TypeFor[float64]()
		if typ == "Float32" {
			t = reflect.TypeFor[float32]()
		}
		return t, func(v any) (reflect.Value, error) {
			f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
			return reflect.ValueOf(f).Convert(t), err
		}, nil
	case typ == "Bool":
		return reflect.TypeFor[bool](), func(v any) (reflect.Value, error) {
			b, ok := v.(bool)
			if !ok {
				return reflect.Value{}, fmt.Errorf("want a bool, got %T", v)
			}
			return reflect.ValueOf(b), nil
		}, nil
	case typ == "String" || typ == "UUID" || strings.HasPrefix(typ, "FixedString(") || strings.HasPrefix(typ, "Enum"):
		return reflect.TypeFor[string](), func(v any) (reflect.Value, error) {
			s, ok := v.(string)
			if !ok {
				return reflect.Value{}, fmt.Errorf("want a string, got %T", v)
			}
			return reflect.ValueOf(s), nil
		}, nil
	case typ == "Date" || typ == "Date32":
		return reflect.TypeFor[time.Time](), timeDecoder(time.DateOnly, time.UTC), nil
	case typ == "DateTime" || strings.HasPrefix(typ, "DateTime('"):
		loc := time.UTC
		if tz, ok := wrapped("DateTime("); ok {
			l, err := time.LoadLocation(strings.Trim(tz, "'"))
			if err != nil {
				return nil, nil, err
			}
			loc = l
		}
		return reflect.TypeFor[time.Time](), timeDecoder(time.DateTime, loc), nil
	}
	return nil, nil, fmt.Errorf("type %s is not supported by chdbtest", typ)
}

func timeDecoder(layout string, loc *time.Location) decodeFunc {
	return func(v any) (reflect.Value, error) {
		s, ok := v.(string)
		if !ok {
			return reflect.Value{}, fmt.Errorf("want a time string, got %T", v)
		}
		t, err := time.ParseInLocation(layout, s, loc)
		return reflect.ValueOf(t), err
	}
}
