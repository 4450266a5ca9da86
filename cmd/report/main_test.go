package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/queries/querytest"
	"github.com/tokentrail/tokentrail/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func clock() time.Time { return querytest.ScenarioNow }

// cli runs the command and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, clock)
	return code, out.String(), errOut.String()
}

// scenarioDSN starts a server, loads the review scenario and returns a DSN.
func scenarioDSN(t *testing.T) string {
	t.Helper()
	s := chtest.Start(t)
	db, conn := querytest.NewDatabase(t, s)
	if err := querytest.Load(context.Background(), conn, querytest.Scenario()); err != nil {
		t.Fatal(err)
	}
	return s.DSN(db)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/report -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./cmd/report -update rewrites it after review)\n%s",
			path, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + w + "\ngot:  " + g
		}
	}
	return ""
}

var extension = map[report.Format]string{report.Table: "txt", report.CSV: "csv", report.JSON: "json",
	report.Markdown: "md", report.HTML: "html"}

// TestGolden runs every report in every format, and both packs, on the
// fixed scenario and compares the output with testdata/golden.
func TestGolden(t *testing.T) {
	dsn := scenarioDSN(t)
	for _, name := range queries.Names() {
		r, _ := queries.Lookup(name)
		for _, f := range report.Formats {
			if f == report.CSV && len(r.Sections) > 1 {
				// CSV holds one table: one file per section, and none
				// without --section.
				t.Run(name+".csv", func(t *testing.T) {
					code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", name, "--format", "csv")
					if code != 2 || out != "" || !strings.Contains(errOut, "--section") {
						t.Fatalf("multi-section CSV: exit %d, stderr %q", code, errOut)
					}
				})
				for _, sec := range r.Sections {
					t.Run(name+"."+sec.Name+".csv", func(t *testing.T) {
						code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", name, "--format", "csv", "--section", sec.Name)
						if code != 0 {
							t.Fatalf("exit %d: %s", code, errOut)
						}
						golden(t, name+"."+sec.Name+".csv", out)
					})
				}
				continue
			}
			t.Run(name+"."+extension[f], func(t *testing.T) {
				code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", name, "--format", string(f))
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden(t, name+"."+extension[f], out)
			})
		}
	}
	for _, f := range report.PackFormats {
		t.Run("pack."+extension[f], func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pack")
			code, stdout, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--format", string(f), "--out", out)
			if code != 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q: %s", code, stdout, errOut)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "pack."+extension[f], string(b))
		})
	}
	t.Run("list.txt", func(t *testing.T) {
		code, out, errOut := cli(t, "list")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "list.txt", out)
	})
}

// TestParamsFromFlags checks that --since/--until/--tenant/--param reach the
// SQL, including in a pack, where an unscoped parameter goes to every report
// declaring it and a scoped one to its report only.
func TestParamsFromFlags(t *testing.T) {
	dsn := scenarioDSN(t)
	code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "admin-activity", "--since", "2025-06-12",
		"--until", "2025-06-13", "--section", "token_events", "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "at,action,actor,token_id,label\n" +
		"2025-06-12 09:00:00,created,dave@example.com," + querytest.TokenID(7) + ",Temp test\n" +
		"2025-06-12 09:20:00,deleted,dave@example.com," + querytest.TokenID(7) + ",Temp test\n"
	if out != want {
		t.Errorf("admin-activity token_events on 2025-06-12:\n%s\nwant:\n%s", out, want)
	}
	code, out, _ = cli(t, "--clickhouse-dsn", dsn, "run", "token-inventory", "--tenant", "other", "--format", "csv")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, querytest.TokenID(99)) {
		t.Errorf("--tenant other: exit %d\n%s", code, out)
	}
	code, out, errOut = cli(t, "--clickhouse-dsn", dsn, "pack", "--format", "markdown", "--param", "days=10",
		"--param", "expiring-tokens.days=3", "--since", "2025-06-01", "--until", "2025-06-30")
	if code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"**Period:** 2025-06-01 00:00:00 to 2025-06-30 00:00:00 UTC", "**days:** 10", "**days:** 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("pack lacks %q", want)
		}
	}
}

