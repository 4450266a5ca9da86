package queries

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Report is one report: a SQL file with a header and named sections.
type Report struct {
	Name        string
	Title       string
	Description string
	Params      []Param
	Sections    []Section
}

// Section is one result table of a report: a single SELECT.
type Section struct {
	Name  string
	Title string
	// Notes are the comment lines between the section line and the SQL:
	// what the reader of the table needs to know.
	Notes string
	// Chart, when set, asks renderers that can draw to plot the section.
	Chart *Chart
	SQL   string
}

// Chart says how to plot a section: X is a Date column, Y the numeric
// columns drawn against it.
type Chart struct {
	Kind string // "bar" (stacked when several Y) or "line"
	X    string
	Y    []string
}

// Param returns the report's parameter called name.
func (r *Report) Param(name string) (Param, bool) {
	for _, p := range r.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Section returns the report's section called name.
func (r *Report) Section(name string) (*Section, bool) {
	for i := range r.Sections {
		if r.Sections[i].Name == name {
			return &r.Sections[i], true
		}
	}
	return nil, false
}

// ErrUnknownReport is returned (wrapped) by Lookup for a name no report has.
var ErrUnknownReport = errors.New("unknown report")

var reports = mustLoad(files)

// All returns every embedded report in the order reviewers read them.
func All() []*Report { return append([]*Report(nil), reports...) }

// Lookup returns the embedded report called name.
func Lookup(name string) (*Report, error) {
	for _, r := range reports {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownReport, name, strings.Join(Names(), ", "))
}

// Names returns the names of every embedded report.
func Names() []string {
	names := make([]string, len(reports))
	for i, r := range reports {
		names[i] = r.Name
	}
	return names
}

// order is the reading order of a review: inventory first, findings last.
var order = []string{"collection-coverage", "token-inventory", "token-usage", "stale-tokens", "expiring-tokens",
	"token-lifecycle", "admin-activity", "tenant-settings", "policy-findings"}

func mustLoad(fsys fs.FS) []*Report {
	rs, err := load(fsys)
	if err != nil {
		// The files are compiled in: a malformed one is a build defect that
		// the package's tests catch, never user input.
		panic(err)
	}
	return rs
}

func load(fsys fs.FS) ([]*Report, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var rs []*Report
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		r, err := Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("queries/%s: %w", name, err)
		}
		if r.Name+".sql" != name {
			return nil, fmt.Errorf("queries/%s: header names report %q; the file must be %s.sql", name, r.Name, r.Name)
		}
		rs = append(rs, r)
	}
	rank := func(name string) int {
		for i, n := range order {
			if n == name {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if a, b := rank(rs[i].Name), rank(rs[j].Name); a != b {
			return a < b
		}
		return rs[i].Name < rs[j].Name
	})
	return rs, nil
}

var (
	nameRe    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	identRe   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	keyLineRe = regexp.MustCompile(`^--\s*([a-z]+):\s?(.*)$`)
	useRe     = regexp.MustCompile(`\{\{([^{}]*)\}\}`)
)

