package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
)

type cli struct {
	Listen           string        `name:"listen" default:"127.0.0.1:8080" help:"Address to listen on (host:port; port 0 picks a free one)."`
	Seed             int64         `name:"seed" default:"1" help:"Seed for tenants, IDs, secrets and fault draws."`
	Tenants          int           `name:"tenants" default:"1" help:"Number of tenants (CIDs)."`
	Tokens           int           `name:"tokens" default:"200" help:"Tokens per tenant."`
	Events           int           `name:"events" default:"100000" help:"Audit events per tenant."`
	Ties             int           `name:"ties" default:"2000" help:"Largest burst of events sharing one timestamp (0: none)."`
	LateFraction     float64       `name:"late-fraction" default:"0.01" help:"Fraction of events that become visible after their timestamp."`
	LateMax          time.Duration `name:"late-max" default:"2m" help:"Largest late-arrival delay."`
	OffsetCap        int           `name:"offset-cap" default:"10000" help:"Reject offset+limit above this (-1: no cap)."`
	RateLimit        int           `name:"rate-limit" default:"0" help:"Per-CID requests per minute (0: rate limiting off)."`
	TokenTTL         time.Duration `name:"token-ttl" default:"1799s" help:"OAuth2 access-token lifetime."`
	Fault5xxRate     float64       `name:"fault-5xx-rate" default:"0" help:"Probability of a 500/502/503."`
	FaultLatency     time.Duration `name:"fault-latency" default:"0" help:"Latency added to every request."`
	Fault429Rate     float64       `name:"fault-429-rate" default:"0" help:"Probability of a 429 rate-limit storm response."`
	FaultTruncate    float64       `name:"fault-truncate-rate" default:"0" help:"Probability of a body cut mid-JSON."`
	FaultResetRate   float64       `name:"fault-reset-rate" default:"0" help:"Probability of a connection reset."`
	ActivityInterval time.Duration `name:"activity-interval" default:"0" help:"Interval of simulated tenant activity (0: off)."`
	MSSP             bool          `name:"mssp" help:"Let the first tenant's client act for every other tenant with member_cid."`
	PrintSecrets     bool          `name:"print-secrets" help:"Print client secrets at start."`
}

// Validate names the offending flag; kong calls it after parsing.
func (c *cli) Validate() error {
	rate := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("--%s %v: must be a probability between 0 and 1", name, p)
		}
		return nil
	}
	switch {
	case c.Tenants < 1:
		return fmt.Errorf("--tenants %d: must be at least 1", c.Tenants)
	case c.Tokens < 0:
		return fmt.Errorf("--tokens %d: must not be negative", c.Tokens)
	case c.Events < 0:
		return fmt.Errorf("--events %d: must not be negative", c.Events)
	case c.Ties < 0 || c.Ties > c.Events:
		return fmt.Errorf("--ties %d: must be between 0 and --events (%d)", c.Ties, c.Events)
	case c.LateMax < 0:
		return fmt.Errorf("--late-max %v: must not be negative", c.LateMax)
	case c.RateLimit < 0:
		return fmt.Errorf("--rate-limit %d: must not be negative", c.RateLimit)
	case c.TokenTTL <= 0:
		return fmt.Errorf("--token-ttl %v: must be positive", c.TokenTTL)
	case c.FaultLatency < 0:
		return fmt.Errorf("--fault-latency %v: must not be negative", c.FaultLatency)
	case c.ActivityInterval < 0:
		return fmt.Errorf("--activity-interval %v: must not be negative", c.ActivityInterval)
	case c.OffsetCap == 0:
		return fmt.Errorf("--offset-cap 0: use a positive cap or -1 for none")
	}
	for _, err := range []error{rate("late-fraction", c.LateFraction), rate("fault-5xx-rate", c.Fault5xxRate),
		rate("fault-429-rate", c.Fault429Rate), rate("fault-truncate-rate", c.FaultTruncate), rate("fault-reset-rate", c.FaultResetRate)} {
		if err != nil {
			return err // one line, the first offending flag
		}
	}
	return nil
}

var regions = []string{"us-1", "us-2", "eu-1", "us-gov-1", "us-gov-2"}

