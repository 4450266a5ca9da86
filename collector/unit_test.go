package collector_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

func TestParseStartTime(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                       now.Add(-30 * 24 * time.Hour),
		"0d":                        now,
		"12h":                       now.Add(-12 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"2025-01-02":                time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		"2025-01-02T03:04:05+02:00": time.Date(2025, 1, 2, 1, 4, 5, 0, time.UTC),
		"2w":                        now.Add(-14 * 24 * time.Hour),
		"2025-01-02 03:04":          time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC),
	} {
		got, all, err := collector.ParseStartTime(in, now)
		if err != nil || all || !got.Equal(want) {
			t.Errorf("ParseStartTime(%q) = %v, %v, %v; want %v", in, got, all, err, want)
		}
	}
	if _, all, err := collector.ParseStartTime("ALL", now); err != nil || !all {
		t.Errorf("ParseStartTime(ALL) = %v, %v", all, err)
	}
	for _, bad := range []string{"", "yesterday", "-5d", "-1h", "3x", "2025-13-01", "2999-01-01", "2025-06-01T12:00:01Z"} {
		if _, _, err := collector.ParseStartTime(bad, now); err == nil {
			t.Errorf("ParseStartTime(%q) accepted", bad)
		}
	}
}

// Records carry every source field, keep unknown actions verbatim, never
// the token value, and validate against their JSON Schemas.
func TestRecords(t *testing.T) {
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	ev := falcon.AuditEvent{ID: "5d2e8f41a7c94b0e86f3d1a2b9c07e54", Action: "token_teleport", Actor: "ops@example.com",
		Description: "new kind of action", Timestamp: at, TokenID: "c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d"}
	m, err := collector.Message("audit", collector.AuditRecord(testCID, "acme", at, ev))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(m.Value); err != nil {
		t.Fatal(err)
	}
	rec, err := schema.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	a := rec.(*schema.AuditEvent)
	if a.Action != "token_teleport" || a.Tenant != "acme" || !a.Timestamp.Equal(at) || a.Timestamp.Location() != time.UTC ||
		a.TokenID != ev.TokenID || a.Actor != ev.Actor || a.Description != ev.Description || a.SchemaVersion != schema.Version ||
		a.CID != testCID || !a.EventTime.Equal(at) || a.EventTimeSource != schema.EventTimeAudit || a.ActorKind != schema.ActorUser {
		t.Fatalf("audit record %+v from %+v", a, ev)
	}
	if string(m.Key) != ev.ID || m.Topic != "audit" || len(m.Headers) != 3 || m.Headers[0].Key != "record_type" ||
		string(m.Headers[0].Value) != "audit_event" || m.Headers[1].Key != "schema_version" || string(m.Headers[1].Value) != "2" ||
		m.Headers[2].Key != "event_time" || string(m.Headers[2].Value) != "2025-06-01T11:00:00.000000Z" || !m.Time.IsZero() {
		t.Fatalf("message %+v", m)
	}

	exp := at.Add(time.Hour)
	tok := falcon.Token{ID: "c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d", Label: "Windows servers", Value: "7D41C9A2-SECRET",
		Type: "some_future_type", Status: "expired", CreatedTimestamp: at, ExpiresTimestamp: &exp}
	st := collector.TokenState([]byte("key"), tok)
	if st.ValueFingerprint != schema.Fingerprint([]byte("key"), "7D41C9A2-SECRET") || len(st.ValueFingerprint) != 64 {
		t.Fatalf("fingerprint %q", st.ValueFingerprint)
	}
	if collector.TokenState([]byte("other"), tok).ValueFingerprint == st.ValueFingerprint {
		t.Fatal("the fingerprint does not depend on the key")
	}
	if fp := collector.TokenState([]byte("key"), falcon.Token{ID: "x"}).ValueFingerprint; fp != "" {
		t.Fatalf("fingerprint of no value = %q, want empty", fp)
	}
	for _, deleted := range []bool{false, true} {
		m, err := collector.Message("tokens", collector.TokenRecord(testCID, "acme", at, tok.ID, st, deleted))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(m.Value, []byte("SECRET")) || bytes.Contains(m.Value, []byte(`"value"`)) {
			t.Fatalf("token record carries the value: %s", m.Value)
		}
		if err := v.Validate(m.Value); err != nil {
			t.Fatal(err)
		}
		r, err := schema.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.(*schema.Token)
		wantStatus := "expired"
		if deleted {
			wantStatus = schema.StatusDeleted
		}
		if tr.Deleted != deleted || tr.Status != wantStatus || tr.TokenType != "some_future_type" || tr.ExpiresTimestamp == nil ||
			!tr.ExpiresTimestamp.Equal(exp) || tr.LastUsedTimestamp != nil || tr.Label != tok.Label {
			t.Fatalf("token record %+v", tr)
		}
	}

	for _, s := range []falcon.CustomerSettings{{TokensRequired: true}, {MaxActiveTokens: ptr(int64(0))}, {MaxActiveTokens: ptr(int64(50))}} {
		m, err := collector.Message("settings", collector.SettingsRecord(testCID, "acme", at, collector.SettingsState(s)))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(m.Value); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != "acme" {
			t.Fatalf("settings key %q", m.Key)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, name := range []string{"", "none", "gzip", "snappy", "lz4", "zstd", "ZSTD"} {
		if _, err := collector.ParseCompression(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	if _, err := collector.ParseCompression("brotli"); err == nil {
		t.Error("brotli accepted")
	}
}

func withPoll(d time.Duration) collector.Config {
	c := collector.DefaultConfiguration()
	c.PollInterval = d
	return c
}

func withStart(t time.Time) collector.Config {
	c := collector.DefaultConfiguration()
	c.StartTime = t
	return c
}

func TestNewRejectsBadConfig(t *testing.T) {
	store, _ := checkpoint.OpenFileStore(t.TempDir())
	pub := &collector.KafkaPublisher{}
	api := &falcon.Client{}
	for name, tc := range map[string]struct {
		cfg  collector.Config
		deps collector.Dependencies
	}{
		"no tenants":    {deps: collector.Dependencies{Publisher: pub, Store: store}},
		"bad tenant":    {deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a/b", API: api}}, Publisher: pub, Store: store}},
		"twice":         {deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a", API: api}, {Name: "a", API: api}}, Publisher: pub, Store: store}},
		"no API":        {deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a"}}, Publisher: pub, Store: store}},
		"no store":      {deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a", API: api}}, Publisher: pub}},
		"poll interval": {cfg: withPoll(0), deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a", API: api}}, Publisher: pub, Store: store}},
		"future start":  {cfg: withStart(time.Now().Add(time.Hour)), deps: collector.Dependencies{Tenants: []collector.Tenant{{Name: "a", API: api}}, Publisher: pub, Store: store}},
	} {
		if tc.cfg.PollInterval == 0 && name != "poll interval" {
			tc.cfg = collector.DefaultConfiguration()
		}
		if _, err := collector.New(tc.cfg, tc.deps); !errors.Is(err, collector.ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
	}
}

// Metrics count what was collected and published, and the per-tenant
// gauges appear once a checkpoint is committed; a long backfill logs
// progress with an ETA.
func TestMetricsAndProgress(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 12, Tenants: []falcontest.TenantConfig{{Tokens: 7, Events: 8000, Span: time.Hour}}})
	e.clock.Advance(5 * time.Minute)
	tn := e.emu.Tenants()[0]
	var logs syncBuf
	reg := prometheus.NewRegistry()
	c, err := collector.New(withDefaults(collector.Config{StartAll: true, ProgressInterval: time.Millisecond}),
		collector.Dependencies{Tenants: []collector.Tenant{{Name: "m", API: e.client(tn, 200, 10000)}}, Publisher: e.pub,
			Store: e.fileStore(), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, Now: e.clock.Now})
	must(t, err)
	must(t, c.RunOnce(ctxT(t, time.Minute)))
	n := float64(len(tn.AuditEventIDs(true)))
	for typ, want := range map[string]float64{schema.TypeAuditEvent: n, schema.TypeToken: 7, schema.TypeSettings: 1} {
		for _, name := range []string{"tokentrail_collector_records_collected_total", "tokentrail_collector_records_published_total"} {
			got := counterValue(t, reg, name, map[string]string{"tenant": "m", "record_type": typ})
			if got != want {
				t.Errorf("%s{%s} = %v, want %v", name, typ, got, want)
			}
		}
	}
	text, err := testutil.GatherAndCount(reg, "tokentrail_collector_checkpoint_age_seconds", "tokentrail_collector_audit_cursor_lag_seconds",
		"tokentrail_collector_poll_duration_seconds")
	must(t, err)
	if text != 3 {
		t.Errorf("%d per-tenant gauge/histogram series, want 3", text)
	}
	out := logs.String()
	if !strings.Contains(out, "msg=progress ") || !strings.Contains(out, "eta=") || !strings.Contains(out, "rate_per_sec=") {
		t.Fatalf("no periodic progress logs:\n%s", out)
	}
	if want := fmt.Sprintf(`task=audit_events events=%d `, int(n)); !strings.Contains(out, `msg="progress end"`) || !strings.Contains(out, want) {
		t.Fatalf("no final progress line %q:\n%s", want, out)
	}
}

// counterValue reads one counter of a vector registered on reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					match = false
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// Readiness fails, naming the tenant, when Falcon refuses the credentials
// or no broker answers; a poll stops at the first authentication failure.
func TestReadinessFailures(t *testing.T) {
	e := newEnv(t, falcontest.Config{Seed: 13, Tenants: []falcontest.TenantConfig{{Tokens: 1, Events: 5}}})
	id, _ := e.emu.Tenants()[0].Credentials()
	badCfg := falconDefaults(falcon.Config{BaseURL: e.url, ClientID: id, ClientSecret: "wrong"})
	badCfg.MaxRetries = 0
	bad, err := falcon.New(badCfg)
	must(t, err)
	pub, err := collector.NewKafkaPublisher(kafkaconn.Config{Brokers: []string{"127.0.0.1:1"}, DialTimeout: time.Second}, collector.PublisherConfig{})
	must(t, err)
	defer pub.Close()
	c, err := collector.New(collector.DefaultConfiguration(), collector.Dependencies{Tenants: []collector.Tenant{{Name: "bad", API: bad}},
		Publisher: pub, Store: e.fileStore(), Logger: e.log, Now: e.clock.Now})
	must(t, err)
	ctx := ctxT(t, 20*time.Second)
	// A poll stops at the first authentication failure: one token request,
	// not one per step.
	before := 0
	for _, r := range e.emu.Requests() {
		if r.Operation == falcontest.OpOAuth2Token {
			before++
		}
	}
	if err := c.RunOnce(ctx); !errors.Is(err, falcon.ErrAuth) {
		t.Errorf("RunOnce = %v, want ErrAuth", err)
	}
	after := 0
	for _, r := range e.emu.Requests() {
		if r.Operation == falcontest.OpOAuth2Token {
			after++
		}
	}
	if after-before != 1 {
		t.Errorf("a failing poll made %d token requests, want 1", after-before)
	}
	if err := c.CheckFalcon(ctx); !errors.Is(err, falcon.ErrAuth) || !strings.Contains(err.Error(), "tenant bad") {
		t.Errorf("CheckFalcon = %v, want ErrAuth naming the tenant", err)
	}
	if err := c.CheckKafka(ctx); err == nil {
		t.Error("CheckKafka passed with no broker")
	}
	good := e.collector(collector.Config{}, e.fileStore())
	if err := good.Ready(ctx); err != nil {
		t.Errorf("Ready = %v", err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCID is the Falcon CID of the test records.
const testCID = "0123456789abcdef0123456789abcdef"
