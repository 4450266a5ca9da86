package queries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/schema"
)

// poll is one coverage record of tenant cov: a poll at start (minutes after
// base) reading the audit window [from, to) (minutes; from < 0: the
// beginning), with the API's total and the published count.
func poll(start, from, to int, api, published int64, tokens bool, failure string) schema.Coverage {
	at := func(m int) time.Time { return covBase.Add(time.Duration(m) * time.Minute) }
	c := schema.Coverage{Envelope: schema.NewEnvelope(schema.TypeCoverage, "cid0", "cov", at(start).Add(10*time.Second)),
		PollStarted: at(start), AuditTo: at(to), APITotal: api, Published: published, TokensSnapshot: tokens,
		SettingsSnapshot: tokens}
	if from >= 0 {
		f := at(from)
		c.AuditFrom, c.QueryFrom = &f, &f
	}
	if failure != "" {
		c.Failures, c.Error = 1, failure
	}
	return c
}

var covBase = time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)

// events returns n audit events of tenant cov, one a minute from minute m.
func events(m, n int) []schema.AuditEvent {
	var out []schema.AuditEvent
	for i := range n {
		at := covBase.Add(time.Duration(m+i) * time.Minute).Format("2006-01-02 15:04:05")
		out = append(out, querytest.Event("cov", 100000+m*1000+i, "token_update", "x@example.com", at[:16], "", "e"))
	}
	return out
}

// TestCollectionCoverage checks the coverage report on two collections of
// the same tenant history: a complete one, and one with the collector
// stopped for two hours and an API outage of three failed polls.
func TestCollectionCoverage(t *testing.T) {
	s := chtest.Start(t)
	ctx := context.Background()
	given := map[string]string{"tenant": "cov", "since": "2025-06-20 00:00", "until": "2025-06-20 06:00", "max_gap": "15m"}
	type gap struct{ kind, from, to, what string }
	run := func(f querytest.Fixture) (map[string][]map[string]any, []gap) {
		_, conn := querytest.NewDatabase(t, s)
		if err := querytest.Load(ctx, conn, f); err != nil {
			t.Fatal(err)
		}
		out := runReport(t, conn, "collection-coverage", given)
		var gaps []gap
		for _, r := range out["gaps"] {
			gaps = append(gaps, gap{r["kind"].(string), fmtVal(r["gap_from"]), fmtVal(r["gap_to"]), r["what"].(string)})
		}
		return out, gaps
	}
	// 30 events before the period (minute -40 on), then one event a minute.
	history := append(events(-40, 30), events(0, 360)...)

	// Complete: a first poll reads everything up to minute 10, then a poll every 10 minutes.
	var complete querytest.Fixture
	complete.Audit = history
	complete.Coverage = append(complete.Coverage, poll(10, -1, 10, 40, 40, true, ""))
	for m := 20; m <= 360; m += 10 {
		complete.Coverage = append(complete.Coverage, poll(m, m-10, m, 10, 10, true, ""))
	}
	out, gaps := run(complete)
	if len(gaps) != 0 {
		t.Errorf("complete collection has gaps: %v", gaps)
	}
	rec := out["reconciliation"]
	if len(rec) != 1 || fmtVal(rec[0]["api_reported"]) != "390" || fmtVal(rec[0]["stored"]) != "390" || fmtVal(rec[0]["difference"]) != "0" ||
		fmtVal(rec[0]["span_from"]) != "1970-01-01 00:00:00" || fmtVal(rec[0]["span_to"]) != "2025-06-20 06:00:00" {
		t.Errorf("complete reconciliation: %v", rec)
	}
	sum := out["summary"][0]
	if fmtVal(sum["polls"]) != "35" || fmtVal(sum["failed_polls"]) != "0" || fmtVal(sum["last_collected"]) != "2025-06-20 05:50:10" {
		t.Errorf("complete summary: %v", sum)
	}

	// Gapped: polls every 10 minutes until 02:00, the collector stopped until 04:00 (its next poll reads the
	// two hours at once), an outage with three failed polls at 04:10-04:30, then polls until 04:50 and none
	// after. ClickHouse misses two events of the last window.
	var gapped querytest.Fixture
	gapped.Audit = append(events(-40, 30), events(0, 288)...)
	gapped.Coverage = append(gapped.Coverage, poll(10, -1, 10, 40, 40, true, ""))
	for m := 20; m <= 120; m += 10 {
		gapped.Coverage = append(gapped.Coverage, poll(m, m-10, m, 10, 10, true, ""))
	}
	gapped.Coverage = append(gapped.Coverage, poll(240, 120, 240, 120, 120, true, ""))
	for m := 250; m <= 270; m += 10 {
		gapped.Coverage = append(gapped.Coverage, poll(m, 240, 240, -1, 0, false, "settings: customer_settings_read: 503 Service Unavailable"))
	}
	gapped.Coverage = append(gapped.Coverage, poll(280, 240, 280, 40, 40, true, ""))
	gapped.Coverage = append(gapped.Coverage, poll(290, 280, 290, 10, 10, true, ""))
	out, gaps = run(gapped)
	want := []gap{
		{"snapshots", "2025-06-20 02:00:00", "2025-06-20 04:00:00", "no token snapshot"},
		{"snapshots", "2025-06-20 04:00:00", "2025-06-20 04:40:00", "no token snapshot"},
		{"audit", "2025-06-20 04:50:00", "2025-06-20 06:00:00", "after the last audit window"},
		{"snapshots", "2025-06-20 04:50:00", "2025-06-20 06:00:00", "no token snapshot since"},
	}
	if fmt.Sprint(gaps) != fmt.Sprint(want) {
		t.Errorf("gaps:\n got %v\nwant %v", gaps, want)
	}
	rec = out["reconciliation"]
	if len(rec) != 1 || fmtVal(rec[0]["api_reported"]) != "320" || fmtVal(rec[0]["stored"]) != "318" || fmtVal(rec[0]["difference"]) != "-2" ||
		fmtVal(rec[0]["windows_uncounted"]) != "0" {
		t.Errorf("gapped reconciliation: %v", rec)
	}
	if f := out["failures"]; len(f) != 3 || fmtVal(f[0]["poll_started"]) != "2025-06-20 04:10:00" {
		t.Errorf("failures: %v", f)
	}
	sum = out["summary"][0]
	if fmtVal(sum["failed_polls"]) != "3" || fmtVal(sum["last_collected"]) != "2025-06-20 04:50:10" {
		t.Errorf("gapped summary: %v", sum)
	}

	// A tenant without coverage records: nothing covers the period.
	_, conn := querytest.NewDatabase(t, s)
	out = runReport(t, conn, "collection-coverage", given)
	if len(out["gaps"]) != 1 || out["gaps"][0]["what"] != "no audit window covers the period" || len(out["reconciliation"]) != 0 ||
		fmtVal(out["summary"][0]["polls"]) != "0" || out["summary"][0]["last_collected"] != nil {
		t.Errorf("no records: %v", out)
	}
}
