package main

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/packcheck"
)

// TestPackInChromium opens the HTML review pack in headless Chromium,
// requires a clean console, checks the three charts are in the rendered DOM,
// and renders a PNG in which the chart colours must appear.
func TestPackInChromium(t *testing.T) {
	bin := packcheck.Chromium(t)
	dir := t.TempDir()

	// The console check must be able to fail: a page with errors is caught.
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><title>x</title><script>console.error("planted"); throw new Error("planted too")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, msgs := packcheck.Run(t, bin, bad, "--dump-dom"); len(msgs) < 2 {
		t.Fatalf("console capture missed planted errors: %q", msgs)
	}

	dsn := scenarioDSN(t)
	page := filepath.Join(dir, "pack.html")
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--format", "html", "--out", page); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}

	dom, msgs := packcheck.Run(t, bin, page, "--dump-dom")
	if len(msgs) > 0 {
		t.Errorf("console messages while loading the pack:\n%s", strings.Join(msgs, "\n"))
	}
	charts := regexp.MustCompile(`<svg[^>]*class="chart"[^>]*data-chart="([^"]+)"`).FindAllStringSubmatch(dom, -1)
	var names []string
	for _, c := range charts {
		names = append(names, c[1])
	}
	want := []string{"token-usage/per_day", "admin-activity/per_day", "policy-findings/active_vs_limit"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("charts in the rendered DOM = %v, want %v", names, want)
	}
	if n := strings.Count(dom, "<rect"); n < 20 {
		t.Errorf("only %d <rect> in the DOM: bar charts have no bars", n)
	}
	if n := strings.Count(dom, "<polyline"); n < 2 {
		t.Errorf("%d <polyline> in the DOM, want the two lines of active tokens against the limit", n)
	}
	for _, id := range []string{`id="token-usage--per-day"`, `href="#policy-findings--findings"`} {
		if !strings.Contains(dom, id) {
			t.Errorf("table of contents or anchors missing %s", id)
		}
	}
	if strings.Contains(dom, "<b>\"Prod\"") {
		t.Error("a token label reached the DOM as markup")
	}

	shot := filepath.Join(dir, "pack.png")
	_, msgs = packcheck.Run(t, bin, page, "--window-size=1280,16000", "--screenshot="+shot)
	if len(msgs) > 0 {
		t.Errorf("console messages while rendering the pack:\n%s", strings.Join(msgs, "\n"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 16000 {
		t.Errorf("screenshot is %v", b)
	}
	// Bars and the active-tokens line are #2563eb, the limit line #dc2626.
	if n := countColour(img, 0x25, 0x63, 0xeb); n < 2000 {
		t.Errorf("%d blue chart pixels in the screenshot: charts not drawn", n)
	}
	if n := countColour(img, 0xdc, 0x26, 0x26); n < 200 {
		t.Errorf("%d red chart pixels in the screenshot: limit line not drawn", n)
	}
	if out := os.Getenv("REPORT_PACK_PNG"); out != "" { // for a human look
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(out, b, 0o644)
	}
}

func countColour(img image.Image, r, g, b uint8) int {
	n := 0
	if rgba, ok := img.(*image.RGBA); ok { // what Chromium writes: fast path
		for i := 0; i+3 < len(rgba.Pix); i += 4 {
			if rgba.Pix[i] == r && rgba.Pix[i+1] == g && rgba.Pix[i+2] == b {
				n++
			}
		}
		return n
	}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b {
				n++
			}
		}
	}
	return n
}

// csvRows runs one report section as CSV and returns its records, header
// first.
func csvRows(t *testing.T, dsn, name, section string, extra ...string) [][]string {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"--clickhouse-dsn", dsn, "run", name, "--section", section, "--format", "csv"}, extra...)...)
	if code != 0 {
		t.Fatalf("run %s --section %s: exit %d: %s", name, section, code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("%s/%s CSV: %v", name, section, err)
	}
	return recs
}

// countBy counts the records (header skipped) by the values of columns.
func countBy(recs [][]string, cols ...string) map[string]int {
	idx := make([]int, len(cols))
	for k, c := range cols {
		idx[k] = -1
		for i, h := range recs[0] {
			if h == c {
				idx[k] = i
			}
		}
	}
	out := map[string]int{}
	for _, r := range recs[1:] {
		var key []string
		for _, i := range idx {
			key = append(key, r[i])
		}
		out[strings.Join(key, "/")]++
	}
	return out
}

