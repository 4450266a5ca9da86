package report

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// PackInfo is the front matter of a review pack.
type PackInfo struct {
	Title        string
	Tenant       string
	Since, Until time.Time
	Generated    time.Time
}

// Pack writes every result into one review document (HTML or Markdown):
// title, tenant, period, generation time, a table of contents, then each
// report with its sections, and an inline SVG chart for each section that
// declares one.
func Pack(w io.Writer, f Format, info PackInfo, results []*queries.Result) error {
	info.Since, info.Until, info.Generated = info.Since.UTC(), info.Until.UTC(), info.Generated.UTC()
	switch f {
	case HTML:
		return renderHTML(w, &info, results)
	case Markdown:
		return packMarkdown(w, info, results)
	}
	return fmt.Errorf("pack: unsupported format %q (want html or markdown)", f)
}

func packMarkdown(w io.Writer, info PackInfo, results []*queries.Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", mdEscape(info.Title))
	fmt.Fprintf(bw, "- **Tenant:** %s\n", mdEscape(info.Tenant))
	fmt.Fprintf(bw, "- **Period:** %s to %s UTC\n", info.Since.Format(time.DateTime), info.Until.Format(time.DateTime))
	fmt.Fprintf(bw, "- **Generated:** %s UTC\n\n", info.Generated.Format(time.DateTime))
	fmt.Fprint(bw, "## Contents\n\n")
	for i, res := range results {
		fmt.Fprintf(bw, "%d. [%s](#%s)\n", i+1, mdEscape(res.Report.Title), anchor(res.Report.Name))
		for _, t := range res.Tables {
			fmt.Fprintf(bw, "   - [%s](#%s)\n", mdEscape(t.Section.Title), anchor(res.Report.Name, t.Section.Name))
		}
	}
	for _, res := range results {
		fmt.Fprint(bw, "\n")
		if err := renderMarkdown(bw, res, 2); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return nil
}
