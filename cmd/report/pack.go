package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// PackCmd writes every report into one review document.
type PackCmd struct {
	PeriodFlags
	Format     string `short:"f" help:"Document format: html, markdown or pdf (HTML printed by headless Chromium)." enum:"html,markdown,pdf" default:"html"`
	Out        string `short:"o" help:"Write to FILE instead of standard output (replaced only when every report succeeds). With a file, each section's CSV goes to FILE-data/ beside it; pdf and --all-tenants need a file." placeholder:"FILE"`
	Title      string `help:"Document title." default:"Installation token review"`
	Controls   string `help:"JSON file mapping finding kinds to control objectives (default: the built-in mapping, report/controls.json)." placeholder:"FILE" type:"existingfile"`
	Top        int    `help:"Rows shown per section and per finding kind; the CSV files hold every row." default:"10"`
	AllTenants bool   `name:"all-tenants" help:"One pack per tenant found in ClickHouse (FILE-TENANT.EXT) and an overview page (FILE) comparing them."`
	Chromium   string `help:"Chromium or Chrome binary for --format pdf (default: chromium, chromium-browser, google-chrome or google-chrome-stable on PATH)." env:"TOKENTRAIL_CHROMIUM" placeholder:"PATH"`
}

// packJob is a resolved pack command: what every tenant's pack shares.
type packJob struct {
	cmd      *PackCmd
	format   report.Format // of the document Chromium prints, for pdf: HTML
	pdf      bool
	chromium string
	controls *report.Controls
	vals     []queries.Values
	now      time.Time
	timeout  time.Duration
	clock    *env // one clock for every report, and where notes go
}

// Run implements the command.
func (c *PackCmd) Run(ctx context.Context, ch *ClickHouseFlags, e *env) error {
	job, err := c.prepare(ch, e)
	if err != nil {
		return err
	}
	if _, err := ch.config(); err != nil {
		return err
	}
	conn, err := ch.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if c.AllTenants {
		return job.allTenants(ctx, conn)
	}
	info, results, err := job.run(ctx, conn, nil)
	if err != nil {
		return err
	}
	return job.write(ctx, e, c.Out, info, results)
}

// prepare checks the flags and resolves every report's parameters before
// touching the network. An unscoped parameter applies to each report that
// declares it and must be declared by at least one.
func (c *PackCmd) prepare(ch *ClickHouseFlags, e *env) (*packJob, error) {
	job := &packJob{cmd: c, now: e.now(), timeout: ch.QueryTimeout, format: report.HTML}
	switch c.Format {
	case "pdf":
		job.pdf = true
		if c.Out == "" {
			return nil, usagef("--format pdf: needs --out FILE")
		}
	default:
		f, err := report.ParseFormat(c.Format)
		if err != nil {
			return nil, usagef("--format: %v", err)
		}
		job.format = f
	}
	if c.Top <= 0 {
		return nil, usagef("--top: %d is not positive", c.Top)
	}
	if c.AllTenants {
		if c.Out == "" {
			return nil, usagef("--all-tenants: needs --out FILE (the overview; each tenant's pack goes beside it)")
		}
		if c.Tenant != "" {
			return nil, usagef("--all-tenants and --tenant exclude each other")
		}
	}
	job.controls = report.DefaultControls()
	if c.Controls != "" {
		ctl, err := report.LoadControls(c.Controls)
		if err != nil {
			return nil, usagef("--controls: %v", err)
		}
		job.controls = ctl
	}
	if job.pdf {
		bin, err := findChromium(c.Chromium)
		if err != nil {
			return nil, err
		}
		job.chromium = bin
	}
	clock := &env{stdout: e.stdout, stderr: e.stderr, now: func() time.Time { return job.now }} // one clock for every report
	job.clock = clock
	all := queries.All()
	job.vals = make([]queries.Values, len(all))
	unscoped, unscopedFlags, err := c.given(func(string) bool { return false })
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for i, r := range all {
		given, flags, _ := c.given(func(rep string) bool { return rep == r.Name })
		for name := range given {
			_, declared := r.Param(name)
			_, isUnscoped := unscoped[name]
			switch {
			case declared:
				used[name] = true
			case isUnscoped && unscoped[name] == given[name]:
				delete(given, name) // meant for the reports that declare it
			}
		}
		if job.vals[i], err = resolve(r, given, flags, clock); err != nil {
			return nil, err
		}
	}
	for name := range unscoped {
		if !used[name] {
			return nil, usagef("%s: no report has a parameter %s", unscopedFlags[name], name)
		}
	}
	return job, nil
}

// run runs every report, for tenant when it is set.
func (j *packJob) run(ctx context.Context, conn driver.Conn, tenant *string) (report.PackInfo, []*queries.Result, error) {
	info := report.PackInfo{Title: j.cmd.Title, Generated: j.now, Controls: j.controls, Top: j.cmd.Top}
	var results []*queries.Result
	checked := map[string]string{} // tenant: note
	for i, r := range queries.All() {
		vals := j.vals[i]
		if tenant != nil {
			if _, ok := r.Param("tenant"); ok {
				var err error
				if vals, err = r.Resolve(withTenant(vals, *tenant), j.now); err != nil {
					return info, nil, err
				}
			}
		}
		qctx, cancel := context.WithTimeout(ctx, j.timeout)
		var note string
		if t, ok := vals.Get("tenant"); ok {
			var err error
			if n, done := checked[fmt.Sprint(t)]; done {
				note = n
			} else if note, err = checkTenant(qctx, conn, vals, j.clock); err != nil {
				cancel()
				return info, nil, err
			}
			checked[fmt.Sprint(t)] = note
		}
		res, err := queries.Run(qctx, conn, r, vals)
		cancel()
		if err != nil {
			return info, nil, err
		}
		if note != "" {
			res.Notes = append(res.Notes, note)
		}
		results = append(results, res)
		if t, ok := vals.Get("tenant"); ok && info.Tenant == "" {
			info.Tenant, _ = t.(string)
		}
		if s, ok := vals.Time("since"); ok && info.Since.IsZero() {
			info.Since = s
			info.Until, _ = vals.Time("until")
		}
	}
	if info.Since.IsZero() {
		return info, nil, errors.New("pack: no report declares since/until")
	}
	return info, results, nil
}

// withTenant returns the parameter values of v as text, tenant replaced.
func withTenant(v queries.Values, tenant string) map[string]string {
	given := map[string]string{}
	for _, p := range v.Params() {
		given[p.Name] = v.Text(p.Name)
	}
	given["tenant"] = tenant
	return given
}

// write writes one pack: to standard output (no CSV files), or to a file
// with its CSV files beside it, or printed to PDF.
func (j *packJob) write(ctx context.Context, e *env, out string, info report.PackInfo, results []*queries.Result) error {
	if out == "" {
		var buf bytes.Buffer
		if err := report.Pack(&buf, j.format, info, results); err != nil {
			return fmt.Errorf("render pack as %s: %w", j.format, err)
		}
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if err := checkOutDir(out); err != nil {
		return err
	}
	if !j.pdf {
		if err := report.WritePack(out, j.format, info, results); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		return nil
	}
	// PDF: the HTML pack (and its CSV files) beside the PDF, printed by Chromium.
	html := out[:len(out)-len(filepath.Ext(out))] + ".html"
	if html == out {
		html = out + ".html"
	}
	if err := report.WritePack(html, report.HTML, info, results); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return printPDF(ctx, j.chromium, html, out)
}

func checkOutDir(out string) error {
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out: directory %s does not exist", filepath.Dir(out))
	}
	return nil
}
