package schema

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Sentinel errors returned (wrapped in *DecodeError) by Decode.
var (
	ErrMalformed          = errors.New("malformed record")
	ErrUnknownRecordType  = errors.New("unknown record_type")
	ErrUnsupportedVersion = errors.New("unsupported schema_version")
	ErrInvalid            = errors.New("invalid record")
)

// DecodeError says why a record was rejected. It unwraps to one of the
// sentinel errors above.
type DecodeError struct {
	Field  string // the offending field, "" when the record is not JSON
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %s", e.Err, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// MaxIDLen is the longest id a record may carry.
const MaxIDLen = 64

// CheckID is the id rule of every record: 1 to MaxIDLen printable ASCII
// bytes, no space. field names the field in the error.
func CheckID(field, id string) error {
	if id == "" {
		return invalid(field, "empty")
	}
	if len(id) > MaxIDLen {
		return invalid(field, fmt.Sprintf("longer than %d bytes", MaxIDLen))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return invalid(field, "contains a non-printable or non-ASCII byte")
		}
	}
	return nil
}

func invalid(field, reason string) error {
	return &DecodeError{Field: field, Reason: reason, Err: ErrInvalid}
}

// recordDef is what Decode needs of a record type's definition.
type recordDef interface {
	recordType() string
	describe() []Field
	marshal(r Record) ([]byte, bool)
	newRecord() Record
	tablesOf() []Table
	fast(d *Decoder, data []byte, i int) (Record, bool)
	strict(data []byte) (Record, error)
}

// Decode parses and validates one record of any supported schema_version.
// It never panics; every rejection is a *DecodeError.
func Decode(data []byte) (Record, error) {
	var d Decoder
	return d.Decode(data)
}

// Decoder decodes records like Decode, sharing the strings of
// low-cardinality fields (tenant, action, actor, type, status) between the
// records it returns. The zero value is ready to use; a Decoder is not safe
// for concurrent use.
//
// Other strings (ids, descriptions) are copied into chunks of chunkSize
// bytes the Decoder allocates, and records are allocated slabSize at a
// time: one object for the garbage collector per hundred records or so
// instead of one per string, and one per slabSize records instead of one
// each. Neither is reused (records are, with Reuse), so records stay
// independent of later calls; the price is that a string kept keeps its
// whole chunk alive, and a record its slab. That suits a caller like the
// sink, which holds records' strings until a batch is flushed and then
// drops them all; one that keeps a few
// records of many for long should copy them (strings.Clone for strings).
//
// encoding/json (about 8µs a record) is the authority. A Decoder first
// tries a scanner (more than 10 times faster) for the shape the collector
// writes: one flat object starting with record_type, keys spelled as in the
// contract, strings without escapes, integers without fraction or exponent. The
// scanner accepts a record only when encoding/json would return the same
// one (FuzzDecode checks this) and hands anything else, every invalid record
// included, to encoding/json for the verdict.
type Decoder struct {
	// Reuse, when set, makes the fast path return one record per type,
	// overwritten by the next call of Decode: for a caller that copies
	// what it keeps of a record before decoding the next, as the sink does
	// into its column buffers, it saves allocating and collecting the
	// records. Strings are still copied, so those kept stay valid.
	Reuse bool

	// shared holds the strings of interned fields by a hash of their
	// bytes; a string whose entry another took is allocated again.
	shared *[sharedSize]string
	// last holds, per interned field (field.slot), the string it decoded
	// last: the CID, tenant and enums repeat record after record.
	last []string
	// chunk is the unused end of the chunk strings are copied into; the
	// part before it holds strings already returned and is never written.
	chunk []byte
	times timeCache
	// slabs holds, per record type (def.id), a *slab of records.
	slabs []any
}

// chunkSize is the size of the chunks strings are copied into; a string
// longer than an eighth of it is allocated on its own, so at most an eighth
// of a chunk is left unused when a string does not fit.
const chunkSize = 32 << 10

// copyStr returns a copy of b in the current chunk.
func (d *Decoder) copyStr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > len(d.chunk) {
		if len(b) > chunkSize/8 {
			return string(b)
		}
		d.chunk = make([]byte, chunkSize)
	}
	n := copy(d.chunk, b)
	s := unsafe.String(&d.chunk[0], n)
	d.chunk = d.chunk[n:]
	return s
}

// Decode parses and validates one record.
func (d *Decoder) Decode(data []byte) (Record, error) {
	if r, ok := d.fast(data); ok {
		return r, nil
	}
	return decodeStrict(data)
}

func (d *Decoder) slot(i int) *string {
	if d.last == nil {
		d.last = make([]string, internSlots)
	}
	return &d.last[i]
}

