package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/schema"
)

// These tests read the topics as a SIEM team does: kcat's raw bytes, plain
// JSON, no project decoding code.

// kcatMessage is one message as kcat -J prints it.
type kcatMessage struct {
	Key     string
	TS      int64 // message timestamp, Unix ms
	TSType  string
	Headers map[string]string
	Record  map[string]any // the value, parsed as plain JSON
	Raw     string
}

func requireKcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		chtest.Missing(t, "kcat not installed; `make test` installs it")
	}
	return p
}

// kcatRead consumes a whole topic with kcat.
func kcatRead(t *testing.T, kcat, brokers, topic string) []kcatMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", topic, err, stderr.String())
	}
	var msgs []kcatMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Key     *string  `json:"key"`
			TS      int64    `json:"ts"`
			TSType  string   `json:"tstype"`
			Headers []string `json:"headers"`
			Payload string   `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		km := kcatMessage{TS: m.TS, TSType: m.TSType, Headers: map[string]string{}, Raw: m.Payload}
		if m.Key != nil {
			km.Key = *m.Key
		}
		for i := 0; i+1 < len(m.Headers); i += 2 {
			km.Headers[m.Headers[i]] = m.Headers[i+1]
		}
		if err := json.Unmarshal([]byte(m.Payload), &km.Record); err != nil {
			t.Fatalf("%s: value is not JSON: %q", topic, m.Payload)
		}
		msgs = append(msgs, km)
	}
	return msgs
}

var fixedTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$`)

// timeFields are the fields of each record type that hold a time.
var timeFields = []string{"collected_at", "event_time", "timestamp", "created_timestamp", "expires_timestamp",
	"last_used_timestamp", "revoked_timestamp", "changed_after"}

