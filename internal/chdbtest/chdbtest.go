package chdbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/chdb-io/chdb-go/chdb"
)

// The process has one chDB session (chdb-go keeps a single global one); its
// current database is switched per query under mu.
var (
	once     sync.Once
	session  *chdb.Session
	startErr error
	mu       sync.Mutex
	current  string
	dbs      atomic.Int64
)

func start() {
	dir, err := os.MkdirTemp("", "chdbtest-")
	if err != nil {
		startErr = err
		return
	}
	if session, startErr = chdb.NewSession(dir); startErr != nil {
		startErr = fmt.Errorf("chdbtest: open a chDB session in %s: %w", dir, startErr)
		return
	}
	for _, set := range []string{
		// The 18.16 test servers run in UTC (internal/chtest): so does this
		// engine, whatever the machine's zone, or toDateTime('...') literals
		// would name other instants.
		"SET session_timezone = 'UTC'",
		// Current servers merge an inserted block as a merge would
		// (ReplacingMergeTree keeps one version); 18.16 does not. Without
		// it the same inserts leave the same rows on both engines.
		"SET optimize_on_insert = 0",
	} {
		if _, err := session.Query(set, "TSV"); err != nil {
			startErr = fmt.Errorf("chdbtest: %s: %w", set, err)
			return
		}
	}
}

// Main runs the package's tests and removes the chDB session's directory.
// Call it from TestMain: os.Exit(chdbtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if session != nil {
		session.Cleanup()
	}
	return code
}

// Open creates a fresh database on the process's chDB engine and returns a
// connection whose current database it is; the database is dropped when
// the test ends.
func Open(t testing.TB) *Conn {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatal(startErr)
	}
	c := &Conn{db: fmt.Sprintf("chdb_%d", dbs.Add(1))}
	if _, err := c.run("CREATE DATABASE "+c.db, "TSV", false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.run("DROP DATABASE IF EXISTS "+c.db, "TSV", false) })
	return c
}

// Conn is one database of the embedded engine. It implements the methods
// of driver.Conn that the project's ClickHouse code calls; the others
// panic (the embedded nil interface), which a test using them shows at once.
type Conn struct {
	driver.Conn
	db string
}

// Database is the connection's current database.
func (c *Conn) Database() string { return c.db }

// Version is the engine's ClickHouse version, e.g. 26.7.2.1.
func (c *Conn) Version() (string, error) {
	out, err := c.run("SELECT version()", "TSVRaw", false)
	return strings.TrimSpace(out), err
}

// run sends one statement in the connection's database and returns the
// output in format.
func (c *Conn) run(query, format string, useDB bool) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if useDB && current != c.db {
		if _, err := session.Query("USE "+c.db, "TSV"); err != nil {
			return "", fmt.Errorf("chdb: USE %s: %w", c.db, err)
		}
		current = c.db
	}
	r, err := session.Query(query, format)
	if err != nil {
		return "", fmt.Errorf("chdb: %w", err)
	}
	if r == nil {
		return "", nil
	}
	defer r.Free()
	return r.String(), nil // copies out of the library's buffer
}

// Exec runs a statement. Arguments bind to ? placeholders (see Query).
func (c *Conn) Exec(_ context.Context, query string, args ...any) error {
	q, err := bind(query, args)
	if err != nil {
		return err
	}
	_, err = c.run(q, "TSV", true)
	return err
}

// Query runs a SELECT. Arguments bind to ? placeholders as SQL literals;
// named parameters are refused: report SQL is run on chDB as the 18.16
// server received it from clickhouse-go, never bound a second way.
func (c *Conn) Query(_ context.Context, query string, args ...any) (driver.Rows, error) {
	q, err := bind(query, args)
	if err != nil {
		return nil, err
	}
	out, err := c.run(q, "JSONCompact", true)
	if err != nil {
		return nil, err
	}
	return decodeResult(out)
}

// QueryRow runs a SELECT and returns its first row.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return &row{err: err}
	}
	return &row{rows: rs.(*rows)}
}

// PrepareBatch starts an INSERT INTO table (columns); Send writes the
// appended rows as one INSERT ... VALUES.
func (c *Conn) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(query)), "INSERT INTO ") {
		return nil, fmt.Errorf("chdbtest: PrepareBatch wants INSERT INTO table (columns), got %q", query)
	}
	return &batch{c: c, query: strings.TrimSpace(query)}, nil
}

