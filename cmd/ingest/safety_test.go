package main

// Regression tests of issue 10 ("safe by default"): each runs the command
// line as an operator would and checks its exit code and output.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

// writeConfig writes a --config file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadEndArgs are collect flags under which the old code went on to run and
// failed at once (exit 1): no Kafka, no Falcon, no retries.
func deadEndArgs(t *testing.T, extra ...string) []string {
	t.Setenv("FALCON_CLIENT_ID", "id")
	t.Setenv("FALCON_CLIENT_SECRET", "secret")
	return append([]string{"collect", "--once", "--kafka-brokers", "127.0.0.1:1", "--no-create-topics",
		"--falcon-base-url", "http://127.0.0.1:1", "--falcon-max-retries=0", "--state-dir", t.TempDir()}, extra...)
}

// Case 4: an unknown key of --config is exit 2 naming it, with a "did you
// mean" for near misses; keys under a command's section too.
func TestConfigUnknownKeyExit2(t *testing.T) {
	for body, want := range map[string]string{
		"poll-intervall: 10s\n":         "unknown key poll-intervall (did you mean poll-interval?)",
		"poll_interval: 10s\n":          "unknown key poll_interval (did you mean poll-interval?)",
		"foo: bar\n":                    "unknown key foo",
		"collect:\n  lookbak: 1m\n":     "unknown key collect.lookbak (did you mean lookback?)",
		"duration: 10s\n":               "unknown key duration (it is a flag of demo only",
		"poll-interval: 1m\nfoo: bar\n": "unknown key foo",
		"sink:\n  poll-interval: 10s\n": "unknown key sink.poll-interval",
		"tenants:\n  - tenant: a\n    falcon-member-cid: 1\nfalcon-member-cids: x\n": "did you mean falcon-member-cid?",
	} {
		code, stderr := runIngest(deadEndArgs(t, "--config", writeConfig(t, body))...)
		if code != 2 || !strings.Contains(stderr, "--config: "+want) && !strings.Contains(stderr, want) {
			t.Errorf("config %q: exit %d, stderr %q; want exit 2 and %q", body, code, stderr, want)
		}
	}
	// Known keys at the top level and in sections pass validation.
	ok := writeConfig(t, "poll-interval: 10s\ncollect:\n  lookback: 1m\nsink:\n  batch-rows: 10\ndemo:\n  duration: 5s\n")
	if code, stderr := runIngest(deadEndArgs(t, "--config", ok)...); strings.Contains(stderr, "--config") {
		t.Errorf("valid config: exit %d, stderr %q", code, stderr)
	}
}

// Case 6: a --start-time in the future is refused (exit 2) instead of
// moving the cursor past events that do not exist yet.
func TestStartTimeInFutureExit2(t *testing.T) {
	for _, v := range []string{"2999-01-01", "2999-01-01T00:00:00Z"} {
		code, stderr := runIngest(deadEndArgs(t, "--start-time", v)...)
		if code != 2 || !strings.Contains(stderr, "--start-time") || !strings.Contains(stderr, "future") {
			t.Errorf("--start-time %s: exit %d, stderr %q; want exit 2 naming --start-time", v, code, stderr)
		}
	}
}

// --start-time takes the forms of report --since.
func TestStartTimeFormsOfSince(t *testing.T) {
	for _, v := range []string{"2w", "2025-06-01 10:00"} {
		code, stderr := runIngest(deadEndArgs(t, "--start-time", v)...)
		if strings.Contains(stderr, "--start-time") {
			t.Errorf("--start-time %s: exit %d, stderr %q", v, code, stderr)
		}
	}
}

