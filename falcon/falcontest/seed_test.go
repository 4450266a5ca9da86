package falcontest

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func seededConfig(seed int64) Config {
	return Config{Seed: seed, Clock: NewClock(t0), Tenants: []TenantConfig{
		{Tokens: 80, Events: 6000, Ties: 1500, LateFraction: 0.05, MaxActiveTokens: ptr(int64(200)), TokensRequired: true},
		{Region: "eu-1", Tokens: 10, Events: 300},
	}}
}

func TestDeterministicSeed(t *testing.T) {
	a, err := New(seededConfig(7))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(seededConfig(7))
	c, _ := New(seededConfig(8))
	for i := range a.Tenants() {
		ta, tb, tc := a.Tenants()[i], b.Tenants()[i], c.Tenants()[i]
		if ta.CID() != tb.CID() || ta.CID() == tc.CID() {
			t.Fatalf("CIDs %s %s %s", ta.CID(), tb.CID(), tc.CID())
		}
		if !reflect.DeepEqual(ta.Clients(), tb.Clients()) {
			t.Fatal("clients differ for one seed")
		}
		if !reflect.DeepEqual(ta.Tokens(), tb.Tokens()) || reflect.DeepEqual(ta.Tokens(), tc.Tokens()) {
			t.Fatal("tokens are not a function of the seed")
		}
		if !reflect.DeepEqual(ta.AuditEvents(false), tb.AuditEvents(false)) || reflect.DeepEqual(ta.AuditEvents(false), tc.AuditEvents(false)) {
			t.Fatal("audit events are not a function of the seed")
		}
		if !reflect.DeepEqual(ta.Settings(), tb.Settings()) {
			t.Fatal("settings differ")
		}
	}
	// Writes after construction are deterministic too.
	ida, _ := a.Tenants()[1].CreateToken("x", "y", nil)
	idb, _ := b.Tenants()[1].CreateToken("x", "y", nil)
	if ida != idb {
		t.Fatal("created token IDs differ for one seed")
	}
}

