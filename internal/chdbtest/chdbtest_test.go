//go:build chdb

package chdbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

func TestConnRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := chdbtest.Open(t)
	if v, err := c.Version(); err != nil || !strings.HasPrefix(v, "26.") {
		t.Fatalf("Version() = %q, %v; want the 26.x engine", v, err)
	}
	if err := c.Exec(ctx, `CREATE TABLE t (id UInt32, name String, at DateTime('UTC'), gone Nullable(DateTime('UTC')),
		n Nullable(Int64), tags Array(String)) ENGINE = ReplacingMergeTree ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := c.PrepareBatch(ctx, "INSERT INTO t (id, name, at, gone, n, tags)")
	if err != nil {
		t.Fatal(err)
	}
	n := int64(-7)
	if err := b.Append(uint32(1), `it's a \ test`, at, &at, &n, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint32(2), "", at, (*time.Time)(nil), (*int64)(nil), []string{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}

	rows, err := c.Query(ctx, "SELECT id, name, at, gone, n, tags FROM t WHERE name != ? OR id = ? ORDER BY id", "x?", 2)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"UInt32", "String", "DateTime('UTC')", "Nullable(DateTime('UTC'))", "Nullable(Int64)", "Array(String)"}
	for i, ct := range rows.ColumnTypes() {
		if ct.DatabaseTypeName() != wantTypes[i] {
			t.Errorf("column %d type %s, want %s", i, ct.DatabaseTypeName(), wantTypes[i])
		}
	}
	var got [][]any
	for rows.Next() {
		var (
			id   uint64 // converted from UInt32
			name string
			a    time.Time
			gone *time.Time
			num  *int64
			tags []string
		)
		if err := rows.Scan(&id, &name, &a, &gone, &num, &tags); err != nil {
			t.Fatal(err)
		}
		got = append(got, []any{id, name, a, gone, num, tags})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{uint64(1), `it's a \ test`, at, &at, &n, []string{"a", "b"}},
		{uint64(2), "", at, (*time.Time)(nil), (*int64)(nil), []string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got %v\nwant %v", got, want)
	}

	var db string
	if err := c.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil || db != c.Database() {
		t.Errorf("current database %q, %v; want %s", db, err, c.Database())
	}
	if err := c.QueryRow(ctx, "SELECT id FROM t WHERE id = ?", 3).Scan(new(uint32)); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("QueryRow of no row: %v, want sql.ErrNoRows", err)
	}
	if err := c.Exec(ctx, "SELECT * FROM missing_table"); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TABLE") {
		t.Errorf("query of a missing table: %v, want the engine's UNKNOWN_TABLE error", err)
	}
}

// Two connections are two databases: each query runs in its own.
func TestConnDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, b := chdbtest.Open(t), chdbtest.Open(t)
	for _, c := range []*chdbtest.Conn{a, b} {
		if err := c.Exec(ctx, "CREATE TABLE t (db String) ENGINE = MergeTree ORDER BY db"); err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(ctx, "INSERT INTO t SELECT currentDatabase()"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*chdbtest.Conn{a, b, a} {
		var got string
		if err := c.QueryRow(ctx, "SELECT groupArray(db)[1] FROM t").Scan(&got); err != nil || got != c.Database() {
			t.Errorf("table t of %s holds %q (%v)", c.Database(), got, err)
		}
	}
}
