package queries

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Querier runs one SELECT. clickhouse-go's driver.Conn implements it.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// Result is a report's output: one table per section.
type Result struct {
	Report *Report
	Values Values
	Tables []Table
}

// Table is the result of one section.
type Table struct {
	Section *Section
	Columns []Column
	// Rows hold normalized values: nil (NULL), int64, uint64, float64,
	// string, time.Time (UTC; see Column.Kind for Date vs DateTime) or
	// []any of those.
	Rows [][]any
}

// Kind is how renderers treat a column's values.
type Kind int

// Column kinds.
const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindDate
	KindDateTime
	KindArray
)

// Column is one result column.
type Column struct {
	Name string
	Type string // ClickHouse type name as the server reports it
	Kind Kind
}

// Column returns the index of the column called name, or -1.
func (t *Table) Column(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// QueryError says which section of which report failed.
type QueryError struct {
	Report, Section string
	Err             error
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("report %s, section %s: %v", e.Report, e.Section, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// Run runs every section of r with the parameter values v.
func Run(ctx context.Context, q Querier, r *Report, v Values) (*Result, error) {
	res := &Result{Report: r, Values: v}
	args := v.Args()
	for i := range r.Sections {
		s := &r.Sections[i]
		t, err := runSection(ctx, q, s, args)
		if err != nil {
			return nil, &QueryError{Report: r.Name, Section: s.Name, Err: err}
		}
		res.Tables = append(res.Tables, *t)
	}
	return res, nil
}

func runSection(ctx context.Context, q Querier, s *Section, args []any) (*Table, error) {
	rows, err := q.Query(ctx, s.SQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &Table{Section: s}
	types := rows.ColumnTypes()
	for _, ct := range types {
		t.Columns = append(t.Columns, Column{Name: ct.Name(), Type: ct.DatabaseTypeName(), Kind: kindOf(ct.DatabaseTypeName())})
	}
	dest := make([]any, len(types))
	for rows.Next() {
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = normalize(reflect.ValueOf(d).Elem())
		}
		t.Rows = append(t.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// kindOf classifies a ClickHouse type name, looking through Nullable and
// LowCardinality.
func kindOf(typ string) Kind {
	for _, wrap := range []string{"Nullable(", "LowCardinality("} {
		for strings.HasPrefix(typ, wrap) {
			typ = strings.TrimSuffix(strings.TrimPrefix(typ, wrap), ")")
		}
	}
	switch {
	case strings.HasPrefix(typ, "Array("):
		return KindArray
	case strings.HasPrefix(typ, "DateTime"):
		return KindDateTime
	case strings.HasPrefix(typ, "Date"):
		return KindDate
	case strings.HasPrefix(typ, "Int"), strings.HasPrefix(typ, "UInt"):
		return KindInt
	case strings.HasPrefix(typ, "Float"), strings.HasPrefix(typ, "Decimal"):
		return KindFloat
	}
	return KindString
}

// normalize maps a scanned value onto the few types renderers know.
func normalize(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC()
	case big.Int:
		return x.String()
	case []byte:
		return string(x)
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Bool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	}
	return fmt.Sprint(v.Interface())
}
