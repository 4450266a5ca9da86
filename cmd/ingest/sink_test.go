package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
)

// TestSinkCommands runs the sink and migrate command tests against one
// ClickHouse server; each has its own Kafka cluster and database.
func TestSinkCommands(t *testing.T) {
	ch := chtest.Start(t)
	t.Run("SinkOnce", func(t *testing.T) { testSinkOnce(t, ch) })
	t.Run("SinkUsageErrors", func(t *testing.T) { testSinkUsageErrors(t, ch) })
	t.Run("SinkPasswordNotLeaked", func(t *testing.T) { testSinkPasswordNotLeaked(t, ch) })
	t.Run("SinkGracefulStop", func(t *testing.T) { testSinkGracefulStop(t, ch) })
	t.Run("MigrateTwice", func(t *testing.T) { testMigrateTwice(t, ch) })
	t.Run("MigratePartial", func(t *testing.T) { testMigratePartial(t, ch) })
	t.Run("SinkKilledAtRandom", func(t *testing.T) { testSinkKilledAtRandom(t, ch) })
}

// `ingest sink --once` creates the database, applies the schema, drains
// the topics, commits and exits 0; a second run finds nothing to do.
func testSinkOnce(t *testing.T, ch *chtest.Server) {
	e := newSinkEnv(t, ch)
	e.produceAudit(0, 12_000, kafka.Zstd)
	code, _, stderr := ingestCLI(e.args("sink", "--once")...)
	if code != 0 {
		t.Fatalf("sink --once exited %d: %s", code, stderr)
	}
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 12_000 {
		t.Errorf("audit_events holds %d rows, want 12000", n)
	}
	if !strings.Contains(stderr, "drained to the end offsets") {
		t.Errorf("no drain message in the log:\n%s", stderr)
	}
	e.produceAudit(12_000, 1000, kafka.Zstd)
	code, _, stderr = ingestCLI(e.args("sink", "--once", "--no-migrate")...)
	if code != 0 {
		t.Fatalf("second sink --once exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "records=1000 ") {
		t.Errorf("second run should read only the 1000 new records:\n%s", tailLines(stderr, 3))
	}
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 13_000 {
		t.Errorf("audit_events holds %d rows, want 13000", n)
	}
}

// Bad flags and configuration: one line naming the flag, exit code 2.
func testSinkUsageErrors(t *testing.T, ch *chtest.Server) {
	e := newSinkEnv(t, ch)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sink", "--clickhouse-dsn", ch.DSN(e.db)}, "--kafka-brokers"},
		{e.args("sink", "--batch-rows", "0"), "--batch-rows"},
		{e.args("sink", "--batch-age", "-1s"), "--batch-age"},
		{e.args("sink", "--memory-budget-mib", "8"), "--memory-budget-mib"},
		{e.args("sink", "--group", " "), "--group"},
		{e.args("sink", "--group-heartbeat-interval", "40s"), "--group-heartbeat-interval"},
		{e.args("sink", "--clickhouse-dsn", "http://127.0.0.1:8123/x"), "--clickhouse-dsn"},
		{e.args("sink", "--clickhouse-dsn", "clickhouse://h:1/db`x"), "--clickhouse-dsn"},
		{e.args("sink", "--clickhouse-password-file", missing), "--clickhouse-password-file"},
		{e.args("sink", "--clickhouse-tls-ca-file", "/dev/null"), "--clickhouse-tls"},
		{[]string{"migrate", "--clickhouse-dsn", "nonsense"}, "--clickhouse-dsn"},
	} {
		code, _, stderr := ingestCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %s", tc.args[1:], code, stderr, tc.want)
		}
	}
	// A server that does not answer is a runtime failure: exit 1.
	code, _, stderr := ingestCLI(e.args("sink", "--once", "--clickhouse-dsn", "clickhouse://127.0.0.1:1/x?dial_timeout=1s")...)
	if code != 1 || !strings.Contains(stderr, "ClickHouse clickhouse://127.0.0.1:1/x") {
		t.Errorf("unreachable ClickHouse: exit %d, %s", code, stderr)
	}
}

// The password reaches the server but never the log.
func testSinkPasswordNotLeaked(t *testing.T, ch *chtest.Server) {
	e := newSinkEnv(t, ch)
	const secret = "s3cr3t-Pa55word"
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		e.args("sink", "--once", "--clickhouse-password-file", pwFile, "--log-level", "debug"),
		e.args("migrate", "--clickhouse-dsn", "clickhouse://default:"+secret+"@"+ch.Addr+"/"+e.db),
	} {
		code, stdout, stderr := ingestCLI(args...)
		// The test server's default user has no password: a wrong one fails.
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 (authentication failure)", args[:1], code)
		}
		if strings.Contains(stderr+stdout, secret) {
			t.Errorf("%v: the password appears in the output:\n%s", args[:1], stderr)
		}
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
