package report

import (
	_ "embed"
	"html/template"
	"io"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

//go:embed overview.html.tmpl
var overviewSource string

var overviewTmpl = template.Must(template.New("overview").Funcs(template.FuncMap{
	"sev": func(m map[string]int, s string) int { return m[s] },
}).Parse(overviewSource))

// TenantPack is one tenant's pack on an overview page.
type TenantPack struct {
	Tenant  string
	Link    string // the pack, relative to the overview
	Info    PackInfo
	Results []*queries.Result
}

type overviewRow struct {
	Tenant, Link, Status string
	Coverage             *coverageView
	Figures              map[string]string
	BySeverity           map[string]int
}

// Overview writes one HTML page comparing tenants — coverage, key figures,
// findings by severity, overall status — each linking to its pack.
func Overview(w io.Writer, title string, generated time.Time, packs []TenantPack) error {
	data := struct {
		Title, Period, Generated string
		Sev                      []string
		Rows                     []overviewRow
	}{Title: title, Generated: generated.UTC().Format(time.DateTime), Sev: Severities}
	for _, p := range packs {
		v := newPackView(p.Info, p.Results)
		if data.Period == "" {
			data.Period = periodText(v.Since, v.Until)
		}
		row := overviewRow{Tenant: p.Tenant, Link: p.Link, Status: v.Summary.Status, Coverage: v.Coverage,
			Figures: map[string]string{}, BySeverity: map[string]int{}}
		for _, f := range v.Summary.Figures {
			row.Figures[f.Key] = f.Value
		}
		for _, fc := range v.Summary.Findings {
			for s, n := range fc.BySeverity {
				row.BySeverity[s] += n
			}
		}
		data.Rows = append(data.Rows, row)
	}
	return overviewTmpl.Execute(w, data)
}
