package queries

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedReports(t *testing.T) {
	want := []string{"collection-coverage", "token-inventory", "token-usage", "stale-tokens", "expiring-tokens",
		"token-lifecycle", "admin-activity", "tenant-settings", "policy-findings"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, r := range All() {
		if r.Title == "" || r.Description == "" || len(r.Sections) == 0 {
			t.Errorf("%s: incomplete header: %+v", r.Name, r)
		}
		p, ok := r.Param("tenant")
		if !ok || p.Type != String || p.Default != "default" {
			t.Errorf("%s: want tenant String = default, got %+v", r.Name, p)
		}
		for _, name := range []string{"now", "since", "until"} {
			if p, ok := r.Param(name); ok && p.Type != DateTime {
				t.Errorf("%s: %s must be a DateTime, is %s", r.Name, name, p.Type)
			}
		}
		for _, s := range r.Sections {
			if !strings.HasPrefix(s.SQL, "SELECT") {
				t.Errorf("%s/%s: a section is a single SELECT, got %.40q", r.Name, s.Name, s.SQL)
			}
			// The 18.16 intersection: none of these parse there.
			upper := strings.ToUpper(s.SQL)
			for _, banned := range []string{" OVER ", "OVER(", "DATETIME64", "WITH FILL", "TOSTARTOFINTERVAL", "JSONEXTRACT", "NEIGHBOR(", "NOW64", "ILIKE", "ORNULL("} {
				if strings.Contains(upper, banned) {
					t.Errorf("%s/%s uses %s, which ClickHouse 18.16 lacks", r.Name, s.Name, banned)
				}
			}
			if strings.Contains(upper, "WITH ") && strings.Contains(upper, " AS (") {
				t.Errorf("%s/%s looks like a CTE", r.Name, s.Name)
			}
			if c := s.Chart; c != nil && !strings.Contains(s.SQL, c.X) {
				t.Errorf("%s/%s: chart column %s not in the SQL", r.Name, s.Name, c.X)
			}
		}
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownReport) {
		t.Fatalf("Lookup(nope) = %v, want ErrUnknownReport", err)
	}
}

func TestParse(t *testing.T) {
	src := `-- name: demo
-- title: Demo
-- description: First line,
-- description: second line.
-- param: days Int = 90 "Days"
-- param: label String = "" "Pattern; may be empty"

-- section: one "First table"
-- chart: line x=day y=a,b
-- Notes for
-- the reader.
SELECT day, a, b FROM t WHERE n > @days AND l = @label AND x = '@notparam' -- @alsonot
;

-- section: two
SELECT 1 AS x WHERE @days > 0
`
	r, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "demo" || r.Title != "Demo" || r.Description != "First line, second line." {
		t.Errorf("header: %+v", r)
	}
	wantParams := []Param{{"days", Int, "90", "Days"}, {"label", String, "", "Pattern; may be empty"}}
	if !reflect.DeepEqual(r.Params, wantParams) {
		t.Errorf("params = %+v", r.Params)
	}
	if len(r.Sections) != 2 {
		t.Fatalf("sections = %+v", r.Sections)
	}
	one := r.Sections[0]
	if one.Name != "one" || one.Title != "First table" || one.Notes != "Notes for the reader." {
		t.Errorf("section one: %+v", one)
	}
	if !reflect.DeepEqual(one.Chart, &Chart{Kind: "line", X: "day", Y: []string{"a", "b"}}) {
		t.Errorf("chart = %+v", one.Chart)
	}
	if strings.HasSuffix(one.SQL, ";") || !strings.HasPrefix(one.SQL, "SELECT day") {
		t.Errorf("section one SQL = %q", one.SQL)
	}
	if got := References(one.SQL); !reflect.DeepEqual(got, []string{"days", "label"}) {
		t.Errorf("References = %v", got)
	}
	if r.Sections[1].Title != "two" {
		t.Errorf("untitled section title = %q", r.Sections[1].Title)
	}
}

func TestParseFragments(t *testing.T) {
	src := `-- name: demo
-- title: Demo
-- description: D
-- param: limit Int = 10 "Rows"

-- fragment: picked
-- Readers' notes on the fragment.
SELECT id
FROM t
LIMIT @limit

-- section: one
SELECT a
FROM u
WHERE id IN (
    {{picked}}
)

-- section: two
SELECT count() FROM ({{picked}}) WHERE 1
`
	r, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sections) != 2 {
		t.Fatalf("a fragment became a section: %+v", r.Sections)
	}
	want := "SELECT a\nFROM u\nWHERE id IN (\n    SELECT id\n    FROM t\n    LIMIT @limit\n)"
	if r.Sections[0].SQL != want {
		t.Errorf("section one SQL =\n%s\nwant\n%s", r.Sections[0].SQL, want)
	}
	want = "SELECT count() FROM (SELECT id\nFROM t\nLIMIT @limit) WHERE 1"
	if r.Sections[1].SQL != want {
		t.Errorf("section two SQL =\n%s\nwant\n%s", r.Sections[1].SQL, want)
	}
	// A parameter used only inside a fragment counts as used.
	if got := References(r.Sections[1].SQL); !reflect.DeepEqual(got, []string{"limit"}) {
		t.Errorf("References = %v", got)
	}
}