// Case 2: a first run that fails (here: a wrong client secret) leaves no
// checkpoint, so the next, correct run starts from its own --start-time and
// exports every event. Asking a tenant with a checkpoint for earlier data
// is answered with a warning that names the way to backfill.
func TestFailedFirstRunLeavesNoCheckpoint(t *testing.T) {
	e := newCollectEnv(t, falcontest.Config{Seed: 21, Clock: falcontest.NewClock(collectEpoch),
		Tenants: []falcontest.TenantConfig{{Tokens: 5, Events: 2000}}})
	withClock(t, e.emu.Clock())
	e.emu.Clock().Advance(2 * time.Minute)
	tn := e.emu.Tenants()[0]
	secret := e.setCredentials(t, tn)

	t.Setenv("FALCON_CLIENT_SECRET", "wrong-"+secret)
	code, stderr := runIngest(e.args("--once", "--start-time", "1h", "--log-level", "info")...)
	if code != 1 {
		t.Fatalf("wrong secret: exit %d, want 1\n%s", code, tail(stderr))
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state", "default.json")); err == nil {
		t.Error("the failed run left a checkpoint")
	}

	t.Setenv("FALCON_CLIENT_SECRET", secret)
	code, stderr = runIngest(e.args("--once", "--start-time", "all", "--log-level", "info")...)
	if code != 0 {
		t.Fatalf("correct run: exit %d\n%s", code, tail(stderr))
	}
	want := tn.AuditEventIDs(true)
	if m, d, x := compareIDs(e.idCounts(schema.TopicAuditEvents, "default", 0), want); m+d+x != 0 {
		t.Fatalf("after a failed first run: %d of %d events missing, %d duplicates, %d unexpected", m, len(want), d, x)
	}
	// --once ends with a summary: records per type, API requests, time.
	summary := lastLogLine(strings.TrimSuffix(stderr, lastLogLine(stderr)))
	for _, want := range []string{`msg="collect --once summary"`, "audit_events=" + strconv.Itoa(len(want)), "tokens=5", "settings=1", "api_requests=", "elapsed="} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in the --once summary: %s", want, summary)
		}
	}

	// A checkpoint that starts later than --start-time asks: said at start.
	state2 := t.TempDir()
	args := func(start string) []string {
		return append(e.args("--once", "--log-level", "info", "--start-time", start), "--state-dir", state2)
	}
	if code, stderr := runIngest(args("1h")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(stderr))
	}
	code, stderr = runIngest(args("all")...)
	if code != 0 || !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "checkpoint starts later than the start time") ||
		!strings.Contains(stderr, "separate state directory") {
		t.Fatalf("exit %d; want a warning that the checkpoint starts later than --start-time all\n%s", code, tail(stderr))
	}
}

// Case 1: the demo never destroys what it did not create. A database that
// holds other tables is refused (exit 2) and left as it was; the shared
// config file's clickhouse-dsn (and other top-level keys) never reach the
// demo; a second demo run resets only what the first one marked.
func TestDemoRefusesForeignDatabase(t *testing.T) {
	ch := chtest.Start(t)
	ctx := context.Background()
	prod := ch.NewDatabase()
	admin := ch.Conn(t, "")
	mustNoErr(t, admin.Exec(ctx, "CREATE DATABASE "+prod))
	mustNoErr(t, admin.Exec(ctx, "CREATE TABLE "+prod+".unrelated (x UInt8) ENGINE = TinyLog"))
	mustNoErr(t, admin.Exec(ctx, "INSERT INTO "+prod+".unrelated SELECT 42"))
	survives := func(what string) {
		t.Helper()
		var n uint64
		if err := admin.QueryRow(ctx, "SELECT count() FROM "+prod+".unrelated").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: the unrelated table is gone or changed: %d rows, %v", what, n, err)
		}
	}

	code, _, stderr := ingestCLI("demo", "--duration", "1s", "--clickhouse-dsn", ch.DSN(prod), "--state-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--clickhouse-dsn") || !strings.Contains(stderr, "unrelated") {
		t.Errorf("demo on a foreign database: exit %d, stderr %q; want exit 2 naming --clickhouse-dsn and the table", code, tail(stderr))
	}
	survives("--clickhouse-dsn")

	// The production config file, given to the demo by mistake.
	busy := t.TempDir()
	mustNoErr(t, os.WriteFile(filepath.Join(busy, "default.json"), []byte("{}"), 0o600))
	cfg := writeConfig(t, "clickhouse-dsn: "+ch.DSN(prod)+"\nstate-dir: "+busy+"\ndemo:\n  duration: 1s\n")
	code, _, stderr = ingestCLI("demo", "--config", cfg, "--state-dir", busy)
	if code != 2 || !strings.Contains(stderr, "--state-dir") {
		t.Errorf("demo on a foreign state dir: exit %d, stderr %q; want exit 2 naming --state-dir", code, tail(stderr))
	}
	survives("--config")
	if _, err := os.Stat(filepath.Join(busy, "default.json")); err != nil {
		t.Errorf("the foreign state dir lost a file: %v", err)
	}
	var cli CLI
	p, err := newParser(&cli, io.Discard, io.Discard, func(int) {})
	mustNoErr(t, err)
	t.Setenv("TOKENTRAIL_DEMO_CLICKHOUSE_DSN", "")
	os.Unsetenv("TOKENTRAIL_DEMO_CLICKHOUSE_DSN")
	_, err = p.Parse([]string{"demo", "--config", cfg})
	mustNoErr(t, err)
	if strings.Contains(cli.Demo.ClickHouseDSN, prod) || strings.Contains(cli.Demo.StateDir, busy) {
		t.Errorf("the demo took the config file's top-level keys: dsn %q, state dir %q", cli.Demo.ClickHouseDSN, cli.Demo.StateDir)
	}
	if cli.Demo.Duration != time.Second {
		t.Errorf("the demo section's duration was not read: %v", cli.Demo.Duration)
	}
}