func TestSeededTenantShape(t *testing.T) {
	e, err := New(seededConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	tn := e.Tenants()[0]
	if n := len(tn.Tokens()); n != 80 {
		t.Fatalf("%d tokens, want 80", n)
	}
	if n := tn.AuditEventCount(); n != 6000 {
		t.Fatalf("%d events, want 6000", n)
	}
	if s := tn.Settings(); !s.TokensRequired || s.MaxActiveTokens == nil || *s.MaxActiveTokens != 200 {
		t.Fatalf("settings %+v", s)
	}
	if e.Tenants()[1].Region() != "eu-1" || tn.Region() != "us-1" {
		t.Fatal("regions")
	}
	all := tn.AuditEvents(false)

	// Ties: the largest group is the configured burst, and several smaller groups exist.
	groups := map[time.Time]int{}
	for _, ev := range all {
		groups[ev.Timestamp]++
	}
	sizes := []int{}
	for _, n := range groups {
		if n >= 10 {
			sizes = append(sizes, n)
		}
	}
	slices.Sort(sizes)
	if len(sizes) < 4 || sizes[len(sizes)-1] < 1500 || sizes[len(sizes)-1] > 1510 {
		t.Fatalf("burst sizes %v", sizes)
	}

	// Span and lateness.
	late, pending := 0, 0
	for _, ev := range all {
		if ev.Timestamp.Before(t0.Add(-DefaultSpan)) || ev.Timestamp.After(t0) {
			t.Fatalf("event outside the span: %v", ev.Timestamp)
		}
		if d := ev.VisibleAt.Sub(ev.Timestamp); d > 0 {
			late++
			if d > DefaultLateMax {
				t.Fatalf("delay %v above LateMax", d)
			}
		}
		if ev.VisibleAt.After(t0) {
			pending++
		}
	}
	if late < 200 || late > 400 {
		t.Fatalf("%d late events of 6000 at 5%%", late)
	}
	if got := len(tn.AuditEvents(true)); got != len(all)-pending {
		t.Fatalf("%d visible, want %d", got, len(all)-pending)
	}

	// The audit trail tells the surviving tokens' story.
	type history struct{ events []AuditEvent }
	byToken := map[string]*history{}
	actors := map[string]bool{}
	for _, ev := range all {
		actors[ev.Actor] = true
		if ev.TokenID == "" {
			if ev.Action != "customer_settings_update" {
				t.Fatalf("token event without token_id: %+v", ev)
			}
			continue
		}
		h := byToken[ev.TokenID]
		if h == nil {
			h = &history{}
			byToken[ev.TokenID] = h
		}
		h.events = append(h.events, ev)
	}
	if len(actors) < 5 {
		t.Fatalf("only %d actors", len(actors))
	}
	live := map[string]TokenState{}
	for _, st := range tn.Tokens() {
		live[st.ID] = st
	}
	withCreate := 0
	for id, h := range byToken {
		// Same-second events may list in any order; compare by the simulation's causal order instead:
		// a token's first event is its creation (when in the window) and a deleted token's last one is the delete.
		evs := h.events
		hasCreate := slices.ContainsFunc(evs, func(ev AuditEvent) bool { return ev.Action == "token_create" })
		hasDelete := slices.ContainsFunc(evs, func(ev AuditEvent) bool { return ev.Action == "token_delete" })
		st, alive := live[id]
		if alive == hasDelete {
			t.Fatalf("token %s alive=%v but delete event=%v", id, alive, hasDelete)
		}
		if !alive {
			continue
		}
		if hasCreate {
			withCreate++
			create := evs[slices.IndexFunc(evs, func(ev AuditEvent) bool { return ev.Action == "token_create" })]
			if !create.Timestamp.Equal(st.CreatedTimestamp) {
				t.Fatalf("token %s created %v, create event %v", id, st.CreatedTimestamp, create.Timestamp)
			}
		}
		last := evs[len(evs)-1]
		lastSameSecond := len(evs) > 1 && evs[len(evs)-2].Timestamp.Equal(last.Timestamp)
		if !lastSameSecond {
			switch last.Action {
			case "token_revoke":
				if st.Status != "revoked" || !st.RevokedTimestamp.Equal(last.Timestamp) {
					t.Fatalf("token %s: last event revoke at %v, state %+v", id, last.Timestamp, st)
				}
			case "token_restore", "token_create":
				if st.Status != "valid" {
					t.Fatalf("token %s: last event %s, status %s", id, last.Action, st.Status)
				}
			}
			if strings.Contains(last.Description, " renamed to ") && !strings.HasSuffix(last.Description, " renamed to "+st.Label) {
				t.Fatalf("token %s: last rename %q, label %q", id, last.Description, st.Label)
			}
		}
		if st.LastUsedTimestamp != nil && st.LastUsedTimestamp.Before(st.CreatedTimestamp) {
			t.Fatalf("token %s used before creation", id)
		}
	}
	if withCreate < 60 {
		t.Fatalf("only %d of 80 tokens have a creation event", withCreate)
	}
}

func TestLateArrivals(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Seed: 4, Clock: clock, OffsetCap: -1, Tenants: []TenantConfig{
		{CID: strings.Repeat("e", 32), Tokens: 20, Events: 2000, LateFraction: 0.3, LateMax: 2 * time.Minute, Span: 10 * time.Minute}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	all := tn.AuditEvents(false)
	var pending []AuditEvent
	for _, ev := range all {
		if ev.VisibleAt.After(t0) {
			pending = append(pending, ev)
		}
	}
	if len(pending) < 10 {
		t.Fatalf("only %d events pending", len(pending))
	}
	window := "timestamp:>='" + t0.Add(-10*time.Minute).Format(time.RFC3339) + "'"
	visible := func() (int, int) {
		ids, total := pageAll(t, c, pAuditQ, window, "timestamp.asc", 1000)
		return len(ids), total
	}
	n0, total0 := visible()
	if n0 != total0 {
		t.Fatalf("paged %d of %d", n0, total0)
	}
	// A pending event is invisible to reads as well.
	if got := c.get(pAudit, q("ids", pending[0].ID)).want(t, http.StatusOK).events(t); len(got) != 0 {
		t.Fatalf("pending event readable: %+v", got)
	}
	// Advance past the first arrival only.
	slices.SortFunc(pending, func(a, b AuditEvent) int { return a.VisibleAt.Compare(b.VisibleAt) })
	clock.Set(pending[0].VisibleAt)
	if got := c.get(pAudit, q("ids", pending[0].ID)).want(t, http.StatusOK).events(t); len(got) != 1 {
		t.Fatal("arrived event not readable")
	}
	n1, _ := visible()
	arrived := 0
	for _, ev := range pending {
		if !ev.VisibleAt.After(pending[0].VisibleAt) && !ev.Timestamp.Before(t0.Add(-10*time.Minute)) {
			arrived++
		}
	}
	if n1 != n0+arrived {
		t.Fatalf("after the first arrival: %d visible, want %d", n1, n0+arrived)
	}
	// The late event sorts by its own (earlier) timestamp, behind events already seen.
	clock.Advance(2 * time.Minute)
	ids, _ := pageAll(t, c, pAuditQ, "", "timestamp.asc", 1000)
	if len(ids) != len(all) || !slices.Equal(ids, tn.AuditEventIDs(false)) {
		t.Fatalf("after LateMax: %d visible of %d", len(ids), len(all))
	}
}

func TestRunActivity(t *testing.T) {
	srv := startServer(t, Config{Seed: 6, Tenants: []TenantConfig{
		{CID: strings.Repeat("a", 32), Tokens: 10, Events: 50},
		{CID: strings.Repeat("b", 32), Tokens: 3, MaxActiveTokens: ptr(int64(3))},
	}})
	e := srv.Emulator()
	before := []int{e.Tenants()[0].AuditEventCount(), e.Tenants()[1].AuditEventCount()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.RunActivity(ctx, Activity{Interval: time.Millisecond, Rand: 1, Actors: []string{"bot@example.com"}})
	}()
	// Meanwhile the API keeps working.
	c := login(t, srv, e.Tenants()[0])
	deadline := time.Now().Add(20 * time.Second)
	for e.Tenants()[0].AuditEventCount() < before[0]+40 || e.Tenants()[1].AuditEventCount() < before[1]+10 {
		if time.Now().After(deadline) {
			t.Fatal("activity produced too few events")
		}
		c.get(pAuditQ, q("sort", "timestamp.desc")).want(t, http.StatusOK)
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for i, tn := range e.Tenants() {
		for _, ev := range tn.AuditEvents(false)[before[i]:] {
			kinds[ev.Action] = true
		}
	}
	for _, a := range []string{"token_create", "token_update", "token_revoke", "token_delete"} {
		if !kinds[a] {
			t.Errorf("no %s in activity (saw %v)", a, kinds)
		}
	}
	for _, ev := range e.Tenants()[0].AuditEvents(false)[before[0]:] {
		if ev.Actor != "bot@example.com" {
			t.Fatalf("actor %q", ev.Actor)
		}
	}
	if err := e.RunActivity(context.Background(), Activity{Interval: -1}); err == nil {
		t.Fatal("negative interval accepted")
	}
}
