package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/embedkafka"
	"github.com/tokentrail/tokentrail/queries"
	"github.com/tokentrail/tokentrail/report"
)

// DemoCmd runs the whole pipeline on embedded parts: the Falcon emulator
// with a seeded tenant that keeps changing, an in-process Kafka (kfake)
// keeping its data under --state-dir, and collect + sink into ClickHouse.
type DemoCmd struct {
	Duration         time.Duration `help:"How long to run before the summary (Ctrl-C stops earlier)." default:"60s"`
	StateDir         string        `help:"Directory of the embedded Kafka's data, the checkpoints and the review pack; default ${default}. It may hold only what the demo puts there." default:"./state/demo" placeholder:"DIR"`
	ClickHouseDSN    string        `name:"clickhouse-dsn" help:"ClickHouse DSN of the demo's own database (created and marked if missing; a database holding anything else is refused). Read from the flag, its variable or the config file's demo section only." default:"clickhouse://default:@127.0.0.1:9000/tokentrail_demo" env:"TOKENTRAIL_DEMO_CLICKHOUSE_DSN"`
	Reset            bool          `help:"Start from scratch (default; --no-reset keeps the data): drop the demo database and the demo's Kafka data and checkpoints. Only a database and directory the demo marked as its own are reset; others are refused." default:"true" negatable:""`
	Seed             int64         `help:"Seed of the emulated tenant." default:"1"`
	Tokens           int           `help:"Installation tokens in the seeded tenant." default:"300"`
	Events           int           `help:"Audit events in the seeded tenant's 30-day history (a steady tenant: mostly token edits, occasional revocations, rare deletions and settings changes)." default:"400"`
	ActivityInterval time.Duration `help:"How often the emulated tenant acts (mostly sensor installs; now and then tokens created, edited, revoked, rarely deleted; settings seldom)." default:"500ms"`
	Pack             string        `help:"Where to write the review pack (default: STATE-DIR/review-pack.html)." placeholder:"FILE"`
}

const (
	demoTenant  = "demo"
	demoLateMax = 5 * time.Second
)