// watchChild starts the ingest binary and collects its stderr.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startChild(t *testing.T, bin string, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr, c.cmd.Stdout = c.stderr, io.Discard
	mustNoErr(t, c.cmd.Start())
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// waitFor waits until the child's stderr holds all of subs, or fails.
func (c *child) waitFor(t *testing.T, within time.Duration, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := c.stderr.String()
		for _, line := range strings.Split(s, "\n") {
			all := true
			for _, sub := range subs {
				all = all && strings.Contains(line, sub)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v:\n%s", subs, within, tail(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Case 3: with a Falcon URL that refuses connections, the collector says so
// at WARN within seconds, with the cause and what to check; /readyz names
// the cause; --once gives up after the retry budget of one request, without
// trying every other operation.
func TestDeadFalconWarnsAtOnce(t *testing.T) {
	bin := buildIngest(t)
	_, brokers := kafkatest.Start(t, kafkatest.Options{})
	metrics := freeAddr(t)
	env := []string{"FALCON_CLIENT_ID=id", "FALCON_CLIENT_SECRET=secret", "TOKENTRAIL_FINGERPRINT_KEY=k"}
	args := []string{"collect", "--kafka-brokers", strings.Join(brokers, ","), "--falcon-base-url", "http://127.0.0.1:1",
		"--state-dir", t.TempDir(), "--log-level", "info"}
	c := startChild(t, bin, env, append(args, "--metrics-addr", metrics)...)
	start := time.Now()
	line := c.waitFor(t, 5*time.Second, "level=WARN", "falcon API request failed", `cause="connection refused"`, "check=")
	t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), line)
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		res, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
			if strings.Contains(body, "connection refused since") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not name the cause: %q (%v)", body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(body, "deadline exceeded") {
		t.Errorf("/readyz: %s", body)
	}
	mustNoErr(t, c.cmd.Process.Signal(syscall.SIGTERM))
	<-c.done

	// --once: bounded by one request's retries, then exit 1.
	once := startChild(t, bin, env, append(args, "--once", "--falcon-max-retries", "3", "--falcon-backoff-base", "100ms")...)
	select {
	case err := <-once.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("--once: %v, want exit 1\n%s", err, tail(once.stderr.String()))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("--once still running after 30s\n%s", tail(once.stderr.String()))
	}
	last := lastLogLine(once.stderr.String())
	if !strings.Contains(last, "API unreachable") || strings.Contains(last, "tokens_query") {
		t.Errorf("--once: last line %q; want the unreachable API named, and no other operation tried", last)
	}
}

// Case 7: SIGINT while ClickHouse is down. The sink says at once that it
// stops, does not retry through --shutdown-timeout, exits within 5 s saying
// what was not written, and loses nothing: the next run writes it.
func TestSinkSIGINTDuringClickHouseOutage(t *testing.T) {
	ch := chtest.Start(t)
	bin := buildIngestBinary(t)
	e := newSinkEnv(t, ch)
	e.produceAudit(0, 3000, kafka.Zstd)
	if code, _, stderr := ingestCLI(e.args("migrate")...); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, tail(stderr))
	}
	addr := freeAddr(t)
	logs := filepath.Join(t.TempDir(), "sink.log")
	// --batch-age 1h: the rows can only reach ClickHouse through the
	// final flush, which the outage makes fail.
	cmd := e.child(bin, logs, e.args("sink", "--batch-age", "1h", "--no-migrate", "--metrics-addr", addr, "--shutdown-timeout", "30s")...)
	deadline := time.Now().Add(time.Minute)
	for metric(addr, "tokentrail_sink_records_total") < 3000 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the sink did not fetch the records\n%s", tailFile(logs, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	ch.Kill()
	start := time.Now()
	mustNoErr(t, cmd.Process.Signal(os.Interrupt))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(start)
		t.Logf("exit after SIGINT: %v in %v", err, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("the sink took %v to stop, want < 5s", took)
		}
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the sink did not stop within 40s of SIGINT\n%s", tailFile(logs, 20))
	}
	out := tailFile(logs, 40)
	for _, want := range []string{"signal received: stopping", "not written to ClickHouse", "the next run reads them again"} {
		if !strings.Contains(out, want) {
			t.Errorf("sink log lacks %q:\n%s", want, out)
		}
	}

	// Nothing lost: once ClickHouse is back, the next run writes it all.
	mustNoErr(t, ch.Start())
	if code, _, stderr := ingestCLI(e.args("sink", "--once", "--no-migrate")...); code != 0 {
		t.Fatalf("sink --once after the outage: exit %d\n%s", code, tail(stderr))
	}
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 3000 {
		t.Errorf("audit_events holds %d rows after the outage, want 3000", n)
	}
}