// checkEnvelope checks what every message carries: the CID, the fixed time
// format, the event_time header equal to the field, and the publish time as
// the message timestamp.
func checkEnvelope(t *testing.T, topic string, m kcatMessage, cid string, published [2]time.Time) {
	t.Helper()
	r := m.Record
	if r["cid"] != cid {
		t.Errorf("%s %s: cid %v, want %s", topic, m.Key, r["cid"], cid)
	}
	for _, f := range timeFields {
		if v, ok := r[f]; ok && v != nil {
			if s, _ := v.(string); !fixedTime.MatchString(s) {
				t.Errorf("%s %s: %s = %v, not the fixed format", topic, m.Key, f, v)
			}
		}
	}
	if m.Headers["event_time"] != r["event_time"] || m.Headers["schema_version"] != "2" || m.Headers["record_type"] != r["record_type"] {
		t.Errorf("%s %s: headers %v, record event_time %v", topic, m.Key, m.Headers, r["event_time"])
	}
	ts := time.UnixMilli(m.TS)
	if m.TSType != "create" || ts.Before(published[0].Add(-time.Second)) || ts.After(published[1].Add(time.Second)) {
		t.Errorf("%s %s: message timestamp %s (%s), want the publish time in [%s, %s]", topic, m.Key, ts, m.TSType, published[0], published[1])
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func parse(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return ts
}

// Token and settings changes carry the time and id of the audit event that
// made them when the same poll read it, and the snapshot bounds otherwise:
// for a change whose audit event arrives after the snapshot (late), and for
// one that has none (a sensor install). Checked against the emulator's
// truth, from kcat's raw bytes; every record carries the CID, the fixed time
// format and the event_time header, and the message timestamp is the
// publish time even for the backfilled audit trail.
func TestSIEMEventTimes(t *testing.T) {
	kcat := requireKcat(t)
	clock := falcontest.NewClock(time.Now().Add(-time.Hour).Truncate(time.Second))
	e := newCollectEnv(t, falcontest.Config{Seed: 15, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 8, Events: 60, Span: 48 * time.Hour}}})
	withClock(t, clock)
	tn := e.emu.Tenants()[0]
	e.setCredentials(t, tn)
	keyFile := filepath.Join(t.TempDir(), "fingerprint.key")
	if err := os.WriteFile(keyFile, []byte("9f2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENTRAIL_FINGERPRINT_KEY_FILE", keyFile)
	started := time.Now()
	collect := func(what string) {
		t.Helper()
		if code, stderr := runIngest(e.args("--once", "--start-time", "all", "--log-level", "info")...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, code, stderr)
		}
	}
	collect("first poll")

	var usable []string
	for _, tok := range tn.Tokens() {
		if tok.Status == "valid" && (tok.ExpiresTimestamp == nil || tok.ExpiresTimestamp.After(clock.Now().Add(time.Hour))) {
			usable = append(usable, tok.ID)
		}
	}
	if len(usable) < 5 {
		t.Fatalf("only %d usable tokens", len(usable))
	}
	renamed, revoked, deleted, installed, recent := usable[0], usable[1], usable[2], usable[3], usable[4]
	const apiClient = "5f0c2a9e8d7b4c3a2e1f0a9b8c7d6e5f"
	clock.Advance(time.Minute)
	must(t, tn.RenameToken("alice@example.com", renamed, "renamed"))
	clock.Advance(time.Second)
	must(t, tn.RevokeToken(apiClient, revoked))
	must(t, tn.DeleteToken("bob@example.com", deleted))
	flipped := !tn.Settings().TokensRequired
	must(t, tn.UpdateSettings("carol@example.com", &flipped, nil))
	must(t, tn.SimulateInstall(installed))
	installedAt := clock.Now()
	// Past the settle lag: the poll publishes these events. The next rename
	// happens at the poll's now, inside the settle lag, as most changes do:
	// the poll reads its event without publishing it yet.
	clock.Advance(2 * time.Minute)
	must(t, tn.RenameToken("dave@example.com", recent, "recent"))
	collect("second poll")
	clock.Advance(2 * time.Minute)
	collect("third poll")
	published := [2]time.Time{started, time.Now()}

	cid := strings.ToLower(tn.CID())
	truth := map[string]falcontest.AuditEvent{} // token id (or "settings") + action -> event
	for _, ev := range tn.AuditEvents(false) {
		k := ev.TokenID
		if k == "" {
			k = "settings"
		}
		truth[k+" "+ev.Action] = ev
	}

	audit := kcatRead(t, kcat, e.brokers, schema.TopicAuditEvents)
	if len(audit) != len(tn.AuditEvents(true)) {
		t.Errorf("%d audit records, %d events", len(audit), len(tn.AuditEvents(true)))
	}
	backfilled := false
	for _, m := range audit {
		checkEnvelope(t, "audit", m, cid, published)
		r := m.Record
		if r["event_time"] != r["timestamp"] || r["event_time_source"] != "audit_event" {
			t.Errorf("audit %s: event_time %v, timestamp %v, source %v", m.Key, r["event_time"], r["timestamp"], r["event_time_source"])
		}
		if parse(t, r["event_time"]).Before(started.Add(-24 * time.Hour)) {
			backfilled = true
		}
		wantKind := "api_client"
		if strings.Contains(r["actor"].(string), "@") {
			wantKind = "user"
		}
		if r["actor_kind"] != wantKind {
			t.Errorf("audit %s: actor %v, actor_kind %v", m.Key, r["actor"], r["actor_kind"])
		}
		if r["action"] == "customer_settings_update" && r["token_id"] != nil {
			t.Errorf("settings audit event %s: token_id %#v, want null", m.Key, r["token_id"])
		}
	}
	if !backfilled {
		t.Error("no audit record older than a day: the message timestamp check proves nothing")
	}

	latest := map[string]map[string]any{}
	count := map[string]int{}
	for _, m := range kcatRead(t, kcat, e.brokers, schema.TopicTokens) {
		checkEnvelope(t, "tokens", m, cid, published)
		latest[m.Key] = m.Record
		count[m.Key]++
	}
	explained := func(id, action string) {
		t.Helper()
		r, ev := latest[id], truth[id+" "+action]
		if r["event_time_source"] != "audit_event" || r["audit_event_id"] != ev.ID || r["event_time"] != stamp(ev.Timestamp) {
			t.Errorf("token %s (%s): source %v, audit_event_id %v, event_time %v; want audit_event %s at %s", id, action,
				r["event_time_source"], r["audit_event_id"], r["event_time"], ev.ID, stamp(ev.Timestamp))
		}
	}
	explained(renamed, "token_update")
	explained(revoked, "token_revoke")
	explained(deleted, "token_delete")
	explained(recent, "token_update")
	if r := latest[deleted]; r["status"] != "deleted" || r["deleted"] != true || r["last_status"] != "valid" {
		t.Errorf("deleted token: status %v, last_status %v, deleted %v; want deleted, valid, true", r["status"], r["last_status"], r["deleted"])
	}
	if r := latest[revoked]; r["status"] != "revoked" || r["last_status"] != "revoked" {
		t.Errorf("revoked token: status %v, last_status %v", r["status"], r["last_status"])
	}
	checkBounded(t, latest[installed], installed, installedAt) // no audit event at all

	var settings map[string]any
	settingsRecords := kcatRead(t, kcat, e.brokers, schema.TopicSettings)
	if len(settingsRecords) != 2 {
		t.Errorf("%d settings records, want 2 (first poll, change)", len(settingsRecords))
	}
	for _, m := range settingsRecords {
		checkEnvelope(t, "settings", m, cid, published)
		if s, _ := m.Record["id"].(string); len(s) != 32 {
			t.Errorf("settings id %v", m.Record["id"])
		}
		settings = m.Record
	}
	if ev := truth["settings customer_settings_update"]; settings["audit_event_id"] != ev.ID || settings["event_time"] != stamp(ev.Timestamp) ||
		settings["tokens_required"] != flipped || settings["changed_after"] == nil {
		t.Errorf("settings change: %v; want audit event %s at %s", settings, ev.ID, stamp(ev.Timestamp))
	}

	// The fingerprint recipe of docs/siem.md, run as written.
	tok, _ := tn.Token(renamed)
	if got := runFingerprintRecipe(t, keyFile, tok.Value); got != latest[renamed]["value_fingerprint"] {
		t.Errorf("docs/siem.md recipe gives %q, the record %v", got, latest[renamed]["value_fingerprint"])
	}
}

