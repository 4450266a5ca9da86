package falcontest

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Seeding simulates the tenant's history over [End-Span, End]: event timestamps are drawn first (uniform
// seconds plus bursts sharing one timestamp), then walked in order, each becoming an API change applied to a
// simulated token set. The audit trail therefore tells the lifecycle of the tokens that exist at End:
// their creation (for most), renames, expiry changes, revocations and restores. Bulk filler is the churn of
// short-lived (CI, autoscaling) tokens created and deleted along the way, plus settings changes that end in
// the configured settings. Tokens older than the window have no creation event, as with a retention limit.

var (
	firstNames = []string{"jane", "sam", "priya", "li", "omar", "anna", "diego", "kim", "noah", "fatima", "lukas", "mei"}
	lastNames  = []string{"doe", "lee", "patel", "chen", "haddad", "novak", "garcia", "park", "smith", "okafor", "weber", "tanaka"}
	labelOS    = []string{"Windows", "Linux", "macOS", "Ubuntu", "RHEL", "Amazon Linux", "Kubernetes", "Debian", "Windows Server 2022", "ChromeOS"}
	labelUse   = []string{"servers", "workstations", "laptops", "build agents", "VDI", "DMZ hosts", "domain controllers", "kiosks", "POS terminals", "web tier", "database hosts", "golden image"}
	labelEnv   = []string{"prod", "staging", "dev", "EU", "US", "APAC", "HQ", "lab", "DR"}
)

// tenantActors returns the people and automation acting in a tenant: a few humans on the tenant's domain and
// the tenant's API clients.
func tenantActors(r interface{ IntN(int) int }, index int, clients []*apiClient) []string {
	domain := "example.com"
	if index > 0 {
		domain = fmt.Sprintf("customer%d.example.com", index+1)
	}
	seen := map[string]bool{}
	var out []string
	for len(out) < 5 {
		a := firstNames[r.IntN(len(firstNames))] + "." + lastNames[r.IntN(len(lastNames))] + "@" + domain
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	out = append(out, "it-security@"+domain)
	for _, c := range clients {
		out = append(out, c.ID)
	}
	return out
}

type seeder struct {
	t      *Tenant
	a      *auditStore
	strIx  map[string]uint32
	labels map[string]int // survivor labels in use → count, for uniqueness
	frac   bool
}

func (s *seeder) intern(str string) uint32 {
	if ix, ok := s.strIx[str]; ok {
		return ix
	}
	ix := uint32(len(s.a.strs))
	s.a.strs = append(s.a.strs, str)
	s.strIx[str] = ix
	return ix
}

func (s *seeder) survivorLabel() string {
	r := s.t.rng
	var base string
	switch r.IntN(3) {
	case 0:
		base = labelOS[r.IntN(len(labelOS))] + " " + labelUse[r.IntN(len(labelUse))]
	default:
		base = labelOS[r.IntN(len(labelOS))] + " " + labelUse[r.IntN(len(labelUse))] + " " + labelEnv[r.IntN(len(labelEnv))]
	}
	n := s.labels[base]
	s.labels[base] = n + 1
	if n > 0 {
		return fmt.Sprintf("%s %d", base, n+1)
	}
	return base
}

func (s *seeder) ephemeralLabel() string {
	r := s.t.rng
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("ci-runner-%04d", r.IntN(5000))
	case 1:
		return fmt.Sprintf("autoscale-%s-%03d", strings.ToLower(labelEnv[r.IntN(len(labelEnv))]), r.IntN(1000))
	}
	return fmt.Sprintf("temp %s %s", labelOS[r.IntN(len(labelOS))], labelUse[r.IntN(len(labelUse))])
}

// burstSizes: the largest burst, then halving sizes (two of each) within a budget.
func burstSizes(ties, n int) []int {
	if ties < 2 {
		return nil
	}
	sizes := []int{ties}
	budget := min(n/2, n-ties)
	for s := ties / 2; s >= 2; s /= 2 {
		for range 2 {
			if budget >= s {
				sizes = append(sizes, s)
				budget -= s
			}
		}
	}
	return sizes
}

type simTok struct {
	tok       *token
	ephemeral bool
	livePos   int
	ephPos    int
}

