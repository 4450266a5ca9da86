package report_test

import (
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
