package schema

import (
	"fmt"
	"math"
	"strings"
	"time"
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
type Columns[R any] struct {
	cols []column[R]
	n    int
}

type column[R any] interface {
	add(r *R) error
	drop() // the last row
	slice(lo, hi int) any
	reset()
}

// Append adds r's row. It rejects, as an invalid field, a time ClickHouse's
// DateTime cannot hold: the driver would otherwise store a wrapped-around
// date without an error. A rejected record leaves the buffers unchanged.
func (c *Columns[R]) Append(r *R) error {
	if c.cols == nil {
		c.cols = defOf[R]().newColumns()
	}
	for i, col := range c.cols {
		if err := col.add(r); err != nil {
			for _, done := range c.cols[:i] {
				done.drop()
			}
			return err
		}
	}
	c.n++
	return nil
}

// Len is the number of rows.
func (c *Columns[R]) Len() int { return c.n }

// Values returns one slice per column, as clickhouse-go's batch Column(i).Append takes them.
func (c *Columns[R]) Values() []any { return c.Slice(0, c.n) }

// Slice is Values for rows lo to hi-1, sharing the buffers' memory: a
// batch can be sent in parts.
func (c *Columns[R]) Slice(lo, hi int) []any {
	if c.cols == nil {
		c.cols = defOf[R]().newColumns()
	}
	out := make([]any, len(c.cols))
	for i, col := range c.cols {
		out[i] = col.slice(lo, hi)
	}
	return out
}

// Reset empties the buffers, keeping their memory.
func (c *Columns[R]) Reset() {
	for _, col := range c.cols {
		col.reset()
	}
	c.n = 0
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

func (df *def[R]) newColumns() []column[R] {
	var cols []column[R]
	for _, f := range df.columnOrder() {
		if !f.stored {
			continue
		}
		switch f.kind {
		case kindString:
			cols = append(cols, &col[R, string]{get: func(r *R) (string, error) { return *at[string](r, f.off), nil }})
		case kindInt:
			cols = append(cols, &col[R, uint16]{get: func(r *R) (uint16, error) { return uint16(*at[int](r, f.off)), nil }})
		case kindBool:
			cols = append(cols, &col[R, uint8]{get: func(r *R) (uint8, error) {
				if *at[bool](r, f.off) {
					return 1, nil
				}
				return 0, nil
			}})
		case kindTime:
			cols = append(cols, &col[R, time.Time]{get: func(r *R) (time.Time, error) {
				t := *at[time.Time](r, f.off)
				if t.IsZero() { // a deleted token seen without a created_timestamp
					return time.Unix(0, 0).UTC(), nil
				}
				return t, checkTime(f.name, t)
			}})
		case kindTimePtr:
			cols = append(cols, &col[R, *time.Time]{get: func(r *R) (*time.Time, error) {
				t := *at[*time.Time](r, f.off)
				if t == nil {
					return nil, nil
				}
				return t, checkTime(f.name, *t)
			}})
		case kindInt64Ptr:
			cols = append(cols, &col[R, *int64]{get: func(r *R) (*int64, error) { return *at[*int64](r, f.off), nil }})
		case kindInt64:
			cols = append(cols, &col[R, int64]{get: func(r *R) (int64, error) { return *at[int64](r, f.off), nil }})
		}
	}
	return append(cols, &col[R, uint64]{get: func(r *R) (uint64, error) { return uint64(df.env(r).CollectedAt.UnixNano()), nil }})
}

// columnOrder is the order of a table's columns: the type's own fields, then
// the envelope's, so that a time ClickHouse cannot store is reported in the
// field it came from (a schema_version 1 event_time is derived from
// timestamp).
func (df *def[R]) columnOrder() []field[R] {
	n := len(envelopeFields(df.env))
	return append(append([]field[R]{}, df.fields[n:]...), df.fields[:n]...)
}

// col is one column buffer of element type V.
type col[R, V any] struct {
	get func(r *R) (V, error)
	v   []V
}

func (c *col[R, V]) add(r *R) error {
	x, err := c.get(r)
	if err != nil {
		return err
	}
	c.v = append(c.v, x)
	return nil
}

func (c *col[R, V]) drop()                { c.v = c.v[:len(c.v)-1] }
func (c *col[R, V]) slice(lo, hi int) any { return c.v[lo:hi:hi] }
func (c *col[R, V]) reset()               { clear(c.v); c.v = c.v[:0] }

// checkTime accepts what DateTime holds: whole seconds 0 to 2^32-1 since
// the epoch (1970-01-01 to 2106-02-07).
func checkTime(field string, t time.Time) error {
	if s := t.Unix(); s < 0 || s > math.MaxUint32 {
		return &DecodeError{Field: field, Reason: fmt.Sprintf("%s is outside what ClickHouse DateTime stores (1970-01-01 to 2106-02-07)",
			t.Format(time.RFC3339)), Err: ErrInvalid}
	}
	return nil
}
