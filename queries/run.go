package queries

import (
	"context"
	"errors"
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
	// Notes qualify the result (a stale collection, say); renderers show
	// them before the tables.
	Notes []string
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

// DataTables are the tables the reports read: what the sink writes.
var DataTables = []string{"audit_events", "tokens", "token_changes", "settings_changes"}

// ErrNoData is wrapped by *DataError: a report would run on a database
// without tokentrail's tables, or on a tenant without data, and its empty
// sections would look like a clean result.
var ErrNoData = errors.New("queries: no data to report on")

// DataError says why there is nothing to report on.
type DataError struct {
	// MissingTables are the DataTables the database lacks.
	MissingTables []string
	// Tenant has no record in any table; Tenants are those that do.
	Tenant  string
	Tenants []string
}

func (e *DataError) Error() string {
	if len(e.MissingTables) > 0 {
		return fmt.Sprintf("the database has no tokentrail tables %s (is it the sink's database? ingest migrate creates them)",
			strings.Join(e.MissingTables, ", "))
	}
	if len(e.Tenants) == 0 {
		return fmt.Sprintf("tenant %q has no data: the database holds no records of any tenant yet", e.Tenant)
	}
	return fmt.Sprintf("tenant %q has no data (tenants with data: %s)", e.Tenant, strings.Join(e.Tenants, ", "))
}

// Unwrap returns ErrNoData.
func (e *DataError) Unwrap() error { return ErrNoData }

// Coverage is what the database holds of one tenant.
type Coverage struct {
	// LastCollected is when the tenant's newest record was collected.
	LastCollected time.Time
}

// StaleAfter is how old a tenant's newest record may be before a report
// notes that its collection may be stale.
const StaleAfter = 72 * time.Hour

// Note returns a note for a report ending at until when the tenant's
// newest record is older than StaleAfter, else "".
func (c Coverage) Note(tenant string, until time.Time) string {
	if until.Sub(c.LastCollected) <= StaleAfter {
		return ""
	}
	return fmt.Sprintf("The newest record of tenant %s was collected at %s, %s before the end of the period: "+
		"if its collector is running, nothing changed since; otherwise this report misses what happened after.",
		tenant, c.LastCollected.Format(time.RFC3339), until.Sub(c.LastCollected).Round(time.Hour))
}

// CheckTenant checks, before a report runs, that the connection's database
// has tokentrail's tables and that tenant has records in them, and returns
// when its newest record was collected. A missing table or tenant is a
// *DataError.
func CheckTenant(ctx context.Context, q Querier, tenant string) (Coverage, error) {
	rows, err := q.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		return Coverage{}, fmt.Errorf("list tables: %w", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return Coverage{}, fmt.Errorf("list tables: %w", err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Coverage{}, fmt.Errorf("list tables: %w", err)
	}
	var missing []string
	for _, t := range DataTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return Coverage{}, &DataError{MissingTables: missing}
	}
	// Per table, so that each scan reads two columns; settings and tokens
	// are small, audit_events is ordered by tenant first.
	var parts []string
	for _, t := range DataTables {
		parts = append(parts, "SELECT tenant, max(collected_at) AS last FROM "+t+" GROUP BY tenant")
	}
	rows, err = q.Query(ctx, "SELECT tenant, max(last) FROM ("+strings.Join(parts, " UNION ALL ")+") GROUP BY tenant ORDER BY tenant")
	if err != nil {
		return Coverage{}, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var cov Coverage
	found := false
	var tenants []string
	for rows.Next() {
		var name string
		var last time.Time
		if err := rows.Scan(&name, &last); err != nil {
			return Coverage{}, fmt.Errorf("list tenants: %w", err)
		}
		tenants = append(tenants, name)
		if name == tenant {
			found, cov.LastCollected = true, last.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return Coverage{}, fmt.Errorf("list tenants: %w", err)
	}
	if !found {
		if len(tenants) > 20 {
			tenants = append(tenants[:20], fmt.Sprintf("and %d more", len(tenants)-20))
		}
		return Coverage{}, &DataError{Tenant: tenant, Tenants: tenants}
	}
	return cov, nil
}
