package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/tokentrail/tokentrail/queries"
)

// renderMarkdown writes a report as GitHub-flavoured Markdown with its
// title at heading level `level`. Charts are inline SVG HTML blocks.
func renderMarkdown(w io.Writer, res *queries.Result, level int) error {
	bw := bufio.NewWriter(w)
	h := strings.Repeat("#", level)
	r := res.Report
	fmt.Fprintf(bw, "<a id=\"%s\"></a>\n\n%s %s\n\n", anchor(r.Name), h, mdEscape(r.Title))
	fmt.Fprintf(bw, "`%s`: %s\n\n", r.Name, mdEscape(r.Description))
	var meta []string
	for _, kv := range paramLine(res) {
		meta = append(meta, "**"+mdEscape(kv.Key)+":** "+mdEscape(kv.Value))
	}
	fmt.Fprintf(bw, "%s\n", strings.Join(meta, " · "))
	for _, n := range res.Notes {
		fmt.Fprintf(bw, "\n> **Note:** %s\n", mdEscape(n))
	}
	for _, t := range res.Tables {
		fmt.Fprintf(bw, "\n<a id=\"%s\"></a>\n\n%s# %s\n\n", anchor(r.Name, t.Section.Name), h, mdEscape(t.Section.Title))
		if t.Section.Notes != "" {
			fmt.Fprintf(bw, "%s\n\n", mdEscape(t.Section.Notes))
		}
		if t.Section.Chart != nil {
			if svg, ok := chartSVG(r.Name, &t); ok {
				fmt.Fprintf(bw, "%s\n\n", svg)
			}
		}
		if len(t.Rows) == 0 {
			fmt.Fprint(bw, "_No rows._\n")
			continue
		}
		var head, rule []string
		for _, c := range t.Columns {
			head = append(head, mdEscape(c.Name))
			if numeric(c) {
				rule = append(rule, "---:")
			} else {
				rule = append(rule, "---")
			}
		}
		fmt.Fprintf(bw, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(rule, "|"))
		for _, row := range t.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = mdEscape(cell(t.Columns[i], v, "-"))
			}
			fmt.Fprintf(bw, "| %s |\n", strings.Join(vals, " | "))
		}
	}
	return bw.Flush()
}

// mdEscape makes s literal text in a Markdown table cell: no markup, no
// raw HTML, no column break, one line.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `~`, `\~`,
	`|`, `\|`, `<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`,
)

func mdEscape(s string) string { return mdReplacer.Replace(oneLine(s)) }