// Semicolons and @ inside literals, quoted identifiers and comments are text.
func TestParseQuotedText(t *testing.T) {
	src := "-- name: demo\n-- title: T\n-- description: D\n-- param: x Int = 1 \"x\"\n" +
		"-- section: s\nSELECT ';' AS `a;@b`, 'it\\'s @y' AS c, @x AS d -- ; @z\n"
	r, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if got := References(r.Sections[0].SQL); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("References = %v, want [x]", got)
	}
}

func TestParseRejects(t *testing.T) {
	head := "-- name: demo\n-- title: T\n-- description: D\n"
	cases := map[string]string{
		"no name":           "-- title: T\n-- description: D\n-- section: s\nSELECT 1",
		"bad name":          "-- name: Demo_1\n-- title: T\n-- description: D\n-- section: s\nSELECT 1",
		"no sections":       head,
		"empty section":     head + "-- section: s\n",
		"sql before":        head + "SELECT 1\n-- section: s\nSELECT 1",
		"two statements":    head + "-- section: s\nSELECT 1; SELECT 2",
		"undeclared param":  head + "-- section: s\nSELECT @x",
		"unused param":      head + "-- param: x Int = 1 \"x\"\n-- section: s\nSELECT 1",
		"bad type":          head + "-- param: x Float = 1 \"x\"\n-- section: s\nSELECT @x",
		"bad default":       head + "-- param: x Int = abc \"x\"\n-- section: s\nSELECT @x",
		"no description":    head + "-- param: x Int = 1\n-- section: s\nSELECT @x",
		"duplicate param":   head + "-- param: x Int = 1 \"x\"\n-- param: x Int = 2 \"x\"\n-- section: s\nSELECT @x",
		"duplicate section": head + "-- section: s\nSELECT 1\n-- section: s\nSELECT 2",
		"bad chart":         head + "-- section: s\n-- chart: pie x=a y=b\nSELECT 1",
		"unknown fragment":  head + "-- section: s\nSELECT x FROM ({{nope}})",
		"unused fragment":   head + "-- fragment: f\nSELECT 1\n-- section: s\nSELECT 1",
		"empty fragment":    head + "-- fragment: f\n-- section: s\nSELECT x FROM ({{f}})",
		"nested fragment":   head + "-- fragment: f\nSELECT 1\n-- fragment: g\nSELECT x FROM ({{f}})\n-- section: s\nSELECT x FROM ({{g}})",
		"bad fragment name": head + "-- fragment: F-1\nSELECT 1\n-- section: s\nSELECT x FROM ({{F-1}})",
		"two fragments":     head + "-- fragment: f\nSELECT 1\n-- fragment: f\nSELECT 2\n-- section: s\nSELECT x FROM ({{f}})",
		"param in fragment": head + "-- fragment: f\nSELECT @x\n-- section: s\nSELECT y FROM ({{f}})",
	}
	for name, src := range cases {
		if _, err := Parse(src); err == nil {
			t.Errorf("%s: Parse accepted\n%s", name, src)
		}
	}
}