// Ping succeeds once the engine runs.
func (c *Conn) Ping(context.Context) error { return nil }

// Close does nothing: the database lives until the test ends.
func (c *Conn) Close() error { return nil }

// batch collects rows (Append) or columns (Column(i).Append, as the sink
// writes) and sends them as literals.
type batch struct {
	driver.Batch
	c     *Conn
	query string
	rows  []string
	cols  [][]any
	sent  bool
}

func (b *batch) Column(i int) driver.BatchColumn { return column{b, i} }

type column struct {
	b *batch
	i int
}

// Append appends a slice of values to the column.
func (c column) Append(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Errorf("chdbtest: column %d: Append wants a slice, got %T", c.i, v)
	}
	for j := 0; j < rv.Len(); j++ {
		if err := c.AppendRow(rv.Index(j).Interface()); err != nil {
			return err
		}
	}
	return nil
}

// AppendRow appends one value to the column.
func (c column) AppendRow(v any) error {
	for len(c.b.cols) <= c.i {
		c.b.cols = append(c.b.cols, nil)
	}
	c.b.cols[c.i] = append(c.b.cols[c.i], v)
	return nil
}

func (b *batch) Append(v ...any) error {
	lits := make([]string, len(v))
	for i, x := range v {
		l, err := literal(x)
		if err != nil {
			return err
		}
		lits[i] = l
	}
	b.rows = append(b.rows, "("+strings.Join(lits, ", ")+")")
	return nil
}

func (b *batch) Send() error {
	if b.sent {
		return errors.New("chdbtest: batch already sent")
	}
	b.sent = true
	if len(b.cols) > 0 {
		if len(b.rows) > 0 {
			return errors.New("chdbtest: a batch takes rows or columns, not both")
		}
		for r := range b.cols[0] {
			row := make([]any, len(b.cols))
			for i, col := range b.cols {
				if len(col) != len(b.cols[0]) {
					return fmt.Errorf("chdbtest: column %d holds %d values, column 0 %d", i, len(col), len(b.cols[0]))
				}
				row[i] = col[r]
			}
			if err := b.Append(row...); err != nil {
				return err
			}
		}
	}
	if len(b.rows) == 0 {
		return nil
	}
	_, err := b.c.run(b.query+" VALUES "+strings.Join(b.rows, ", "), "TSV", true)
	return err
}

func (b *batch) Abort() error { b.sent = true; return nil }
func (b *batch) Close() error { b.sent = true; return nil }
func (b *batch) IsSent() bool { return b.sent }
func (b *batch) Rows() int    { return len(b.rows) }

// bind replaces each ? outside quotes by the literal of the next argument.
func bind(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case quote != 0:
			b.WriteByte(ch)
			if ch == '\\' && i+1 < len(query) {
				i++
				b.WriteByte(query[i])
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
			b.WriteByte(ch)
		case ch == '?':
			if n == len(args) {
				return "", fmt.Errorf("chdbtest: %d arguments for more ? in %q", len(args), query)
			}
			l, err := literal(args[n])
			if err != nil {
				return "", err
			}
			n++
			b.WriteString(l)
		default:
			b.WriteByte(ch)
		}
	}
	if n != len(args) {
		return "", fmt.Errorf("chdbtest: %d arguments for %d ? in %q", len(args), n, query)
	}
	return b.String(), nil
}

var quoter = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)

// literal writes v as a SQL literal; times as UTC text, which DateTime
// columns parse in their own zone (the schema's are all UTC).
func literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return "'" + quoter.Replace(x) + "'", nil
	case time.Time:
		return "'" + x.UTC().Format(time.DateTime) + "'", nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "NULL", nil
		}
		return literal(rv.Elem().Interface())
	case reflect.Bool:
		if rv.Bool() {
			return "1", nil
		}
		return "0", nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64), nil
	case reflect.String:
		return "'" + quoter.Replace(rv.String()) + "'", nil
	case reflect.Slice, reflect.Array:
		elems := make([]string, rv.Len())
		for i := range elems {
			l, err := literal(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			elems[i] = l
		}
		return "[" + strings.Join(elems, ", ") + "]", nil
	}
	return "", fmt.Errorf("chdbtest: no SQL literal for %T (named parameters are not bound here)", v)
}

type row struct {
	rows *rows
	err  error
}

func (r *row) Err() error { return r.err }

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

func (r *row) ScanStruct(any) error { return errors.New("chdbtest: ScanStruct is not supported") }
