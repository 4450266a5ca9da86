package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// Format is an output format.
type Format string

// Output formats.
const (
	Table    Format = "table" // aligned text for terminals
	CSV      Format = "csv"
	JSON     Format = "json"
	Markdown Format = "markdown"
	HTML     Format = "html"
)

// Formats lists every format Render accepts.
var Formats = []Format{Table, CSV, JSON, Markdown, HTML}

// PackFormats lists the formats Pack accepts.
var PackFormats = []Format{HTML, Markdown}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want table, csv, json, markdown or html)", s)
}

// Render writes one report's result in format f.
func Render(w io.Writer, f Format, res *queries.Result) error {
	switch f {
	case Table:
		return renderText(w, res)
	case CSV:
		return renderCSV(w, res)
	case JSON:
		return renderJSON(w, res)
	case Markdown:
		return renderMarkdown(w, res, 1)
	case HTML:
		return renderHTML(w, nil, []*queries.Result{res})
	}
	return fmt.Errorf("unknown format %q", f)
}

// cell returns the text of one value; nil becomes null.
func cell(c queries.Column, v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case time.Time:
		if c.Kind == queries.KindDate {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.DateTime)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(queries.Column{Kind: elemKind(c)}, e, null)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// elemKind is the kind of an Array column's elements.
func elemKind(c queries.Column) queries.Kind {
	if strings.HasPrefix(c.Type, "Array(Date(") || c.Type == "Array(Date)" || strings.HasPrefix(c.Type, "Array(Nullable(Date)") {
		return queries.KindDate
	}
	return queries.KindString
}

// numeric reports whether a column is right-aligned.
func numeric(c queries.Column) bool { return c.Kind == queries.KindInt || c.Kind == queries.KindFloat }

// oneLine replaces control characters (newlines, tabs, escape sequences)
// with spaces so that a value cannot break a layout or a terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// paramLine summarises a result's parameter values for a header.
func paramLine(res *queries.Result) []paramKV {
	var out []paramKV
	v := res.Values
	if _, ok := v.Get("tenant"); ok {
		out = append(out, paramKV{"Tenant", v.Text("tenant")})
	}
	if since, ok := v.Time("since"); ok {
		until, _ := v.Time("until")
		out = append(out, paramKV{"Period", since.Format(time.DateTime) + " to " + until.Format(time.DateTime) + " UTC"})
	}
	if _, ok := v.Get("now"); ok {
		out = append(out, paramKV{"As of", v.Text("now") + " UTC"})
	}
	for _, p := range v.Params() {
		switch p.Name {
		case "tenant", "since", "until", "now":
			continue
		}
		text := v.Text(p.Name)
		if p.Type == queries.String && text == "" {
			text = "(any)"
		}
		out = append(out, paramKV{p.Name, text})
	}
	return out
}

type paramKV struct{ Key, Value string }

// anchor is the HTML/Markdown anchor of a report or one of its sections.
func anchor(report string, section ...string) string {
	if len(section) == 0 {
		return report
	}
	return report + "--" + strings.ReplaceAll(section[0], "_", "-")
}
