package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// DefaultSource describes where a pack's data comes from.
const DefaultSource = "CrowdStrike Falcon API (audit events, installation tokens, token settings), " +
	"collected by tokentrail into ClickHouse"

// PackInfo is the front matter of a review pack.
type PackInfo struct {
	Title        string
	Tenant       string
	Since, Until time.Time
	Generated    time.Time
	// Source names where the data comes from; empty means DefaultSource.
	Source string
	// Controls maps finding kinds to controls; nil means DefaultControls.
	Controls *Controls
	// Top is how many rows a section (or a finding kind) shows; 0 means
	// DefaultTop.
	Top int
	// DataDir, when set, is the directory (relative to the pack) holding
	// one CSV per section with every row; the pack links to them.
	// WritePack sets it.
	DataDir string
}

// Pack writes every result into one review document (HTML or Markdown):
// a summary page (coverage, key figures, findings per control, sign-off),
// a table of contents, then each report with its sections, an inline SVG
// chart for each section that declares one, and, in HTML, at most Top rows
// per section.
func Pack(w io.Writer, f Format, info PackInfo, results []*queries.Result) error {
	v := newPackView(info, results)
	switch f {
	case HTML:
		return renderHTML(w, v, results)
	case Markdown:
		return packMarkdown(w, v, results)
	}
	return fmt.Errorf("pack: unsupported format %q (want html or markdown)", f)
}

func newPackView(info PackInfo, results []*queries.Result) *packView {
	info.Since, info.Until, info.Generated = info.Since.UTC(), info.Until.UTC(), info.Generated.UTC()
	if info.Source == "" {
		info.Source = DefaultSource
	}
	if info.Controls == nil {
		info.Controls = DefaultControls()
	}
	if info.Top <= 0 {
		info.Top = DefaultTop
	}
	return &packView{PackInfo: info, Summary: Summarize(results, info.Controls),
		Coverage: coverageOf(results), Sev: Severities}
}

// DataDirFor is the directory of CSV files beside the pack at path:
// review.html → review-data.
func DataDirFor(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-data"
}

// WritePack writes the pack to path and, in the directory DataDirFor(path)
// beside it, one CSV file per section holding every row. The CSV files
// are written first and the pack last, replacing an earlier one
// atomically, so that a pack never links to files that are not there.
func WritePack(path string, f Format, info PackInfo, results []*queries.Result) error {
	dir := filepath.Join(filepath.Dir(path), DataDirFor(path))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pack data: %w", err)
	}
	for _, res := range results {
		for i := range res.Tables {
			t := res.Tables[i]
			one := &queries.Result{Report: res.Report, Values: res.Values, Tables: []queries.Table{t}}
			var b bytes.Buffer
			if err := renderCSV(&b, one); err != nil {
				return fmt.Errorf("pack data %s/%s: %w", res.Report.Name, t.Section.Name, err)
			}
			if err := WriteFileAtomic(filepath.Join(dir, csvName(res.Report.Name, t.Section.Name)), b.Bytes()); err != nil {
				return fmt.Errorf("pack data: %w", err)
			}
		}
	}
	info.DataDir = DataDirFor(path)
	var b bytes.Buffer
	if err := Pack(&b, f, info, results); err != nil {
		return err
	}
	return WriteFileAtomic(path, b.Bytes())
}

// WriteFileAtomic replaces path with b through a temporary file beside it,
// so that a reader never sees a half-written file. Its errors name path,
// not the temporary file: the caller named path.
func WriteFileAtomic(path string, b []byte) error {
	fail := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(b)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}

func packMarkdown(w io.Writer, v *packView, results []*queries.Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", mdEscape(v.Title))
	if c := v.Coverage; c != nil && !c.Complete {
		fmt.Fprintf(bw, "> **%s** %s\n\n", mdEscape(c.Headline), mdEscape(c.Detail))
	}
	fmt.Fprintf(bw, "- **Tenant:** %s\n", mdEscape(v.Tenant))
	fmt.Fprintf(bw, "- **Period:** %s\n", periodText(v.Since, v.Until))
	fmt.Fprintf(bw, "- **Generated:** %s UTC\n", v.Generated.Format(time.DateTime))
	fmt.Fprintf(bw, "- **Data source:** %s\n", mdEscape(v.Source))
	if c := v.Coverage; c != nil {
		fmt.Fprintf(bw, "- **Collection coverage:** %s\n", mdEscape(c.Headline))
		for _, l := range c.Lines {
			fmt.Fprintf(bw, "  - %s\n", mdEscape(l))
		}
	}
	fmt.Fprintf(bw, "- **Overall status:** %s\n\n", v.Summary.Status)
	fmt.Fprint(bw, "## Key figures\n\n| Figure | Value |\n|---|---:|\n")
	for _, f := range v.Summary.Figures {
		val := mdEscape(f.Value)
		if f.Note != "" {
			val += " (" + mdEscape(f.Note) + ")"
		}
		fmt.Fprintf(bw, "| [%s](#%s) | %s |\n", mdEscape(f.Label), f.Link, val)
	}
	fmt.Fprint(bw, "\n## Findings by control\n\n| Finding | Control | high | medium | low | info | Status |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, fc := range v.Summary.Findings {
		fmt.Fprintf(bw, "| [%s](#%s) | %s | %d | %d | %d | %d | %s |\n", mdEscape(fc.Title), anchor("policy-findings", "findings"),
			mdEscape(fc.Control.Control), fc.BySeverity["high"], fc.BySeverity["medium"], fc.BySeverity["low"], fc.BySeverity["info"], fc.Status)
	}
	fmt.Fprint(bw, "\nThe controls named are the objectives each finding is evidence for; they are not a certification.\n\n")
	fmt.Fprint(bw, "## Sign-off\n\n| | Name | Signature | Date |\n|---|---|---|---|\n| Prepared by | | | |\n| Reviewed by | | | |\n\n")
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
	return bw.Flush()
}
