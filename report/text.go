package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/queries"
)

// renderText writes aligned plain-text tables.
func renderText(w io.Writer, res *queries.Result) error { return RenderText(w, res, 0) }

// RenderText writes aligned plain-text tables no wider than width columns
// (0: no limit), for a terminal: the widest text columns are shortened,
// their cells cut with "…", until a row fits.
func RenderText(w io.Writer, res *queries.Result, width int) error {
	bw := bufio.NewWriter(w)
	r := res.Report
	fmt.Fprintf(bw, "%s (%s)\n%s\n", r.Title, r.Name, r.Description)
	var meta []string
	for _, kv := range paramLine(res) {
		meta = append(meta, kv.Key+": "+oneLine(kv.Value))
	}
	fmt.Fprintln(bw, strings.Join(meta, " | "))
	for _, n := range res.Notes {
		fmt.Fprintln(bw, "Note: "+n)
	}
	for _, t := range res.Tables {
		fmt.Fprintf(bw, "\n== %s ==\n", t.Section.Title)
		if t.Section.Notes != "" {
			fmt.Fprintln(bw, t.Section.Notes)
		}
		writeAligned(bw, &t, width)
	}
	return bw.Flush()
}

func writeAligned(w io.Writer, t *queries.Table, limit int) {
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "(no rows)")
		return
	}
	cells := make([][]string, len(t.Rows))
	width := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		width[i] = utf8.RuneCountInString(c.Name)
	}
	for r, row := range t.Rows {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			s := oneLine(cell(t.Columns[i], v, "-"))
			cells[r][i] = s
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	fit(width, limit, func(i int) bool { return numeric(t.Columns[i]) })
	for _, row := range cells {
		for i, s := range row {
			if n := utf8.RuneCountInString(s); n > width[i] {
				row[i] = string([]rune(s)[:width[i]-1]) + "…"
			}
		}
	}
	line := func(vals []string, right func(int) bool) {
		var b strings.Builder
		for i, s := range vals {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if i > 0 {
				b.WriteString("  ")
			}
			if right(i) {
				b.WriteString(pad + s)
			} else if i < len(vals)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	names := make([]string, len(t.Columns))
	rules := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
		if n := utf8.RuneCountInString(c.Name); n > width[i] {
			names[i] = string([]rune(c.Name)[:width[i]-1]) + "…"
		}
		rules[i] = strings.Repeat("-", width[i])
	}
	isNum := func(i int) bool { return numeric(t.Columns[i]) }
	line(names, isNum)
	line(rules, func(int) bool { return false })
	for _, row := range cells {
		line(row, isNum)
	}
	noun := "rows"
	if len(t.Rows) == 1 {
		noun = "row"
	}
	fmt.Fprintf(w, "(%d %s)\n", len(t.Rows), noun)
}

// minColumn is the narrowest a shortened column gets.
const minColumn = 8

// fit shortens the widest shortenable columns (text, not numbers) until
// the row, with two spaces between columns, is at most limit wide.
func fit(width []int, limit int, numeric func(int) bool) {
	if limit <= 0 {
		return
	}
	total := func() int {
		n := 2 * (len(width) - 1)
		for _, w := range width {
			n += w
		}
		return n
	}
	for total() > limit {
		widest := -1
		for i, w := range width {
			if !numeric(i) && w > minColumn && (widest < 0 || w > width[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return // as narrow as it gets
		}
		width[widest]--
	}
}

// renderCSV writes one CSV table per section. With several sections, each
// block starts with a one-field row "# section_name" and blocks are
// separated by an empty line. Text cells starting with = + - @ get a
// leading ' so spreadsheets do not run them as formulas.
func renderCSV(w io.Writer, res *queries.Result) error {
	cw := csv.NewWriter(w)
	for i, t := range res.Tables {
		if len(res.Tables) > 1 {
			if i > 0 {
				if err := cw.Write([]string{""}); err != nil {
					return err
				}
			}
			if err := cw.Write([]string{"# " + t.Section.Name}); err != nil {
				return err
			}
		}
		names := make([]string, len(t.Columns))
		for j, c := range t.Columns {
			names[j] = c.Name
		}
		if err := cw.Write(names); err != nil {
			return err
		}
		for _, row := range t.Rows {
			rec := make([]string, len(row))
			for j, v := range row {
				rec[j] = cell(t.Columns[j], v, "")
				if !numeric(t.Columns[j]) && rec[j] != "" && strings.ContainsRune("=+-@\t\r", rune(rec[j][0])) {
					rec[j] = "'" + rec[j]
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
