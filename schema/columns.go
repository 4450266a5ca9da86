package schema

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"
)

// Table is a ClickHouse table that stores one record type: its name and the
// columns the record's fields map to (schema/migrations creates them; a test
// checks the two agree).
type Table struct {
	Name       string
	RecordType string
	Columns    []Column
}

// Column is a ClickHouse column and its type.
type Column struct {
	Name, Type string
}

// versionColumn is the ReplacingMergeTree version of every table: collected_at
// in Unix nanoseconds, so the newest collected state wins.
var versionColumn = Column{"version", "UInt64"}

// Tables lists the tables records are written to, in insert order: audit
// events, tokens (current state), token changes (every version), settings
// changes. tokens and token_changes get the same rows.
func Tables() []Table {
	var out []Table
	for _, d := range registry {
		out = append(out, d.tablesOf()...)
	}
	return out
}

func (df *def[R]) tablesOf() []Table {
	var cols []Column
	var zero R
	for _, f := range df.columnOrder() {
		if f.stored {
			cols = append(cols, Column{f.column, columnType(f.ptr(&zero))})
		}
	}
	cols = append(cols, versionColumn)
	out := make([]Table, len(df.tables))
	for i, name := range df.tables {
		out[i] = Table{Name: name, RecordType: df.typ, Columns: cols}
	}
	return out
}

// InsertQuery is the INSERT statement a batch of t's rows is prepared with.
// It lists the columns: ClickHouse 18.16 rejects a batch without them, and
// columns added later keep their defaults for writers that predate them.
func (t Table) InsertQuery() string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return "INSERT INTO " + t.Name + " (" + strings.Join(names, ", ") + ")"
}

// Columns accumulates records of type R (AuditEvent, Token, Settings or Coverage) as
// ClickHouse column buffers in the order of their Table's Columns: the row
// mapping the sink and the test loaders share. The zero value is empty and
// ready; buffers are kept across Reset.
//
// The buffers are grouped by element type and filled by field offset, not
// through a function per column, which made appending four times slower
// (BenchmarkDecodeStream/columns against /decode).
type Columns[R any] struct {
	l       *layout
	strs    [][]string
	u16s    [][]uint16
	u8s     [][]uint8
	times   [][]time.Time
	tptrs   [][]*time.Time
	i64ps   [][]*int64
	i64s    [][]int64
	version []uint64
	n       int
	room    int // rows every buffer has capacity for
}

// layout is where a record type's stored fields are (offsets into R, by
// kind) and the order of their columns.
type layout struct {
	// offsets per kind, each in column order
	strs, u16s, u8s, times, tptrs, i64ps, i64s []uintptr
	// checks are the time fields, in column order: a time ClickHouse
	// cannot store is reported in the first column that holds one.
	checks []timeField
	// version is the offset of the envelope's CollectedAt.
	version uintptr
	// order is, per column, its kind's buffer and index there.
	order []columnRef
}

type timeField struct {
	name string
	off  uintptr
	ptr  bool // a *time.Time
}

type columnRef struct {
	kind kind
	i    int
}

// kindVersion is the version column's place in layout.order.
const kindVersion kind = 255

func (df *def[R]) layoutOf() *layout {
	df.layoutOnce.Do(func() {
		l := &layout{}
		for _, f := range df.columnOrder() {
			if !f.stored {
				continue
			}
			var list *[]uintptr
			switch f.kind {
			case kindString:
				list = &l.strs
			case kindInt:
				list = &l.u16s
			case kindBool:
				list = &l.u8s
			case kindTime:
				list = &l.times
				l.checks = append(l.checks, timeField{name: f.name, off: f.off})
			case kindTimePtr:
				list = &l.tptrs
				l.checks = append(l.checks, timeField{name: f.name, off: f.off, ptr: true})
			case kindInt64Ptr:
				list = &l.i64ps
			case kindInt64:
				list = &l.i64s
			default:
				panic(fmt.Sprintf("schema: field %s has no column kind", f.name))
			}
			l.order = append(l.order, columnRef{f.kind, len(*list)})
			*list = append(*list, f.off)
		}
		l.order = append(l.order, columnRef{kind: kindVersion})
		var zero R
		l.version = uintptr(unsafe.Pointer(&df.env(&zero).CollectedAt)) - uintptr(unsafe.Pointer(&zero))
		df.layout = l
	})
	return df.layout
}

func (c *Columns[R]) init() *layout {
	if c.l == nil {
		c.l = defOf[R]().layoutOf()
		c.strs = make([][]string, len(c.l.strs))
		c.u16s = make([][]uint16, len(c.l.u16s))
		c.u8s = make([][]uint8, len(c.l.u8s))
		c.times = make([][]time.Time, len(c.l.times))
		c.tptrs = make([][]*time.Time, len(c.l.tptrs))
		c.i64ps = make([][]*int64, len(c.l.i64ps))
		c.i64s = make([][]int64, len(c.l.i64s))
	}
	return c.l
}

