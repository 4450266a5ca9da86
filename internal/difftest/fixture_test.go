//go:build chdb

package difftest

import (
	"fmt"
	"time"

	qt "github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/schema"
)

// Tenants the reports run for: the golden scenario's, the scenario's second
// tenant, the edge cases below, and one with no data at all.
const (
	tiesTenant  = "ties"
	emptyTenant = "nobody"
)

var tenants = []string{qt.Tenant, "other", tiesTenant, emptyTenant}

// now is the reference time of every run (the scenario's).
var now = qt.ScenarioNow

// fixture is the golden review scenario (eleven tokens between them
// triggering every report row and policy finding, a second tenant) plus
// tenant "ties", built so that every figure a report rounds lands exactly on
// a half at the rounded digit, with the other edge cases next to them:
//
//	1 valid token used in the period, first use 6 h after creation     days_to_first_use 0.25
//	  and alive 10.125 days at now                                      active_days 10.125
//	5 valid tokens last used before the period (idle)
//	9 valid tokens never used, three of them expiring 6 h, 2.25 d and  days_left 0.25, 2.25, 2.75
//	  2.75 d after now
//	1 valid token created 6 h before now, never used                   active_days 0.25
//	  (16 valid tokens: 1 active, 5 idle, 10 never used)               pct_of_valid 6.25, 31.25, 62.5
//	3 tokens created and deleted by the same actor 15 s, 45 s and      minutes_alive 0.25, 0.75, 1.15
//	  69 s later
//	1 token first collected already revoked (4.25 days after creation)  active_days 4.25
//	1 token expired in the period (status expired at the next collection)
//	settings: max_active_tokens 20, then none, then 16 (a weakening, a tightening) and tokens_required
//	  off then on again, each with the audit event that explains it
func fixture() qt.Fixture {
	f := qt.Scenario()
	f.Add(ties())
	f.Add(coverage())
	return f
}

func ties() qt.Fixture {
	const d = tiesTenant
	var f qt.Fixture
	id := 100
	next := func() string { id++; return qt.TokenID(id) }
	ev := 200
	event := func(action, actor string, at time.Time, token, desc string) schema.AuditEvent {
		ev++
		e := qt.Event(d, ev, action, actor, at.Format("2006-01-02 15:04"), token, desc)
		e.Timestamp, e.CollectedAt = at, at.Add(2*time.Minute)
		return e
	}
	far := qt.P("2026-06-01 00:00")

	f.Add(qt.NewToken(d, next(), "Active", "2025-06-20 09:00", nil).
		Event(1000, "token_create", "erin@example.com", "2025-06-20 09:00", "token Active created").
		Use("2025-06-20 15:00").Use("2025-06-25 10:00").Fixture())
	for i := 1; i <= 5; i++ {
		f.Add(qt.NewToken(d, next(), fmt.Sprintf("Idle %d", i), "2025-01-01 09:00", far).
			Use(fmt.Sprintf("2025-03-%02d 10:00", i)).Fixture())
	}
	expires := []*time.Time{qt.P("2025-06-30 18:00"), qt.P("2025-07-02 18:00"), qt.P("2025-07-03 06:00")}
	for i := 1; i <= 9; i++ {
		exp := far
		if i <= len(expires) {
			exp = expires[i-1]
		}
		f.Add(qt.NewToken(d, next(), fmt.Sprintf("Never used %d", i), fmt.Sprintf("2025-02-%02d 09:00", i), exp).Fixture())
	}
	for i, secs := range []int{15, 45, 69} {
		tok := next()
		created := qt.T("2025-06-12 09:00").Add(time.Duration(i) * time.Hour)
		deleted := created.Add(time.Duration(secs) * time.Second)
		b := qt.NewToken(d, tok, fmt.Sprintf("Quick %d", i+1), created.Format("2006-01-02 15:04"), nil).
			Change(deleted.Add(time.Minute).Format("2006-01-02 15:04"), func(t *schema.Token) { t.Deleted = true })
		f.Add(b.Fixture())
		f.Audit = append(f.Audit,
			event("token_create", "erin@example.com", created, tok, "created"),
			event("token_delete", "erin@example.com", deleted, tok, "deleted"))
	}
	f.Add(qt.NewToken(d, next(), "Fresh", "2025-06-30 06:00", nil).Fixture())

	// First collected 2025-06-10, already revoked on 2025-06-05 15:00.
	revoked := qt.NewToken(d, next(), "Born revoked", "2025-06-01 09:00", far).Fixture()
	first := revoked.Tokens[0]
	first.Status, first.RevokedTimestamp, first.CollectedAt = "revoked", qt.P("2025-06-05 15:00"), qt.T("2025-06-10 08:00")
	revoked.Tokens[0] = first
	f.Add(revoked)
	f.Audit = append(f.Audit, event("token_revoke", "frank@example.com", qt.T("2025-06-05 15:00"), first.ID, "revoked"))

	f.Add(qt.NewToken(d, next(), "Expiring pilot", "2025-05-01 09:00", qt.P("2025-06-15 00:00")).
		Use("2025-06-01 09:00").
		Change("2025-06-15 06:00", func(t *schema.Token) { t.Status = "expired" }).Fixture())

	f.Settings = append(f.Settings,
		qt.Settings(d, "2025-05-01 08:00", 20, true),
		qt.Settings(d, "2025-06-03 08:00", 0, true),   // max_active_tokens removed: weakened
		qt.Settings(d, "2025-06-11 08:00", 16, false), // tightened, tokens_required off
		qt.Settings(d, "2025-06-21 08:00", 16, true),  // tokens_required back on
	)
	f.Audit = append(f.Audit,
		event("customer_settings_update", "gina@example.com", qt.T("2025-06-02 17:00"), "", "max_active_tokens removed"),
		event("customer_settings_update", "gina@example.com", qt.T("2025-06-11 07:30"), "", "max_active_tokens 16, tokens_required off"),
		event("customer_settings_update", "hal@example.com", qt.T("2025-06-21 07:00"), "", "tokens_required on"),
	)
	return f
}
