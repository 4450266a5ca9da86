package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

var collectEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The scenario, run by the ingest binary as a child process: 250,000
// events, 5,000 sharing one timestamp, 30% visible up to 2 minutes late, the
// 10,000 offset cap, 429 storms and 2% 5xx. After one --once run, and one
// more once the late events are visible, the audit topic holds every id
// exactly once; the token and settings topics reflect every change the
// emulator made in between.
func TestCollectOnceScenario(t *testing.T) {
	bin := buildIngest(t)
	// The emulator's clock stands still a little in the past, so the child
	// (on real time) sees every seeded timestamp as settled, while late
	// events stay invisible until the test moves the clock.
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	e := newCollectEnv(t, falcontest.Config{Seed: 250, Clock: clock, OffsetCap: 10000,
		Tenants: []falcontest.TenantConfig{{Tokens: 200, Events: 250000, Ties: 5000, LateFraction: 0.3,
			LateMax: 2 * time.Minute, Span: 30 * 24 * time.Hour}},
		Faults: falcontest.Faults{ServerErrorRate: 0.02, Schedule: []falcontest.ScheduledFault{
			{Operation: falcontest.OpAuditEventsRead, Nth: 40, Count: 4, Kind: falcontest.FaultRateLimitStorm},
			{Operation: falcontest.OpAuditEventsQuery, Nth: 100, Count: 3, Kind: falcontest.FaultRateLimitStorm},
			{Operation: falcontest.OpAuditEventsRead, Nth: 400, Count: 3, Kind: falcontest.FaultRateLimitStorm},
		}}})
	tn := e.emu.Tenants()[0]
	if n := len(tn.AuditEventIDs(false)); n != 250000 {
		t.Fatalf("emulator holds %d events", n)
	}
	id, secret := tn.Credentials()
	args := e.args("--once", "--start-time", "all", "--log-level", "info")
	env := append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret, "TOKENTRAIL_FINGERPRINT_KEY=k1")
	once := func(what string) {
		t.Helper()
		start := time.Now()
		before := len(e.emu.Requests())
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s --once: %v\n%s", what, err, tail(string(out)))
		}
		rs := e.emu.Requests()[before:]
		t.Logf("%s --once: %v, %d requests, %d answered 429, %d 5xx", what, time.Since(start).Round(time.Millisecond), len(rs),
			countStatus(rs, 429), countStatus(rs, 500)+countStatus(rs, 502)+countStatus(rs, 503))
	}

	once("first")
	if invisible := 250000 - len(tn.AuditEventIDs(true)); invisible == 0 {
		t.Fatal("no event is late: the scenario does not test the lookback")
	}
	// Every visible event once (ids are checked after the second run).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n, err := topicSize(ctx, e.pollClient(), schema.TopicAuditEvents); err != nil || n != int64(len(tn.AuditEventIDs(true))) {
		t.Fatalf("first run: %d audit records (%v), %d events visible", n, err, len(tn.AuditEventIDs(true)))
	}
	tokensBefore, nBefore := e.latestTokens("default")
	if nBefore != len(tn.Tokens()) || len(tokensBefore) != nBefore {
		t.Fatalf("first run: %d token records for %d tokens", nBefore, len(tn.Tokens()))
	}

	// Changes while the collector is down, one per token.
	var usable []string
	for _, tok := range tn.Tokens() {
		if tok.Status == "valid" && (tok.ExpiresTimestamp == nil || tok.ExpiresTimestamp.After(clock.Now())) {
			usable = append(usable, tok.ID)
		}
	}
	if len(usable) < 5 {
		t.Fatalf("only %d usable tokens", len(usable))
	}
	clock.Advance(30 * time.Second)
	mustNoErr(t, tn.RenameToken("auditor", usable[0], "renamed by test"))
	mustNoErr(t, tn.RevokeToken("auditor", usable[1]))
	mustNoErr(t, tn.DeleteToken("auditor", usable[2]))
	mustNoErr(t, tn.SimulateInstall(usable[3]))
	exp := clock.Now().Add(72 * time.Hour).Truncate(time.Second)
	mustNoErr(t, tn.SetExpiry("auditor", usable[4], &exp))
	created, err := tn.CreateToken("auditor", "created by test", nil)
	mustNoErr(t, err)
	mustNoErr(t, tn.UpdateSettings("auditor", ptrOf(!tn.Settings().TokensRequired), ptrOf(int64(4242))))
	clock.Advance(3 * time.Minute) // every late event is now visible
	all := tn.AuditEventIDs(false)
	if len(tn.AuditEventIDs(true)) != len(all) {
		t.Fatal("events still invisible")
	}

	once("second")
	got := e.idCounts(schema.TopicAuditEvents, "", 97) // a sample is schema-checked; all are in other tests
	if missing, dups, extra := compareIDs(got, all); missing+dups+extra != 0 {
		t.Fatalf("audit topic: %d ids expected, %d missing, %d duplicates, %d unexpected", len(all), missing, dups, extra)
	}

	latest, n := e.latestTokens("default")
	if want := nBefore + 6; n != want {
		t.Fatalf("%d token records, want %d (one per change)", n, want)
	}
	for _, tok := range tn.Tokens() {
		r := latest[tok.ID]
		if r.ID == "" || r.Deleted || r.Label != tok.Label || r.Status != tok.Status || r.TokenType != tok.Type ||
			r.ValueFingerprint != schema.Fingerprint([]byte("k1"), tok.Value) || !r.CreatedTimestamp.Equal(tok.CreatedTimestamp) ||
			!sameTime(r.ExpiresTimestamp, tok.ExpiresTimestamp) || !sameTime(r.LastUsedTimestamp, tok.LastUsedTimestamp) ||
			!sameTime(r.RevokedTimestamp, tok.RevokedTimestamp) {
			t.Fatalf("token %s: last record %+v, emulator %+v", tok.ID, r, tok)
		}
	}
	if r := latest[usable[2]]; !r.Deleted || r.Label == "" {
		t.Fatalf("deleted token: last record %+v, want deleted with its last fields", r)
	}
	if _, ok := latest[created]; !ok {
		t.Fatal("created token has no record")
	}
	settings := e.read(schema.TopicSettings, 1)
	if len(settings) != 2 {
		t.Fatalf("%d settings records, want 2", len(settings))
	}
	rec, err := schema.Decode(settings[1].Value)
	mustNoErr(t, err)
	s, want := rec.(*schema.Settings), tn.Settings()
	if s.TokensRequired != want.TokensRequired || s.MaxActiveTokens == nil || *s.MaxActiveTokens != 4242 {
		t.Fatalf("settings record %+v, emulator %+v", s, want)
	}
}

