package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// PeriodFlags select the tenant, the review period and report parameters.
type PeriodFlags struct {
	Since  string   `help:"Start of the period: a time ago (30d, 12h, 2w) or a date/time (2025-06-01, RFC 3339). Default: the report's, 30d." placeholder:"30d|DATE"`
	Until  string   `help:"End of the period (exclusive): a date/time or a time ago. Default: now." placeholder:"DATE"`
	Tenant string   `help:"Tenant to report on: the name ingest writes into every record (its --tenant), not a CID. Default: the report's, \"default\". A tenant without data is an error listing those that have data." placeholder:"T"`
	Param  []string `short:"p" help:"Report parameter NAME=VALUE (repeatable); see report list." placeholder:"K=V" sep:"none"`
}

// RunCmd runs one report.
type RunCmd struct {
	PeriodFlags
	Name    string `arg:"" help:"Report name (see report list)."`
	Format  string `short:"f" help:"Output format: table (fits the terminal), csv, json, markdown or html. CSV holds one table: a report with several sections needs --section." enum:"table,csv,json,markdown,html" default:"table"`
	Section string `help:"Output only this section of the report." placeholder:"NAME"`
	Out     string `short:"o" help:"Write to FILE instead of standard output (replaced only when the report succeeds)." placeholder:"FILE"`
}

// Run implements the command.
func (c *RunCmd) Run(ctx context.Context, ch *ClickHouseFlags, e *env) error {
	r, err := queries.Lookup(c.Name)
	if err != nil {
		return usageError{err}
	}
	format, err := report.ParseFormat(c.Format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	if c.Section != "" {
		if _, ok := r.Section(c.Section); !ok {
			var names []string
			for _, s := range r.Sections {
				names = append(names, s.Name)
			}
			return usagef("--section: report %s has no section %q (it has: %s)", r.Name, c.Section, strings.Join(names, ", "))
		}
	}
	if format == report.CSV && c.Section == "" && len(r.Sections) > 1 {
		var names []string
		for _, s := range r.Sections {
			names = append(names, s.Name)
		}
		return usagef("--format csv: report %s has %d sections and a CSV file holds one table: choose one with --section (%s)",
			r.Name, len(r.Sections), strings.Join(names, ", "))
	}
	given, flags, err := c.given(func(string) bool { return true })
	if err != nil {
		return err
	}
	vals, err := resolve(r, given, flags, e)
	if err != nil {
		return err
	}
	if _, err := ch.config(); err != nil { // flag errors before any network
		return err
	}
	conn, err := ch.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	qctx, cancel := context.WithTimeout(ctx, ch.QueryTimeout)
	defer cancel()
	if c.Section != "" { // run only the section asked for
		one := *r
		sec, _ := r.Section(c.Section)
		one.Sections = []queries.Section{*sec}
		r = &one
	}
	note, err := checkTenant(qctx, conn, vals, e)
	if err != nil {
		return err
	}
	res, err := queries.Run(qctx, conn, r, vals)
	if err != nil {
		return err
	}
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	if note := coverageNote(qctx, conn, e, r.Name, vals); note != "" {
		res.Notes = append(res.Notes, note)
	}
	var buf bytes.Buffer
	if format == report.Table && c.Out == "" {
		err = report.RenderText(&buf, res, e.width)
	} else {
		err = report.Render(&buf, format, res)
	}
	if err != nil {
		return fmt.Errorf("render %s as %s: %w", r.Name, format, err)
	}
	return writeOut(e, c.Out, buf.Bytes())
}

// coverageNote says, on standard error and as a note the report shows at
// its top, when the period of a report is not fully collected (the
// collection-coverage report for the same tenant and period).
func coverageNote(ctx context.Context, conn queries.Querier, e *env, name string, vals queries.Values) string {
	since, ok := vals.Time("since")
	until, _ := vals.Time("until")
	r, err := queries.Lookup("collection-coverage")
	if !ok || err != nil || name == r.Name {
		return ""
	}
	given := map[string]string{"since": since.Format(time.RFC3339), "until": until.Format(time.RFC3339)}
	if _, ok := vals.Get("tenant"); ok {
		given["tenant"] = vals.Text("tenant")
	}
	cv, err := r.Resolve(given, e.now())
	if err != nil {
		return ""
	}
	var note string
	if res, err := queries.Run(ctx, conn, r, cv); err != nil {
		note = "Collection coverage of the period unknown: " + oneLine(err)
	} else if c, ok := report.CoverageOf(res); ok && !c.Complete {
		note = "Collection coverage of the period: " + c.Headline + ". " + c.Detail
	}
	if note != "" && e.stderr != nil {
		fmt.Fprintln(e.stderr, "report: warning:", note)
	}
	return note
}

// given collects parameter values from --param, --tenant, --since and
// --until, remembering which flag gave each (for error messages). A
// --param NAME=VALUE may be scoped as REPORT.NAME=VALUE (pack); scoped
// reports for which keep returns false are left out.
func (f *PeriodFlags) given(keep func(report string) bool) (map[string]string, map[string]string, error) {
	given, flags := map[string]string{}, map[string]string{}
	for _, kv := range f.Param {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, nil, usagef("--param %q: want NAME=VALUE", kv)
		}
		if rep, n, scoped := strings.Cut(name, "."); scoped {
			if _, err := queries.Lookup(rep); err != nil {
				return nil, nil, usagef("--param %s: %v", name, err)
			}
			if !keep(rep) {
				continue
			}
			name = n
		}
		given[name], flags[name] = val, "--param "+name
	}
	for name, val := range map[string]string{"tenant": f.Tenant, "since": f.Since, "until": f.Until} {
		if val != "" {
			given[name], flags[name] = val, "--"+name
		}
	}
	return given, flags, nil
}

