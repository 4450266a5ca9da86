//go:build chdb

package difftest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// wire records the text of every query clickhouse-go sends, parameters
// bound, from the driver's "sending query" debug log record.
type wire struct {
	mu   sync.Mutex
	sent []string
}

func (w *wire) Enabled(context.Context, slog.Level) bool { return true }
func (w *wire) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *wire) WithGroup(string) slog.Handler            { return w }

func (w *wire) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "sending query" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "query" {
			w.mu.Lock()
			w.sent = append(w.sent, a.Value.String())
			w.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

// take returns and forgets the texts sent since the last call.
func (w *wire) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sent
	w.sent = nil
	return out
}

// engines is one data set loaded into both engines.
type engines struct {
	old     driver.Conn // ClickHouse 18.16, native protocol
	wire    *wire       // what old was sent
	current *chdbtest.Conn
}

// openOld connects to database db of s with the query log capture on.
func openOld(t testing.TB, s *chtest.Server, db string) (driver.Conn, *wire) {
	t.Helper()
	w := &wire{}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{s.Addr},
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
		// One connection: the recorded texts are those of this test's queries, in order.
		MaxOpenConns: 1,
		Logger:       slog.New(w),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, w
}

// recorder runs queries on 18.16 and keeps the text the server received.
type recorder struct {
	conn driver.Conn
	wire *wire
	sent string
}

func (r *recorder) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	r.wire.take()
	rows, err := r.conn.Query(ctx, query, args...)
	sent := r.wire.take()
	if len(sent) == 1 {
		r.sent = sent[0]
	} else if err == nil {
		rows.Close()
		return nil, fmt.Errorf("captured %d query texts for one query, want 1", len(sent))
	}
	return rows, err
}

// replay runs on 26.7 the text 18.16 received, whatever the query and
// arguments queries.Run passes (they are what produced that text).
type replay struct {
	conn *chdbtest.Conn
	text string
}

func (p replay) Query(ctx context.Context, _ string, _ ...any) (driver.Rows, error) {
	return p.conn.Query(ctx, p.text)
}

// outcome is one section's comparison.
type outcome struct {
	report, section string
	sent            string // the SQL text both engines ran
	err             error  // nil: equal results
	rows            int
}

func (o outcome) status() string {
	if o.err == nil {
		return "ok"
	}
	msg := o.err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	return msg
}

// compareReport runs every section of r on both engines with the values v,
// one section at a time so that one failing section does not hide the
// others, and then renders the whole result in every report format on both.
func compareReport(ctx context.Context, e engines, r *queries.Report, v queries.Values) ([]outcome, error) {
	var outs []outcome
	var oldTables, newTables []queries.Table
	for i := range r.Sections {
		one := *r
		one.Sections = r.Sections[i : i+1]
		o := outcome{report: r.Name, section: r.Sections[i].Name}
		rec := &recorder{conn: e.old, wire: e.wire}
		oldRes, err := queries.Run(ctx, rec, &one, v)
		o.sent = rec.sent
		if err != nil {
			o.err = fmt.Errorf("18.16 fails: %w", err)
			outs = append(outs, o)
			continue
		}
		newRes, err := queries.Run(ctx, replay{conn: e.current, text: rec.sent}, &one, v)
		if err != nil {
			o.err = fmt.Errorf("26.7 fails: %w", err)
			outs = append(outs, o)
			continue
		}
		o.rows = len(oldRes.Tables[0].Rows)
		if d := diffTables(&oldRes.Tables[0], &newRes.Tables[0]); d != "" {
			o.err = fmt.Errorf("results differ: %s", d)
		}
		oldTables, newTables = append(oldTables, oldRes.Tables[0]), append(newTables, newRes.Tables[0])
		outs = append(outs, o)
	}
	if len(oldTables) < len(r.Sections) {
		return outs, nil
	}
	oldRes := &queries.Result{Report: r, Values: v, Tables: oldTables}
	newRes := &queries.Result{Report: r, Values: v, Tables: newTables}
	for _, f := range report.Formats {
		var a, b bytes.Buffer
		if err := report.Render(&a, f, oldRes); err != nil {
			return outs, fmt.Errorf("render %s of the 18.16 result: %w", f, err)
		}
		if err := report.Render(&b, f, newRes); err != nil {
			return outs, fmt.Errorf("render %s of the 26.7 result: %w", f, err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			return outs, fmt.Errorf("report %s rendered as %s differs between 18.16 and 26.7:\n%s\n---\n%s", r.Name, f, a.String(), b.String())
		}
	}
	return outs, nil
}

// diffTables compares two results of one section after the normalisation
// documented in docs/sql-compat.md: column names and kinds must match, type
// names must match once Nullable(...) and LowCardinality(...) are removed,
// and rows must hold the same values in the same order (integers by value
// whatever their width or sign type, floats exactly, times to the second).
func diffTables(a, b *queries.Table) string {
	if len(a.Columns) != len(b.Columns) {
		return fmt.Sprintf("%d columns on 18.16, %d on 26.7", len(a.Columns), len(b.Columns))
	}
	for i := range a.Columns {
		ca, cb := a.Columns[i], b.Columns[i]
		switch {
		case ca.Name != cb.Name:
			return fmt.Sprintf("column %d is %s on 18.16, %s on 26.7", i, ca.Name, cb.Name)
		case ca.Kind != cb.Kind:
			return fmt.Sprintf("column %s is %s on 18.16, %s on 26.7", ca.Name, ca.Type, cb.Type)
		case baseType(ca.Type) != baseType(cb.Type):
			return fmt.Sprintf("column %s is %s on 18.16, %s on 26.7", ca.Name, ca.Type, cb.Type)
		}
	}
	ra, rb := rowTexts(a), rowTexts(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] != rb[i] {
			return fmt.Sprintf("row %d: 18.16 %s, 26.7 %s", i+1, ra[i], rb[i])
		}
	}
	if len(ra) != len(rb) {
		return fmt.Sprintf("%d rows on 18.16, %d on 26.7", len(ra), len(rb))
	}
	return ""
}

// baseType strips Nullable and LowCardinality wrappers anywhere in a type.
func baseType(typ string) string {
	for _, w := range []string{"Nullable(", "LowCardinality("} {
		for {
			i := strings.Index(typ, w)
			if i < 0 {
				break
			}
			depth, j := 1, i+len(w)
			for ; j < len(typ) && depth > 0; j++ {
				switch typ[j] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			typ = typ[:i] + typ[i+len(w):j-1] + typ[j:]
		}
	}
	return typ
}

func rowTexts(t *queries.Table) []string {
	out := make([]string, len(t.Rows))
	for i, row := range t.Rows {
		parts := make([]string, len(row))
		for j, v := range row {
			parts[j] = t.Columns[j].Name + "=" + valueText(v)
		}
		out[i] = "[" + strings.Join(parts, " ") + "]"
	}
	return out
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		if math.IsNaN(x) {
			return "nan"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}
