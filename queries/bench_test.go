package queries_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/queries/querytest"
)

// BenchmarkReports runs every report over a generated tenant of 10,000,000
// audit events (a year) and 100,000 tokens with 300,000 collected versions,
// with its default parameters (a 30-day period) and, for the reports that
// take a period, over the whole year. Results: docs/benchmarks.md.
func BenchmarkReports(b *testing.B) {
	s := chtest.Start(b)
	db, conn := querytest.NewDatabase(b, s)
	// Generating 10M rows in one statement outlasts the test connection's
	// 60 s read timeout.
	gen, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr}, Auth: clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 5 * time.Second, ReadTimeout: 20 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer gen.Close()
	ctx := context.Background()
	start := time.Now()
	size := querytest.Synthetic{Tokens: 100_000, AuditEvents: 10_000_000, Now: querytest.ScenarioNow}
	if err := querytest.LoadSynthetic(ctx, gen, size); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d audit events and %d tokens in %v", size.AuditEvents, size.Tokens, time.Since(start).Round(time.Second))

	run := func(name string, r *queries.Report, given map[string]string) {
		v, err := r.Resolve(given, querytest.ScenarioNow)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			rows := 0
			for i := 0; i < b.N; i++ {
				res, err := queries.Run(ctx, conn, r, v)
				if err != nil {
					b.Fatal(err)
				}
				rows = 0
				for _, t := range res.Tables {
					rows += len(t.Rows)
				}
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
	for _, r := range queries.All() {
		run(r.Name, r, nil)
	}
	for _, r := range queries.All() {
		if _, ok := r.Param("since"); ok {
			run(r.Name+"/365d", r, map[string]string{"since": "365d"})
		}
	}
}
