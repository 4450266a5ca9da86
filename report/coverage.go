package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// coverageView is what the summary says about the completeness of the
// data behind a pack, read from the collection-coverage report.
type coverageView struct {
	Recorded bool     // the pipeline recorded its collection for the period
	Complete bool     // no gap and a reconciliation without difference
	Headline string   // "complete", or what is missing
	Detail   string   // one sentence for the banner
	Lines    []string // coverage, last collected, reconciliation
}

// Coverage is the verdict on a pack's data, for callers that act on it
// (report run warns on standard error).
type Coverage struct {
	Complete bool
	Headline string
	Detail   string
}

// CoverageOf reads the verdict from a collection-coverage result; ok is
// false when res is not one.
func CoverageOf(res *queries.Result) (Coverage, bool) {
	if res == nil || res.Report.Name != "collection-coverage" {
		return Coverage{}, false
	}
	v := coverageOf([]*queries.Result{res})
	return Coverage{Complete: v.Complete, Headline: v.Headline, Detail: v.Detail}, true
}

// rowMap returns the rows of a table as column-name maps.
func rowMap(t *queries.Table) []map[string]any {
	var out []map[string]any
	for _, row := range t.Rows {
		m := map[string]any{}
		for i, c := range t.Columns {
			m[c.Name] = row[i]
		}
		out = append(out, m)
	}
	return out
}

func timeText(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.DateTime) + " UTC"
	}
	return "unknown"
}

func intOf(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// coverageOf reads the collection-coverage report among results. Without
// it, or without any record of a poll, coverage is "not recorded".
func coverageOf(results []*queries.Result) *coverageView {
	notRecorded := &coverageView{Headline: "not recorded",
		Detail: "The pipeline recorded no collection for this tenant and period: nothing shows that the period was fully collected."}
	_, sum := table(results, "collection-coverage", "summary")
	if sum == nil || len(sum.Rows) == 0 {
		return notRecorded
	}
	s := rowMap(sum)[0]
	if s["first_collected"] == nil {
		return notRecorded
	}
	v := &coverageView{Recorded: true}
	var problems []string
	v.Lines = append(v.Lines, fmt.Sprintf("%s in the period, %d with a failure; collection began %s; last collected %s",
		plural(intOf(s["polls"]), "poll"), intOf(s["failed_polls"]), timeText(s["first_collected"]), timeText(s["last_collected"])))
	if _, gaps := table(results, "collection-coverage", "gaps"); gaps != nil {
		for _, g := range rowMap(gaps) {
			line := fmt.Sprintf("gap (%s): %s to %s, %s", g["kind"], timeText(g["gap_from"]), timeText(g["gap_to"]), g["what"])
			v.Lines = append(v.Lines, line)
			problems = append(problems, fmt.Sprintf("%s gap %s to %s", g["kind"], timeText(g["gap_from"]), timeText(g["gap_to"])))
		}
	}
	if _, rec := table(results, "collection-coverage", "reconciliation"); rec != nil && len(rec.Rows) > 0 {
		r := rowMap(rec)[0]
		diff, late, uncounted := intOf(r["difference"]), intOf(r["late"]), intOf(r["windows_uncounted"])
		from := timeText(r["span_from"])
		if t, ok := r["span_from"].(time.Time); ok && t.Unix() == 0 {
			from = "the beginning of the audit trail"
		}
		line := fmt.Sprintf("reconciliation %s to %s: the API reported %d audit events, ClickHouse holds %d",
			from, timeText(r["span_to"]), intOf(r["api_reported"]), intOf(r["stored"]))
		switch {
		case diff == 0:
			line += " (no difference)"
		case diff > 0 && diff <= late:
			line += fmt.Sprintf(" (%d more: late arrivals the lookback collected)", diff)
		case diff > 0:
			line += fmt.Sprintf(" (DIFFERENCE: %d more than the API reported)", diff)
			problems = append(problems, fmt.Sprintf("ClickHouse holds %d events more than the API reported", diff))
		default:
			line += fmt.Sprintf(" (DIFFERENCE: %d reported events missing)", -diff)
			problems = append(problems, fmt.Sprintf("%d events the API reported are missing from ClickHouse", -diff))
		}
		if uncounted > 0 {
			line += fmt.Sprintf("; %d windows without an API count", uncounted)
			problems = append(problems, fmt.Sprintf("%d audit windows without an API count", uncounted))
		}
		v.Lines = append(v.Lines, line)
	} else {
		problems = append(problems, "no audit window to reconcile")
	}
	if len(problems) == 0 {
		v.Complete, v.Headline = true, "complete"
		return v
	}
	v.Headline = "incomplete"
	v.Detail = strings.Join(problems, "; ") + "."
	return v
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
