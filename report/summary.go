package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// Statuses of a control on the summary page.
const (
	StatusPass      = "pass"      // no finding, or information only
	StatusAttention = "attention" // findings below the control's fail_at severity
	StatusFail      = "fail"      // a finding at or above fail_at
)

// Summary is the first page of a pack: key figures and findings per
// control. Every number is counted from the reports' own results, so the
// summary cannot disagree with the details it links to.
type Summary struct {
	Figures  []Figure
	Findings []FindingCount
	Status   string // the worst control status
}

// Figure is one key figure with the section it was counted from.
type Figure struct {
	Key   string // stable name, e.g. "tokens_valid" (data-figure in HTML)
	Label string
	Value string
	Link  string // anchor of the section it comes from
	Note  string
}

// FindingCount is one finding kind on the summary: counts per severity,
// the control it evidences and its status.
type FindingCount struct {
	Control
	BySeverity map[string]int
	Total      int
	Status     string
	Link       string
}

// findingsGroupAnchor is the anchor of one finding kind's group in the
// findings section.
func findingsGroupAnchor(finding string) string {
	return anchor("policy-findings", "findings") + "--" + strings.ReplaceAll(finding, "_", "-")
}

// table returns the result table report/section, or nil.
func table(results []*queries.Result, report, section string) (*queries.Result, *queries.Table) {
	for _, res := range results {
		if res.Report.Name != report {
			continue
		}
		for i := range res.Tables {
			if res.Tables[i].Section.Name == section {
				return res, &res.Tables[i]
			}
		}
	}
	return nil, nil
}

// Summarize counts the summary's figures and findings from results. A
// figure whose report is not among the results is left out.
func Summarize(results []*queries.Result, controls *Controls) Summary {
	if controls == nil {
		controls = DefaultControls()
	}
	var s Summary
	add := func(key, label, value, link, note string) {
		s.Figures = append(s.Figures, Figure{Key: key, Label: label, Value: value, Link: link, Note: note})
	}
	if _, t := table(results, "token-inventory", "tokens"); t != nil {
		states := map[string]int{}
		if i := t.Column("state"); i >= 0 {
			for _, row := range t.Rows {
				if v, ok := row[i].(string); ok {
					states[v]++
				}
			}
		}
		link := anchor("token-inventory", "tokens")
		add("tokens_total", "Tokens collected (deleted included)", fmt.Sprint(len(t.Rows)), link, "")
		for _, st := range []string{"valid", "revoked", "expired", "deleted"} {
			add("tokens_"+st, "Tokens "+st, fmt.Sprint(states[st]), link, "")
		}
	}
	if _, t := table(results, "admin-activity", "per_day"); t != nil {
		// Deletions in the audit trail include tokens no collection saw.
		n := 0.0
		if i := t.Column("deleted"); i >= 0 {
			for _, row := range t.Rows {
				n += toFloat(row[i])
			}
		}
		add("deletions_in_period", "Token deletions in the period (audit trail)", formatTick(n), anchor("admin-activity", "per_day"), "")
	}
	if _, t := table(results, "expiring-tokens", "never_expire"); t != nil {
		add("never_expire", "Valid tokens that never expire", fmt.Sprint(len(t.Rows)), anchor("expiring-tokens", "never_expire"), "")
	}
	if res, t := table(results, "expiring-tokens", "expiring"); t != nil {
		add("expiring_soon", "Valid tokens expiring within "+res.Values.Text("days")+" days", fmt.Sprint(len(t.Rows)),
			anchor("expiring-tokens", "expiring"), "")
	}
	if res, t := table(results, "stale-tokens", "stale"); t != nil {
		add("stale", "Stale valid tokens (unused for "+res.Values.Text("days")+" days)", fmt.Sprint(len(t.Rows)),
			anchor("stale-tokens", "stale"), "")
	}
	if _, t := table(results, "policy-findings", "active_vs_limit"); t != nil && len(t.Rows) > 0 {
		last := t.Rows[len(t.Rows)-1]
		active, limit := "0", "no limit"
		if i := t.Column("active_tokens"); i >= 0 {
			active = cell(t.Columns[i], last[i], "0")
		}
		if i := t.Column("max_active_tokens"); i >= 0 && last[i] != nil {
			limit = cell(t.Columns[i], last[i], "")
		}
		note := ""
		if i := t.Column("day"); i >= 0 {
			note = "at the end of " + cell(t.Columns[i], last[i], "")
		}
		add("active_vs_limit", "Valid tokens against max_active_tokens", active+" of "+limit, anchor("policy-findings", "active_vs_limit"), note)
	}
	if _, t := table(results, "tenant-settings", "current"); t != nil {
		si, vi, wi, fi := t.Column("setting"), t.Column("value"), t.Column("since"), t.Column("since_first_collection")
		for _, row := range t.Rows {
			if si < 0 || vi < 0 || row[si] != "tokens_required" {
				continue
			}
			note := ""
			if wi >= 0 && row[wi] != nil {
				note = "since " + cell(t.Columns[wi], row[wi], "") + " UTC"
				if fi >= 0 && toFloat(row[fi]) == 1 {
					note = "since at least " + cell(t.Columns[wi], row[wi], "") + " UTC (the first collection)"
				}
			}
			add("tokens_required", "tokens_required (sensor installs need a token)", fmt.Sprint(row[vi]), anchor("tenant-settings", "current"), note)
		}
	}

	// Findings per kind, in the order of the controls file; kinds it does
	// not know follow, so that no finding is hidden by a stale mapping.
	counts := map[string]map[string]int{}
	if _, t := table(results, "policy-findings", "findings"); t != nil {
		fi, si := t.Column("finding"), t.Column("severity")
		for _, row := range t.Rows {
			if fi < 0 || si < 0 {
				break
			}
			f, _ := row[fi].(string)
			sev, _ := row[si].(string)
			if counts[f] == nil {
				counts[f] = map[string]int{}
			}
			counts[f][sev]++
		}
	}
	kinds := append([]Control(nil), controls.Controls...)
	var unknown []string
	for f := range counts {
		if _, ok := controls.lookup(f); !ok {
			unknown = append(unknown, f)
		}
	}
	sort.Strings(unknown)
	for _, f := range unknown {
		kinds = append(kinds, Control{Finding: f, Title: f, Control: "(not in the controls mapping)", FailAt: "high"})
	}
	s.Status = StatusPass
	for _, c := range kinds {
		fc := FindingCount{Control: c, BySeverity: counts[c.Finding], Link: findingsGroupAnchor(c.Finding), Status: StatusPass}
		if fc.BySeverity == nil {
			fc.BySeverity = map[string]int{}
		}
		for sev, n := range fc.BySeverity {
			fc.Total += n
			switch {
			case severityRank(sev) <= severityRank(c.FailAt):
				fc.Status = StatusFail
			case sev != "info" && fc.Status == StatusPass:
				fc.Status = StatusAttention
			}
		}
		if fc.Total == 0 {
			fc.Link = anchor("policy-findings", "findings")
		}
		s.Findings = append(s.Findings, fc)
		if statusRank(fc.Status) > statusRank(s.Status) {
			s.Status = fc.Status
		}
	}
	return s
}

func statusRank(s string) int {
	switch s {
	case StatusFail:
		return 2
	case StatusAttention:
		return 1
	}
	return 0
}

// periodText formats a period for front matter.
func periodText(since, until time.Time) string {
	return since.UTC().Format(time.DateTime) + " to " + until.UTC().Format(time.DateTime) + " UTC"
}
