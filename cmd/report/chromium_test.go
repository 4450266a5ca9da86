package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumBinary returns Debian's chromium, skipping the test when it is
// missing locally and failing it under CI=true.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found and CI=true: install Debian's chromium package (make test-deps)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// chromium runs headless Chromium on a local file with extra flags and
// returns stdout and the console messages it logged.
func chromium(t *testing.T, bin, page string, extra ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--log-level=0"},
		extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.String(), consoleMessages(stderr.String())
}

// consoleMessages picks the page's console output (errors, warnings,
// uncaught exceptions, CSP violations) out of Chromium's log.
func consoleMessages(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			out = append(out, line)
		}
	}
	return out
}

// TestPackInChromium opens the HTML review pack in headless Chromium,
// requires a clean console, checks the three charts are in the rendered DOM,
// and renders a PNG in which the chart colours must appear.
func TestPackInChromium(t *testing.T) {
	bin := chromiumBinary(t)
	dir := t.TempDir()

	// The console check must be able to fail: a page with errors is caught.
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><title>x</title><script>console.error("planted"); throw new Error("planted too")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, msgs := chromium(t, bin, bad, "--dump-dom"); len(msgs) < 2 {
		t.Fatalf("console capture missed planted errors: %q", msgs)
	}

	dsn := scenarioDSN(t)
	page := filepath.Join(dir, "pack.html")
	if code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "pack", "--format", "html", "--out", page); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}

	dom, msgs := chromium(t, bin, page, "--dump-dom")
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
	_, msgs = chromium(t, bin, page, "--window-size=1280,16000", "--screenshot="+shot)
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
