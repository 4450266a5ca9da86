package report

import (
	_ "embed"
	"html/template"
	"io"
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
	Pack    *PackInfo
	Period  string
	Reports []htmlReport
}

type htmlReport struct {
	Name, Title, Description, Anchor string
	Params                           []paramKV
	Sections                         []htmlSection
}

type htmlSection struct {
	Title, Notes, Anchor string
	Chart                template.HTML
	Columns              []htmlColumn
	Rows                 [][]htmlCell
}

type htmlColumn struct {
	Name string
	Num  bool
}

type htmlCell struct {
	Text            string
	Num, Null, Time bool
}

var htmlTmpl = template.Must(template.New("report").Parse(htmlSource))

// renderHTML writes one standalone HTML document: a pack when info is set,
// else a single report. It needs no script and loads nothing.
func renderHTML(w io.Writer, info *PackInfo, results []*queries.Result) error {
	p := page{Pack: info}
	if info != nil {
		p.Title = info.Title
		p.Period = info.Since.Format(time.DateTime) + " to " + info.Until.Format(time.DateTime) + " UTC"
	} else if len(results) == 1 {
		p.Title = results[0].Report.Title
	}
	for _, res := range results {
		p.Reports = append(p.Reports, htmlReportOf(res))
	}
	return htmlTmpl.Execute(w, p)
}

func htmlReportOf(res *queries.Result) htmlReport {
	r := res.Report
	hr := htmlReport{Name: r.Name, Title: r.Title, Description: r.Description, Anchor: anchor(r.Name), Params: paramLine(res)}
	for _, t := range res.Tables {
		hs := htmlSection{Title: t.Section.Title, Notes: t.Section.Notes, Anchor: anchor(r.Name, t.Section.Name)}
		if t.Section.Chart != nil {
			if svg, ok := chartSVG(r.Name, &t); ok {
				hs.Chart = template.HTML(svg) // #nosec: built with escaped text only
			}
		}
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
	}
	return hr
}