// str returns b as a shared string. last is the field's slot for the
// value it had in the previous record.
func (d *Decoder) str(b []byte, last *string) string {
	if d.shared == nil {
		d.shared = new([sharedSize]string)
	}
	// Two entries a string may take, so that two values whose hashes
	// collide do not take turns in one.
	h := sharedHash(b)
	e := &d.shared[h]
	if *e != string(b) {
		if e2 := &d.shared[h^1]; *e2 == string(b) {
			e = e2
		} else {
			if *e != "" && *e2 == "" {
				e = e2
			}
			*e = string(b)
		}
	}
	*last = *e
	return *e
}

// sharedBits is log2 of the number of entries of Decoder.shared.
const (
	sharedBits = 12
	sharedSize = 1 << sharedBits
)

// sharedHash hashes the first, middle and last 8 bytes of b and its
// length: enough to tell apart the values of an interned field.
func sharedHash(b []byte) uint64 {
	var h uint64
	if len(b) >= 8 {
		h = binary.LittleEndian.Uint64(b)*0x9e3779b97f4a7c15 ^
			binary.LittleEndian.Uint64(b[len(b)/2-4:])*0xc2b2ae3d27d4eb4f ^
			binary.LittleEndian.Uint64(b[len(b)-8:])*0x165667b19e3779f9
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
		h *= 0x9e3779b97f4a7c15
	}
	return (h ^ uint64(len(b))*0x27d4eb2f165667c5) >> (64 - sharedBits)
}

// fast reads the leading record_type and lets its definition scan the rest.
func (d *Decoder) fast(data []byte) (Record, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	key, i, ok := scanString(data, skipSpace(data, i+1))
	if !ok || string(key) != "record_type" {
		return nil, false
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return nil, false
	}
	typ, i, ok := scanString(data, skipSpace(data, i+1))
	if !ok {
		return nil, false
	}
	rd, ok := defs[string(typ)]
	if !ok {
		return nil, false
	}
	return rd.fast(d, data, i)
}

// fast scans the fields after record_type into a new R and validates it.
func (df *def[R]) fast(d *Decoder, data []byte, i int) (Record, bool) {
	sl := slabOf[R](d, df.id)
	r := &sl.r[sl.next]
	if d.Reuse {
		*r = *new(R) // the record the last call returned
	}
	if !df.scan(d, data, i, r) {
		*r = *new(R) // the next record takes its place
		return nil, false
	}
	if !d.Reuse {
		sl.next++
	}
	return any(r).(Record), true
}

// slabSize is how many records of a type a Decoder allocates at once.
const slabSize = 16

// slab is records of type R allocated together; from next on, not yet
// returned.
type slab[R any] struct {
	r    [slabSize]R
	next int
}

// slabOf returns a slab of type R (of def id) with a free record.
func slabOf[R any](d *Decoder, id int) *slab[R] {
	if d.slabs == nil {
		d.slabs = make([]any, defCount)
	}
	sl, _ := d.slabs[id].(*slab[R])
	if sl == nil || sl.next == slabSize {
		sl = new(slab[R])
		d.slabs[id] = sl
	}
	return sl
}

// scan scans the fields after record_type into r, a zero R, and validates it.
func (df *def[R]) scan(d *Decoder, data []byte, i int, r *R) bool {
	df.env(r).RecordType = df.typ
	next := 1 // the field expected next
	for {
		// Usually the next field's comma, key and colon, as Marshal
		// writes them (a name has neither quotes nor escapes, so the
		// bytes match only that key).
		j, k := i, next
		if k < len(df.fields) && len(data)-j > len(df.fields[k].key) && string(data[j:j+len(df.fields[k].key)]) == df.fields[k].key {
			j += len(df.fields[k].key)
		} else {
			if i = skipSpace(data, i); i >= len(data) {
				return false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return false
			}
			key, end, ok := scanString(data, skipSpace(data, i+1))
			if !ok {
				return false
			}
			// An unknown key, or a known one in another case (which
			// encoding/json would match case-insensitively), goes to
			// the strict path; so does a second record_type.
			if k, ok = df.byName[string(key)]; !ok || k == 0 {
				return false
			}
			if j = skipSpace(data, end); j >= len(data) || data[j] != ':' {
				return false
			}
			j++
		}
		next = k + 1
		var ok bool
		if i, ok = scanValue(d, &df.fields[k], r, data, skipSpace(data, j)); !ok {
			return false
		}
	}
	if skipSpace(data, i) != len(data) {
		return false
	}
	env := df.env(r)
	// schema_version absent or null: the strict path says which.
	if env.SchemaVersion == 0 {
		return false
	}
	if df.finish(r) != nil {
		return false
	}
	return true
}

