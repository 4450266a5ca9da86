package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/chtest"
)

// TestDemo runs `ingest demo` briefly: it must end with every Falcon event
// and token in ClickHouse, a summary, and a review pack with its charts.
func TestDemo(t *testing.T) {
	ch := chtest.Start(t)
	dir := t.TempDir()
	pack := filepath.Join(dir, "pack.html")
	code, stdout, stderr := ingestCLI("demo", "--duration", "4s", "--clickhouse-dsn", ch.DSN(ch.NewDatabase()),
		"--state-dir", dir, "--events", "3000", "--tokens", "40", "--activity-interval", "50ms", "--pack", pack)
	if code != 0 {
		t.Fatalf("ingest demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, tail(stderr))
	}
	m := regexp.MustCompile(`audit events: +(\d+) in Falcon \(visible\), (\d+) in ClickHouse`).FindStringSubmatch(stdout)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("audit events in Falcon and ClickHouse differ or are missing: %v\n%s", m, stdout)
	}
	m = regexp.MustCompile(`tokens: +(\d+) in Falcon, (\d+) current in ClickHouse`).FindStringSubmatch(stdout)
	if m == nil || m[1] != m[2] {
		t.Errorf("tokens in Falcon and ClickHouse differ or are missing: %v\n%s", m, stdout)
	}
	if !strings.Contains(stdout, "policy findings:") || !strings.Contains(stdout, "review pack: "+pack) {
		t.Errorf("summary lacks findings or the pack path:\n%s", stdout)
	}
	if !strings.Contains(stderr, "demo: ") {
		t.Errorf("no progress shown on stderr:\n%s", tail(stderr))
	}
	html, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n < 3 {
		t.Errorf("review pack has %d charts, want at least 3", n)
	}
	for _, name := range []string{"Token inventory", "Policy findings", "Admin activity"} {
		if !strings.Contains(string(html), name) {
			t.Errorf("review pack lacks %q", name)
		}
	}
}

func TestDemoBadFlags(t *testing.T) {
	code, _, stderr := ingestCLI("demo", "--duration", "0s")
	if code != 2 || !strings.Contains(stderr, "--duration") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("demo --duration 0s: exit %d, stderr %q; want 2 and one line naming the flag", code, stderr)
	}
}