// Append adds r's row. It rejects, as an invalid field, a time ClickHouse's
// DateTime cannot hold: the driver would otherwise store a wrapped-around
// date without an error. A rejected record leaves the buffers unchanged.
func (c *Columns[R]) Append(r *R) error {
	l := c.init()
	if c.n == c.room {
		// Double: append alone grows a large slice by a quarter, which
		// allocates five times a full batch's buffers while filling it.
		c.grow(max(c.n, 64))
	}
	for _, f := range l.checks {
		var t *time.Time // nil: NULL, or a zero time stored at the epoch
		if f.ptr {
			t = *at[*time.Time](r, f.off)
		} else if t = at[time.Time](r, f.off); t.IsZero() {
			t = nil
		}
		if t == nil {
			continue
		}
		if err := checkTime(f.name, *t); err != nil {
			return err
		}
	}
	for i, off := range l.strs {
		c.strs[i] = append(c.strs[i], *at[string](r, off))
	}
	for i, off := range l.u16s {
		c.u16s[i] = append(c.u16s[i], uint16(*at[int](r, off)))
	}
	for i, off := range l.u8s {
		var b uint8
		if *at[bool](r, off) {
			b = 1
		}
		c.u8s[i] = append(c.u8s[i], b)
	}
	for i, off := range l.times {
		t := *at[time.Time](r, off)
		if t.IsZero() { // a deleted token seen without a created_timestamp
			t = epoch
		}
		c.times[i] = append(c.times[i], t)
	}
	for i, off := range l.tptrs {
		c.tptrs[i] = append(c.tptrs[i], *at[*time.Time](r, off))
	}
	for i, off := range l.i64ps {
		c.i64ps[i] = append(c.i64ps[i], *at[*int64](r, off))
	}
	for i, off := range l.i64s {
		c.i64s[i] = append(c.i64s[i], *at[int64](r, off))
	}
	c.version = append(c.version, uint64(at[time.Time](r, l.version).UnixNano()))
	c.n++
	return nil
}

var epoch = time.Unix(0, 0).UTC()

// Len is the number of rows.
func (c *Columns[R]) Len() int { return c.n }

// grow makes room for n more rows in every buffer.
func (c *Columns[R]) grow(n int) {
	c.version = grown(c.version, n)
	room := cap(c.version)
	room = growAll(c.strs, n, room)
	room = growAll(c.u16s, n, room)
	room = growAll(c.u8s, n, room)
	room = growAll(c.times, n, room)
	room = growAll(c.tptrs, n, room)
	room = growAll(c.i64ps, n, room)
	c.room = growAll(c.i64s, n, room)
}

// growAll makes room for n more values in each buffer and returns the least
// of room and their capacities.
func growAll[V any](bufs [][]V, n, room int) int {
	for i := range bufs {
		bufs[i] = grown(bufs[i], n)
		room = min(room, cap(bufs[i]))
	}
	return room
}

// grown is slices.Grow without its temporary slice, which the compiler
// leaves out only when it optimizes (not under -race).
func grown[V any](b []V, n int) []V {
	if cap(b)-len(b) >= n {
		return b
	}
	out := make([]V, len(b), len(b)+n)
	copy(out, b)
	return out
}

// Values returns one slice per column, as clickhouse-go's batch Column(i).Append takes them.
func (c *Columns[R]) Values() []any { return c.Slice(0, c.n) }

// Slice is Values for rows lo to hi-1, sharing the buffers' memory: a
// batch can be sent in parts.
func (c *Columns[R]) Slice(lo, hi int) []any {
	l := c.init()
	out := make([]any, len(l.order))
	for j, ref := range l.order {
		switch ref.kind {
		case kindString:
			out[j] = c.strs[ref.i][lo:hi:hi]
		case kindInt:
			out[j] = c.u16s[ref.i][lo:hi:hi]
		case kindBool:
			out[j] = c.u8s[ref.i][lo:hi:hi]
		case kindTime:
			out[j] = c.times[ref.i][lo:hi:hi]
		case kindTimePtr:
			out[j] = c.tptrs[ref.i][lo:hi:hi]
		case kindInt64Ptr:
			out[j] = c.i64ps[ref.i][lo:hi:hi]
		case kindInt64:
			out[j] = c.i64s[ref.i][lo:hi:hi]
		case kindVersion:
			out[j] = c.version[lo:hi:hi]
		}
	}
	return out
}

// Reset empties the buffers, keeping their memory.
func (c *Columns[R]) Reset() {
	resetAll(c.strs)
	resetAll(c.u16s)
	resetAll(c.u8s)
	resetAll(c.times)
	resetAll(c.tptrs)
	resetAll(c.i64ps)
	resetAll(c.i64s)
	c.version = c.version[:0]
	c.n = 0
}

// resetAll empties buffers, clearing them so that they do not keep the
// records' strings and times alive.
func resetAll[V any](bufs [][]V) {
	for i := range bufs {
		clear(bufs[i])
		bufs[i] = bufs[i][:0]
	}
}

func defOf[R any]() *def[R] {
	for _, d := range registry {
		if d, ok := d.(*def[R]); ok {
			return d
		}
	}
	var r R
	panic(fmt.Sprintf("schema: %T is not a record type", r))
}

// columnOrder is the order of a table's columns: the type's own fields, then
// the envelope's, so that a time ClickHouse cannot store is reported in the
// field it came from (a schema_version 1 event_time is derived from
// timestamp).
func (df *def[R]) columnOrder() []field[R] {
	n := len(envelopeFields(df.env))
	return append(append([]field[R]{}, df.fields[n:]...), df.fields[:n]...)
}

// checkTime accepts what DateTime holds: whole seconds 0 to 2^32-1 since
// the epoch (1970-01-01 to 2106-02-07).
func checkTime(field string, t time.Time) error {
	if s := t.Unix(); s < 0 || s > math.MaxUint32 {
		return &DecodeError{Field: field, Reason: fmt.Sprintf("%s is outside what ClickHouse DateTime stores (1970-01-01 to 2106-02-07)",
			t.Format(time.RFC3339)), Err: ErrInvalid}
	}
	return nil
}