// TestPackAudit checks the pack as a reviewer's browser shows it: a clean
// console, every link (anchors and CSV files) resolving, no table or chart
// wider than an A4 page, summary figures equal to what the reports
// themselves return, and a PDF of a plausible length. It keeps screenshots
// of the first page and of the findings when REPORT_PACK_SHOTS names a
// directory.
func TestPackAudit(t *testing.T) {
	bin := packcheck.Chromium(t)
	dir := t.TempDir()

	// The checks must be able to fail: a table wider than the page and a
	// dangling link are caught.
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><body><a href="#nowhere">x</a><a href="missing.csv">y</a>`+
		`<table style="width:2000px"><tr><td>wide</td></tr></table></body>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := packcheck.Check(t, bin, bad); len(rep.Wide) != 1 || len(rep.Broken) != 2 {
		t.Fatalf("planted faults not caught: wide %q, broken %q", rep.Wide, rep.Broken)
	}

	dsn := scenarioDSN(t)
	page := filepath.Join(dir, "pack.html")
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--out", page); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}
	rep := packcheck.Check(t, bin, page)
	if len(rep.Console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(rep.Console, "\n"))
	}
	if len(rep.Broken) > 0 {
		t.Errorf("links that lead nowhere: %q", rep.Broken)
	}
	if len(rep.Wide) > 0 || rep.Width != packcheck.PageWidth {
		t.Errorf("at %dpx: wider than the page: %q", rep.Width, rep.Wide)
	}
	if n := strings.Count(rep.DOM, `class="csv"`); n < 15 {
		t.Errorf("%d CSV links, want one per section", n)
	}

	// The summary's figures, against the reports' own rows.
	states := countBy(csvRows(t, dsn, "token-inventory", "tokens"), "state")
	want := map[string]string{
		"tokens_valid":   fmt.Sprint(states["valid"]),
		"tokens_revoked": fmt.Sprint(states["revoked"]),
		"tokens_expired": fmt.Sprint(states["expired"]),
		"tokens_deleted": fmt.Sprint(states["deleted"]),
		"never_expire":   fmt.Sprint(len(csvRows(t, dsn, "expiring-tokens", "never_expire")) - 1),
		"expiring_soon":  fmt.Sprint(len(csvRows(t, dsn, "expiring-tokens", "expiring")) - 1),
		"stale":          fmt.Sprint(len(csvRows(t, dsn, "stale-tokens", "stale")) - 1),
	}
	deletions := 0
	for _, r := range csvRows(t, dsn, "admin-activity", "per_day")[1:] {
		n, _ := strconv.Atoi(r[7]) // day,actions,actors,created,updated,revoked,restored,deleted
		deletions += n
	}
	want["deletions_in_period"] = strconv.Itoa(deletions)
	limit := csvRows(t, dsn, "policy-findings", "active_vs_limit")
	last := limit[len(limit)-1]
	want["active_vs_limit"] = last[1] + " of " + last[2]
	for _, r := range csvRows(t, dsn, "tenant-settings", "current")[1:] {
		if r[0] == "tokens_required" {
			want["tokens_required"] = r[1]
		}
	}
	for k, v := range want {
		if rep.Figures[k] != v {
			t.Errorf("summary figure %s = %q, the reports say %q", k, rep.Figures[k], v)
		}
	}
	if states["valid"] == 0 || states["deleted"] == 0 || deletions == 0 || want["tokens_required"] != "false" {
		t.Errorf("the scenario should have valid and deleted tokens and tokens_required off: %v %v", states, want)
	}
	findings := countBy(csvRows(t, dsn, "policy-findings", "findings"), "finding", "severity")
	shown := map[string]int{}
	for _, row := range regexp.MustCompile(`(?s)<tr data-finding="(\w+)">(.*?)</tr>`).FindAllStringSubmatch(rep.DOM, -1) {
		for _, c := range regexp.MustCompile(`data-severity="(\w+)">(\d+)<`).FindAllStringSubmatch(row[2], -1) {
			var n int
			fmt.Sscan(c[2], &n)
			if n > 0 {
				shown[row[1]+"/"+c[1]] = n
			}
		}
	}
	if fmt.Sprint(shown) != fmt.Sprint(findings) || len(findings) < 4 {
		t.Errorf("findings on the summary %v, in the report %v", shown, findings)
	}
	if rep.Figures["status"] != "fail" { // the scenario has high findings
		t.Errorf("overall status %q", rep.Figures["status"])
	}

	// Screenshots: the first page (Letter at 96 dpi) and the findings.
	shots := os.Getenv("REPORT_PACK_SHOTS")
	if shots == "" {
		shots = dir
	}
	for _, shot := range []struct {
		name, only string
		w, h       int
	}{{"pack-first-page.png", "", 816, 1056}, {"pack-findings.png", "policy-findings--findings", 816, 1056}} {
		path := filepath.Join(shots, shot.name)
		if msgs := packcheck.Screenshot(t, bin, page, path, shot.w, shot.h, shot.only); len(msgs) > 0 {
			t.Errorf("%s: console messages: %q", shot.name, msgs)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", shot.name, err)
		}
		if b := img.Bounds(); b.Dx() != shot.w || b.Dy() != shot.h {
			t.Errorf("%s is %v", shot.name, b)
		}
		// The status badges: the fail badge's red on both pictures.
		if n := countColour(img, 0xfe, 0xe2, 0xe2); n < 100 {
			t.Errorf("%s: %d pixels of the fail badge", shot.name, n)
		}
	}

	// PDF through Chromium.
	pdf := filepath.Join(dir, "pack.pdf")
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--format", "pdf", "--out", pdf); code != 0 {
		t.Fatalf("pack --format pdf: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if n := packcheck.PDFPages(b); !strings.HasPrefix(string(b), "%PDF-") || n < 6 || n > 40 {
		t.Errorf("PDF: %d pages (want 6 to 40), starts %q", n, b[:min(8, len(b))])
	}
	if !packcheck.PDFHasTitle(b, "Installation token review") {
		t.Error("PDF lacks the pack's title")
	}
	// The printed links still lead to the CSV files, one per section.
	csvLinks := 0
	for _, l := range packcheck.PDFLinks(b) {
		if strings.HasPrefix(l, "file://"+dir+"/pack-data/") && strings.HasSuffix(l, ".csv") {
			csvLinks++
		}
	}
	if csvLinks < 15 || !strings.Contains(string(b), "/Dest") {
		t.Errorf("PDF: %d links to CSV files (want one per section), internal links: %v", csvLinks, strings.Contains(string(b), "/Dest"))
	}
	if _, err := os.Stat(filepath.Join(dir, "pack-data", "policy-findings--findings.csv")); err != nil {
		t.Errorf("the PDF's HTML and CSV files are not beside it: %v", err)
	}
}