// checkBounded checks a token record whose change no audit event explains:
// event_time is the snapshot, and the change lies in (changed_after, event_time].
func checkBounded(t *testing.T, r map[string]any, id string, changed time.Time) {
	t.Helper()
	if r["event_time_source"] != "snapshot" || r["audit_event_id"] != nil || r["event_time"] != r["collected_at"] || r["changed_after"] == nil {
		t.Fatalf("token %s: %v", id, r)
	}
	if after, at := parse(t, r["changed_after"]), parse(t, r["event_time"]); !after.Before(changed) || at.Before(changed) {
		t.Errorf("token %s changed at %s, outside (%s, %s]", id, changed, after, at)
	}
}

// Changes whose audit events the API shows only later (late arrivals):
// the snapshot that finds them gives the bounds, and the events, once
// published, produce no further token records.
func TestSIEMLateAuditEvents(t *testing.T) {
	kcat := requireKcat(t)
	clock := falcontest.NewClock(time.Now().Add(-time.Hour).Truncate(time.Second))
	e := newCollectEnv(t, falcontest.Config{Seed: 16, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 12, Events: 20, Span: 48 * time.Hour, LateFraction: 1, LateMax: 20 * time.Minute}}})
	withClock(t, clock)
	tn := e.emu.Tenants()[0]
	e.setCredentials(t, tn)
	collect := func(what string) {
		t.Helper()
		if code, stderr := runIngest(e.args("--once", "--start-time", "all", "--log-level", "info")...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, code, stderr)
		}
	}
	clock.Advance(30 * time.Minute) // every seeded event visible
	collect("first poll")

	clock.Advance(time.Minute)
	changed := clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	must(t, e.emu.RunActivity(ctx, falcontest.Activity{Interval: 10 * time.Millisecond, Rand: 3}))
	cancel()
	late := map[string]falcontest.AuditEvent{} // token id -> its newest event of the activity
	for _, ev := range tn.AuditEvents(false) {
		if ev.TokenID != "" && !ev.Timestamp.Before(changed) {
			if !ev.VisibleAt.After(changed) {
				t.Fatalf("event %s is not late", ev.ID)
			}
			late[ev.TokenID] = ev
		}
	}
	if len(late) < 2 {
		t.Fatalf("the activity changed %d tokens with an audit event", len(late))
	}
	collect("poll that finds the changes")
	clock.Advance(30 * time.Minute)
	collect("poll that publishes the late events")

	tokens := kcatRead(t, kcat, e.brokers, schema.TopicTokens)
	checked := 0
	for _, m := range tokens {
		if ev, ok := late[m.Key]; ok && !parse(t, m.Record["collected_at"]).Before(changed) {
			checkBounded(t, m.Record, m.Key, ev.Timestamp)
			checked++
		}
	}
	if checked < len(late) {
		t.Errorf("%d token records for %d tokens changed with a late event", checked, len(late))
	}
	published := map[string]bool{}
	for _, m := range kcatRead(t, kcat, e.brokers, schema.TopicAuditEvents) {
		published[m.Key] = true
	}
	for id, ev := range late {
		if !published[ev.ID] {
			t.Errorf("token %s: late event %s never published", id, ev.ID)
		}
	}
}