// Run implements the command.
func (c *DemoCmd) Run(ctx context.Context, g *Globals) error {
	switch {
	case c.Duration <= 0:
		return usagef("--duration: %v is not positive", c.Duration)
	case c.Tokens <= 0 || c.Events < 0:
		return usagef("--tokens/--events: must be positive")
	case c.ActivityInterval <= 0:
		return usagef("--activity-interval: %v is not positive", c.ActivityInterval)
	}
	if c.Pack == "" {
		c.Pack = filepath.Join(c.StateDir, "review-pack.html")
	}
	out := g.stderr
	start := time.Now()

	tel, stopTel, err := g.startTelemetry(ctx)
	if err != nil {
		return err
	}
	defer stopTel()

	// ClickHouse first: it is the one part the demo does not embed. The
	// demo resets only a database and directory it marked as its own.
	chcfg, err := (chconn.Flags{ClickHouseDSN: c.ClickHouseDSN}).Config()
	if err != nil {
		return usagef("%v", err)
	}
	kafkaDir, ckptDir := filepath.Join(c.StateDir, "kafka"), filepath.Join(c.StateDir, "checkpoints")
	if err := prepareDemoStateDir(c.StateDir, c.Reset, out); err != nil {
		return err
	}
	conn, err := openDemoDatabase(ctx, chcfg, c.Reset, out)
	if err != nil {
		return err
	}
	defer conn.Close()

	// The emulated Falcon tenant.
	maxActive := int64(c.Tokens + c.Tokens/2)
	emu := falcontest.NewServer(falcontest.Config{Seed: c.Seed, Tenants: []falcontest.TenantConfig{{
		Tokens: c.Tokens, Events: c.Events, Ties: 20, LateFraction: 0.02, LateMax: demoLateMax,
		MaxActiveTokens: &maxActive, TokensRequired: true, Churn: &falcontest.SteadyChurn,
	}}})
	defer emu.Close()
	tenant := emu.Emulator().Tenants()[0]
	clientID, secret := tenant.Credentials()

	// The embedded Kafka.
	cluster, err := embedkafka.NewCluster(embedkafka.Options{DataDir: kafkaDir})
	if err != nil {
		return fmt.Errorf("start embedded Kafka under %s: %w", kafkaDir, err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	fmt.Fprintf(out, "demo: Falcon emulator %s (tenant %s, %d tokens, %d seeded events), embedded Kafka %s, ClickHouse %s\n",
		emu.URL, tenant.CID(), c.Tokens, tenant.AuditEventCount(), brokers, chconn.Redact(c.ClickHouseDSN))

	k := KafkaFlags{KafkaBrokers: brokers, KafkaClientID: "tokentrail-demo"}
	defaults, err := runDefaults()
	if err != nil {
		return err
	}
	cf, sf := defaults.CollectFlags, defaults.SinkFlags
	cf.FalconBaseURL, cf.FalconClientID, cf.FalconClientSecret = emu.URL, clientID, secret
	cf.FalconRequestsPerMinute = -1 // the emulator has no limit unless asked
	cf.Tenant, cf.StartTime, cf.StateDir = demoTenant, "all", ckptDir
	cf.PollInterval, cf.SettleLag, cf.Lookback, cf.ProgressInterval = 2*time.Second, 2*time.Second, time.Minute, 10*time.Second
	cf.FingerprintKey = "tokentrail-demo-fingerprint-key"
	cf.TopicPartitions = 3
	sf.ClickHouseDSN = c.ClickHouseDSN
	sf.BatchAge, sf.GroupSessionTimeout, sf.GroupHeartbeatInterval = time.Second, 6*time.Second, time.Second

	// The tenant keeps changing while the pipeline runs.
	actCtx, stopActivity := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = emu.Emulator().RunActivity(actCtx, falcontest.Activity{Interval: c.ActivityInterval, Rand: c.Seed, Steady: true})
	}()
	defer func() { stopActivity(); wg.Wait() }()

	runCtx, stopRun := context.WithTimeout(ctx, c.Duration)
	defer stopRun()
	go demoProgress(runCtx, out, start, tenant, conn)
	// The pipeline runs without the config file: its tenants list (and any
	// other top-level key) belongs to production, not to the demo.
	dg := *g
	dg.Config = ""
	g = &dg
	if err := runBoth(runCtx, g, k, cf, sf, false, tel); err != nil {
		return err
	}
	stopActivity()
	wg.Wait()
	// Let the late arrivals of the last seconds become visible, so that the
	// summary can compare like with like.
	for deadline := time.Now().Add(2 * demoLateMax); time.Now().Before(deadline) &&
		len(tenant.AuditEventIDs(true)) < tenant.AuditEventCount(); {
		time.Sleep(250 * time.Millisecond)
	}
	// The API's timestamps have whole seconds: let the second of the last
	// change pass so that the catch-up's upper bound lies beyond it.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))

	// Catch up on what happened until the activity stopped, then report.
	fmt.Fprintln(out, "demo: stopping activity; catching up (collect --once, sink --once)")
	catchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	cf.SettleLag = 0
	if err := runBoth(catchCtx, g, k, cf, sf, true, nil); err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	sum, err := demoSummary(catchCtx, conn, tenant)
	if err != nil {
		return err
	}
	if err := writeDemoPack(catchCtx, conn, c.Pack, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\ntokentrail demo summary (%s)\n", time.Since(start).Round(time.Second))
	fmt.Fprint(g.stdout, sum)
	fmt.Fprintf(g.stdout, "review pack: %s\n", c.Pack)
	return nil
}

// runDefaults returns the flags of `ingest run` as they are without
// arguments (defaults and environment), so that the demo runs the commands
// exactly as configured.
func runDefaults() (RunCmd, error) {
	var cli CLI
	p, err := newParser(&cli, io.Discard, io.Discard, func(int) {})
	if err != nil {
		return RunCmd{}, err
	}
	_, err = p.Parse([]string{"run"})
	return cli.Run, err
}

func demoProgress(ctx context.Context, out io.Writer, start time.Time, t *falcontest.Tenant, conn driver.Conn) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var rows uint64
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := conn.QueryRow(qctx, "SELECT count() FROM audit_events FINAL WHERE tenant = ?", demoTenant).Scan(&rows)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ch := fmt.Sprint(rows)
		var ex *clickhouse.Exception
		switch {
		case errors.As(err, &ex) && ex.Code == 60: // UNKNOWN_TABLE: the sink has not migrated yet
			ch = "(no table yet)"
		case err != nil:
			ch = fmt.Sprintf("(count failed: %v)", err)
		}
		fmt.Fprintf(out, "demo: %3ds  Falcon: %d audit events, %d tokens  |  ClickHouse audit_events: %s\n",
			int(time.Since(start).Seconds()), t.AuditEventCount(), len(t.Tokens()), ch)
	}
}

