package queries_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/schema"
)

// runReport runs a report as of querytest.ScenarioNow and returns the rows
// of each section as column-name maps.
func runReport(t *testing.T, conn driver.Conn, name string, given map[string]string) map[string][]map[string]any {
	t.Helper()
	r, err := queries.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Resolve(given, querytest.ScenarioNow)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := queries.Run(ctx, conn, r, v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, tab := range res.Tables {
		rows := []map[string]any{}
		for _, row := range tab.Rows {
			m := map[string]any{}
			for i, c := range tab.Columns {
				m[c.Name] = row[i]
			}
			rows = append(rows, m)
		}
		out[tab.Section.Name] = rows
	}
	return out
}

func TestScenarioReports(t *testing.T) {
	s := chtest.Start(t)
	_, conn := querytest.NewDatabase(t, s)
	f := querytest.Scenario()
	if err := querytest.Load(context.Background(), conn, f); err != nil {
		t.Fatal(err)
	}
	// Load the audit trail a second time, as a redelivering sink would:
	// every count below must stay the same.
	if err := querytest.Load(context.Background(), conn, querytest.Fixture{Audit: f.Audit}); err != nil {
		t.Fatal(err)
	}
	all := map[string]map[string][]map[string]any{}
	for _, name := range queries.Names() {
		all[name] = runReport(t, conn, name, nil)
		for section, rows := range all[name] {
			for _, row := range rows {
				if s := fmt.Sprint(row); strings.Contains(s, "Other tenant") || strings.Contains(s, "mallory") || strings.Contains(s, querytest.TokenID(99)) {
					t.Errorf("%s/%s shows tenant other: %v", name, section, row)
				}
			}
		}
	}
	if n := len(all["token-inventory"]["tokens"]); n != 11 {
		t.Errorf("inventory has %d tokens, want 11", n)
	}
	var alice map[string]any
	for _, row := range all["admin-activity"]["per_actor"] {
		if row["actor"] == "alice@example.com" {
			alice = row
		}
	}
	// In the period alice restored token 9 and changed settings once.
	if alice == nil || alice["actions"] != uint64(2) || alice["restored"] != uint64(1) || alice["settings_changed"] != uint64(1) {
		t.Errorf("alice in per_actor = %v", alice)
	}
	if n := len(all["admin-activity"]["per_day"]); n != 31 {
		t.Errorf("per_day has %d days, want 31 (every day of the period)", n)
	}
	used := map[string]any{}
	for _, row := range all["token-usage"]["per_day"] {
		used[row["day"].(time.Time).Format(time.DateOnly)] = [2]any{row["tokens_used"], row["uses_observed"]}
	}
	if got := used["2025-06-20"]; got != [2]any{uint64(2), uint64(2)} {
		t.Errorf("2025-06-20 usage = %v, want 2 tokens, 2 uses", got)
	}
	if got := used["2025-06-29"]; got != [2]any{uint64(1), uint64(2)} {
		t.Errorf("2025-06-29 usage = %v, want 1 token, 2 uses", got)
	}
	stale := all["stale-tokens"]["stale"]
	if len(stale) != 2 || stale[0]["token_id"] != querytest.TokenID(4) || stale[1]["token_id"] != querytest.TokenID(3) {
		t.Errorf("stale = %v, want tokens 4 (never used) and 3 (unused)", stale)
	}
	exp := all["expiring-tokens"]["expiring"]
	if len(exp) != 2 || exp[0]["token_id"] != querytest.TokenID(2) || exp[0]["days_left"] != 4.0 {
		t.Errorf("expiring = %v", exp)
	}
	lim := all["policy-findings"]["active_vs_limit"]
	if len(lim) != 31 || lim[30]["active_tokens"] != uint64(7) || lim[30]["max_active_tokens"] != int64(8) || lim[0]["active_tokens"] != uint64(9) {
		t.Errorf("active_vs_limit first/last = %v / %v", lim[0], lim[len(lim)-1])
	}
	var nine map[string]any
	for _, row := range all["token-lifecycle"]["tokens"] {
		if row["token_id"] == querytest.TokenID(9) {
			nine = row
		}
	}
	// Created 2025-04-01 09:00, revoked for two days, now 2025-06-30 12:00: 88.1 active days.
	if nine == nil || nine["active_days"] != 88.1 || nine["revocations"] != uint64(1) || nine["restores"] != uint64(1) {
		t.Errorf("lifecycle of token 9 = %v", nine)
	}

	// Filters and parameters reach the SQL as bound values.
	one := runReport(t, conn, "token-lifecycle", map[string]string{"label": "*PROD*"})
	if n := len(one["tokens"]); n != 1 || one["tokens"][0]["token_id"] != querytest.TokenID(9) {
		t.Errorf("label filter: %v", one["tokens"])
	}
	quote := runReport(t, conn, "token-lifecycle", map[string]string{"label": "x' OR 1=1 --"})
	if n := len(quote["tokens"]); n != 0 {
		t.Errorf("a quote in a parameter changed the query: %d rows", n)
	}
	byID := runReport(t, conn, "token-lifecycle", map[string]string{"token": querytest.TokenID(3)})
	if n := len(byID["timeline"]); n != 2 { // created, first_use: outside the period, but asked for by id
		t.Errorf("token filter timeline: %v", byID["timeline"])
	}
	// Creation and deletion actors come from the whole audit trail, not only
	// the period: token 8 was created in January and deleted on 2025-06-16.
	gone := runReport(t, conn, "token-lifecycle", map[string]string{"token": querytest.TokenID(8), "since": "2025-06-20"})
	if rows := gone["tokens"]; len(rows) != 1 || rows[0]["created_by"] != "alice@example.com" ||
		rows[0]["deleted_by"] != "bob@example.com" || fmt.Sprint(rows[0]["deleted_at"]) != fmt.Sprint(querytest.T("2025-06-16 09:00")) {
		t.Errorf("token 8 before the period: %v", rows)
	}
	if rows := gone["timeline"]; len(rows) != 2 || rows[0]["event"] != "created" || rows[1]["event"] != "first_use" {
		t.Errorf("token 8 timeline: %v", rows)
	}
	if n := len(runReport(t, conn, "stale-tokens", map[string]string{"days": "10"})["stale"]); n != 4 {
		t.Errorf("stale with days=10: %d rows, want 4", n)
	}
}

// finding is one expected (or forbidden) row of policy-findings.
type finding struct{ severity, subject, actor string }

func TestPolicyFindings(t *testing.T) {
	s := chtest.Start(t)
	const d = querytest.Tenant
	tok := func(n int, label, created string, expires *time.Time) *querytest.TokenBuilder {
		return querytest.NewToken(d, querytest.TokenID(n), label, created, expires)
	}
	revoke := func(at string) func(*schema.Token) {
		return func(t *schema.Token) { t.Status, t.RevokedTimestamp = "revoked", querytest.P(at) }
	}
	restore := func(t *schema.Token) { t.Status, t.RevokedTimestamp = "valid", nil }
	deleted := func(t *schema.Token) { t.Deleted = true }
	validTokens := func(n int) querytest.Fixture {
		var f querytest.Fixture
		for i := 1; i <= n; i++ {
			f.Add(tok(i, fmt.Sprint("t", i), "2025-06-01 09:00", querytest.P("2026-01-01 00:00")).Fixture())
		}
		return f
	}
	withSettings := func(f querytest.Fixture, s ...schema.Settings) querytest.Fixture {
		f.Settings = append(f.Settings, s...)
		return f
	}
	settingsEvent := func(id int, actor, at string) schema.AuditEvent {
		return querytest.Event(d, id, "customer_settings_update", actor, at, "", "settings changed")
	}
	cases := []struct {
		name    string
		finding string
		fixture querytest.Fixture
		want    []finding // empty: the finding must not appear
	}{
		{"tokens_required off", "tokens_required_disabled", querytest.Fixture{
			Settings: []schema.Settings{querytest.Settings(d, "2025-03-01 08:00", 0, true),
				querytest.Settings(d, "2025-06-10 09:00", 0, false), querytest.Settings(d, "2025-06-11 09:00", 0, false)},
			Audit: []schema.AuditEvent{settingsEvent(1, "bob", "2025-03-01 07:00"), settingsEvent(2, "alice", "2025-06-10 08:58")},
		}, []finding{{"high", d, "alice"}}},
		{"tokens_required off then on", "tokens_required_disabled", querytest.Fixture{
			Settings: []schema.Settings{querytest.Settings(d, "2025-03-01 08:00", 0, true),
				querytest.Settings(d, "2025-06-10 09:00", 0, false), querytest.Settings(d, "2025-06-12 09:00", 0, true)},
		}, nil},

		{"9 of 10 active", "active_tokens_near_limit",
			withSettings(validTokens(9), querytest.Settings(d, "2025-03-01 08:00", 10, true)), []finding{{"medium", d, ""}}},
		{"5 of 5 active", "active_tokens_near_limit",
			withSettings(validTokens(5), querytest.Settings(d, "2025-03-01 08:00", 5, true)), []finding{{"high", d, ""}}},
		{"8 of 10 active", "active_tokens_near_limit",
			withSettings(validTokens(8), querytest.Settings(d, "2025-03-01 08:00", 10, true)), nil},
		{"limit removed", "active_tokens_near_limit",
			withSettings(validTokens(8), querytest.Settings(d, "2025-03-01 08:00", 5, true), querytest.Settings(d, "2025-04-01 08:00", 0, true)), nil},

		{"valid without expiry", "token_without_expiry",
			tok(1, "forever", "2025-06-01 09:00", nil).Event(1, "token_create", "carol", "2025-06-01 09:00", "").Fixture(),
			[]finding{{"low", querytest.TokenID(1), "carol"}}},
		{"revoked or expiring", "token_without_expiry", func() querytest.Fixture {
			f := tok(1, "revoked forever", "2025-06-01 09:00", nil).Change("2025-06-02 09:00", revoke("2025-06-02 09:00")).Fixture()
			f.Add(tok(2, "expires", "2025-06-01 09:00", querytest.P("2025-12-01 00:00")).Fixture())
			return f
		}(), nil},

		{"used after revoke", "used_after_revocation",
			tok(1, "c", "2025-01-15 09:00", nil).Change("2025-06-01 10:00", revoke("2025-06-01 10:00")).
				Event(1, "token_revoke", "bob", "2025-06-01 10:00", "").Use("2025-06-03 07:00").Fixture(),
			[]finding{{"high", querytest.TokenID(1), "bob"}}},
		{"used after restore", "used_after_revocation",
			tok(1, "r", "2025-04-01 09:00", nil).Use("2025-05-01 09:00").Change("2025-06-05 09:00", revoke("2025-06-05 09:00")).
				Change("2025-06-07 09:00", restore).Use("2025-06-08 12:00").Fixture(), nil},

		{"deleted while valid", "deleted_without_revoke",
			tok(1, "t", "2025-06-12 09:00", nil).Change("2025-06-12 09:20", deleted).
				Event(1, "token_delete", "dave", "2025-06-12 09:20", "").Fixture(),
			[]finding{{"low", querytest.TokenID(1), "dave"}}},
		{"deleted unseen by audit", "deleted_without_revoke",
			tok(1, "t", "2025-06-12 09:00", nil).Change("2025-06-14 09:00", deleted).Fixture(),
			[]finding{{"low", querytest.TokenID(1), ""}}},
		{"revoked then deleted", "deleted_without_revoke",
			tok(1, "t", "2025-01-20 09:00", nil).Change("2025-06-15 09:00", revoke("2025-06-15 09:00")).
				Event(1, "token_revoke", "bob", "2025-06-15 09:00", "").
				Change("2025-06-16 09:00", deleted).Event(2, "token_delete", "bob", "2025-06-16 09:00", "").Fixture(), nil},

		{"limit lowered", "settings_changed", querytest.Fixture{
			Settings: []schema.Settings{querytest.Settings(d, "2025-03-01 08:00", 20, true), querytest.Settings(d, "2025-06-20 10:00", 8, true)},
			Audit:    []schema.AuditEvent{settingsEvent(1, "eve", "2025-03-01 07:00"), settingsEvent(2, "bob", "2025-06-20 09:59")},
		}, []finding{{"info", d, "bob"}}},
		{"limit raised", "settings_changed", querytest.Fixture{
			Settings: []schema.Settings{querytest.Settings(d, "2025-03-01 08:00", 8, true), querytest.Settings(d, "2025-06-20 10:00", 20, true)},
			Audit:    []schema.AuditEvent{settingsEvent(1, "bob", "2025-06-01 07:00")},
		}, []finding{{"medium", d, "bob"}}},
		{"unchanged re-collection", "settings_changed", querytest.Fixture{
			Settings: []schema.Settings{querytest.Settings(d, "2025-03-01 08:00", 20, true), querytest.Settings(d, "2025-06-20 10:00", 20, true)},
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.finding+"/"+tc.name, func(t *testing.T) {
			_, conn := querytest.NewDatabase(t, s)
			if err := querytest.Load(context.Background(), conn, tc.fixture); err != nil {
				t.Fatal(err)
			}
			var got []finding
			for _, row := range runReport(t, conn, "policy-findings", nil)["findings"] {
				if row["finding"] == tc.finding {
					got = append(got, finding{row["severity"].(string), row["subject"].(string), row["actor"].(string)})
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s findings = %v, want %v", tc.finding, got, tc.want)
			}
		})
	}
}

// A token the collector first sees already revoked (created before the
// first collection) was active from its creation to its revocation.
func TestLifecycleFirstSeenRevoked(t *testing.T) {
	s := chtest.Start(t)
	_, conn := querytest.NewDatabase(t, s)
	const d = querytest.Tenant
	revoke := func(at string) func(*schema.Token) {
		return func(t *schema.Token) { t.Status, t.RevokedTimestamp = "revoked", querytest.P(at) }
	}
	first := querytest.NewToken(d, querytest.TokenID(1), "seen revoked", "2025-01-01 09:00", nil).
		Change("2025-03-01 09:00", revoke("2025-03-01 09:00")).Fixture()
	first.Tokens = first.Tokens[1:] // no collection before the revocation
	always := querytest.NewToken(d, querytest.TokenID(2), "seen valid", "2025-01-01 09:00", nil).
		Change("2025-03-01 09:00", revoke("2025-03-01 09:00")).Fixture()
	var f querytest.Fixture
	f.Add(first)
	f.Add(always)
	if err := querytest.Load(context.Background(), conn, f); err != nil {
		t.Fatal(err)
	}
	rows := runReport(t, conn, "token-lifecycle", map[string]string{"label": "seen*"})["tokens"]
	if len(rows) != 2 {
		t.Fatalf("tokens = %v", rows)
	}
	for _, row := range rows {
		// 2025-01-01 09:00 to 2025-03-01 09:00: 59 days, one revocation either way.
		if row["active_days"] != 59.0 || row["revocations"] != uint64(1) || row["state"] != "revoked" {
			t.Errorf("%s: active_days %v, revocations %v, state %v; want 59, 1, revoked",
				row["label"], row["active_days"], row["revocations"], row["state"])
		}
	}
}