// seed fills the tenant. t.mu need not be held: the tenant is not shared yet.
func (t *Tenant) seed(tc TenantConfig, end time.Time, frac bool) {
	r := t.rng
	a := t.audit
	s := &seeder{t: t, a: a, strIx: map[string]uint32{}, labels: map[string]int{}, frac: frac}
	n, nTokens := tc.Events, tc.Tokens
	span := tc.Span
	if span == 0 {
		span = DefaultSpan
	}
	endSec := end.Unix()
	startSec := endSec - int64(span/time.Second)
	randSec := func() int64 { return startSec + r.Int64N(endSec-startSec+1) }

	actorIx := make([]uint32, len(t.actors))
	for i, act := range t.actors {
		actorIx[i] = s.intern(act)
		t.actorIx[act] = actorIx[i]
	}
	humans := len(t.actors) - len(t.clients)
	pickActor := func() uint32 {
		if r.IntN(10) < 4 { // automation through an API client
			return actorIx[humans+r.IntN(len(t.clients))]
		}
		return actorIx[r.IntN(humans)]
	}

	// Timestamps: bursts first, then uniform seconds (with microseconds when fractional), sorted.
	times := make([]int64, 0, n)
	burstActor := map[int64]uint32{}
	for _, size := range burstSizes(tc.Ties, n) {
		ts := randSec() * 1e9
		for range size {
			times = append(times, ts)
		}
		burstActor[ts] = actorIx[humans+r.IntN(len(t.clients))]
	}
	for len(times) < n {
		ts := randSec() * 1e9
		if frac {
			ts += r.Int64N(1e6) * 1e3
		}
		times = append(times, ts)
	}
	slices.Sort(times)

	a.ts = times
	a.act = make([]action, n)
	a.dkind = make([]descKind, n)
	a.actor = make([]uint32, n)
	a.desc = make([]uint32, n)
	a.arg = make([]uint32, n)
	a.tok = make([]int32, n)

	// Which events create the tokens that survive to End; the rest of the survivors predate the window.
	churn := BusyChurn
	if tc.Churn != nil {
		churn = *tc.Churn
	}
	older := int(math.Floor(float64(nTokens)*(1-churn.CreatedInWindow) + 1e-9)) // survivors from before the span
	inWindow := min(n, nTokens-older)
	createAt := make([]bool, n)
	for i, need := 0, inWindow; i < n && need > 0; i++ {
		if r.Int64N(int64(n-i)) < int64(need) {
			createAt[i] = true
			need--
		}
	}
	survivorCreatesLeft := inWindow

	var live, eph []*simTok
	addLive := func(st *simTok) {
		st.livePos = len(live)
		live = append(live, st)
		if st.ephemeral {
			st.ephPos = len(eph)
			eph = append(eph, st)
		}
	}
	removeLive := func(st *simTok) {
		last := live[len(live)-1]
		live[st.livePos], last.livePos = last, st.livePos
		live = live[:len(live)-1]
		if st.ephemeral {
			last := eph[len(eph)-1]
			eph[st.ephPos], last.ephPos = last, st.ephPos
			eph = eph[:len(eph)-1]
		}
	}
	newToken := func(label string, created time.Time, ephemeral bool) *token {
		raw := randomID(r)
		tok := &token{id: idString(raw), label: label, typ: "customer_managed", value: t.newValue(), created: created}
		tok.ref = int32(len(a.tokRefs))
		a.tokRefs = append(a.tokRefs, raw)
		t.values[tok.value] = true
		days := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * 24 * time.Hour }
		switch p := r.IntN(100); {
		case ephemeral && p < 70:
			tok.expires = created.Add(days(1, 14)).Truncate(time.Second)
		case ephemeral:
		case p < 40:
		case p < 85:
			tok.expires = created.Add(days(90, 365)).Truncate(time.Second)
		default:
			tok.expires = created.Add(days(7, 30)).Truncate(time.Second)
		}
		return tok
	}

	// Tokens from before the window.
	for range nTokens - inWindow {
		created := time.Unix(startSec-1-r.Int64N(365*24*3600), 0).UTC()
		tok := newToken(s.survivorLabel(), created, false)
		if r.IntN(10) < 2 {
			tok.revoked = time.Unix(created.Unix()+r.Int64N(startSec-created.Unix()), 0).UTC()
		}
		addLive(&simTok{tok: tok})
	}

	target := max(8, nTokens/10) // typical number of short-lived tokens alive at once
	var settingsAt []int
	for i := 0; i < n; i++ {
		ts := time.Unix(0, times[i]).UTC()
		actor, ok := burstActor[times[i]]
		if !ok {
			actor = pickActor()
		}
		a.actor[i] = actor
		event := func(act action, ref int32, d desc) {
			a.act[i], a.tok[i] = act, ref
			a.setDesc(uint32(i), d, s.intern)
		}
		if createAt[i] {
			survivorCreatesLeft--
			tok := newToken(s.survivorLabel(), ts, false)
			addLive(&simTok{tok: tok})
			event(actTokenCreate, tok.ref, desc{kind: descCreated, label: tok.label})
			continue
		}
		free := (n - i) - survivorCreatesLeft // slots left for everything but survivor creations, this one included
		ne := len(eph)
		var wCreate, wDelete, wUpdate, wStatus float64
		if ne+2 <= free {
			wCreate = churn.ShortLived / 2 * max(0, 1-float64(ne)/float64(2*target))
		}
		if ne > 0 {
			wDelete = churn.ShortLived / 2 * min(1, float64(ne)/float64(target))
		}
		if len(live) > 0 {
			wUpdate, wStatus = churn.Update, churn.Status
		}
		wSettings := churn.Settings
		x := r.Float64() * (wCreate + wDelete + wUpdate + wStatus + wSettings)
		switch {
		case ne > 0 && ne >= free: // every short-lived token must be gone by End
			fallthrough
		case x >= wCreate && x < wCreate+wDelete:
			st := eph[r.IntN(ne)]
			removeLive(st)
			delete(t.values, st.tok.value)
			event(actTokenDelete, st.tok.ref, desc{kind: descDeleted, label: st.tok.label})
		case x < wCreate:
			tok := newToken(s.ephemeralLabel(), ts, true)
			addLive(&simTok{tok: tok, ephemeral: true})
			event(actTokenCreate, tok.ref, desc{kind: descCreated, label: tok.label})
		case x < wCreate+wDelete+wUpdate:
			st := live[r.IntN(len(live))]
			tok := st.tok
			if r.IntN(100) < 55 {
				label := tok.label
				for label == tok.label {
					if st.ephemeral {
						label = s.ephemeralLabel()
					} else {
						label = s.survivorLabel()
					}
				}
				event(actTokenUpdate, tok.ref, desc{kind: descRenamed, label: tok.label, label2: label})
				tok.label = label
			} else if !tok.expires.IsZero() && r.IntN(4) == 0 {
				tok.expires = time.Time{}
				event(actTokenUpdate, tok.ref, desc{kind: descExpiryRemoved, label: tok.label})
			} else {
				tok.expires = ts.Add(time.Duration(30+r.IntN(336)) * 24 * time.Hour).Truncate(time.Second)
				event(actTokenUpdate, tok.ref, desc{kind: descExpirySet, label: tok.label, at: tok.expires})
			}
		case x < wCreate+wDelete+wUpdate+wStatus:
			tok := live[r.IntN(len(live))].tok
			if tok.revoked.IsZero() {
				tok.revoked = ts.Truncate(time.Microsecond)
				event(actTokenRevoke, tok.ref, desc{kind: descRevoked, label: tok.label})
			} else {
				tok.revoked = time.Time{}
				event(actTokenRestore, tok.ref, desc{kind: descRestored, label: tok.label})
			}
		default:
			a.act[i], a.tok[i] = actSettingsUpdate, -1
			settingsAt = append(settingsAt, i)
		}
	}

	// Settings history: walk back from the configured final settings, one effective change per event.
	final := settings{tokensRequired: tc.TokensRequired}
	if tc.MaxActiveTokens != nil {
		final.maxActive = *tc.MaxActiveTokens
	}
	state := final
	choices := []int64{0, int64(nTokens) + 10, int64(nTokens)*2 + 5, 50, 100, 250, 500, 1000}
	for k := len(settingsAt) - 1; k >= 0; k-- {
		prev := state
		if r.IntN(2) == 0 {
			prev.tokensRequired = !prev.tokensRequired
			a.desc[settingsAt[k]] = s.intern(fmt.Sprintf("tokens_required changed from %t to %t", prev.tokensRequired, state.tokensRequired)) // descRaw
		} else {
			for prev.maxActive == state.maxActive {
				prev.maxActive = choices[r.IntN(len(choices))]
			}
			a.desc[settingsAt[k]] = s.intern(describeMaxActive(prev.maxActive, state.maxActive))
		}
		state = prev
	}
	t.settings = final

	// Surviving tokens; installs advanced last_used without audit events.
	endT := time.Unix(endSec, 0).UTC()
	for _, st := range live {
		tok := st.tok
		until := endT
		if !tok.revoked.IsZero() {
			until = tok.revoked
		}
		if !tok.expires.IsZero() && tok.expires.Before(until) {
			until = tok.expires
		}
		if d := until.Sub(tok.created); d > time.Second && r.IntN(4) != 0 {
			tok.lastUsed = tok.created.Add(time.Duration(r.Int64N(int64(d)))).Truncate(time.Second)
			if frac {
				tok.lastUsed = tok.lastUsed.Add(time.Duration(r.Int64N(1e6)) * time.Microsecond)
			}
		}
		t.tokens[tok.id] = tok
	}

	// Late arrivals, then the (timestamp, id) index of what is visible at End.
	endNs := end.UnixNano()
	visible := make([]uint32, 0, n)
	lateMax := int64(t.lateMax)
	for i := 0; i < n; i++ {
		seq := uint32(i)
		if tc.LateFraction > 0 && r.Float64() < tc.LateFraction {
			at := times[i] + 1 + r.Int64N(lateMax)
			a.late[seq] = at
			if at > endNs {
				a.setHidden(seq, true)
				a.pending = append(a.pending, pendingEvent{at: at, seq: seq})
				continue
			}
		}
		visible = append(visible, seq)
	}
	heap.Init(&a.pending)
	a.sortTies(visible)
	a.index.build(visible)
}
