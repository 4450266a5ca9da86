package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/internal/packcheck"
)

// TestDemoPack runs the demo with its believable tenant and opens its
// review pack in Chromium: under 1 MB, a clean console, every link and CSV
// file resolving, nothing wider than an A4 page, and CSV files holding
// every row the pack summarises. Screenshots of the first page and of the
// findings go to REPORT_PACK_SHOTS when it names a directory.
func TestDemoPack(t *testing.T) {
	bin := packcheck.Chromium(t)
	ch := chtest.Start(t)
	db := ch.NewDatabase()
	dir := t.TempDir()
	pack := filepath.Join(dir, "review-pack.html")
	code, stdout, stderr := ingestCLI("demo", "--duration", "5s", "--clickhouse-dsn", ch.DSN(db), "--state-dir", dir, "--pack", pack)
	if code != 0 {
		t.Fatalf("ingest demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, tail(stderr))
	}
	st, err := os.Stat(pack)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() >= 1<<20 {
		t.Errorf("the demo's pack is %d bytes, want under 1 MB", st.Size())
	}
	t.Logf("demo pack: %d bytes", st.Size())

	rep := packcheck.Check(t, bin, pack)
	if len(rep.Console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(rep.Console, "\n"))
	}
	if len(rep.Broken) > 0 {
		t.Errorf("links that lead nowhere: %q", rep.Broken)
	}
	if len(rep.Wide) > 0 {
		t.Errorf("wider than an A4 page: %q", rep.Wide)
	}

	// The CSV files hold every row: every token ClickHouse has, every finding the summary counts.
	conn := ch.Conn(t, db)
	var tokens uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM tokens FINAL WHERE tenant = 'demo'").Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "review-pack-data")
	if n := csvRecords(t, filepath.Join(data, "token-inventory--tokens.csv")); n != int(tokens) || tokens < 250 {
		t.Errorf("inventory CSV has %d rows, ClickHouse %d tokens (want a few hundred)", n, tokens)
	}
	findings := 0
	for _, m := range regexp.MustCompile(`data-severity="\w+">(\d+)<`).FindAllStringSubmatch(rep.DOM, -1) {
		n, _ := strconv.Atoi(m[1])
		findings += n
	}
	if n := csvRecords(t, filepath.Join(data, "policy-findings--findings.csv")); n != findings {
		t.Errorf("findings CSV has %d rows, the summary counts %d", n, findings)
	}
	if v, _ := strconv.Atoi(rep.Figures["tokens_deleted"]); v > 60 {
		t.Errorf("%d deleted tokens: the demo tenant should delete rarely", v)
	}

	shots := os.Getenv("REPORT_PACK_SHOTS")
	if shots == "" {
		shots = dir
	} else { // keep the pack for a human look
		b, _ := os.ReadFile(pack)
		_ = os.WriteFile(filepath.Join(shots, "demo-pack.html"), b, 0o644)
	}
	for name, only := range map[string]string{"demo-first-page.png": "", "demo-findings.png": "policy-findings--findings"} {
		if msgs := packcheck.Screenshot(t, bin, pack, filepath.Join(shots, name), 816, 1056, only); len(msgs) > 0 {
			t.Errorf("%s: console messages %q", name, msgs)
		}
		if st, err := os.Stat(filepath.Join(shots, name)); err != nil || st.Size() < 10000 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// csvRecords counts the data records of a CSV file.
func csvRecords(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return len(recs) - 1
}
