package collector_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/schema"
)

// Ties larger than a page, a small offset cap that forces many windows, and
// a restart: every id exactly once, and no query ever beyond the cap.
func TestAuditWindowsTiesAndRestart(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 1, OffsetCap: 600,
		Tenants: []falcontest.TenantConfig{{Tokens: 10, Events: 6000, Ties: 450, Span: 24 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	e.clock.Advance(2 * time.Minute) // past the settle lag of the newest seeded events
	e.paging(100, 600)
	cfg := collector.Config{StartAll: true}
	c := e.collector(cfg, e.fileStore())
	if err := c.RunOnce(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, e.auditIDs("t0"), tn.AuditEventIDs(true))
	for _, r := range e.emu.Requests() {
		if r.Status == 400 {
			t.Fatalf("a request was refused: %s %s?%s", r.Method, r.Path, r.RawQuery)
		}
	}

	// New activity, then a fresh process (new collector, same state dir):
	// only the new events are published.
	e.clock.Advance(10 * time.Minute)
	id, err := tn.CreateToken("ops@example.com", "new token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.RevokeToken("ops@example.com", id); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	c2 := e.collector(cfg, e.fileStore())
	if err := c2.RunOnce(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, e.auditIDs("t0"), tn.AuditEventIDs(true))
}

// Timestamps with fractions of a second, filtered with whole seconds:
// windows and lookbacks overlap by up to a second, and nothing is
// published twice.
func TestFractionalTimestamps(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 21, OffsetCap: 500, FractionalTimestamps: true,
		Tenants: []falcontest.TenantConfig{{Tokens: 5, Events: 4000, Ties: 200, LateFraction: 0.2, LateMax: time.Minute, Span: 3 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	e.paging(100, 500)
	cfg := collector.Config{StartAll: true, Lookback: 90 * time.Second, SettleLag: 10 * time.Second}
	for i := 0; i < 3; i++ {
		if err := e.collector(cfg, e.fileStore()).RunOnce(ctxT(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if m, d, x := countDiff(e.auditIDs("t0"), tn.AuditEventIDs(true)); d+x != 0 {
			t.Fatalf("run %d: %d duplicates, %d unexpected (%d not yet published)", i, d, x, m)
		}
		e.clock.Advance(70 * time.Second)
	}
	assertExactlyOnce(t, e.auditIDs("t0"), tn.AuditEventIDs(false))
}

// More events at one instant than the offset cap can page: an error, not a
// loop, and nothing past the group is skipped silently.
func TestTieGroupLargerThanOffsetCap(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 2, OffsetCap: 300,
		Tenants: []falcontest.TenantConfig{{Tokens: 3, Events: 2000, Ties: 600, Span: time.Hour}}})
	e.paging(100, 300)
	c := e.collector(collector.Config{StartAll: true}, e.fileStore())
	done := make(chan error, 1)
	go func() { done <- c.RunOnce(ctxT(t, time.Minute)) }()
	select {
	case err := <-done:
		if !errors.Is(err, collector.ErrTieGroupTooLarge) {
			t.Fatalf("RunOnce = %v, want ErrTieGroupTooLarge", err)
		}
	case <-time.After(50 * time.Second):
		t.Fatal("RunOnce loops on a tie group larger than the offset cap")
	}
}

// Events visible up to 2 minutes late: the first run misses some, the
// lookback of the next run catches them, and nothing is published twice.
func TestLateEventsCaughtByLookback(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 3,
		Tenants: []falcontest.TenantConfig{{Tokens: 5, Events: 10000, Ties: 50, LateFraction: 0.3, LateMax: 2 * time.Minute,
			Span: 2 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	e.paging(1000, 10000)
	cfg := collector.Config{StartAll: true, SettleLag: 30 * time.Second}
	if err := e.collector(cfg, e.fileStore()).RunOnce(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	first := e.auditIDs("t0")
	all := tn.AuditEventIDs(false)
	if len(first) >= len(all) {
		t.Fatalf("the first run published %d of %d events: the scenario has no late events", len(first), len(all))
	}
	e.clock.Advance(3 * time.Minute) // every late event is visible and older than now-lag
	if got := len(tn.AuditEventIDs(true)); got != len(all) {
		t.Fatalf("%d of %d events visible", got, len(all))
	}
	if err := e.collector(cfg, e.fileStore()).RunOnce(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, e.auditIDs("t0"), all)
}

// Every token change becomes one record, deletions included; a restart
// publishes nothing for unchanged tokens; records never carry the value.
func TestTokensAndSettingsDiff(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 4, Tenants: []falcontest.TenantConfig{{Tokens: 30, Events: 100, Span: time.Hour}}})
	tn := e.emu.Tenants()[0]
	cfg := collector.Config{StartAll: true, FingerprintKey: []byte("test-key")}
	run := func() {
		t.Helper()
		if err := e.collector(cfg, e.fileStore()).RunOnce(ctxT(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(wantRecords int) {
		t.Helper()
		latest, n := e.latestTokens("t0")
		if wantRecords >= 0 && n != wantRecords {
			t.Fatalf("%d token records on the topic, want %d", n, wantRecords)
		}
		live := map[string]bool{}
		for _, tok := range tn.Tokens() {
			live[tok.ID] = true
			r, ok := latest[tok.ID]
			if !ok || r.Deleted {
				t.Fatalf("token %s: no live record", tok.ID)
			}
			if r.Label != tok.Label || r.Status != tok.Status || r.TokenType != tok.Type ||
				r.ValueFingerprint != schema.Fingerprint([]byte("test-key"), tok.Value) ||
				!r.CreatedTimestamp.Equal(tok.CreatedTimestamp) || !eqTime(r.ExpiresTimestamp, tok.ExpiresTimestamp) ||
				!eqTime(r.LastUsedTimestamp, tok.LastUsedTimestamp) || !eqTime(r.RevokedTimestamp, tok.RevokedTimestamp) {
				t.Fatalf("token %s: record %+v does not match the emulator %+v", tok.ID, r, tok)
			}
		}
		for id, r := range latest {
			if !live[id] && !r.Deleted {
				t.Fatalf("token %s is gone but its last record is not deleted", id)
			}
		}
		s := tn.Settings()
		var last schema.Settings
		for _, m := range e.read(schema.TopicSettings) {
			rec, _ := schema.Decode(m.Value)
			last = *rec.(*schema.Settings)
		}
		if last.TokensRequired != s.TokensRequired || !eqInt(last.MaxActiveTokens, s.MaxActiveTokens) {
			t.Fatalf("settings record %+v, emulator %+v", last, s)
		}
	}
	run()
	check(30)
	run() // nothing changed
	check(30)

	// Five distinct usable tokens, one per kind of change.
	var valid []string
	for _, tok := range tn.Tokens() {
		if tok.Status == "valid" && (tok.ExpiresTimestamp == nil || tok.ExpiresTimestamp.After(e.clock.Now())) {
			valid = append(valid, tok.ID)
		}
	}
	if len(valid) < 5 {
		t.Fatalf("only %d usable tokens", len(valid))
	}
	e.clock.Advance(time.Minute)
	revoked := valid[1]
	must(t, tn.RenameToken("a", valid[0], "renamed"))
	must(t, tn.RevokeToken("a", revoked))
	must(t, tn.DeleteToken("a", valid[2]))
	must(t, tn.SimulateInstall(valid[3]))
	exp := e.clock.Now().Add(48 * time.Hour)
	must(t, tn.SetExpiry("a", valid[4], &exp))
	newID, err := tn.CreateToken("a", "fresh", nil)
	must(t, err)
	must(t, tn.UpdateSettings("a", ptr(!tn.Settings().TokensRequired), ptr(int64(77))))
	run()
	check(30 + 6)

	e.clock.Advance(time.Minute)
	must(t, tn.RestoreToken("a", revoked))
	must(t, tn.DeleteToken("a", newID))
	run()
	check(36 + 2)
	if n := len(e.read(schema.TopicSettings)); n != 2 {
		t.Fatalf("%d settings records, want 2 (initial, one change)", n)
	}

	// Random activity: installs, creations, renames, expiries, revocations,
	// restores, deletions and settings changes, several per token.
	e.clock.Advance(time.Minute)
	_, before := e.latestTokens("t0")
	actx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	must(t, e.emu.RunActivity(actx, falcontest.Activity{Interval: 5 * time.Millisecond, Rand: 1}))
	cancel()
	run()
	check(-1)
	if _, after := e.latestTokens("t0"); after < before+10 {
		t.Fatalf("activity produced %d token records", after-before)
	}

	// The checkpoint holds no token value.
	data, err := os.ReadFile(e.dir + "/t0.json")
	must(t, err)
	for _, tok := range tn.Tokens() {
		if strings.Contains(string(data), tok.Value) {
			t.Fatal("checkpoint contains a token value")
		}
	}
}

// More tokens than the offset cap lets one query reach: the snapshot
// continues in created_timestamp windows and misses none.
func TestTokensBeyondOffsetCap(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 14, OffsetCap: 200,
		Tenants: []falcontest.TenantConfig{{Tokens: 700, Events: 50, Span: 400 * 24 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	if len(tn.Tokens()) < 500 {
		t.Fatalf("only %d tokens", len(tn.Tokens()))
	}
	e.paging(100, 200)
	if err := e.collector(collector.Config{StartAll: true}, e.fileStore()).RunOnce(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	latest, n := e.latestTokens("t0")
	if want := len(tn.Tokens()); n != want || len(latest) != want {
		t.Fatalf("%d token records for %d ids, want %d", n, len(latest), want)
	}
	for _, r := range e.emu.Requests() {
		if r.Status == 400 {
			t.Fatalf("a request was refused: %s?%s", r.Path, r.RawQuery)
		}
	}
}

// A corrupt checkpoint stops the collector; it never restarts from zero.
func TestCorruptCheckpointIsAnError(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 5, Tenants: []falcontest.TenantConfig{{Tokens: 2, Events: 50}}})
	must(t, os.WriteFile(e.dir+"/t0.json", []byte(`{"version":1,"tenant":"t0","audit":{`), 0o600))
	err := e.collector(collector.Config{}, e.fileStore()).RunOnce(ctxT(t, time.Minute))
	if !errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("RunOnce = %v, want ErrCorrupt", err)
	}
	if len(e.read(schema.TopicAuditEvents)) != 0 {
		t.Fatal("records published despite the corrupt checkpoint")
	}
}

// Cancelling Run mid-backfill returns nil after committing what Kafka
// acknowledged; the next run finishes without duplicates.
func TestGracefulStopCommits(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 6, Tenants: []falcontest.TenantConfig{{Tokens: 5, Events: 15000, Span: 24 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	e.clock.Advance(2 * time.Minute)
	e.paging(500, 10000)
	cfg := collector.Config{StartAll: true}
	c := e.collector(cfg, e.fileStore())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// Stop once a few batches are out.
	deadline := time.Now().Add(time.Minute)
	for {
		data, _ := os.ReadFile(e.dir + "/t0.json")
		st, err := checkpoint.Unmarshal(data, "t0", "t0.json")
		if err == nil && st != nil && len(st.Audit.Recent) > 0 && !st.Audit.Cursor.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	partial := len(e.auditIDs("t0"))
	if err := e.collector(cfg, e.fileStore()).RunOnce(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, e.auditIDs("t0"), tn.AuditEventIDs(true))
	t.Logf("stopped after %d of %d events", partial, len(tn.AuditEventIDs(true)))
}

// Two tenants in one process: separate records, checkpoints and budgets.
func TestSeveralTenants(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 7, Tenants: []falcontest.TenantConfig{
		{Tokens: 4, Events: 3000, Ties: 20}, {Tokens: 6, Events: 2000, Ties: 20}}})
	store, err := checkpoint.OpenKafkaStore(ctxT(t, time.Minute), checkpoint.KafkaConfig{Conn: e.conn, Create: true})
	must(t, err)
	defer store.Close()
	if err := e.collector(collector.Config{StartAll: true}, store).RunOnce(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i, tn := range e.emu.Tenants() {
		assertExactlyOnce(t, e.auditIDs(tenantName(i)), tn.AuditEventIDs(true))
		if _, n := e.latestTokens(tenantName(i)); n != len(tn.Tokens()) {
			t.Fatalf("tenant %d: %d token records, want %d", i, n, len(tn.Tokens()))
		}
	}
	// Both checkpoints are in the Kafka store and resume there.
	store2, err := checkpoint.OpenKafkaStore(ctxT(t, time.Minute), checkpoint.KafkaConfig{Conn: e.conn})
	must(t, err)
	defer store2.Close()
	for i := range e.emu.Tenants() {
		st, err := store2.Load(context.Background(), tenantName(i))
		if err != nil || st == nil || st.Audit.Cursor.IsZero() || len(st.Tokens) == 0 {
			t.Fatalf("tenant %d checkpoint: %+v, %v", i, st, err)
		}
	}
	before := len(e.read(schema.TopicAuditEvents))
	if err := e.collector(collector.Config{StartAll: true}, store2).RunOnce(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if after := len(e.read(schema.TopicAuditEvents)); after != before {
		t.Fatalf("a rerun from the Kafka checkpoint published %d audit records again", after-before)
	}
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func eqInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
