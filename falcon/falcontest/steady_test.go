package falcontest

import (
	"context"
	"testing"
	"time"
)

// TestSteadyTenant: the demo's tenant reads like a real one. Three hundred
// tokens, most older than the month of history; a few hundred events,
// mostly edits; deletions rare; settings changed at most a few times; a
// handful of actors. The busy default, for contrast, deletes tokens by the
// hundred with the same sizes.
func TestSteadyTenant(t *testing.T) {
	seed := func(churn *Churn) (*Tenant, map[string]int, map[string]bool) {
		e, err := New(Config{Seed: 7, Clock: NewClock(t0), Tenants: []TenantConfig{{Tokens: 300, Events: 400, TokensRequired: true, Churn: churn}}})
		if err != nil {
			t.Fatal(err)
		}
		tn := e.Tenants()[0]
		actions, actors := map[string]int{}, map[string]bool{}
		for _, ev := range tn.AuditEvents(false) {
			actions[ev.Action]++
			actors[ev.Actor] = true
		}
		return tn, actions, actors
	}
	tn, actions, actors := seed(&SteadyChurn)
	if n := len(tn.Tokens()); n != 300 {
		t.Errorf("%d tokens, want 300", n)
	}
	weekly := float64(tn.AuditEventCount()) / (float64(DefaultSpan) / float64(7*24*time.Hour))
	if weekly < 3 || weekly > 300 {
		t.Errorf("%.0f events a week", weekly)
	}
	old := 0
	for _, tok := range tn.Tokens() {
		if tok.CreatedTimestamp.Before(t0.Add(-DefaultSpan)) {
			old++
		}
	}
	if old < 240 {
		t.Errorf("%d of 300 tokens predate the history; a steady tenant's are mostly old", old)
	}
	if d := actions["token_delete"]; d > 20 {
		t.Errorf("%d deletions in a month: %v", d, actions)
	}
	if r := actions["token_revoke"]; r < 5 || r > 60 {
		t.Errorf("%d revocations in a month: %v", r, actions)
	}
	if s := actions["customer_settings_update"]; s > 5 {
		t.Errorf("%d settings changes in a month: %v", s, actions)
	}
	if len(actors) > 10 {
		t.Errorf("%d actors", len(actors))
	}
	if _, busy, _ := seed(nil); busy["token_delete"] < 5*max(1, actions["token_delete"]) {
		t.Errorf("busy default deletes %d, steady %d: the profiles do not differ", busy["token_delete"], actions["token_delete"])
	}

	// Steady activity: mostly installs, deletions and settings changes rare.
	e, err := New(Config{Seed: 7, Tenants: []TenantConfig{{Tokens: 300, Events: 400, Churn: &SteadyChurn}}})
	if err != nil {
		t.Fatal(err)
	}
	tn = e.Tenants()[0]
	before := tn.AuditEventCount()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.RunActivity(ctx, Activity{Interval: time.Millisecond, Rand: 1, Steady: true}); err != nil {
		t.Fatal(err)
	}
	after := map[string]int{}
	all := tn.AuditEvents(false)
	for _, ev := range all[before:] {
		after[ev.Action]++
	}
	changes := len(all) - before
	if changes == 0 || after["token_delete"]*20 > changes+20 || after["customer_settings_update"]*20 > changes+20 {
		t.Errorf("steady activity: %d changes %v", changes, after)
	}
}
