package packcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// PageWidth is the CSS width, in pixels, of the printable part of an A4
// page with the pack's 12 mm side margins (186 mm at 96 px per inch),
// narrower than Letter's.
const PageWidth = 703

// Chromium returns Debian's chromium, skipping the test when it is missing
// locally and failing it under CI=true.
func Chromium(t testing.TB) string {
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

// Run runs headless Chromium on a local file with extra flags and returns
// stdout and the console messages it logged.
func Run(t testing.TB, bin, page string, extra ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--log-level=0"},
		extra...)
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "file://"+abs)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.String(), ConsoleMessages(stderr.String())
}

// ConsoleMessages picks the page's console output (errors, warnings,
// uncaught exceptions, CSP violations) out of Chromium's log.
func ConsoleMessages(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			out = append(out, line)
		}
	}
	return out
}

// probe measures the rendered page and writes its findings into it, for
// --dump-dom to return.
const probe = `<script>
(function () {
  var W = document.documentElement.clientWidth, wide = [], broken = [], figures = {};
  document.querySelectorAll('table, svg, figure').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > W + 0.5 || r.left < -0.5) {
      var s = el.closest('section[id]');
      wide.push((s ? s.id : '') + ' ' + el.tagName + ' ' + Math.round(r.width) + 'px');
    }
  });
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    if (!document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)))) broken.push(a.getAttribute('href'));
  });
  document.querySelectorAll('[data-figure]').forEach(function (e) { figures[e.dataset.figure] = e.textContent.trim(); });
  var pre = document.createElement('pre');
  pre.id = 'packcheck';
  pre.textContent = JSON.stringify({width: W, wide: wide, broken: broken, figures: figures});
  document.body.appendChild(pre);
})();
</script>`

var cspRe = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)

// Report is what Check found on a page.
type Report struct {
	Width   int               // CSS pixels of the viewport measured
	Wide    []string          // tables and charts wider than the page
	Broken  []string          // links that lead nowhere
	Figures map[string]string // data-figure name → text
	Console []string          // console messages while loading the page unchanged
	DOM     string            // the page as rendered
}

// Check opens page twice: as it is, to collect console messages and the
// rendered DOM, and in a copy beside it with a measuring script (the page
// itself forbids scripts), at PageWidth. Links to files are resolved
// against the page's directory.
func Check(t testing.TB, bin, page string) Report {
	t.Helper()
	var rep Report
	rep.DOM, rep.Console = Run(t, bin, page, "--dump-dom", "--window-size="+itoa(PageWidth)+",1000")
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	probed := cspRe.ReplaceAllString(string(src), "")
	probed = strings.Replace(probed, "</body>", probe+"</body>", 1)
	copyPath := filepath.Join(filepath.Dir(page), ".packcheck-"+filepath.Base(page))
	if err := os.WriteFile(copyPath, []byte(probed), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(copyPath)
	dom, msgs := Run(t, bin, copyPath, "--dump-dom", "--window-size="+itoa(PageWidth)+",1000", "--virtual-time-budget=3000")
	rep.Console = append(rep.Console, msgs...)
	m := regexp.MustCompile(`(?s)<pre id="packcheck">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the measuring script did not run on %s", page)
	}
	var got struct {
		Width   int               `json:"width"`
		Wide    []string          `json:"wide"`
		Broken  []string          `json:"broken"`
		Figures map[string]string `json:"figures"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
		t.Fatalf("measurements: %v", err)
	}
	rep.Width, rep.Wide, rep.Broken, rep.Figures = got.Width, got.Wide, got.Broken, got.Figures
	for _, h := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(rep.DOM, -1) {
		href := html.UnescapeString(h[1])
		if strings.HasPrefix(href, "#") {
			continue
		}
		u, err := url.Parse(href)
		if err != nil || u.Scheme != "" || u.Host != "" {
			rep.Broken = append(rep.Broken, href+" (not a local file)")
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))); err != nil {
			rep.Broken = append(rep.Broken, href)
		}
	}
	return rep
}

// Screenshot renders page at width x height into png. When only is set,
// a copy of the page shows only the element with that id (and the page's
// styles), so that a section deep in a long pack can be pictured.
func Screenshot(t testing.TB, bin, page, png string, width, height int, only string) []string {
	t.Helper()
	target := page
	if only != "" {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		script := `<script>(function(){var keep=document.getElementById(` + strconvQuote(only) + `);` +
			`if(!keep){console.error('no element ' + ` + strconvQuote(only) + `);return;}` +
			`document.body.replaceChildren(keep);window.scrollTo(0,0);})();</script>`
		probed := strings.Replace(cspRe.ReplaceAllString(string(src), ""), "</body>", script+"</body>", 1)
		target = filepath.Join(filepath.Dir(page), ".shot-"+filepath.Base(page))
		if err := os.WriteFile(target, []byte(probed), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(target)
	}
	_, msgs := Run(t, bin, target, "--window-size="+itoa(width)+","+itoa(height), "--screenshot="+png, "--virtual-time-budget=3000")
	return msgs
}

var pageRe = regexp.MustCompile(`/Type\s*/Page\b`)

// PDFPages counts the page objects of a PDF.
func PDFPages(b []byte) int { return len(pageRe.FindAll(b, -1)) }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// PDFHasTitle reports whether the PDF's document title (Chromium writes
// the page's <title> as a UTF-16 hex string or a literal) is title.
func PDFHasTitle(b []byte, title string) bool {
	if bytes.Contains(b, []byte("/Title ("+title+")")) {
		return true
	}
	var hex strings.Builder
	hex.WriteString("FEFF")
	for _, r := range title {
		hex.WriteString(strings.ToUpper(strconvHex4(r)))
	}
	return bytes.Contains(bytes.ToUpper(b), []byte(hex.String()))
}

func strconvHex4(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15]})
}

var uriRe = regexp.MustCompile(`/URI ?\(([^)]*)\)`)

// PDFLinks returns the targets of a PDF's external links (Chromium writes
// link annotations uncompressed).
func PDFLinks(b []byte) []string {
	var out []string
	for _, m := range uriRe.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}
