//go:build chdb

package difftest

import (
	"time"

	qt "github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/schema"
)

// coverage is the collection record of the scenario's tenant: a first poll
// reading the audit trail from its beginning, polls every six hours, the
// collector stopped for two days, an outage of two failed polls, and no
// poll in the last day (gaps of both kinds, a reconciliation to compute).
func coverage() qt.Fixture {
	var f qt.Fixture
	start := now.Add(-20 * 24 * time.Hour)
	poll := func(at, from, to time.Time, api, published int64, failure string) {
		c := schema.Coverage{Envelope: schema.NewEnvelope(schema.TypeCoverage, "cid0", qt.Tenant, at.Add(30*time.Second)),
			PollStarted: at, AuditTo: to, APITotal: api, Published: published, PublishedLate: 0,
			TokensSnapshot: failure == "", SettingsSnapshot: failure == ""}
		if !from.IsZero() {
			c.AuditFrom, c.QueryFrom = &from, &from
		}
		if failure != "" {
			c.Failures, c.Error = 1, failure
		}
		f.Coverage = append(f.Coverage, c)
	}
	poll(start, time.Time{}, start, 12, 12, "")
	at := start
	for i := 1; i <= 20; i++ {
		next := at.Add(6 * time.Hour)
		if i == 8 {
			next = at.Add(48 * time.Hour) // stopped
		}
		if i == 15 {
			poll(next, at, at, -1, 0, "tokens: tokens_query: 503")
			poll(next.Add(time.Hour), at, at, -1, 0, "tokens: tokens_query: 503")
			next = next.Add(2 * time.Hour)
		}
		poll(next, at, next, int64(i%3), int64(i%3), "")
		at = next
	}
	return f
}
