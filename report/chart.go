package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// Chart geometry (SVG user units).
const (
	chartW, chartH = 760, 260
	padL, padR     = 52, 16
	padT, padB     = 34, 40
)

var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"}

// chartSVG draws a section's chart as a self-contained inline SVG element
// (class "chart", data-chart "report/section"). It returns false when the
// section's columns do not fit its chart declaration. All text is escaped.
func chartSVG(report string, t *queries.Table) (string, bool) {
	spec := t.Section.Chart
	xi := t.Column(spec.X)
	if xi < 0 {
		return "", false
	}
	var yi []int
	for _, y := range spec.Y {
		i := t.Column(y)
		if i < 0 || !numeric(t.Columns[i]) {
			return "", false
		}
		yi = append(yi, i)
	}
	n := len(t.Rows)
	// vals[s][p] is series s at point p; NaN is NULL (a gap).
	vals := make([][]float64, len(yi))
	for s, i := range yi {
		vals[s] = make([]float64, n)
		for p, row := range t.Rows {
			vals[s][p] = toFloat(row[i])
		}
	}
	top := 0.0
	for p := 0; p < n; p++ {
		sum := 0.0
		for s := range vals {
			v := vals[s][p]
			if math.IsNaN(v) {
				continue
			}
			if spec.Kind == "bar" {
				sum += v
			} else {
				sum = math.Max(sum, v)
			}
		}
		top = math.Max(top, sum)
	}
	top, step := niceScale(top)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	xAt := func(p int) float64 { return float64(padL) + plotW*(float64(p)+0.5)/float64(max(n, 1)) }
	yAt := func(v float64) float64 { return float64(padT) + plotH*(1-v/top) }

	var b strings.Builder
	title := t.Section.Title
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="%s" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="11">`,
		html.EscapeString(report+"/"+t.Section.Name), html.EscapeString(title), chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, chartW, chartH)
	// Legend.
	lx := float64(padL)
	for s, name := range spec.Y {
		fmt.Fprintf(&b, `<rect x="%.1f" y="10" width="10" height="10" fill="%s"/><text x="%.1f" y="19" fill="#111827">%s</text>`,
			lx, palette[s%len(palette)], lx+14, html.EscapeString(name))
		lx += 24 + 7*float64(len(name))
	}
	// Y grid and ticks.
	for v := 0.0; v <= top+step/2; v += step {
		y := yAt(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/><text x="%d" y="%.1f" text-anchor="end" fill="#374151">%s</text>`,
			padL, y, chartW-padR, y, padL-6, y+4, formatTick(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#6b7280"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	// X labels: at most about 10.
	every := max(1, (n+9)/10)
	for p := 0; p < n; p += every {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#374151">%s</text>`,
			xAt(p), chartH-padB+16, html.EscapeString(xLabel(t.Columns[xi], t.Rows[p][xi])))
	}
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#6b7280">no data in the period</text>`, chartW/2, chartH/2)
	}
	slot := plotW / float64(max(n, 1))
	switch spec.Kind {
	case "bar":
		bw := math.Max(1, slot*0.8)
		for p := 0; p < n; p++ {
			base := 0.0
			for s := range vals {
				v := vals[s][p]
				if math.IsNaN(v) || v <= 0 {
					continue
				}
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
					xAt(p)-bw/2, yAt(base+v), bw, yAt(base)-yAt(base+v), palette[s%len(palette)],
					html.EscapeString(xLabel(t.Columns[xi], t.Rows[p][xi])), html.EscapeString(spec.Y[s]), formatTick(v))
				base += v
			}
		}
	case "line":
		for s := range vals {
			var pts []string
			flush := func() {
				if len(pts) > 0 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, palette[s%len(palette)], strings.Join(pts, " "))
				}
				pts = nil
			}
			for p := 0; p < n; p++ {
				v := vals[s][p]
				if math.IsNaN(v) {
					flush()
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(p), yAt(v)))
			}
			flush()
		}
	}
	b.WriteString(`</svg>`)
	return b.String(), true
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// niceScale returns an axis maximum >= top and a tick step: 1, 2 or 5 times
// a power of ten, with at most five steps.
func niceScale(top float64) (float64, float64) {
	if top <= 0 || math.IsNaN(top) {
		return 1, 1
	}
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	step = math.Max(step, 1) // counts: whole-number ticks
	return math.Ceil(top/step) * step, step
}

func formatTick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func xLabel(c queries.Column, v any) string {
	if t, ok := v.(time.Time); ok {
		return t.Format("Jan 02")
	}
	return cell(c, v, "")
}
