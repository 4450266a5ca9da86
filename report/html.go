package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

//go:embed report.html.tmpl
var htmlSource string

// page is what report.html.tmpl renders. Every string reaches the page
// through html/template's contextual escaping; charts are template.HTML
// built by chartSVG, which escapes every text it draws.
type page struct {
	Title   string
	Pack    *packView
	Period  string
	Reports []htmlReport
}

// packView is the front matter of a pack: what the summary page shows.
type packView struct {
	PackInfo
	Summary  Summary
	Coverage *coverageView
	Sev      []string
}

type htmlReport struct {
	Name, Title, Description, Anchor string
	Params                           []paramKV
	Notes                            []string // qualify the whole result: shown before the sections
	Sections                         []htmlSection
}

type htmlSection struct {
	Title, Notes, Anchor string
	Chart                template.HTML
	Columns              []htmlColumn
	Rows                 [][]htmlCell
	Total                int    // rows in the result
	Shown                string // what part of the rows the pack shows, when not all
	CSV                  string // the section's CSV beside the pack, when written
	Groups               []htmlGroup
}

// htmlGroup is one finding kind of the findings section.
type htmlGroup struct {
	Anchor, Title, Finding, Control, Objective, Status string
	Total                                              int
	Shown                                              string
	Rows                                               [][]htmlCell
}

type htmlColumn struct {
	Name string
	Num  bool
}

type htmlCell struct {
	Text, Full          string
	Num, Null, Time, ID bool
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"sev": func(m map[string]int, s string) int { return m[s] },
}).Parse(htmlSource))

// renderHTML writes one standalone HTML document: a pack when view is set,
// else a single report with every row. It needs no script and loads
// nothing.
func renderHTML(w io.Writer, view *packView, results []*queries.Result) error {
	p := page{Pack: view}
	if view != nil {
		p.Title = view.Title
		p.Period = periodText(view.Since, view.Until)
	} else if len(results) == 1 {
		p.Title = results[0].Report.Title
	}
	for _, res := range results {
		p.Reports = append(p.Reports, htmlReportOf(res, view))
	}
	return htmlTmpl.Execute(w, p)
}

func htmlReportOf(res *queries.Result, view *packView) htmlReport {
	r := res.Report
	hr := htmlReport{Name: r.Name, Title: r.Title, Description: r.Description, Anchor: anchor(r.Name), Params: paramLine(res),
		Notes: res.Notes}
	for _, t := range res.Tables {
		hs := htmlSection{Title: t.Section.Title, Notes: t.Section.Notes, Anchor: anchor(r.Name, t.Section.Name), Total: len(t.Rows)}
		if t.Section.Chart != nil {
			if svg, ok := chartSVG(r.Name, &t); ok {
				hs.Chart = template.HTML(svg) // #nosec: built with escaped text only
			}
		}
		if view == nil { // a single report: every column and row, as in the other formats
			for _, c := range t.Columns {
				hs.Columns = append(hs.Columns, htmlColumn{Name: c.Name, Num: numeric(c)})
			}
			for _, row := range t.Rows {
				cells := make([]htmlCell, len(row))
				for i, v := range row {
					c := t.Columns[i]
					cells[i] = htmlCell{Text: cell(c, v, "–"), Num: numeric(c), Null: v == nil,
						Time: c.Kind == queries.KindDate || c.Kind == queries.KindDateTime}
				}
				hs.Rows = append(hs.Rows, cells)
			}
			hr.Sections = append(hr.Sections, hs)
			continue
		}
		if view.DataDir != "" {
			hs.CSV = view.DataDir + "/" + csvName(r.Name, t.Section.Name)
		}
		cols := shownColumns(r.Name, &t)
		for _, i := range cols {
			hs.Columns = append(hs.Columns, htmlColumn{Name: t.Columns[i].Name, Num: numeric(t.Columns[i])})
		}
		if r.Name == "policy-findings" && t.Section.Name == "findings" {
			hs.Groups = findingGroups(&t, cols, view)
			hr.Sections = append(hr.Sections, hs)
			continue
		}
		rows := t.Rows
		if len(rows) > view.Top {
			rows = rows[:view.Top]
			hs.Shown = fmt.Sprintf("%d rows; the first %d in the report's order are shown.", len(t.Rows), view.Top)
		}
		for _, row := range rows {
			hs.Rows = append(hs.Rows, packRow(&t, cols, row))
		}
		hr.Sections = append(hr.Sections, hs)
	}
	return hr
}

func packRow(t *queries.Table, cols []int, row []any) []htmlCell {
	cells := make([]htmlCell, len(cols))
	for k, i := range cols {
		c := t.Columns[i]
		text, null := packCell(c, row[i])
		hc := htmlCell{Text: text, Num: numeric(c), Null: null, Time: c.Kind == queries.KindDate || c.Kind == queries.KindDateTime}
		if full := cell(c, row[i], ""); full != text && !null && (c.Name == "token_id" || c.Name == "subject") {
			hc.Full, hc.ID = full, true // a shortened id
		}
		cells[k] = hc
	}
	return cells
}

// findingGroups groups the findings by kind, in the summary's order, each
// with its count and its most recent rows.
func findingGroups(t *queries.Table, cols []int, view *packView) []htmlGroup {
	fi, ai := t.Column("finding"), t.Column("at")
	if fi < 0 {
		return nil
	}
	byKind := map[string][][]any{}
	for _, row := range t.Rows {
		f, _ := row[fi].(string)
		byKind[f] = append(byKind[f], row)
	}
	var out []htmlGroup
	for _, fc := range view.Summary.Findings {
		rows := byKind[fc.Finding]
		if len(rows) == 0 {
			continue
		}
		g := htmlGroup{Anchor: findingsGroupAnchor(fc.Finding), Title: fc.Title, Finding: fc.Finding,
			Control: fc.Control.Control, Objective: fc.Objective, Status: fc.Status, Total: len(rows)}
		if ai >= 0 { // most recent first
			rows = append([][]any(nil), rows...)
			sort.SliceStable(rows, func(a, b int) bool {
				ta, _ := rows[a][ai].(time.Time)
				tb, _ := rows[b][ai].(time.Time)
				return ta.After(tb)
			})
		}
		if len(rows) > view.Top {
			rows = rows[:view.Top]
			g.Shown = fmt.Sprintf("%d most recent shown", view.Top)
		}
		for _, row := range rows {
			cells := packRow(t, cols, row)
			if noActor[fc.Finding] {
				for k, i := range cols {
					if t.Columns[i].Name == "actor" {
						cells[k] = htmlCell{Text: "not applicable", Null: true}
					}
				}
			}
			g.Rows = append(g.Rows, cells)
		}
		out = append(out, g)
	}
	return out
}

// noActor are the finding kinds about a state, which no one's action
// makes: their actor column is empty by design, not unknown.
var noActor = map[string]bool{"active_tokens_near_limit": true}

// csvName is the file name of a section's CSV beside a pack.
func csvName(report, section string) string { return anchor(report, section) + ".csv" }
