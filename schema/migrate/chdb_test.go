//go:build chdb

package migrate_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/schema/migrations"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// The embedded migrations and their bookkeeping run on ClickHouse 26.7
// (chDB) as on 18.16, and leave the same tables with the same column types.
func TestApplyOnCurrentClickHouse(t *testing.T) {
	cur := chdbtest.Open(t)
	applied, err := migrate.Apply(ctx(t), cur, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names(applied), names(want)) {
		t.Fatalf("applied %v, want %v", names(applied), names(want))
	}
	again, err := migrate.Apply(ctx(t), cur, migrate.Options{})
	if err != nil || len(again) != 0 {
		t.Fatalf("second Apply = %v, %v; want a no-op", names(again), err)
	}
	rows, err := cur.Query(ctx(t), "SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; rows.Next(); i++ {
		var v uint32
		var name, sum string
		if err := rows.Scan(&v, &name, &sum); err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || int(v) != want[i].Version || name != want[i].Name || sum != want[i].Checksum {
			t.Errorf("schema_migrations row %d = %d %s %s", i+1, v, name, sum)
		}
	}

	srv := chtest.Start(t)
	db := srv.NewDatabase()
	if err := srv.Conn(t, "").Exec(ctx(t), "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	old := srv.Conn(t, db)
	if _, err := migrate.Apply(ctx(t), old, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	oldCols, curCols := columnTypes(t, old, db), columnTypes(t, cur, cur.Database())
	if len(oldCols) == 0 || !reflect.DeepEqual(oldCols, curCols) {
		t.Errorf("columns after migrating\n18.16: %v\n 26.7: %v", oldCols, curCols)
	}
	for table, want := range contract {
		if got := columns(t, cur, cur.Database(), table); !hasPrefix(got, want) {
			t.Errorf("%s columns = %v, want %v first", table, got, want)
		}
	}
}

// Column changes run through the runner's guards (18.16 has no IF [NOT]
// EXISTS on columns) on 26.7 too, and a second run skips them.
func TestAlterColumnsOnCurrentClickHouse(t *testing.T) {
	cur := chdbtest.Open(t)
	fsys := fstest.MapFS{
		"0001_t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS t (id UInt64, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY id;")},
		"0002_add.sql": {Data: []byte("ALTER TABLE t ADD COLUMN note String;\n" +
			"ALTER TABLE t ADD COLUMN gone Nullable(DateTime('UTC'));")},
		"0003_modify.sql": {Data: []byte("ALTER TABLE t MODIFY COLUMN note String DEFAULT 'none';")},
		"0004_drop.sql":   {Data: []byte("ALTER TABLE t DROP COLUMN gone;")},
	}
	for run := 1; run <= 2; run++ {
		applied, err := migrate.Apply(ctx(t), cur, migrate.Options{FS: fsys})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if wantN := map[int]int{1: 4, 2: 0}[run]; len(applied) != wantN {
			t.Fatalf("run %d applied %v, want %d migrations", run, names(applied), wantN)
		}
	}
	// Replay 0002 and 0004 as if their records were lost: the guards skip the done work.
	if err := cur.Exec(ctx(t), "TRUNCATE TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx(t), cur, migrate.Options{FS: fsys}); err != nil {
		t.Fatalf("replay after lost records: %v", err)
	}
	if got, want := columnTypes(t, cur, cur.Database())["t"], []string{"id UInt64", "v UInt64", "note String"}; !reflect.DeepEqual(got, want) {
		t.Errorf("t = %v, want %v", got, want)
	}
}

// Every statement the --cluster rewrite emits parses on 26.7 (chDB has no
// cluster to run it on). The control statement shows that formatQuery
// rejects what does not parse.
func TestClusterDDLParsesOnCurrentClickHouse(t *testing.T) {
	cur := chdbtest.Open(t)
	queries, err := migrate.ClusterQueries("tokentrail", "prod")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(q string) error {
		var formatted string
		return cur.QueryRow(ctx(t), "SELECT formatQuery(?)", q).Scan(&formatted)
	}
	if err := parse("CREATE TABLE IF NOT EXISTS t ON CLUSTER 'prod' (id UInt64 ENGINE = MergeTree ORDER BY id"); err == nil ||
		!strings.Contains(err.Error(), "SYNTAX_ERROR") {
		t.Fatalf("a malformed statement: %v, want a syntax error", err)
	}
	for _, q := range queries {
		if err := parse(q); err != nil {
			t.Errorf("%s\n  => %v", q, err)
		}
	}
}

// columnTypes maps each table of db to its "name type" columns in order.
func columnTypes(t *testing.T, conn driver.Conn, db string) map[string][]string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT table, name, type FROM system.columns WHERE database = ?", db) // in column order (18.16 has no position)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], name+" "+typ)
	}
	return out
}
