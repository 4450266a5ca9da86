package queries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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

	// once runs every section of a report as its own tagged query, so that the
	// server's own accounting can tell CPU work from time spent waiting for a
	// core on this shared machine.
	once := func(b *testing.B, name string, r *queries.Report, v queries.Values) (rows int, wall, cpu, wait time.Duration) {
		var ids []string
		start := time.Now()
		for j := range r.Sections {
			one := *r
			one.Sections = r.Sections[j : j+1]
			id := fmt.Sprintf("bench-%s-%s-%d", name, one.Sections[0].Name, time.Now().UnixNano())
			ids = append(ids, id)
			qctx := clickhouse.Context(ctx, clickhouse.WithQueryID(id), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
			res, err := queries.Run(qctx, conn, &one, v)
			if err != nil {
				b.Fatal(err)
			}
			rows += len(res.Tables[0].Rows)
		}
		wall = time.Since(start)
		b.StopTimer()
		defer b.StartTimer()
		for _, id := range ids {
			c, w := serverCPU(b, conn, id)
			cpu, wait = cpu+c, wait+w
		}
		return rows, wall, cpu, wait
	}
	run := func(name string, r *queries.Report, given map[string]string) {
		v, err := r.Resolve(given, querytest.ScenarioNow)
		if err != nil {
			b.Fatal(err)
		}
		// The first run of a report on a server is slower than the next ones:
		// ClickHouse compiles an expression only once it has seen it three
		// times (compile_expressions), and the columns a report is first to
		// read are not cached yet. It is measured apart and left out of ns/op,
		// which is the steady state.
		var firstWall, firstCPU time.Duration
		b.Run(name, func(b *testing.B) {
			if firstWall == 0 {
				b.StopTimer()
				_, firstWall, firstCPU, _ = once(b, name, r, v)
				b.StartTimer()
			}
			rows := 0
			var cpu, wait time.Duration
			for i := 0; i < b.N; i++ {
				n, _, c, w := once(b, name, r, v)
				rows, cpu, wait = n, cpu+c, wait+w
			}
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "server-cpu-ms/op")
			b.ReportMetric(float64(wait.Milliseconds())/float64(b.N), "cpu-wait-ms/op")
			b.ReportMetric(float64(firstWall.Milliseconds()), "first-run-ms")
			b.ReportMetric(float64(firstCPU.Milliseconds()), "first-run-server-cpu-ms")
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

// serverCPU returns the CPU time (user + system) ClickHouse spent on the
// queries tagged id, and how long they waited for a CPU, from
// system.query_log (18.16 keeps ProfileEvents as two arrays).
func serverCPU(b *testing.B, conn driver.Conn, id string) (cpu, wait time.Duration) {
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		b.Logf("no server CPU accounting: %v", err)
		return 0, 0
	}
	var user, sys, waited int64
	err := conn.QueryRow(ctx, `SELECT
			toInt64(sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')])),
			toInt64(sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')])),
			toInt64(sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUWaitMicroseconds')]))
		FROM system.query_log WHERE query_id = @id AND type = 2`, clickhouse.Named("id", id)).Scan(&user, &sys, &waited)
	if err != nil {
		b.Logf("no server CPU accounting: %v", err)
		return 0, 0
	}
	return time.Duration(user+sys) * time.Microsecond, time.Duration(waited) * time.Microsecond
}