// TestErrors checks exit codes and the one-line messages.
func TestErrors(t *testing.T) {
	dead := "clickhouse://127.0.0.1:1/tokentrail?dial_timeout=1s"
	outFile := filepath.Join(t.TempDir(), "missing-dir", "x.csv")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "nope"}, 2, `unknown report "nope"`},
		{[]string{"run"}, 2, "expected \"<name>\""},
		{[]string{"run", "stale-tokens", "--param", "foo=1"}, 2, "--param foo: report stale-tokens has no parameter foo"},
		{[]string{"run", "stale-tokens", "--param", "days"}, 2, `--param "days": want NAME=VALUE`},
		{[]string{"run", "stale-tokens", "--param", "days=ten"}, 2, `--param days: "ten": want a whole number >= 0`},
		{[]string{"run", "token-usage", "--since", "yesterday"}, 2, `--since: "yesterday": want now, a time ago`},
		{[]string{"run", "token-usage", "--since", "2025-07-01", "--until", "2025-06-01"}, 2, "must be before until"},
		{[]string{"run", "stale-tokens", "--since", "30d"}, 2, "--since: report stale-tokens has no parameter since"},
		{[]string{"run", "stale-tokens", "--format", "xml"}, 2, "--format"},
		{[]string{"run", "stale-tokens", "--section", "nope"}, 2, "--section: report stale-tokens has no section \"nope\""},
		{[]string{"pack", "--param", "nope=1"}, 2, "--param nope: no report has a parameter nope"},
		{[]string{"pack", "--param", "nope.days=1"}, 2, `unknown report "nope"`},
		{[]string{"pack", "--param", "stale-tokens.window=1h"}, 2, "report stale-tokens has no parameter window"},
		{[]string{"pack", "--format", "csv"}, 2, "--format"},
		{[]string{"pack", "--controls", "/nonexistent/controls.json"}, 2, "--controls"},
		{[]string{"pack", "--controls", "testdata/golden/list.txt"}, 2, "list.txt: controls: invalid character"},
		{[]string{"pack", "--format", "pdf"}, 2, "--format pdf: needs --out FILE"},
		{[]string{"pack", "--all-tenants"}, 2, "--all-tenants: needs --out FILE"},
		{[]string{"pack", "--top", "0"}, 2, "--top: 0 is not positive"},
		{[]string{"--clickhouse-dsn", "http://127.0.0.1:8123/x", "run", "stale-tokens"}, 2, "--clickhouse-dsn"},
		{[]string{"--clickhouse-dsn", dead, "run", "stale-tokens"}, 1, "does not answer"},
		{[]string{"--clickhouse-dsn", dead, "pack"}, 1, "does not answer"},
	}
	for _, tc := range cases {
		code, out, errOut := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("report %s: exit %d, stdout %q, stderr %q; want exit %d and one line with %q",
				strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.want)
		}
	}

	dsn := scenarioDSN(t)
	code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "stale-tokens", "--out", outFile)
	if code != 1 || !strings.Contains(errOut, "--out") {
		t.Errorf("unwritable --out: exit %d, %q", code, errOut)
	}
	// A database that does not exist: a bad flag, not a server that does
	// not answer.
	code, _, errOut = cli(t, "--clickhouse-dsn", strings.Replace(dsn, "/tt_", "/missing_", 1), "run", "stale-tokens")
	if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing database: exit %d, %q", code, errOut)
	}
}

// TestRunWarnsOnCoverage: a report over a period the pipeline did not record
// as collected says so on standard error, leaving its output unchanged; a
// report without a period does not.
func TestRunWarnsOnCoverage(t *testing.T) {
	dsn := scenarioDSN(t)
	code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "admin-activity", "--section", "per_actor", "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "actor,") ||
		errOut != "report: warning: Collection coverage of the period: not recorded. The pipeline recorded no collection for this tenant and period: nothing shows that the period was fully collected.\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "stale-tokens"); code != 0 || errOut != "" {
		t.Errorf("a report without a period: exit %d, stderr %q", code, errOut)
	}
}

// A cluster error keeps the host lines that follow its first line.
func TestOneLineKeepsHosts(t *testing.T) {
	err := errors.New("dial: All connection tries failed. Log: \n\n" +
		"failed to connect to 10.0.0.1:9000: connection refused\nfailed to connect to 10.0.0.2:9000: i/o timeout\n")
	got := oneLine(err)
	if strings.Contains(got, "\n") || !strings.Contains(got, "10.0.0.1:9000") || !strings.Contains(got, "10.0.0.2:9000") {
		t.Errorf("oneLine = %q; want one line naming both hosts", got)
	}
}
