//go:build chdb

package difftest

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	qt "github.com/tokentrail/tokentrail/queries/querytest"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// setup migrates a fresh database on each engine and loads f into both,
// with the project's own migration runner and loader.
func setup(t *testing.T, f qt.Fixture) engines {
	t.Helper()
	ctx := context.Background()
	srv := chtest.Start(t)
	db, _ := qt.NewDatabase(t, srv)
	old, w := openOld(t, srv, db)
	if err := qt.Load(ctx, old, f); err != nil {
		t.Fatalf("load into 18.16: %v", err)
	}
	cur := chdbtest.Open(t)
	if err := qt.Migrate(ctx, cur); err != nil {
		t.Fatalf("migrate on 26.7: %v", err)
	}
	if err := qt.Load(ctx, cur, f); err != nil {
		t.Fatalf("load into 26.7: %v", err)
	}
	return engines{old: old, wire: w, current: cur}
}

// paramSet is one way to call a report.
type paramSet struct {
	name  string
	given map[string]string
}

// alternatives are non-default values per parameter name or, failing that,
// per type; every declared parameter gets its own run with each of them, so
// a new report or parameter is covered without editing this file.
var (
	byName = map[string][]string{
		"now":   {"2025-06-10 06:00", "2025-09-01"},
		"since": {"2025-06-10 12:30", "2024-01-01"}, // the second: a period with no data
		"until": {"2025-06-12 09:00:30", "2025-07-31"},
		"token": {qt.TokenID(9), qt.TokenID(101), "no-such-token"},
		"label": {"never*", "%o%", "Q_ick*"},
	}
	byType = map[queries.ParamType][]string{
		queries.Int:      {"0", "3"},
		queries.Duration: {"0s", "15m", "2h"},
		queries.DateTime: {"2025-06-15"},
		queries.String:   {"x"},
	}
)

// paramSets returns the defaults, an empty period and, for the tenants with
// data, each parameter's alternatives.
func paramSets(r *queries.Report, tenant string) []paramSet {
	return paramSetsWith(r, tenant, byName, tenant == qt.Tenant || tenant == tiesTenant)
}

func paramSetsWith(r *queries.Report, tenant string, byName map[string][]string, alternatives bool) []paramSet {
	sets := []paramSet{{name: "defaults", given: map[string]string{}}}
	if _, ok := r.Param("since"); ok {
		sets = append(sets, paramSet{name: "empty period", given: map[string]string{"since": "2024-01-01", "until": "2024-01-08"}})
	}
	if !alternatives {
		return withTenant(r, sets, tenant)
	}
	for _, p := range r.Params {
		if p.Name == "tenant" {
			continue
		}
		alts, ok := byName[p.Name]
		if !ok {
			alts = byType[p.Type]
		}
		for _, a := range alts {
			sets = append(sets, paramSet{name: p.Name + "=" + a, given: map[string]string{p.Name: a}})
		}
	}
	return withTenant(r, sets, tenant)
}

func withTenant(r *queries.Report, sets []paramSet, tenant string) []paramSet {
	if _, ok := r.Param("tenant"); ok {
		for _, s := range sets {
			s.given["tenant"] = tenant
		}
	}
	return sets
}

// TestReportsAgree runs every section of every report, for several tenants
// and parameter sets, on both engines and requires equal results: first
// over the rows as inserted (redelivered duplicates and superseded token
// versions not merged yet), then, with each report's defaults, after both
// engines merged every table.
func TestReportsAgree(t *testing.T) {
	e := setup(t, fixture())
	t.Run("as inserted", func(t *testing.T) { agree(t, e, tenants, now, paramSets) })
	for _, table := range []string{"audit_events", "tokens", "token_changes", "settings_changes"} {
		q := "OPTIMIZE TABLE " + table + " FINAL"
		if err := e.old.Exec(context.Background(), q); err != nil {
			t.Fatalf("18.16: %s: %v", q, err)
		}
		if err := e.current.Exec(context.Background(), q); err != nil {
			t.Fatalf("26.7: %s: %v", q, err)
		}
	}
	t.Run("merged", func(t *testing.T) {
		agree(t, e, tenants, now, func(r *queries.Report, tenant string) []paramSet { return paramSets(r, tenant)[:1] })
	})
}

// agree compares every report for every tenant and parameter set, with now
// as the clock of relative parameters, and logs each section's status.
func agree(t *testing.T, e engines, tenants []string, now time.Time, sets func(*queries.Report, string) []paramSet) {
	ctx := context.Background()
	type key struct{ report, section string }
	status := map[key][]string{}
	rows := map[key]int{}
	var order []key
	runs, failed := 0, 0
	for _, r := range queries.All() {
		for _, s := range r.Sections {
			order = append(order, key{r.Name, s.Name})
		}
		for _, tenant := range tenants {
			for _, ps := range sets(r, tenant) {
				v, err := r.Resolve(ps.given, now)
				if err != nil {
					// A since after until (an alternative since against the default until) is
					// a usage error, not SQL: skip it.
					continue
				}
				outs, err := compareReport(ctx, e, r, v)
				if err != nil {
					t.Errorf("%s, tenant %s, %s: %v", r.Name, tenant, ps.name, err)
				}
				for _, o := range outs {
					runs++
					k := key{o.report, o.section}
					rows[k] += o.rows
					if o.err != nil {
						failed++
						if len(status[k]) == 0 {
							t.Errorf("%s/%s, tenant %s, %s: %v\nSQL sent:\n%s", o.report, o.section, tenant, ps.name, o.err, o.sent)
						}
						status[k] = append(status[k], o.status())
					}
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d section runs, %d differ or fail\n", runs, failed)
	for _, k := range order {
		st := fmt.Sprintf("ok (%d rows compared)", rows[k])
		if f := status[k]; len(f) > 0 {
			sort.Strings(f)
			st = fmt.Sprintf("FAIL in %d runs: %s", len(f), f[0])
		}
		fmt.Fprintf(&b, "  %-18s %-22s %s\n", k.report, k.section, st)
	}
	t.Log(b.String())
}