func demoSummary(ctx context.Context, conn driver.Conn, t *falcontest.Tenant) (string, error) {
	var b bytes.Buffer
	count := func(q string) (uint64, error) {
		var n uint64
		err := conn.QueryRow(ctx, q, demoTenant).Scan(&n)
		return n, err
	}
	events, err := count("SELECT count() FROM audit_events FINAL WHERE tenant = ?")
	if err != nil {
		return "", fmt.Errorf("count audit_events: %w", err)
	}
	tokens, err := count("SELECT count() FROM tokens FINAL WHERE tenant = ? AND deleted = 0")
	if err != nil {
		return "", fmt.Errorf("count tokens: %w", err)
	}
	changes, err := count("SELECT count() FROM token_changes FINAL WHERE tenant = ?")
	if err != nil {
		return "", fmt.Errorf("count token_changes: %w", err)
	}
	settings, err := count("SELECT count() FROM settings_changes FINAL WHERE tenant = ?")
	if err != nil {
		return "", fmt.Errorf("count settings_changes: %w", err)
	}
	visible := len(t.AuditEventIDs(true))
	fmt.Fprintf(&b, "  audit events:   %d in Falcon (visible), %d in ClickHouse\n", visible, events)
	fmt.Fprintf(&b, "  tokens:         %d in Falcon, %d current in ClickHouse (%d token changes recorded)\n", len(t.Tokens()), tokens, changes)
	fmt.Fprintf(&b, "  settings:       %d settings records in ClickHouse\n", settings)
	if uint64(visible) != events {
		fmt.Fprintf(&b, "  note: %d events not in ClickHouse yet (the next poll collects them)\n", int64(visible)-int64(events))
	}
	r, err := queries.Lookup("policy-findings")
	if err != nil {
		return "", err
	}
	res, err := runReport(ctx, conn, r, time.Now())
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "  policy findings: %s\n", findingsLine(res))
	return b.String(), nil
}

// findingsLine counts the rows of every section of the policy-findings report.
func findingsLine(res *queries.Result) string {
	var parts []string
	total := 0
	for _, t := range res.Tables {
		total += len(t.Rows)
		if len(t.Rows) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t.Section.Name, len(t.Rows)))
		}
	}
	if total == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// runReport runs one report with its defaults over the last 30 days of the
// demo tenant.
func runReport(ctx context.Context, conn driver.Conn, r *queries.Report, now time.Time) (*queries.Result, error) {
	given := map[string]string{}
	if _, ok := r.Param("tenant"); ok {
		given["tenant"] = demoTenant
	}
	vals, err := r.Resolve(given, now)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Name, err)
	}
	res, err := queries.Run(ctx, conn, r, vals)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Name, err)
	}
	return res, nil
}

func writeDemoPack(ctx context.Context, conn driver.Conn, path string, now time.Time) error {
	info := report.PackInfo{Title: "Installation token review (tokentrail demo)", Tenant: demoTenant, Generated: now}
	var results []*queries.Result
	for _, r := range queries.All() {
		res, err := runReport(ctx, conn, r, now)
		if err != nil {
			return err
		}
		if since, ok := res.Values.Time("since"); ok && info.Since.IsZero() {
			info.Since = since
			info.Until, _ = res.Values.Time("until")
		}
		results = append(results, res)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := report.WritePack(path, report.HTML, info, results); err != nil {
		return fmt.Errorf("write review pack: %w", err)
	}
	return nil
}