// A corrupt checkpoint is a one-line error and exit code 2.
func TestCollectCorruptCheckpointExits2(t *testing.T) {
	e := newCollectEnv(t, falcontest.Config{Seed: 9, Tenants: []falcontest.TenantConfig{{Tokens: 2, Events: 20}}})
	e.setCredentials(t, e.emu.Tenants()[0])
	mustNoErr(t, os.MkdirAll(e.dir+"/state", 0o700))
	mustNoErr(t, os.WriteFile(e.dir+"/state/default.json", []byte("{\"version\":1,"), 0o600))
	code, stderr := runIngest(e.args("--once")...)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	last := lastLogLine(stderr)
	if !strings.HasPrefix(last, "ingest: --state-dir: ") || !strings.Contains(last, "default.json") || !strings.Contains(last, "corrupt") {
		t.Fatalf("error line %q", last)
	}
	if n := len(e.read(schema.TopicAuditEvents, 0)); n != 0 {
		t.Fatalf("%d records published despite the corrupt checkpoint", n)
	}

	// The same for the Kafka store: a record that is not a checkpoint.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := kafkaconn.Config{Brokers: strings.Split(e.brokers, ",")}
	mustNoErr(t, kafkaconn.EnsureTopics(ctx, conn, kafkaconn.Topic{Name: checkpoint.DefaultTopic, Partitions: 1, Compacted: true}))
	w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: checkpoint.DefaultTopic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond}
	for { // until the new topic's metadata reaches the writer
		err := w.WriteMessages(ctx, kafka.Message{Key: []byte("default"), Value: []byte("not a checkpoint")})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustNoErr(t, w.Close())
	code, stderr = runIngest(e.args("--once", "--checkpoint", "kafka")...)
	if code != 2 || !strings.HasPrefix(lastLogLine(stderr), "ingest: --checkpoint-topic: ") || !strings.Contains(stderr, "tokentrail.checkpoints[default]") {
		t.Fatalf("Kafka store: exit %d, %q", code, lastLogLine(stderr))
	}
	if n := len(e.read(schema.TopicAuditEvents, 0)); n != 0 {
		t.Fatalf("%d records published despite the corrupt checkpoint", n)
	}
}