func (c *cli) config() falcontest.Config {
	cfg := falcontest.Config{
		Seed: c.Seed, OffsetCap: c.OffsetCap, TokenTTL: c.TokenTTL,
		RateLimit: falcontest.RateLimit{PerMinute: c.RateLimit},
		Faults: falcontest.Faults{
			ServerErrorRate: c.Fault5xxRate, Latency: c.FaultLatency, RateLimitStormRate: c.Fault429Rate,
			TruncateRate: c.FaultTruncate, ResetRate: c.FaultResetRate,
		},
	}
	for i := range c.Tenants {
		cfg.Tenants = append(cfg.Tenants, falcontest.TenantConfig{
			CID: falcontest.DerivedCID(c.Seed, i), Region: regions[i%len(regions)],
			Tokens: c.Tokens, Events: c.Events, Ties: c.Ties, LateFraction: c.LateFraction, LateMax: c.LateMax,
		})
	}
	if c.MSSP && c.Tenants > 1 {
		// The parent's client is spelled out so it can carry the member CIDs; its ID and secret still derive
		// from the seed.
		id, secret := parentClient(c.Seed)
		parent := falcontest.APIClient{ID: id, Secret: secret,
			Scopes: []string{falcontest.ScopeRead, falcontest.ScopeWrite, falcontest.ScopeSettingsWrite}}
		for _, t := range cfg.Tenants[1:] {
			parent.MemberCIDs = append(parent.MemberCIDs, t.CID)
		}
		cfg.Tenants[0].Clients = []falcontest.APIClient{parent}
	}
	return cfg
}

// parentClient derives the MSSP parent client's credentials from the seed.
func parentClient(seed int64) (id, secret string) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d737370)) // "mssp"
	const hexdig, alnum = "0123456789abcdef", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	for i := range b {
		b[i] = hexdig[r.IntN(16)]
	}
	s := make([]byte, 40)
	for i := range s {
		s[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b), string(s)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type exitRequest struct{ code int }

// run is the whole command; it returns the exit status: 0 after a clean shutdown, 2 for bad flags, 1 for
// other failures.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	parser, err := kong.New(&c, kong.Name("falcon-emulator"),
		kong.Description("Serve the Falcon Installation Tokens API emulator."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }))
	if err != nil {
		fmt.Fprintf(stderr, "falcon-emulator: %v\n", err)
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			ex, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = ex.code // --help
		}
	}()
	if _, err := parser.Parse(args); err != nil {
		fmt.Fprintf(stderr, "falcon-emulator: %v\n", err)
		return 2
	}
	return serve(ctx, &c, stdout, stderr)
}

func serve(ctx context.Context, c *cli, stdout, stderr io.Writer) int {
	start := time.Now()
	emu, err := falcontest.New(c.config())
	if err != nil {
		fmt.Fprintf(stderr, "falcon-emulator: %v\n", err)
		return 2
	}
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "falcon-emulator: --listen %s: %v\n", c.Listen, err)
		return 1
	}
	fmt.Fprintf(stdout, "falcon-emulator listening on http://%s (tenants built in %v)\n", l.Addr(), time.Since(start).Round(time.Millisecond))
	for i, t := range emu.Tenants() {
		for _, cl := range t.Clients() {
			line := fmt.Sprintf("tenant %d: cid=%s region=%s client_id=%s", i+1, t.CID(), t.Region(), cl.ID)
			if c.PrintSecrets {
				line += " client_secret=" + cl.Secret
			}
			if len(cl.MemberCIDs) > 0 {
				line += fmt.Sprintf(" member_cids=%d", len(cl.MemberCIDs))
			}
			fmt.Fprintln(stdout, line)
		}
	}

	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	activity := make(chan error, 1)
	actx, stopActivity := context.WithCancel(ctx)
	defer stopActivity()
	if c.ActivityInterval > 0 {
		go func() {
			activity <- emu.RunActivity(actx, falcontest.Activity{Interval: c.ActivityInterval, Rand: c.Seed})
		}()
	} else {
		activity <- nil
	}

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "falcon-emulator: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "falcon-emulator shutting down")
	stopActivity()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-activity; err != nil {
		fmt.Fprintf(stderr, "falcon-emulator: activity: %v\n", err)
		return 1
	}
	return 0
}
