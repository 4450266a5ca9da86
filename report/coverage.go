package report

import (
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// coverageView is what the summary says about the completeness of the
// data behind a pack.
type coverageView struct {
	Recorded bool     // the pipeline recorded its collection for the period
	Complete bool     // the period is covered without gaps and reconciles
	Headline string   // "complete", or what is missing
	Detail   string   // one sentence for the banner
	Lines    []string // coverage, last collected, reconciliation
}

// coverageOf reads the collection-coverage report among results.
func coverageOf(results []*queries.Result, since, until time.Time) *coverageView {
	return &coverageView{Headline: "not recorded",
		Detail: "The pipeline recorded no collection for this tenant: this pack cannot show that the period was fully collected."}
}