// Bad flags: one line naming the flag, exit code 2.
func TestCollectUsageErrors(t *testing.T) {
	t.Setenv("FALCON_CLIENT_ID", "id")
	t.Setenv("FALCON_CLIENT_SECRET", "secret")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	mustNoErr(t, os.WriteFile(empty, nil, 0o600))
	base := []string{"collect", "--kafka-brokers", "127.0.0.1:1", "--state-dir", dir}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--start-time", "last tuesday"}, "--start-time"},
		{[]string{"--poll-interval", "0s"}, "--poll-interval"},
		{[]string{"--lookback=-1m"}, "--lookback"},
		{[]string{"--settle-lag=-1s"}, "--settle-lag"},
		{[]string{"--tenant", "../x"}, "--tenant"},
		{[]string{"--checkpoint", "s3"}, "--checkpoint"},
		{[]string{"--falcon-page-limit", "5000"}, "--falcon-page-limit"},
		{[]string{"--falcon-offset-cap", "10"}, "--falcon-offset-cap"},
		{[]string{"--falcon-cloud", "mars-1"}, "--falcon-cloud"},
		{[]string{"--falcon-base-url", "ftp://x"}, "--falcon-base-url"},
		{[]string{"--kafka-compression", "brotli"}, "--kafka-compression"},
		{[]string{"--fingerprint-key-file", empty}, "--fingerprint-key-file"},
		{[]string{"--fingerprint-key-file", filepath.Join(dir, "missing")}, "--fingerprint-key-file"},
		{[]string{"--falcon-client-secret-file", filepath.Join(dir, "missing")}, "--falcon-client-secret-file"},
		{[]string{"--topic-partitions", "0"}, "--topic-partitions"},
		{[]string{"--audit-topic", " "}, "--audit-topic"},
	} {
		code, stderr := runIngest(append(append([]string{}, base...), tc.args...)...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, tc.flag) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %s", tc.args, code, stderr, tc.flag)
		}
	}
	t.Setenv("FALCON_CLIENT_ID", "")
	if code, stderr := runIngest(base...); code != 2 || !strings.Contains(stderr, "--falcon-client-id") {
		t.Errorf("no client id: exit %d, %q", code, stderr)
	}
}

// Every collect flag has an environment variable; the contract's names are
// kept exactly; topic defaults are the schema's.
func TestCollectFlagContract(t *testing.T) {
	var cli CLI
	p, err := newParser(&cli, io.Discard, io.Discard, func(int) {})
	mustNoErr(t, err)
	var collect *kong.Node
	for _, n := range p.Model.Children {
		if n.Name == "collect" {
			collect = n
		}
	}
	if collect == nil {
		t.Fatal("no collect command")
	}
	envs := map[string]string{}
	for _, f := range collect.Flags {
		if len(f.Envs) == 0 {
			t.Errorf("--%s has no environment variable", f.Name)
			continue
		}
		envs[f.Name] = f.Envs[0]
	}
	for flag, env := range map[string]string{
		"falcon-cloud": "FALCON_CLOUD", "falcon-base-url": "FALCON_BASE_URL", "falcon-client-id": "FALCON_CLIENT_ID",
		"falcon-client-secret": "FALCON_CLIENT_SECRET", "kafka-brokers": "KAFKA_BROKERS",
		"falcon-client-secret-file": "", "falcon-member-cid": "", "poll-interval": "", "lookback": "", "start-time": "",
		"tenant": "", "state-dir": "", "checkpoint": "", "once": "", "fingerprint-key": "", "create-topics": "",
	} {
		got, ok := envs[flag]
		if !ok {
			t.Errorf("--%s missing", flag)
		} else if env != "" && got != env {
			t.Errorf("--%s: env %s, want %s", flag, got, env)
		}
	}
	for _, f := range collect.Flags {
		switch f.Name {
		case "audit-topic", "tokens-topic", "settings-topic":
			want := map[string]string{"audit-topic": schema.TopicAuditEvents, "tokens-topic": schema.TopicTokens, "settings-topic": schema.TopicSettings}[f.Name]
			if f.Default != want {
				t.Errorf("--%s default %q, want %q", f.Name, f.Default, want)
			}
		case "checkpoint-topic":
			if f.Default != checkpoint.DefaultTopic {
				t.Errorf("--checkpoint-topic default %q", f.Default)
			}
		}
	}
	// runCollect's parameters are the pieces run and demo embed.
	ft := reflect.TypeOf(CollectCmd{})
	for _, name := range []string{"KafkaFlags", "CollectFlags", "Once"} {
		if _, ok := ft.FieldByName(name); !ok {
			t.Errorf("CollectCmd has no %s", name)
		}
	}
	if _, ok := reflect.TypeOf(CollectFlags{}).FieldByName("Once"); ok {
		t.Error("--once belongs to CollectCmd, not CollectFlags")
	}
}

