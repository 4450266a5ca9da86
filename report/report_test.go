package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

const evil = "<script>alert(1)</script> | *x* =cmd\x1b[31m"

// result builds a result by hand: no ClickHouse needed to test rendering.
func result(t *testing.T) *queries.Result {
	t.Helper()
	r, err := queries.Parse(`-- name: demo
-- title: Demo <report>
-- description: Checks escaping & layout.
-- param: tenant String = default "t"
-- param: since DateTime = 2d "s"
-- param: until DateTime = now "u"
-- section: per_day "Per day"
-- chart: bar x=day y=a,b
SELECT @tenant, @since, @until
-- section: labels "Labels"
SELECT 1
`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Resolve(map[string]string{"tenant": evil}, time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2025, 6, d, 0, 0, 0, 0, time.UTC) }
	return &queries.Result{Report: r, Values: v, Tables: []queries.Table{
		{Section: &r.Sections[0], Columns: []queries.Column{
			{Name: "day", Type: "Date", Kind: queries.KindDate},
			{Name: "a", Type: "UInt64", Kind: queries.KindInt},
			{Name: "b", Type: "Nullable(Int64)", Kind: queries.KindInt}},
			Rows: [][]any{{day(1), uint64(3), int64(1)}, {day(2), uint64(0), nil}}},
		{Section: &r.Sections[1], Columns: []queries.Column{
			{Name: "label", Type: "String", Kind: queries.KindString},
			{Name: "at", Type: "Nullable(DateTime('UTC'))", Kind: queries.KindDateTime},
			{Name: "share", Type: "Float64", Kind: queries.KindFloat},
			{Name: "ids", Type: "Array(String)", Kind: queries.KindArray}},
			Rows: [][]any{{evil, time.Date(2025, 6, 2, 3, 4, 5, 0, time.UTC), 12.5, []any{"a", "b"}},
				{"-1", nil, 0.0, []any{}}}},
	}}
}

func render(t *testing.T, f Format) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, f, result(t)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLEscapes(t *testing.T) {
	out := render(t, HTML)
	if strings.Contains(out, "<script>") || strings.Contains(out, "<report>") {
		t.Fatalf("unescaped markup in HTML:\n%s", out)
	}
	for _, want := range []string{"&lt;script&gt;", `class="chart"`, `data-chart="demo/per_day"`, "2025-06-02 03:04:05", `<td class="null">–</td>`} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "http://") && !strings.Contains(out, "http://www.w3.org/2000/svg") {
		t.Error("the page must load nothing and run nothing")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	out := render(t, Markdown)
	if strings.Contains(out, "<script>") || strings.Contains(out, "*x*") || strings.Contains(out, "\x1b") {
		t.Fatalf("unescaped Markdown:\n%s", out)
	}
	for _, want := range []string{`&lt;script&gt;alert(1)&lt;/script&gt; \| \*x\* =cmd`, "| day | a | b |", "|---|---:|---:|", "<svg"} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q\n%s", want, out)
		}
	}
	// A table row has exactly as many unescaped pipes as a header row.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| &lt;script") {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 5 {
				t.Errorf("row has %d column breaks: %s", n, line)
			}
		}
	}
}

func TestCSV(t *testing.T) {
	out := render(t, CSV)
	recs, err := csv.NewReader(strings.NewReader(strings.ReplaceAll(out, "\n\n", "\n"))).ReadAll()
	if err == nil {
		t.Fatal("sections of different widths should not read as one table")
	}
	blocks := strings.Split(out, "\n\n")
	if len(blocks) != 2 || !strings.HasPrefix(blocks[0], "# per_day\n") || !strings.HasPrefix(blocks[1], "# labels\n") {
		t.Fatalf("CSV blocks:\n%s", out)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(blocks[1], "# labels\n")))
	recs, err = r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[1][0] != evil {
		t.Errorf("label = %q", recs[1][0])
	}
	if recs[2][0] != "'-1" || recs[2][1] != "" || recs[1][3] != "a, b" || recs[1][2] != "12.5" {
		t.Errorf("rows = %q", recs[1:])
	}
}

func TestJSON(t *testing.T) {
	var doc struct {
		Report   string
		Params   map[string]any
		Sections []struct {
			Name    string
			Columns []struct{ Name, Type string }
			Rows    []map[string]any
		}
	}
	out := render(t, JSON)
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Report != "demo" || doc.Params["tenant"] != evil || doc.Params["since"] != "2025-06-01T00:00:00Z" {
		t.Errorf("header = %+v", doc)
	}
	row := doc.Sections[0].Rows[1]
	if row["day"] != "2025-06-02" || row["a"] != 0.0 || row["b"] != nil {
		t.Errorf("per_day row = %v", row)
	}
	if got := doc.Sections[1].Columns[1].Type; got != "datetime" {
		t.Errorf("column type = %q", got)
	}
	if !strings.Contains(out, `"day": "2025-06-01"`) || strings.Index(out, `"day"`) > strings.Index(out, `"a":`) {
		t.Error("rows must keep column order")
	}
}

func TestText(t *testing.T) {
	out := render(t, Table)
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequence reached the terminal output")
	}
	for _, want := range []string{"Demo <report> (demo)", "== Per day ==", "day         a  b", "2025-06-02  0  -", "(2 rows)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q\n%s", want, out)
		}
	}
}

func TestPack(t *testing.T) {
	res := result(t)
	info := PackInfo{Title: "Review & <audit>", Tenant: "acme", Since: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		Until: time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC), Generated: time.Date(2025, 6, 3, 8, 0, 0, 0, time.UTC)}
	for _, f := range PackFormats {
		var b bytes.Buffer
		if err := Pack(&b, f, info, []*queries.Result{res, res}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"acme", "2025-06-01 00:00:00 to 2025-06-03 00:00:00 UTC", "2025-06-03 08:00:00 UTC", "#demo--per-day", "Contents"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s pack lacks %q", f, want)
			}
		}
		if strings.Count(out, "<svg") != 2 || strings.Contains(out, "<audit>") {
			t.Errorf("%s pack: %d charts, title escaped: %v", f, strings.Count(out, "<svg"), !strings.Contains(out, "<audit>"))
		}
	}
	if err := Pack(&bytes.Buffer{}, CSV, info, nil); err == nil {
		t.Error("a CSV pack should be refused")
	}
}

func TestChart(t *testing.T) {
	res := result(t)
	svg, ok := chartSVG("demo", &res.Tables[0])
	if !ok {
		t.Fatal("chart not drawn")
	}
	// Two days; day 1 stacks a=3 and b=1, day 2 has only zero and NULL: two bars.
	if n := strings.Count(svg, "<rect x=") - 1 - 2; n != 2 { // minus background and two legend swatches
		t.Errorf("%d bars, want 2:\n%s", n, svg)
	}
	if !strings.Contains(svg, ">4</text>") { // axis reaches the stacked total
		t.Errorf("axis does not reach 4:\n%s", svg)
	}
	bad := res.Tables[0]
	bad.Section = &queries.Section{Name: "x", Chart: &queries.Chart{Kind: "line", X: "day", Y: []string{"nope"}}}
	if _, ok := chartSVG("demo", &bad); ok {
		t.Error("a chart over a missing column should be refused")
	}
	for top, want := range map[float64][2]float64{0: {1, 1}, 1: {1, 1}, 7: {8, 2}, 87: {100, 20}, 1234: {1500, 500}} {
		if a, s := niceScale(top); a != want[0] || s != want[1] {
			t.Errorf("niceScale(%v) = %v, %v; want %v", top, a, s, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%s) = %v, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}
