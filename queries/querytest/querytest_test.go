package querytest_test

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/schema"
)

// The migrations create exactly the columns schema's row mapping writes,
// with the same types; Load then writes every table.
func TestMigrationsMatchSchemaColumns(t *testing.T) {
	s := chtest.Start(t)
	_, conn := querytest.NewDatabase(t, s)
	ctx := context.Background()
	for _, tb := range schema.Tables() {
		rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '"+tb.Name+"'")
		if err != nil {
			t.Fatal(err)
		}
		var got []schema.Column
		for rows.Next() {
			var c schema.Column
			if err := rows.Scan(&c.Name, &c.Type); err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
		rows.Close()
		want := append([]schema.Column(nil), tb.Columns...)
		for _, cs := range [][]schema.Column{got, want} {
			sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: migrations create %v\nschema maps %v", tb.Name, got, want)
		}
	}
	f := querytest.Scenario()
	if err := querytest.Load(ctx, conn, f); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"audit_events": len(f.Audit), "tokens": len(f.Tokens), "token_changes": len(f.Tokens),
		"settings_changes": len(f.Settings)} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int(n) != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
}