// TestPackPDFWithoutChromium: a clear message, exit 1, nothing written.
func TestPackPDFWithoutChromium(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	out := filepath.Join(t.TempDir(), "x.pdf")
	code, _, errOut := cli(t, "pack", "--format", "pdf", "--out", out)
	if code != 1 || !strings.Contains(errOut, "--format pdf needs Chromium") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a PDF was written")
	}
}

// TestPackAllTenants: one pack per tenant and an overview comparing them,
// whose links all resolve and whose figures are each tenant's own.
func TestPackAllTenants(t *testing.T) {
	dsn := scenarioDSN(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "review.html")
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--all-tenants", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, tenant := range []string{"default", "other"} {
		row := regexp.MustCompile(`(?s)<tr data-tenant="` + tenant + `"><td><a href="(review-` + tenant + `\.html)">.*?</tr>`).FindStringSubmatch(page)
		if row == nil {
			t.Fatalf("overview has no row linking tenant %s:\n%s", tenant, page)
		}
		pack, err := os.ReadFile(filepath.Join(dir, row[1]))
		if err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		if !strings.Contains(string(pack), "<dt>Tenant</dt><dd>"+tenant+"</dd>") {
			t.Errorf("%s is not tenant %s's pack", row[1], tenant)
		}
		if _, err := os.Stat(filepath.Join(dir, "review-"+tenant+"-data", "token-inventory--tokens.csv")); err != nil {
			t.Errorf("tenant %s: %v", tenant, err)
		}
		valid := strconv.Itoa(countBy(csvRows(t, dsn, "token-inventory", "tokens", "--tenant", tenant), "state")["valid"])
		if !strings.Contains(row[0], `<td class="num">`+valid+`</td>`) {
			t.Errorf("tenant %s: overview row lacks its %s valid tokens:\n%s", tenant, valid, row[0])
		}
	}
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--all-tenants", "--tenant", "x", "--out", out); code != 2 || !strings.Contains(errOut, "exclude") {
		t.Errorf("--all-tenants --tenant: exit %d, %q", code, errOut)
	}
	// Chromium skips (or, under CI, fails) the test when it is missing.
	if rep := packcheck.Check(t, packcheck.Chromium(t), out); len(rep.Broken) > 0 || len(rep.Console) > 0 || len(rep.Wide) > 0 {
		t.Errorf("overview: broken %q, console %q, wide %q", rep.Broken, rep.Console, rep.Wide)
	}
}
