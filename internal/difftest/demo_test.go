//go:build chdb

package difftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	qt "github.com/tokentrail/tokentrail/queries/querytest"
)

// demoByName are alternatives relative to the demo's clock: its data is
// the last 30 days before the run.
var demoByName = map[string][]string{
	"now":   {"1d"},
	"since": {"7d", "1h"},
	"until": {"6h"},
	"token": {"no-such-token"},
	"label": {"*1*", "%a%"},
}

// The SQL the review pack of `ingest demo` and `report run` send gives the
// same results on 26.7 as on 18.16 over the demo's own data: the real
// ingest demo (emulated Falcon, collector, embedded Kafka, sink) fills an
// 18.16 database, which is merged and copied into chDB; every report then
// runs with its defaults (the review pack's call) and every parameter's
// alternatives (report run).
func TestDemoDataAgrees(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "ingest") // not in the demo's state directory, which must be its own
	build := exec.Command("go", "build", "-o", bin, "github.com/tokentrail/tokentrail/cmd/ingest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ingest: %v\n%s", err, out)
	}
	srv := chtest.Start(t)
	db := srv.NewDatabase()
	// The demo refuses a state directory holding files it did not create.
	demo := exec.Command(bin, "demo", "--duration", "4s", "--clickhouse-dsn", srv.DSN(db), "--state-dir", t.TempDir(),
		"--events", "3000", "--tokens", "60", "--activity-interval", "50ms", "--pack", filepath.Join(dir, "pack.html"))
	demo.Env = append(os.Environ(), "TOKENTRAIL_LOG_LEVEL=warn")
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("ingest demo: %v\n%s", err, out)
	}
	clock := time.Now().UTC().Truncate(time.Second)

	old, w := openOld(t, srv, db)
	cur := chdbtest.Open(t)
	if err := qt.Migrate(ctx, cur); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"audit_events", "tokens", "token_changes", "settings_changes", "collection_coverage"} {
		// Merged first: background merges on 18.16 would otherwise change its rows under the test.
		if err := old.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
		if n := copyTable(t, old, cur, table); n == 0 {
			t.Fatalf("the demo left no rows in %s", table)
		}
	}
	e := engines{old: old, wire: w, current: cur}
	agree(t, e, []string{"demo"}, clock, func(r *queries.Report, tenant string) []paramSet {
		return paramSetsWith(r, tenant, demoByName, true)
	})
}

// copyTable copies every row of table from 18.16 to chDB and returns how
// many it copied.
func copyTable(t *testing.T, from driver.Conn, to *chdbtest.Conn, table string) int {
	t.Helper()
	ctx := context.Background()
	rows, err := from.Query(ctx, "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	b, err := to.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(rows.Columns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	types := rows.ColumnTypes()
	n := 0
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = reflect.ValueOf(d).Elem().Interface()
		}
		if err := b.Append(vals...); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatalf("copy %s into chDB: %v", table, err)
	}
	return n
}
