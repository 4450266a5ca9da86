package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// Render writes a result (normally from queries.Run) in one of the formats.
func ExampleRender() {
	r, _ := queries.Parse(`-- name: demo
-- title: Demo
-- description: Tokens per state.
-- param: tenant String = default "Falcon tenant"
-- section: states "States"
SELECT state, count() AS tokens FROM t WHERE tenant = @tenant GROUP BY state
`)
	v, _ := r.Resolve(nil, time.Now())
	res := &queries.Result{Report: r, Values: v, Tables: []queries.Table{{
		Section: &r.Sections[0],
		Columns: []queries.Column{{Name: "state", Kind: queries.KindString}, {Name: "tokens", Kind: queries.KindInt}},
		Rows:    [][]any{{"valid", uint64(7)}, {"revoked", uint64(12)}},
	}}}
	_ = report.Render(os.Stdout, report.Markdown, res)
	// Output:
	// <a id="demo"></a>
	//
	// # Demo
	//
	// `demo`: Tokens per state.
	//
	// **Tenant:** default
	//
	// <a id="demo--states"></a>
	//
	// ## States
	//
	// | state | tokens |
	// |---|---:|
	// | valid | 7 |
	// | revoked | 12 |
}

// Summarize counts a pack's summary from the reports' results: here the
// findings of a policy-findings result, against the default controls.
func ExampleSummarize() {
	r, _ := queries.Lookup("policy-findings")
	v, _ := r.Resolve(nil, time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC))
	cols := []queries.Column{{Name: "severity", Kind: queries.KindString}, {Name: "finding", Kind: queries.KindString}}
	res := &queries.Result{Report: r, Values: v, Tables: []queries.Table{{Section: &r.Sections[0], Columns: cols,
		Rows: [][]any{{"high", "used_after_revocation"}, {"low", "deleted_without_revoke"}, {"low", "deleted_without_revoke"}}}}}
	s := report.Summarize([]*queries.Result{res}, nil)
	for _, f := range s.Findings {
		if f.Total > 0 {
			fmt.Printf("%s: %d (%s) evidences %s\n", f.Finding, f.Total, f.Status, f.Control.Control)
		}
	}
	fmt.Println("overall:", s.Status)
	// Output:
	// used_after_revocation: 1 (fail) evidences Access revocation
	// deleted_without_revoke: 2 (attention) evidences Change management
	// overall: fail
}

// ParseControls reads an operator's mapping of finding kinds to controls.
func ExampleParseControls() {
	c, err := report.ParseControls([]byte(`{"version": 1, "controls": [
		{"finding": "token_without_expiry", "title": "Tokens that never expire", "control": "CIS 5.2",
		 "objective": "Credentials expire.", "fail_at": "low"}]}`))
	fmt.Println(c.Controls[0].Control, err)
	_, err = report.ParseControls([]byte(`{"version": 1, "controls": [{"finding": "x", "control": "y", "fail_at": "severe"}]}`))
	fmt.Println(err)
	// Output:
	// CIS 5.2 <nil>
	// controls[0] (x): fail_at "severe": want high, medium, low or info
}