func TestResolve(t *testing.T) {
	r, err := Parse(`-- name: demo
-- title: T
-- description: D
-- param: tenant String = default "t"
-- param: now DateTime = now "n"
-- param: since DateTime = 30d "s"
-- param: until DateTime = now "u"
-- param: days Int = 90 "d"
-- param: window Duration = 1h "w"
-- section: s
SELECT @tenant, @now, @since, @until, @days, @window
`)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2025, 6, 30, 12, 0, 0, 500, time.FixedZone("X", 3600))
	v, err := r.Resolve(nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 30, 11, 0, 0, 0, time.UTC)
	check := func(v Values, name string, want any) {
		t.Helper()
		if got, _ := v.Get(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check(v, "tenant", "default")
	check(v, "now", now)
	check(v, "until", now)
	check(v, "since", now.AddDate(0, 0, -30))
	check(v, "days", int64(90))
	check(v, "window", int64(3600))
	if got := v.Text("window"); got != "1h" {
		t.Errorf("Text(window) = %q", got)
	}
	if len(v.Args()) != 6 {
		t.Errorf("Args() = %v", v.Args())
	}

	v, err = r.Resolve(map[string]string{"now": "2025-01-10", "until": "2025-01-05 10:30", "since": "2w",
		"days": "7", "window": "90m", "tenant": "it's"}, clock)
	if err != nil {
		t.Fatal(err)
	}
	check(v, "now", time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC))
	check(v, "until", time.Date(2025, 1, 5, 10, 30, 0, 0, time.UTC))
	check(v, "since", time.Date(2024, 12, 22, 10, 30, 0, 0, time.UTC)) // counts back from until
	check(v, "window", int64(5400))
	check(v, "tenant", "it's")
	v, err = r.Resolve(map[string]string{"since": "2025-06-01T00:00:00+02:00", "until": "1d"}, clock)
	if err != nil {
		t.Fatal(err)
	}
	check(v, "since", time.Date(2025, 5, 31, 22, 0, 0, 0, time.UTC))
	check(v, "until", now.AddDate(0, 0, -1))

	bad := []map[string]string{
		{"days": "-1"}, {"days": "ten"}, {"window": "soon"}, {"now": "yesterday"},
		{"since": "1969-12-31"}, {"until": "2200-01-01"}, {"since": "2025-07-01"}, // since after until
	}
	for _, given := range bad {
		_, err := r.Resolve(given, clock)
		var pe *ParamError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadValue) || pe.Reason == "" {
			t.Errorf("Resolve(%v) = %v, want a bad-value ParamError", given, err)
		}
	}
	_, err = r.Resolve(map[string]string{"nope": "1"}, clock)
	if !errors.Is(err, ErrUnknownParam) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown param: %v", err)
	}
}

func TestKindOf(t *testing.T) {
	cases := map[string]Kind{
		"String": KindString, "LowCardinality(String)": KindString, "UInt64": KindInt,
		"Nullable(Int64)": KindInt, "Float64": KindFloat, "Date": KindDate,
		"DateTime('UTC')": KindDateTime, "Nullable(DateTime('UTC'))": KindDateTime,
		"DateTime": KindDateTime, "Array(String)": KindArray,
	}
	for typ, want := range cases {
		if got := kindOf(typ); got != want {
			t.Errorf("kindOf(%s) = %v, want %v", typ, got, want)
		}
	}
}
