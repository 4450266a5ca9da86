package collector_test

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/schema"
)

// coverage returns the coverage records published so far, in order.
func (e *env) coverage(t *testing.T) []*schema.Coverage {
	t.Helper()
	var out []*schema.Coverage
	for _, m := range e.read(schema.TopicCoverage) {
		r, err := schema.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.(*schema.Coverage))
	}
	return out
}

// TestCoverageRecords: one record per poll whose audit windows tile time,
// whose API totals add up to the events published, and which records a
// failed poll as an empty window with its error, the next poll covering it.
func TestCoverageRecords(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 4, Tenants: []falcontest.TenantConfig{{Tokens: 12, Events: 300, Span: 6 * time.Hour}}})
	tn := e.emu.Tenants()[0]
	cfg := collector.Config{StartAll: true, SettleLag: time.Minute, Lookback: 2 * time.Minute, PublishAttempts: 1}
	once := func(wantErr bool) {
		t.Helper()
		c := e.collector(cfg, e.fileStore())
		if err := c.RunOnce(ctxT(t, time.Minute)); (err != nil) != wantErr {
			t.Fatalf("RunOnce: %v (want an error: %v)", err, wantErr)
		}
	}
	e.clock.Advance(2 * time.Minute)
	once(false)
	e.clock.Advance(5 * time.Minute)
	if _, err := tn.CreateToken("ops@example.com", "kiosk", nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	once(false)
	e.emu.SetFaults(falcontest.Faults{ServerErrorRate: 1, Operations: []string{falcontest.OpAuditEventsQuery}})
	e.clock.Advance(5 * time.Minute)
	once(true)
	e.emu.SetFaults(falcontest.Faults{})
	e.clock.Advance(5 * time.Minute)
	once(false)

	recs := e.coverage(t)
	if len(recs) != 4 {
		t.Fatalf("%d coverage records, want one per poll (4)", len(recs))
	}
	if recs[0].AuditFrom != nil {
		t.Errorf("first window starts at %v, want the beginning (null)", recs[0].AuditFrom)
	}
	var total, published int64
	for i, r := range recs {
		if i != 2 && (r.Tenant != "t0" || !r.SettingsSnapshot || !r.TokensSnapshot) || i == len(recs)-1 && r.Tokens != int64(len(tn.Tokens())) {
			t.Errorf("record %d: %+v", i, r)
		}
		if i > 0 && (r.AuditFrom == nil || !r.AuditFrom.Equal(recs[i-1].AuditTo)) {
			t.Errorf("record %d starts at %v, the previous window ended at %v: windows must tile", i, r.AuditFrom, recs[i-1].AuditTo)
		}
		if r.APITotal >= 0 {
			total += r.APITotal
		}
		published += r.Published
	}
	failed := recs[2]
	if failed.Failures != 1 || failed.Error == "" || !failed.AuditTo.Equal(*failed.AuditFrom) || failed.APITotal != -1 {
		t.Errorf("failed poll: %+v", failed)
	}
	if recs[3].Failures != 0 || !recs[3].AuditTo.After(*recs[3].AuditFrom) {
		t.Errorf("the poll after the outage: %+v", recs[3])
	}
	want := int64(len(tn.AuditEventIDs(true)))
	if total != want || published != want {
		t.Errorf("API totals add up to %d, published %d; the emulator has %d events", total, published, want)
	}
	if to := recs[3].AuditTo; !to.Equal(e.clock.Now().Add(-time.Minute).Truncate(time.Second)) {
		t.Errorf("last window ends at %v, want now less the settle lag", to)
	}
}