// runFingerprintRecipe runs the shell commands between the fingerprint
// markers of docs/siem.md with KEY_FILE and TOKEN_VALUE set.
func runFingerprintRecipe(t *testing.T, keyFile, value string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found (make test installs it)")
	}
	doc, err := os.ReadFile("../../docs/siem.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- BEGIN FINGERPRINT RECIPE -->")
	recipe, _, ok2 := strings.Cut(rest, "<!-- END FINGERPRINT RECIPE -->")
	if !ok || !ok2 {
		t.Fatal("docs/siem.md has no fingerprint recipe markers")
	}
	recipe = strings.TrimSpace(recipe)
	recipe = strings.TrimSuffix(strings.TrimPrefix(recipe, "```sh"), "```")
	cmd := exec.Command("sh", "-c", recipe)
	cmd.Env = append(os.Environ(), "KEY_FILE="+keyFile, "TOKEN_VALUE="+value)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("recipe: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A 30-day backfill into topics with 7-day retention (retention.ms) keeps
// every record: the message timestamp is the publish time. The same records
// stamped with their event times, as the alternative would, lose everything
// older than 7 days at the broker's next retention pass: the measurement
// behind the contract's choice.
func TestBackfillSurvivesRetention(t *testing.T) {
	kcat := requireKcat(t)
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	emu, err := falcontest.New(falcontest.Config{Seed: 30, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 20, Events: 3000, Span: 30 * 24 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cluster, brokers := kafkatest.Start(t, kafkatest.Options{})
	e := &collectEnv{t: t, emu: emu, url: srv.URL, brokers: strings.Join(brokers, ","), dir: t.TempDir()}
	const week = "604800000"
	weekTopic := func(name string) kafka.TopicConfig {
		return kafka.TopicConfig{Topic: name, NumPartitions: 3, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: week}}}
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	ctx := context.Background()
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		weekTopic(schema.TopicAuditEvents), weekTopic(schema.TopicTokens), weekTopic(schema.TopicSettings), weekTopic("stamped-with-event-time"),
	}}); err != nil {
		t.Fatal(err)
	}
	withClock(t, clock)
	tn := emu.Tenants()[0]
	e.setCredentials(t, tn)
	if code, stderr := runIngest(e.args("--once", "--start-time", "all", "--log-level", "info")...); code != 0 {
		t.Fatalf("collect: exit %d\n%s", code, stderr)
	}
	events := len(tn.AuditEvents(true))
	published := kcatRead(t, kcat, e.brokers, schema.TopicAuditEvents)
	if len(published) != events {
		t.Fatalf("%d audit records for %d events", len(published), events)
	}

	// The alternative: the same records with the message timestamp set to
	// their event time.
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "stamped-with-event-time", BatchSize: 500, Balancer: &kafka.Hash{}}
	var msgs []kafka.Message
	old := 0
	for _, m := range published {
		at := parse(t, m.Record["event_time"])
		if time.Since(at) > 7*24*time.Hour {
			old++
		}
		msgs = append(msgs, kafka.Message{Key: []byte(m.Key), Value: []byte(m.Raw), Time: at})
	}
	// In event-time order, as the collector publishes a backfill.
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].Time.Before(msgs[j].Time) })
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if old < events/2 {
		t.Fatalf("only %d of %d events are older than 7 days: not a 30-day backfill", old, events)
	}

	cluster.ApplyRetention()
	kept := len(kcatRead(t, kcat, e.brokers, schema.TopicAuditEvents))
	stamped := len(kcatRead(t, kcat, e.brokers, "stamped-with-event-time"))
	t.Logf("30-day backfill of %d events into 7-day topics: %d kept with the publish time as message timestamp, %d with the event time (%d events older than 7 days)",
		events, kept, stamped, old)
	if kept != events {
		t.Errorf("retention deleted %d of %d backfilled records", events-kept, events)
	}
	if stamped > events-old/2 {
		t.Errorf("event-time stamps kept %d of %d: the measurement no longer shows retention acting on them", stamped, events)
	}
}