// The smaller ones: bad values that used to pass validation and fail later
// (exit 1) or do the wrong thing are exit 2 naming the flag.
func TestSmallerValidationExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka-brokers", "localhost:abc"}, "--kafka-brokers: "},
		{[]string{"--falcon-member-cid", "acme"}, "--falcon-member-cid: "},
		{[]string{"--falcon-max-retries=-1"}, "--falcon-max-retries: "},
		{[]string{"--falcon-offset-cap", "0"}, "--falcon-offset-cap: "},
	} {
		args := deadEndArgs(t, tc.args...)
		if tc.args[0] == "--kafka-brokers" {
			args = append(args[:3], append([]string{"localhost:abc"}, args[4:]...)...)
		}
		code, stderr := runIngest(args...)
		if code != 2 || !strings.HasPrefix(stderr, "ingest: "+tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, tail(stderr), tc.want)
		}
	}
	// A DSN without a database would migrate into the server's default one.
	code, stderr := runIngest("migrate", "--clickhouse-dsn", "clickhouse://127.0.0.1:1")
	if code != 2 || !strings.Contains(stderr, "--clickhouse-dsn") || !strings.Contains(stderr, "names no database") {
		t.Errorf("DSN without database: exit %d, stderr %q", code, stderr)
	}
}

// JSON logs write every duration the same way: as text.
func TestJSONLogDurations(t *testing.T) {
	code, stderr := runIngest(deadEndArgs(t, "--log-format", "json", "--poll-interval", "90s")...)
	if code == 0 {
		t.Fatalf("exit 0:\n%s", stderr)
	}
	if !strings.Contains(stderr, `"poll_interval":"1m30s"`) {
		t.Errorf("durations are not text:\n%s", tail(stderr))
	}
}

// Case 7, collector side: SIGINT while Kafka is down ends the publish
// retries at once (not after the current backoff), says what was not
// acknowledged, and exits within 5 s; the next run collects it all.
func TestCollectSIGINTDuringKafkaOutage(t *testing.T) {
	bin := buildIngest(t)
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	emu, err := falcontest.New(falcontest.Config{Seed: 31, Clock: clock, Tenants: []falcontest.TenantConfig{{Tokens: 5, Events: 300}}})
	mustNoErr(t, err)
	srv := httptest.NewServer(emu)
	defer srv.Close()
	cluster, brokers := kafkatest.Start(t, kafkatest.Options{})
	tn := emu.Tenants()[0]
	id, secret := tn.Credentials()
	env := []string{"FALCON_CLIENT_ID=" + id, "FALCON_CLIENT_SECRET=" + secret, "TOKENTRAIL_FINGERPRINT_KEY=k"}
	state := t.TempDir()
	args := func(brokers []string, extra ...string) []string {
		return append([]string{"collect", "--kafka-brokers", strings.Join(brokers, ","), "--falcon-base-url", srv.URL,
			"--state-dir", state, "--log-level", "info", "--start-time", "all", "--falcon-requests-per-minute=-1"}, extra...)
	}
	// Kafka is down from the start: topics exist (created by a first
	// run's broker), publishing fails.
	mustNoErr(t, kafkaconn.EnsureTopics(context.Background(), kafkaconn.Config{Brokers: brokers},
		kafkaconn.Topic{Name: schema.TopicAuditEvents}, kafkaconn.Topic{Name: schema.TopicTokens}, kafkaconn.Topic{Name: schema.TopicSettings}))
	cluster.Close()
	c := startChild(t, bin, env, args(brokers, "--no-create-topics")...)
	c.waitFor(t, 60*time.Second, "failed; retrying", "records=")
	time.Sleep(1500 * time.Millisecond) // into the backoff after a failed attempt
	start := time.Now()
	mustNoErr(t, c.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-c.done:
		took := time.Since(start)
		t.Logf("exit after SIGINT: %v in %v", err, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("the collector took %v to stop, want < 5s", took)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the collector did not stop within 60s of SIGINT\n%s", tail(c.stderr.String()))
	}
	out := c.stderr.String()
	for _, want := range []string{"signal received: stopping", "Kafka did not acknowledge a batch", "collects it again"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, tail(out))
		}
	}

	// Nothing lost: with Kafka back, the next run publishes every event.
	_, brokers2 := kafkatest.Start(t, kafkatest.Options{})
	once := startChild(t, bin, env, args(brokers2, "--once")...)
	if err := <-once.done; err != nil {
		t.Fatalf("--once after the outage: %v\n%s", err, tail(once.stderr.String()))
	}
	e := &collectEnv{t: t, brokers: strings.Join(brokers2, ",")}
	if m, d, x := compareIDs(e.idCounts(schema.TopicAuditEvents, "default", 0), tn.AuditEventIDs(true)); m+d+x != 0 {
		t.Errorf("after the outage: %d missing, %d duplicates, %d unexpected", m, d, x)
	}
}