// resolve resolves parameters, turning a bad one into a usage error that
// names the flag it came from.
func resolve(r *queries.Report, given, flags map[string]string, e *env) (queries.Values, error) {
	vals, err := r.Resolve(given, e.now())
	var pe *queries.ParamError
	if errors.As(err, &pe) {
		flag := flags[pe.Param]
		if flag == "" {
			flag = "--param " + pe.Param
		}
		if errors.Is(err, queries.ErrUnknownParam) {
			var names []string
			for _, p := range r.Params {
				names = append(names, p.Name)
			}
			return vals, usagef("%s: report %s has no parameter %s (it takes: %s)", flag, r.Name, pe.Param, strings.Join(names, ", "))
		}
		return vals, usagef("%s: %q: %s (report %s)", flag, pe.Value, pe.Reason, r.Name)
	}
	return vals, err
}

// writeOut writes b to standard output or, atomically, to path.
func writeOut(e *env, path string, b []byte) error {
	if path == "" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := report.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// checkTenant refuses to report on a database without tokentrail's tables
// or a tenant without data (exit 2, naming the tenants that have data): an
// empty report would look clean. A stale collection is returned as a note
// (and said on stderr).
func checkTenant(ctx context.Context, q queries.Querier, vals queries.Values, e *env) (string, error) {
	v, ok := vals.Get("tenant")
	if !ok {
		return "", nil
	}
	tenant, _ := v.(string)
	cov, err := queries.CheckTenant(ctx, q, tenant)
	var de *queries.DataError
	if errors.As(err, &de) {
		if len(de.MissingTables) > 0 {
			return "", usagef("--clickhouse-dsn: %v", err)
		}
		return "", usagef("--tenant: %v", err)
	}
	if err != nil {
		return "", err
	}
	until, ok := vals.Time("until")
	if !ok {
		until = e.now()
	}
	note := cov.Note(tenant, until)
	if note != "" && e.stderr != nil {
		fmt.Fprintln(e.stderr, "report: note:", note)
	}
	return note, nil
}