// scanValue parses the value at data[i] into field f of r, following
// encoding/json: null leaves a value unchanged but clears a pointer.
func scanValue[R any](d *Decoder, f *field[R], r *R, data []byte, i int) (int, bool) {
	null := isNull(data, i)
	switch f.kind {
	case kindString:
		p := at[string](r, f.off)
		if null {
			return i + 4, true
		}
		if !f.intern {
			s, next, ok := scanString(data, i)
			if ok {
				*p = d.copyStr(s)
			}
			return next, ok
		}
		// The field's value in the record before, matched in place: it
		// holds no quote or escape, so its bytes and a quote are all of
		// the string.
		last := d.slot(f.slot)
		if n := len(*last); n > 0 && len(data)-i > n+1 && data[i] == '"' && data[i+1+n] == '"' && string(data[i+1:i+1+n]) == *last {
			*p = *last
			return i + n + 2, true
		}
		s, next, ok := scanString(data, i)
		if ok {
			*p = d.str(s, last)
		}
		return next, ok
	case kindTime:
		p := at[time.Time](r, f.off)
		if null {
			return i + 4, true
		}
		return scanTime(&d.times, data, i, p)
	case kindTimePtr:
		p := at[*time.Time](r, f.off)
		if null {
			*p = nil
			return i + 4, true
		}
		t := new(time.Time)
		next, ok := scanTime(&d.times, data, i, t)
		if t.IsZero() {
			t = nil
		}
		*p = t
		return next, ok
	case kindBool:
		return scanBool(data, i, at[bool](r, f.off))
	case kindInt:
		p := at[int](r, f.off)
		if null { // the version: encoding/json's verdict depends on what came before
			return i, false
		}
		var n int64
		next, ok := scanInt(data, i, &n)
		*p = int(n)
		return next, ok
	case kindInt64:
		if null { // encoding/json leaves the value as it was
			return i + 4, true
		}
		return scanInt(data, i, at[int64](r, f.off))
	case kindInt64Ptr:
		p := at[*int64](r, f.off)
		if null {
			*p = nil
			return i + 4, true
		}
		n := new(int64)
		next, ok := scanInt(data, i, n)
		*p = n
		return next, ok
	}
	return i, false
}

// decodeStrict decodes with encoding/json, the authority.
func decodeStrict(data []byte) (Record, error) {
	var head struct {
		RecordType    string `json:"record_type"`
		SchemaVersion *int   `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &DecodeError{Reason: err.Error(), Err: ErrMalformed}
	}
	if head.SchemaVersion == nil {
		return nil, &DecodeError{Field: "schema_version", Reason: "missing", Err: ErrInvalid}
	}
	if v := *head.SchemaVersion; v < 1 || v > Version {
		return nil, &DecodeError{Field: "schema_version", Reason: fmt.Sprintf("%d (this build reads 1 to %d)", v, Version), Err: ErrUnsupportedVersion}
	}
	rd, ok := defs[head.RecordType]
	if !ok {
		if head.RecordType == "" {
			return nil, &DecodeError{Field: "record_type", Reason: "missing", Err: ErrUnknownRecordType}
		}
		return nil, &DecodeError{Field: "record_type", Reason: fmt.Sprintf("%q", head.RecordType), Err: ErrUnknownRecordType}
	}
	return rd.strict(data)
}

func (df *def[R]) strict(data []byte) (Record, error) {
	r := new(R)
	if err := json.Unmarshal(data, r); err != nil {
		return nil, &DecodeError{Reason: err.Error(), Err: ErrMalformed}
	}
	df.normalize(r)
	if err := df.finish(r); err != nil {
		return nil, err
	}
	return any(r).(Record), nil
}

// normalize puts every time in UTC and an optional zero time to nil, as the
// fast path does while it scans.
func (df *def[R]) normalize(r *R) {
	for _, f := range df.fields {
		switch p := f.ptr(r).(type) {
		case *time.Time:
			*p = p.UTC()
		case **time.Time:
			if *p != nil && (*p).IsZero() {
				*p = nil
			} else if *p != nil {
				**p = (*p).UTC()
			}
		}
	}
}

// finish validates a normalized r: the common rules, then the type's (which
// also fill in what schema_version 1 lacks).
func (df *def[R]) finish(r *R) error {
	env := df.env(r)
	if v := env.SchemaVersion; v < 1 || v > Version {
		return &DecodeError{Field: "schema_version", Reason: fmt.Sprintf("%d (this build reads 1 to %d)", v, Version), Err: ErrUnsupportedVersion}
	}
	if env.Tenant == "" {
		return invalid("tenant", "empty")
	}
	if env.CollectedAt.IsZero() {
		return invalid("collected_at", "missing")
	}
	if env.SchemaVersion >= 2 {
		if env.CID == "" {
			return invalid("cid", "empty")
		}
		if env.EventTime.IsZero() {
			return invalid("event_time", "missing")
		}
		if s := env.EventTimeSource; s != EventTimeAudit && s != EventTimeSnapshot {
			return invalid("event_time_source", fmt.Sprintf("%q (want %q or %q)", s, EventTimeAudit, EventTimeSnapshot))
		}
	} else {
		// What schema_version 1 lacks, derived as the collector would have
		// written it: the sink stores both versions alike. The CID stays
		// unknown ("").
		env.EventTime, env.EventTimeSource = env.CollectedAt, EventTimeSnapshot
	}
	return df.check(r)
}
