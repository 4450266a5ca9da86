package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// TestCoverageInPack runs the pipeline (collect --once, sink --once) on an
// emulated tenant whose clock the test moves, twice: once polling every five
// minutes, once with the collector stopped for two hours and a 25-minute API
// outage. The review pack must say "complete" for the first and state the
// gaps with their times for the second, and its reconciliation must count
// the emulator's own number of audit events.
func TestCoverageInPack(t *testing.T) {
	ch := chtest.Start(t)
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		gapped bool
	}{{"complete", false}, {"gapped", true}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := falcontest.NewClock(t0)
			withClock(t, clock)
			e := newCollectEnv(t, falcontest.Config{Seed: 11, Clock: clock,
				Tenants: []falcontest.TenantConfig{{Tokens: 30, Events: 200, Churn: &falcontest.SteadyChurn, TokensRequired: true}}})
			tn := e.emu.Tenants()[0]
			e.setCredentials(t, tn)
			db := ch.NewDatabase()
			poll := func(wantOK bool) {
				t.Helper()
				code, stderr := runIngest(e.args("--once", "--start-time", "all", "--settle-lag", "0s", "--log-level", "warn")...)
				if (code == 0) != wantOK {
					t.Fatalf("collect --once: exit %d (want success %v)\n%s", code, wantOK, tail(stderr))
				}
				if code, stderr := runIngest("sink", "--once", "--kafka-brokers", e.brokers, "--clickhouse-dsn", ch.DSN(db),
					"--batch-age", "100ms", "--log-level", "warn"); code != 0 {
					t.Fatalf("sink --once: exit %d\n%s", code, tail(stderr))
				}
			}
			// Changes between polls: a few tokens created and edited at the emulator's time.
			act := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
				defer cancel()
				_ = e.emu.RunActivity(ctx, falcontest.Activity{Interval: 10 * time.Millisecond, Rand: 5, Steady: true})
			}
			step := func(d time.Duration, wantOK bool) {
				clock.Advance(d)
				act()
				poll(wantOK)
			}
			step(time.Minute, true)
			for range 3 {
				step(5*time.Minute, true)
			}
			var stoppedAt, outageFrom time.Time
			if tc.gapped {
				stoppedAt = clock.Now()
				clock.Advance(2 * time.Hour) // the collector is stopped; the tenant goes on
				act()
				step(time.Minute, true)
				outageFrom = clock.Now()
				e.emu.SetFaults(falcontest.Faults{ServerErrorRate: 1, Operations: []string{falcontest.OpCustomerSettingsRead,
					falcontest.OpTokensQuery, falcontest.OpAuditEventsQuery}})
				for range 4 {
					step(5*time.Minute, false)
				}
				e.emu.SetFaults(falcontest.Faults{})
			}
			for range 2 {
				step(5*time.Minute, true)
			}
			clock.Advance(time.Minute)

			// The pack, as report pack writes it, for the last 30 days.
			conn := ch.Conn(t, db)
			now := clock.Now()
			var results []*queries.Result
			info := report.PackInfo{Title: "Coverage test", Tenant: "default", Generated: now}
			for _, r := range queries.All() {
				given := map[string]string{"tenant": "default"}
				if _, ok := r.Param("max_gap"); ok {
					given["max_gap"] = "15m"
				}
				v, err := r.Resolve(given, now)
				if err != nil {
					t.Fatal(err)
				}
				res, err := queries.Run(context.Background(), conn, r, v)
				if err != nil {
					t.Fatal(err)
				}
				if s, ok := v.Time("since"); ok && info.Since.IsZero() {
					info.Since, info.Until = s, now
				}
				results = append(results, res)
			}
			path := filepath.Join(t.TempDir(), "pack.html")
			if err := report.WritePack(path, report.HTML, info, results); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			var md strings.Builder
			if err := report.Pack(&md, report.Markdown, info, results); err != nil {
				t.Fatal(err)
			}

			// Reconciliation against the emulator's own count.
			events := len(tn.AuditEventIDs(true))
			m := regexp.MustCompile(`the API reported (\d+) audit events, ClickHouse holds (\d+) \(no difference\)`).FindStringSubmatch(page)
			if m == nil || m[1] != strconv.Itoa(events) || m[2] != strconv.Itoa(events) {
				t.Errorf("reconciliation %q, the emulator has %d events", m, events)
			}
			banner := strings.Contains(page, `id="coverage-banner"`)
			if !tc.gapped {
				if banner || !strings.Contains(page, `data-figure="coverage">complete<`) || strings.Contains(md.String(), "> **incomplete**") {
					t.Errorf("complete collection not reported complete:\n%s", excerpt(page, "Collection coverage"))
				}
				return
			}
			// The stop: no token snapshot between the last poll before it and the first after it.
			stopGap := "gap (snapshots): " + stoppedAt.Format(time.DateTime) + " UTC to " + stoppedAt.Add(2*time.Hour+time.Minute).Format(time.DateTime) + " UTC"
			// The outage: four failed polls, so 25 minutes from the last good snapshot to the next.
			outageGap := "gap (snapshots): " + outageFrom.Format(time.DateTime) + " UTC to " + outageFrom.Add(25*time.Minute).Format(time.DateTime) + " UTC"
			for _, want := range []string{stopGap, outageGap, "4 with a failure"} {
				if !strings.Contains(page, want) {
					t.Errorf("pack lacks %q:\n%s", want, excerpt(page, "Collection coverage"))
				}
			}
			if !banner || !strings.Contains(md.String(), "> **incomplete**") {
				t.Error("an incompletely covered period must say so at the top of the HTML and Markdown packs")
			}
			if i, j := strings.Index(page, `id="coverage-banner"`), strings.Index(page, "Key figures"); i < 0 || i > j {
				t.Error("the coverage banner is not at the top")
			}
		})
	}
}

func excerpt(s, near string) string {
	i := strings.Index(s, near)
	if i < 0 {
		return "(" + near + " not found)"
	}
	return s[i:min(len(s), i+1500)]
}
