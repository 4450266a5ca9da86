package falcontest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Activity configures RunActivity.
type Activity struct {
	// Interval between steps; each step changes every tenant once. 0 means one second.
	Interval time.Duration
	// Actors credited with changes; empty means each tenant's own people and API clients.
	Actors []string
	// Rand seeds the choice of changes.
	Rand int64
	// Steady makes the changes a believable tenant's: most steps are sensor installs, a few create or edit
	// tokens, revocations are occasional and deletions and settings changes rare (one step in a hundred or
	// two). Otherwise steps change tokens busily: a benchmark's load.
	Steady bool
}

// RunActivity keeps every tenant busy until ctx ends, then returns nil: sensor installs (the most common
// step), tokens created, renamed, given or stripped of an expiry, revoked, restored and deleted, and settings
// changed, each with the audit events the API would write. Late arrivals follow the tenant's LateFraction.
// The token population stays near its starting size, and creations respect max_active_tokens.
func (e *Emulator) RunActivity(ctx context.Context, a Activity) error {
	if a.Interval < 0 {
		return fmt.Errorf("falcontest: activity interval %v is negative", a.Interval)
	}
	if a.Interval == 0 {
		a.Interval = time.Second
	}
	r := rand.New(rand.NewPCG(uint64(a.Rand), 0x9e3779b97f4a7c15))
	base := make([]int, len(e.tenants))
	for i, t := range e.tenants {
		t.mu.RLock()
		base[i] = max(len(t.tokens), 5)
		t.mu.RUnlock()
	}
	tick := time.NewTicker(a.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for i, t := range e.tenants {
			actors := a.Actors
			if len(actors) == 0 {
				actors = t.actors
			}
			t.activityStep(r, actors[r.IntN(len(actors))], base[i], a.Steady)
		}
	}
}

var labelSuffix = []string{"v2", "legacy", "2025", "rotated", "(temp)", "new"}

func (t *Tenant) activityStep(r *rand.Rand, actor string, base int, steady bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.emu.now()
	var ids []string
	for id := range t.tokens {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		t.createLocked(actor, t.activityLabel(r), "customer_managed", nil, t.lateDelay())
		return
	}
	// Map iteration order is random; sort for reproducible choices.
	slices.Sort(ids)
	tok := t.tokens[ids[r.IntN(len(ids))]]
	delay := t.lateDelay()
	x := r.IntN(100)
	if steady {
		x = steadyStep(r)
	}
	switch {
	case len(ids) > base*3/2 && x < 60, x >= 88 && x < 97 && len(ids) > base/2:
		t.deleteLocked(actor, tok, delay)
	case x < 35:
		if tok.revoked.IsZero() && (tok.expires.IsZero() || tok.expires.After(now)) {
			tok.lastUsed = t.emu.stamp(now)
		}
	case x < 50:
		var exp *time.Time
		if r.IntN(2) == 0 {
			v := now.Add(time.Duration(7+r.IntN(180)) * 24 * time.Hour)
			exp = &v
		}
		if _, err := t.createLocked(actor, t.activityLabel(r), "customer_managed", exp, delay); errors.Is(err, ErrMaxActiveTokens) {
			v := true
			t.patchLocked(actor, tok, tokenPatch{revoked: &v}, delay)
		}
	case x < 60:
		label := tok.label + " " + labelSuffix[r.IntN(len(labelSuffix))]
		t.patchLocked(actor, tok, tokenPatch{label: &label}, delay)
	case x < 70:
		p := tokenPatch{setExpiry: true}
		if tok.expires.IsZero() || r.IntN(3) > 0 {
			v := now.Add(time.Duration(30+r.IntN(335)) * 24 * time.Hour)
			p.expires = &v
		}
		t.patchLocked(actor, tok, p, delay)
	case x < 80:
		v := true
		t.patchLocked(actor, tok, tokenPatch{revoked: &v}, delay)
	case x < 86:
		v := false
		t.patchLocked(actor, tok, tokenPatch{revoked: &v}, delay)
	default:
		if r.IntN(2) == 0 {
			v := !t.settings.tokensRequired
			t.settingsLocked(actor, &v, nil, delay)
		} else {
			v := int64(base + 10 + r.IntN(base*2+1))
			t.settingsLocked(actor, nil, &v, delay)
		}
	}
}

func (t *Tenant) activityLabel(r *rand.Rand) string {
	return labelOS[r.IntN(len(labelOS))] + " " + labelUse[r.IntN(len(labelUse))] + " " + labelEnv[r.IntN(len(labelEnv))]
}

// steadyStep draws a step for a steady tenant, as a value of the busy
// draw's range that selects the same kind of change: 80% installs, 8%
// creations, 4% renames, 4% expiry changes, 2% revocations, 1% restores,
// 0.5% deletions, 0.5% settings changes.
func steadyStep(r *rand.Rand) int {
	switch x := r.IntN(1000); {
	case x < 800:
		return 0 // use
	case x < 880:
		return 35 // create
	case x < 920:
		return 50 // rename
	case x < 960:
		return 60 // expiry
	case x < 980:
		return 70 // revoke
	case x < 990:
		return 80 // restore
	case x < 995:
		return 88 // delete (when enough tokens remain)
	}
	return 97 // settings
}