// A config file sets every flag; the environment overrides it and a flag
// overrides both.
func TestCollectConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "c.yaml")
	mustNoErr(t, os.WriteFile(cfgFile, []byte("collect:\n  tenant: fromfile\n  lookback: 7m\n  poll-interval: 2m\n  start-time: all\n  kafka-brokers: file:9092\n"), 0o600))
	parse := func(args ...string) CollectCmd {
		t.Helper()
		var cli CLI
		p, err := newParser(&cli, io.Discard, io.Discard, func(int) {})
		mustNoErr(t, err)
		if _, err := p.Parse(append([]string{"collect", "--config", cfgFile}, args...)); err != nil {
			t.Fatal(err)
		}
		return cli.Collect
	}
	c := parse()
	if c.Tenant != "fromfile" || c.Lookback != 7*time.Minute || c.PollInterval != 2*time.Minute || c.StartTime != "all" || c.KafkaBrokers != "file:9092" {
		t.Fatalf("file values not applied: %+v", c.CollectFlags)
	}
	t.Setenv("TOKENTRAIL_TENANT", "fromenv")
	t.Setenv("KAFKA_BROKERS", "env:9092")
	if c := parse(); c.Tenant != "fromenv" || c.KafkaBrokers != "env:9092" || c.Lookback != 7*time.Minute {
		t.Fatalf("env does not override the file: %+v", c.CollectFlags)
	}
	if c := parse("--tenant", "fromflag"); c.Tenant != "fromflag" {
		t.Fatalf("flag does not override env: %q", c.Tenant)
	}
}

