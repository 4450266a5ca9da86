package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// field is one field of record type R: the single definition from which its
// JSON (name from R's json tag), its decoding, its ClickHouse column and its
// JSON Schema type follow. ptr returns a pointer to the field in r; its type
// says the field's kind:
//
//	*string      JSON string                 ClickHouse String
//	*int         JSON integer (the version)  ClickHouse UInt16
//	*bool        JSON boolean                ClickHouse UInt8
//	*time.Time   JSON date-time string       ClickHouse DateTime('UTC')
//	**time.Time  date-time string or null    ClickHouse Nullable(DateTime('UTC'))
//	**int64      integer or null             ClickHouse Nullable(Int64)
//	*int64       JSON integer (a count)      ClickHouse Int64
type field[R any] struct {
	name   string // JSON name, from the struct tag
	key    string // `,"name":`: as Marshal writes the key after another field
	ptr    func(r *R) any
	stored bool   // has a ClickHouse column
	column string // its name: the field's, unless as says otherwise
	intern bool   // low-cardinality string the sink's decoder shares between records
	null   bool   // a string whose "" is JSON null (ClickHouse keeps '')
	slot   int    // an interned field's index in Decoder.last
	// kind and off are ptr's type and the field's offset in R, so that
	// the decoder's fast path and Columns reach the field without
	// calling ptr (at).
	kind kind
	off  uintptr
}

// at returns the field of r at offset off (field.off), of type V: what
// field.ptr returns, without the call and the type switch.
func at[V, R any](r *R, off uintptr) *V {
	return (*V)(unsafe.Add(unsafe.Pointer(r), off))
}

// kind is the type of a field (field.ptr's, without the pointer).
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindBool
	kindTime
	kindTimePtr
	kindInt64Ptr
	kindInt64
)

// internSlots counts the interned fields of every record type.
var internSlots int

// Field options for def's field lists.
const (
	stored    = 1 << iota // has a ClickHouse column
	interned              // low-cardinality string
	nullEmpty             // string: "" is written as null
)

// fld declares a field: ptr returns a pointer to it, opts are stored and
// interned. Its name comes from the struct tag, so that the two cannot
// disagree (newDef checks every tagged field is declared once).
func fld[R any](ptr func(r *R) any, opts int) field[R] {
	return field[R]{ptr: ptr, stored: opts&stored != 0, intern: opts&interned != 0, null: opts&nullEmpty != 0}
}

// as names the ClickHouse column of a stored field whose name differs.
func (f field[R]) as(column string) field[R] {
	f.column = column
	return f
}

// envelopeFields are the fields every record type starts with, in order.
func envelopeFields[R any](env func(r *R) *Envelope) []field[R] {
	return []field[R]{
		fld(func(r *R) any { return &env(r).RecordType }, interned),
		fld(func(r *R) any { return &env(r).SchemaVersion }, stored),
		fld(func(r *R) any { return &env(r).CID }, stored|interned),
		fld(func(r *R) any { return &env(r).Tenant }, stored|interned),
		fld(func(r *R) any { return &env(r).CollectedAt }, stored),
		fld(func(r *R) any { return &env(r).EventTime }, stored),
		fld(func(r *R) any { return &env(r).EventTimeSource }, stored|interned),
	}
}

// def is the definition of one record type.
type def[R any] struct {
	typ    string
	fields []field[R]
	env    func(r *R) *Envelope
	check  func(r *R) error // type-specific validation, after the common one
	tables []string         // ClickHouse tables its rows go to
	byName map[string]int
	id     int // its index among the definitions, from 0

	layoutOnce sync.Once
	layout     *layout // Columns' view of the fields (layoutOf)
}

// defCount counts the record types' definitions.
var defCount int

// newDef names the fields from R's json tags, in the order declared, and
// panics (at init) when the list and the struct disagree.
func newDef[R any](typ string, env func(r *R) *Envelope, check func(r *R) error, tables []string, fields ...field[R]) *def[R] {
	d := &def[R]{typ: typ, env: env, check: check, tables: tables, byName: map[string]int{}, id: defCount}
	defCount++
	var zero R
	base := reflect.ValueOf(&zero).Elem()
	tags := map[uintptr]string{} // field address -> json name
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if sf.Anonymous {
				walk(v.Field(i))
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			tags[v.Field(i).Addr().Pointer()] = name
		}
	}
	walk(base)
	for i, f := range fields {
		addr := reflect.ValueOf(f.ptr(&zero)).Pointer()
		name, ok := tags[addr]
		if !ok {
			panic(fmt.Sprintf("schema: %s field %d is not a tagged field of %T", typ, i, zero))
		}
		delete(tags, addr)
		switch f.ptr(&zero).(type) {
		case *string:
			f.kind = kindString
		case *int:
			f.kind = kindInt
		case *bool:
			f.kind = kindBool
		case *time.Time:
			f.kind = kindTime
		case **time.Time:
			f.kind = kindTimePtr
		case **int64:
			f.kind = kindInt64Ptr
		case *int64:
			f.kind = kindInt64
		default:
			panic(fmt.Sprintf("schema: %s.%s has a type the schema does not map", typ, name))
		}
		f.off = addr - uintptr(unsafe.Pointer(&zero))
		f.name, f.key = name, `,"`+name+`":`
		if f.stored && f.column == "" {
			f.column = name
		}
		if f.intern {
			f.slot = internSlots
			internSlots++
		}
		d.fields = append(d.fields, f)
		d.byName[name] = i
	}
	if len(tags) > 0 {
		panic(fmt.Sprintf("schema: %s: fields %v of %T are not declared", typ, tags, zero))
	}
	return d
}

func (df *def[R]) recordType() string { return df.typ }

func (df *def[R]) newRecord() Record {
	r := new(R)
	df.env(r).RecordType = df.typ
	return any(r).(Record)
}

// ColumnType is the ClickHouse type of a field kind.
func columnType(p any) string {
	switch p.(type) {
	case *string:
		return "String"
	case *int:
		return "UInt16"
	case *bool:
		return "UInt8"
	case *time.Time:
		return "DateTime('UTC')"
	case **time.Time:
		return "Nullable(DateTime('UTC'))"
	case **int64:
		return "Nullable(Int64)"
	case *int64:
		return "Int64"
	}
	panic(fmt.Sprintf("schema: no column type for %T", p))
}

// Field describes one field of a record type, for documentation and for the
// tests that hold the JSON Schemas to the definition.
type Field struct {
	Name     string // JSON name
	JSONType string // "string", "integer", "boolean" or "time" (a TimeLayout string)
	Nullable bool   // may be null
	Column   string // ClickHouse column; "" when not stored
}

// Fields lists the fields of recordType in the order records carry them; nil
// for an unknown type.
func Fields(recordType string) []Field {
	if d, ok := defs[recordType]; ok {
		return d.describe()
	}
	return nil
}

func (df *def[R]) describe() []Field {
	var zero R
	out := make([]Field, len(df.fields))
	for i, f := range df.fields {
		d := Field{Name: f.name}
		switch f.ptr(&zero).(type) {
		case *string:
			d.JSONType, d.Nullable = "string", f.null
		case *int:
			d.JSONType = "integer"
		case *bool:
			d.JSONType = "boolean"
		case *time.Time:
			d.JSONType = "time"
		case **time.Time:
			d.JSONType, d.Nullable = "time", true
		case **int64:
			d.JSONType, d.Nullable = "integer", true
		case *int64:
			d.JSONType = "integer"
		}
		if f.stored {
			d.Column = f.column
		}
		out[i] = d
	}
	return out
}