// Parse reads one report file. The header is a block of comment lines:
//
//	-- name: stale-tokens
//	-- title: Stale tokens
//	-- description: Valid tokens unused for N days ... (repeatable: lines are joined)
//	-- param: days Int = 90 "Days without use after which a valid token is stale"
//
// followed by sections, each a single SELECT:
//
//	-- section: per_day "Tokens used per day"
//	-- chart: bar x=day y=tokens_used
//	-- Free comment lines here become the section's notes.
//	SELECT ...
//
// Parameter types are Int, String, DateTime and Duration (see ParamType).
// A parameter is referenced in SQL as @name and bound by the driver.
//
// A fragment is SQL that several sections share, written once because
// ClickHouse 18.16 has no CTEs:
//
//	-- fragment: selected_tokens
//	-- Comment lines here are for readers of the file.
//	SELECT id FROM tokens FINAL WHERE tenant = @tenant ORDER BY id LIMIT @limit
//
// A section includes it as {{selected_tokens}}; the text is spliced in when
// the file is parsed (it is part of the embedded file, never user input) and
// its lines take the indentation of the line holding the reference.
func Parse(src string) (*Report, error) {
	r := &Report{}
	var cur *Section
	var sqlLines, notes []string
	fragments := map[string]string{}
	isFragment := false
	flush := func() {
		if cur != nil {
			cur.SQL = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(strings.Join(sqlLines, "\n")), ";"))
			cur.Notes = strings.Join(notes, " ")
			if isFragment {
				fragments[cur.Name] = cur.SQL
			} else {
				r.Sections = append(r.Sections, *cur)
			}
		}
		sqlLines, notes = nil, nil
	}
	for i, line := range strings.Split(src, "\n") {
		lineNo := i + 1
		trimmed := strings.TrimSpace(line)
		m := keyLineRe.FindStringSubmatch(trimmed)
		key, val := "", ""
		if m != nil {
			key, val = m[1], strings.TrimSpace(m[2])
		}
		switch {
		case cur == nil && key == "name":
			r.Name = val
		case cur == nil && key == "title":
			r.Title = val
		case cur == nil && key == "description":
			r.Description = strings.TrimSpace(r.Description + " " + val)
		case cur == nil && key == "param":
			p, err := parseParam(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			if _, dup := r.Param(p.Name); dup {
				return nil, fmt.Errorf("line %d: parameter %q declared twice", lineNo, p.Name)
			}
			r.Params = append(r.Params, p)
		case key == "fragment":
			flush()
			if !identRe.MatchString(val) {
				return nil, fmt.Errorf("line %d: want -- fragment: name (lower_case), got %q", lineNo, val)
			}
			if _, dup := fragments[val]; dup {
				return nil, fmt.Errorf("line %d: fragment %q declared twice", lineNo, val)
			}
			cur, isFragment = &Section{Name: val}, true
			fragments[val] = ""
		case key == "section":
			flush()
			f, err := fields(val)
			if err != nil || len(f) < 1 || len(f) > 2 || !identRe.MatchString(f[0].text) || f[0].quoted {
				return nil, fmt.Errorf("line %d: want -- section: name \"Title\"", lineNo)
			}
			cur, isFragment = &Section{Name: f[0].text, Title: f[0].text}, false
			if len(f) == 2 {
				cur.Title = f[1].text
			}
			if _, dup := r.Section(cur.Name); dup {
				return nil, fmt.Errorf("line %d: section %q declared twice", lineNo, cur.Name)
			}
		case cur != nil && !isFragment && key == "chart" && len(sqlLines) == 0:
			c, err := parseChart(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			cur.Chart = c
		case cur != nil && len(sqlLines) == 0 && strings.HasPrefix(trimmed, "--"):
			notes = append(notes, strings.TrimSpace(strings.TrimPrefix(trimmed, "--")))
		case cur != nil:
			if trimmed != "" || len(sqlLines) > 0 {
				sqlLines = append(sqlLines, line)
			}
		case trimmed == "" || strings.HasPrefix(trimmed, "--"):
			// Comments and blank lines in the header are for readers of the file.
		default:
			return nil, fmt.Errorf("line %d: SQL before the first -- section: line", lineNo)
		}
	}
	flush()
	if !nameRe.MatchString(r.Name) {
		return nil, fmt.Errorf("missing or invalid -- name: (want lower-case words joined by '-'), got %q", r.Name)
	}
	if r.Title == "" || r.Description == "" {
		return nil, fmt.Errorf("report %s: -- title: and -- description: are required", r.Name)
	}
	if len(r.Sections) == 0 {
		return nil, fmt.Errorf("report %s: no -- section: line", r.Name)
	}
	if err := expandFragments(r, fragments); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, s := range r.Sections {
		if s.SQL == "" {
			return nil, fmt.Errorf("report %s: section %s has no SQL", r.Name, s.Name)
		}
		if hasSemicolon(s.SQL) {
			return nil, fmt.Errorf("report %s: section %s holds more than one statement", r.Name, s.Name)
		}
		for _, ref := range References(s.SQL) {
			if _, ok := r.Param(ref); !ok {
				return nil, fmt.Errorf("report %s: section %s uses @%s, which the header does not declare", r.Name, s.Name, ref)
			}
			used[ref] = true
		}
	}
	for _, p := range r.Params {
		if !used[p.Name] {
			return nil, fmt.Errorf("report %s: parameter %s is declared but no section uses it", r.Name, p.Name)
		}
	}
	return r, nil
}

// expandFragments replaces every {{name}} in the sections' SQL with the
// fragment's text, indenting its continuation lines like the line holding
// the reference. Every fragment must be used and may not include another.
func expandFragments(r *Report, fragments map[string]string) error {
	used := map[string]bool{}
	for name, sql := range fragments {
		if sql == "" {
			return fmt.Errorf("report %s: fragment %s has no SQL", r.Name, name)
		}
		if useRe.MatchString(sql) {
			return fmt.Errorf("report %s: fragment %s includes another fragment", r.Name, name)
		}
	}
	for i := range r.Sections {
		s := &r.Sections[i]
		lines := strings.Split(s.SQL, "\n")
		for j, line := range lines {
			var err error
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			lines[j] = useRe.ReplaceAllStringFunc(line, func(ref string) string {
				name := useRe.FindStringSubmatch(ref)[1]
				sql, ok := fragments[name]
				if !ok {
					err = fmt.Errorf("report %s: section %s includes {{%s}}, which no -- fragment: declares", r.Name, s.Name, name)
					return ref
				}
				used[name] = true
				return strings.ReplaceAll(sql, "\n", "\n"+indent)
			})
			if err != nil {
				return err
			}
		}
		s.SQL = strings.Join(lines, "\n")
	}
	for name := range fragments {
		if !used[name] {
			return fmt.Errorf("report %s: fragment %s is declared but no section includes it", r.Name, name)
		}
	}
	return nil
}

func parseChart(val string) (*Chart, error) {
	f := strings.Fields(val)
	bad := fmt.Errorf("want -- chart: bar|line x=COLUMN y=COLUMN[,COLUMN...], got %q", val)
	if len(f) != 3 || (f[0] != "bar" && f[0] != "line") || !strings.HasPrefix(f[1], "x=") || !strings.HasPrefix(f[2], "y=") {
		return nil, bad
	}
	c := &Chart{Kind: f[0], X: strings.TrimPrefix(f[1], "x="), Y: strings.Split(strings.TrimPrefix(f[2], "y="), ",")}
	for _, col := range append([]string{c.X}, c.Y...) {
		if !identRe.MatchString(col) {
			return nil, bad
		}
	}
	return c, nil
}

func parseParam(val string) (Param, error) {
	f, err := fields(val)
	if err != nil {
		return Param{}, err
	}
	if len(f) != 5 || f[2].text != "=" || !f[4].quoted {
		return Param{}, fmt.Errorf(`want -- param: name Type = default "description", got %q`, val)
	}
	p := Param{Name: f[0].text, Type: ParamType(f[1].text), Default: f[3].text, Description: f[4].text}
	if !identRe.MatchString(p.Name) {
		return Param{}, fmt.Errorf("parameter name %q: want lower_case", p.Name)
	}
	switch p.Type {
	case Int, String, DateTime, Duration:
	default:
		return Param{}, fmt.Errorf("parameter %s: unknown type %q (want Int, String, DateTime or Duration)", p.Name, p.Type)
	}
	if p.Type != DateTime { // DateTime defaults are relative to now, checked at Resolve
		if _, err := p.parse(p.Default, zeroTime); err != nil {
			return Param{}, fmt.Errorf("parameter %s: default: %w", p.Name, err)
		}
	}
	return p, nil
}

type field struct {
	text   string
	quoted bool
}

// fields splits s on blanks; a double-quoted Go string is one field.
func fields(s string) ([]field, error) {
	var out []field
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad quoted string in %q", s)
			}
			text, _ := strconv.Unquote(q)
			out = append(out, field{text, true})
			s = s[len(q):]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, field{text: s[:end]})
		s = s[end:]
	}
	return out, nil
}

// References returns the distinct @name parameters sql uses, outside string
// literals, quoted identifiers and comments, in order of first use.
func References(sql string) []string {
	var out []string
	seen := map[string]bool{}
	scanCode(sql, func(i int) int {
		if sql[i] != '@' {
			return i
		}
		j := i + 1
		for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9') {
			j++
		}
		if name := sql[i+1 : j]; name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		return j - 1
	})
	return out
}

// hasSemicolon reports whether sql has a ';' outside literals and comments.
func hasSemicolon(sql string) bool {
	found := false
	scanCode(sql, func(i int) int {
		if sql[i] == ';' {
			found = true
			return len(sql)
		}
		return i
	})
	return found
}

// scanCode calls visit with the index of every byte of sql outside string
// literals, quoted identifiers and comments; visit returns the last index it
// consumed (i for that byte alone, len(sql) to stop).
func scanCode(sql string, visit func(i int) int) {
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(sql, i)
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return
			}
			i += j
		default:
			i = visit(i)
		}
	}
}

// skipQuoted returns the index of the quote closing the one at i.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j
		}
	}
	return len(s)
}