// A config file may list tenants (MSSP): each inherits unset fields, gets
// its own secret source, and errors name the entry.
func TestCollectTenantList(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "s")
	mustNoErr(t, os.WriteFile(secretFile, []byte("file-secret\n"), 0o600))
	t.Setenv("ACME_SECRET", "env-secret")
	write := func(body string) string {
		p := filepath.Join(dir, "t.yaml")
		mustNoErr(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	f := CollectFlags{Tenant: "default", FalconClientID: "parent", FalconClientSecret: "parent-secret", FalconCloud: "us-2",
		FalconRequestsPerMinute: 300}
	specs, err := f.tenantSpecs(write(`
collect:
  tenants:
    - tenant: child-a
      falcon-member-cid: cid-a
    - tenant: child-b
      falcon-member-cid: cid-b
      falcon-requests-per-minute: 50
    - tenant: own
      falcon-client-id: own-id
      falcon-client-secret-file: ` + secretFile + `
      falcon-cloud: eu-1
    - tenant: envy
      falcon-client-id: envy-id
      falcon-client-secret-env: ACME_SECRET
`))
	mustNoErr(t, err)
	want := []tenantSpec{
		{Name: "child-a", Cloud: "us-2", ClientID: "parent", ClientSecret: "parent-secret", MemberCID: "cid-a", RequestsPerMinute: 300, FromFile: true},
		{Name: "child-b", Cloud: "us-2", ClientID: "parent", ClientSecret: "parent-secret", MemberCID: "cid-b", RequestsPerMinute: 50, FromFile: true},
		{Name: "own", Cloud: "eu-1", ClientID: "own-id", ClientSecret: "file-secret", RequestsPerMinute: 300, FromFile: true},
		{Name: "envy", Cloud: "us-2", ClientID: "envy-id", ClientSecret: "env-secret", RequestsPerMinute: 300, FromFile: true},
	}
	if !reflect.DeepEqual(specs, want) {
		t.Fatalf("specs:\n got %+v\nwant %+v", specs, want)
	}
	if specs, err := f.tenantSpecs(""); err != nil || len(specs) != 1 || specs[0].Name != "default" {
		t.Fatalf("no config file: %+v, %v", specs, err)
	}
	for body, wantErr := range map[string]string{
		"tenants:\n  - tenant: a\n    falcon-member-cid: x\n    falcon-membr-cid: y\n":                 "falcon-membr-cid",
		"tenants:\n  - tenant: a\n    falcon-member-cid: x\n  - tenant: a\n    falcon-member-cid: y\n": "listed twice",
		"tenants:\n  - tenant: a\n  - tenant: b\n":                                                     "falcon-member-cid",
		"tenants:\n  - tenant: a\n    falcon-client-id: i\n    falcon-client-secret-env: NOPE_UNSET\n": "NOPE_UNSET",
		"tenants:\n  - tenant: ../a\n":                                                                 "tenant",
		"tenants: []\n":                                                                                "empty",
		"tenants:\n  - tenant: a\ncollect:\n  tenants:\n    - tenant: b\n":                             "more than one",
	} {
		_, err := f.tenantSpecs(write(body))
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), "--config") {
			t.Errorf("%q: err %v, want a --config error mentioning %q", body, err, wantErr)
		}
	}
}

// MSSP: a parent client collects two child CIDs listed in the config file,
// each into its own tenant and checkpoint.
func TestCollectSeveralTenantsFromConfig(t *testing.T) {
	const parentCID, childA, childB = "0123456789abcdef0123456789abcdef", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	parent := falcontest.APIClient{ID: "parent-client", Secret: "parent-secret-value",
		Scopes: []string{falcontest.ScopeRead}, MemberCIDs: []string{childA, childB}}
	e := newCollectEnv(t, falcontest.Config{Seed: 11, Clock: falcontest.NewClock(collectEpoch), Tenants: []falcontest.TenantConfig{
		{CID: parentCID, Clients: []falcontest.APIClient{parent}, Tokens: 1, Events: 10},
		{CID: childA, Tokens: 3, Events: 3000, Ties: 30},
		{CID: childB, Tokens: 4, Events: 1500, Ties: 30},
	}})
	withClock(t, e.emu.Clock())
	e.emu.Clock().Advance(2 * time.Minute)
	t.Setenv("FALCON_CLIENT_ID", parent.ID)
	t.Setenv("FALCON_CLIENT_SECRET", parent.Secret)
	cfgFile := filepath.Join(e.dir, "tenants.yaml")
	mustNoErr(t, os.WriteFile(cfgFile, []byte("tenants:\n  - tenant: child-a\n    falcon-member-cid: "+childA+
		"\n  - tenant: child-b\n    falcon-member-cid: "+childB+"\n"), 0o600))
	code, stderr := runIngest(append(e.args("--once", "--start-time", "all"), "--config", cfgFile)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(stderr))
	}
	for name, cid := range map[string]string{"child-a": childA, "child-b": childB} {
		want := e.emu.Tenant(cid).AuditEventIDs(true)
		if m, d, x := compareIDs(e.idCounts(schema.TopicAuditEvents, name, 1), want); m+d+x != 0 {
			t.Errorf("%s: %d missing, %d duplicates, %d unexpected of %d", name, m, d, x, len(want))
		}
		if _, err := os.Stat(filepath.Join(e.dir, "state", name+".json")); err != nil {
			t.Errorf("%s: no checkpoint: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state", "default.json")); err == nil {
		t.Error("a checkpoint for the unused default tenant")
	}
}

func countStatus(rs []falcontest.Request, status int) int {
	n := 0
	for _, r := range rs {
		if r.Status == status {
			n++
		}
	}
	return n
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptrOf[T any](v T) *T { return &v }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func lastLogLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
