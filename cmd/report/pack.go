package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// PackCmd writes every report into one review document.
type PackCmd struct {
	PeriodFlags
	Format string `short:"f" help:"Document format: html or markdown." enum:"html,markdown" default:"html"`
	Out    string `short:"o" help:"Write to FILE instead of standard output (replaced only when every report succeeds)." placeholder:"FILE"`
	Title  string `help:"Document title." default:"Installation token review"`
}

// Run implements the command.
func (c *PackCmd) Run(ctx context.Context, ch *ClickHouseFlags, e *env) error {
	format, err := report.ParseFormat(c.Format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	now := e.now()
	clock := &env{stdout: e.stdout, stderr: e.stderr, now: func() time.Time { return now }} // one clock for every report
	// Resolve every report's parameters before touching the network. An
	// unscoped parameter applies to each report that declares it and must
	// be declared by at least one.
	all := queries.All()
	vals := make([]queries.Values, len(all))
	unscoped, unscopedFlags, err := c.given(func(string) bool { return false })
	if err != nil {
		return err
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
		if vals[i], err = resolve(r, given, flags, clock); err != nil {
			return err
		}
	}
	for name := range unscoped {
		if !used[name] {
			return usagef("%s: no report has a parameter %s", unscopedFlags[name], name)
		}
	}
	if _, err := ch.config(); err != nil {
		return err
	}
	conn, err := ch.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	info := report.PackInfo{Title: c.Title, Generated: now}
	var results []*queries.Result
	checked := map[string]string{} // tenant: note
	for i, r := range all {
		qctx, cancel := context.WithTimeout(ctx, ch.QueryTimeout)
		var note string
		if t, ok := vals[i].Get("tenant"); ok {
			if n, done := checked[fmt.Sprint(t)]; done {
				note = n
			} else if note, err = checkTenant(qctx, conn, vals[i], clock); err != nil {
				cancel()
				return err
			}
			checked[fmt.Sprint(t)] = note
		}
		res, err := queries.Run(qctx, conn, r, vals[i])
		cancel()
		if err != nil {
			return err
		}
		if note != "" {
			res.Notes = append(res.Notes, note)
		}
		results = append(results, res)
		if t, ok := vals[i].Get("tenant"); ok && info.Tenant == "" {
			info.Tenant, _ = t.(string)
		}
		if s, ok := vals[i].Time("since"); ok && info.Since.IsZero() {
			info.Since = s
			info.Until, _ = vals[i].Time("until")
		}
	}
	if info.Since.IsZero() {
		return errors.New("pack: no report declares since/until")
	}
	var buf bytes.Buffer
	if err := report.Pack(&buf, format, info, results); err != nil {
		return fmt.Errorf("render pack as %s: %w", format, err)
	}
	return writeOut(e, c.Out, buf.Bytes())
}
