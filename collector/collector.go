package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/sethvargo/go-retry"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// API is the part of the Falcon client the collector uses; *falcon.Client
// implements it.
type API interface {
	// PagerConfig is the page size and offset cap the client accepts: the
	// collector pages queries itself, with the client's bounds.
	PagerConfig() falcon.PagerConfig
	QueryAuditEvents(ctx context.Context, q falcon.Query) (falcon.QueryResult, error)
	GetAuditEvents(ctx context.Context, ids []string) ([]falcon.AuditEvent, error)
	QueryTokens(ctx context.Context, q falcon.Query) (falcon.QueryResult, error)
	GetTokens(ctx context.Context, ids []string) ([]falcon.Token, error)
	GetCustomerSettings(ctx context.Context) (falcon.CustomerSettings, error)
	// CID is the customer ID the client acts for.
	CID(ctx context.Context) (string, error)
}

// Publisher writes a batch of records and returns once Kafka acknowledged
// all of them; *KafkaPublisher implements it. A Publisher that also has a
// Ping(ctx) error method is used by CheckKafka.
type Publisher interface {
	Publish(ctx context.Context, msgs []kafka.Message) error
}

// Store keeps checkpoints; *checkpoint.FileStore and *checkpoint.KafkaStore
// implement it. Load returns (nil, nil) when a tenant has none.
type Store interface {
	Load(ctx context.Context, tenant string) (*checkpoint.State, error)
	Save(ctx context.Context, st *checkpoint.State) error
}

// Tenant is one Falcon tenant (CID) to collect, with its own client, hence
// its own rate budget, and its own checkpoint.
type Tenant struct {
	// Name is the tenant field of its records and the key of its
	// checkpoint (see checkpoint.ValidTenant).
	Name string
	API  API
}

// Dependencies are what a Collector works with.
type Dependencies struct {
	Tenants   []Tenant
	Publisher Publisher
	Store     Store
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now); tests pass the emulator's.
	Now func() time.Time
}

// Errors.
var (
	// ErrTieGroupTooLarge: more events share one timestamp than the offset
	// cap lets a window page through; no window can pass that instant.
	ErrTieGroupTooLarge = errors.New("collector: more audit events share one timestamp than the offset cap can page")
	// ErrUnreadEvents: audit_events_query listed IDs that audit_events_read
	// kept omitting; the cursor stays before them.
	ErrUnreadEvents = errors.New("collector: audit events listed but not readable")
)

// Collector exports audit events, tokens and settings of its tenants to
// Kafka, incrementally, with checkpoints.
type Collector struct {
	cfg     Config
	deps    Dependencies
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	workers []*worker

	initOnce sync.Once
	initErr  error

	published [3]atomic.Int64 // records acknowledged, by recordTypes index
}

// recordTypes orders Stats.Published.
var recordTypes = [3]string{schema.TypeAuditEvent, schema.TypeToken, schema.TypeSettings}

// Stats are totals since New.
type Stats struct {
	// Published counts the records Kafka acknowledged, by record type.
	Published map[string]int64
}

// Stats returns the totals since New.
func (c *Collector) Stats() Stats {
	st := Stats{Published: map[string]int64{}}
	for i, t := range recordTypes {
		st.Published[t] = c.published[i].Load()
	}
	return st
}

// New checks cfg and deps and returns a collector. It does no I/O: Run and
// RunOnce load the checkpoints.
func New(cfg Config, deps Dependencies) (*Collector, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if err := cfg.Validate(deps.Now()); err != nil {
		return nil, err
	}
	if len(deps.Tenants) == 0 {
		return nil, fmt.Errorf("%w: no tenants", ErrConfig)
	}
	if deps.Publisher == nil || deps.Store == nil {
		return nil, fmt.Errorf("%w: Publisher and Store are required", ErrConfig)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	c := &Collector{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now}
	c.metrics = newMetrics(deps.Registerer, deps.Now)
	seen := map[string]bool{}
	for _, t := range deps.Tenants {
		if err := checkpoint.ValidTenant(t.Name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w: tenant %q listed twice", ErrConfig, t.Name)
		}
		seen[t.Name] = true
		if t.API == nil {
			return nil, fmt.Errorf("%w: tenant %q has no API client", ErrConfig, t.Name)
		}
		w := &worker{c: c, name: t.Name, api: t.API, log: c.log.With("tenant", t.Name)}
		c.metrics.track(w)
		c.workers = append(c.workers, w)
	}
	if string(cfg.FingerprintKey) == DefaultFingerprintKey {
		c.log.Warn("no fingerprint key configured: value_fingerprint uses the PUBLIC default key, so anyone can test guesses of a token value against it; set --fingerprint-key-file or TOKENTRAIL_FINGERPRINT_KEY")
	}
	return c, nil
}

// init loads every tenant's checkpoint, or creates and commits a fresh one.
func (c *Collector) init(ctx context.Context) error {
	c.initOnce.Do(func() {
		for _, w := range c.workers {
			if err := w.load(ctx); err != nil {
				c.initErr = err
				return
			}
		}
	})
	return c.initErr
}

// RunOnce polls every tenant once: it catches up to now minus the settle lag,
// publishes, commits the checkpoints and returns. Tenants run concurrently;
// the error joins every tenant's failure. After ctx is cancelled it finishes
// the in-flight publish and commit (within ShutdownTimeout) and returns nil.
func (c *Collector) RunOnce(ctx context.Context) error {
	if err := c.init(ctx); err != nil {
		return err
	}
	errs := make([]error, len(c.workers))
	var wg sync.WaitGroup
	for i, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = w.poll(ctx); errs[i] != nil {
				w.log.Error("poll failed", "err", errs[i])
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// Run polls every tenant every PollInterval until ctx is done, then finishes
// the in-flight publish, commits and returns nil. A failed poll is logged
// and counted and the tenant is polled again after PollInterval; only a
// checkpoint that cannot be loaded ends Run with an error.
func (c *Collector) Run(ctx context.Context) error {
	if err := c.init(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Tenants lists the tenant names.
func (c *Collector) Tenants() []string {
	out := make([]string, len(c.workers))
	for i, w := range c.workers {
		out[i] = w.name
	}
	return out
}

// worker collects one tenant. Its state is the committed checkpoint: only
// the goroutine running poll touches it.
type worker struct {
	c    *Collector
	name string
	api  API
	log  *slog.Logger

	state *checkpoint.State

	// Per poll: the Falcon CID, and the newest audit event published about
	// each token ("" for settings events), which explain the changes the
	// poll's snapshots find.
	cid    string
	events map[string]auditRef

	lastCommit atomic.Int64 // unix ns of the last checkpoint commit
	cursor     atomic.Int64 // unix ns of the audit cursor
	apiOK      atomic.Int64 // unix ns of the last successful Falcon call
	apiErr     atomic.Pointer[error]

	ready readyCache

	stats pollStats // of the poll running
}

func (w *worker) load(ctx context.Context) error {
	st, err := w.c.deps.Store.Load(ctx, w.name)
	if err != nil {
		return fmt.Errorf("tenant %s: load checkpoint: %w", w.name, err)
	}
	start := w.c.cfg.StartTime
	switch {
	case w.c.cfg.StartAll:
		start = time.Time{}
	case start.IsZero():
		start = w.c.now().Add(-DefaultStartAge)
	}
	if st != nil {
		w.state = st
		w.log.Info("resuming from checkpoint", "audit_cursor", st.Audit.Cursor, "seen_at_cursor", len(st.Audit.SeenAtCursor()),
			"recent_ids", len(st.Audit.Recent), "tokens", len(st.Tokens))
		if start.Before(st.Audit.Start) {
			// The start applies to a tenant without a checkpoint only; an
			// operator asking for more must hear that this run will not
			// backfill it.
			w.log.Warn("the checkpoint starts later than the start time asked for: earlier audit events are not collected; "+
				"to backfill deliberately, use a separate state directory (or checkpoint topic) or remove this tenant's checkpoint",
				"checkpoint_start", startString(st.Audit.Start), "start_time", startString(start))
		}
	} else {
		// Nothing is committed until Kafka acknowledged the first records:
		// a run that exported nothing leaves no checkpoint, so the next
		// run starts from its own start time.
		w.state = checkpoint.New(w.name, start)
		w.log.Info("no checkpoint: first run", "start", startString(start))
	}
	if !w.state.Audit.Cursor.IsZero() {
		w.cursor.Store(w.state.Audit.Cursor.UnixNano())
	}
	return nil
}

func startString(t time.Time) string {
	if t.IsZero() {
		return "all"
	}
	return t.Format(time.RFC3339)
}

// maxAuthBackoff caps the pause after repeated authentication failures.
const maxAuthBackoff = 15 * time.Minute

func (w *worker) loop(ctx context.Context) {
	authFailures := 0
	for {
		wait := w.c.cfg.PollInterval
		if err := w.poll(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, falcon.ErrAuth) {
				// Failed token requests count against a per-IP limit
				// shared by every tenant of the host (§8): back off.
				authFailures++
				wait = min(maxAuthBackoff, wait<<min(authFailures-1, 10))
			}
			w.log.Error("poll failed; retrying", "err", err, "retry_in", wait)
		} else {
			authFailures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// poll runs one cycle: audit events up to now minus the settle lag, a peek at
// the newer ones, then tokens and settings. The audit trail goes first so
// that the snapshots can take a change's time from the audit event that made
// it (explain); during a long backfill the first snapshot waits for it.
func (w *worker) poll(ctx context.Context) error {
	start := time.Now()
	upper := w.c.now().Add(-w.c.cfg.SettleLag)
	w.stats = pollStats{started: w.c.now(), from: w.auditFrom()}
	var errs []error
	ran := false
	clear(w.events)
	for _, step := range []struct {
		stage string
		run   func(context.Context) error
	}{
		{"cid", w.readCID},
		{"audit", func(ctx context.Context) error { return w.collectAudit(ctx, upper) }},
		{"recent audit", func(ctx context.Context) error { return w.peekAudit(ctx, upper) }},
		{"tokens", w.collectTokens},
		{"settings", w.collectSettings},
	} {
		if ctx.Err() != nil {
			break
		}
		ran = true
		if err := step.run(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				break
			}
			errs = append(errs, fmt.Errorf("tenant %s: %s: %w", w.name, step.stage, err))
			w.stats.errs = append(w.stats.errs, step.stage+": "+err.Error())
			if errors.Is(err, falcon.ErrAuth) || errors.Is(err, falcon.ErrUnreachable) || w.cid == "" {
				// The other steps would only fail the same way, each
				// after its own retries, or lack the CID.
				break
			}
		}
	}
	w.c.metrics.pollDur.WithLabelValues(w.name).Observe(time.Since(start).Seconds())
	// The coverage record also goes out when ctx ended mid-poll (within the
	// shutdown grace): what this poll published must be counted somewhere.
	if !ran {
		return nil // stopped before the poll began: nothing to account for
	}
	if err := w.publishCoverage(ctx); err != nil && ctx.Err() == nil {
		errs = append(errs, fmt.Errorf("tenant %s: coverage: %w", w.name, err))
	}
	if ctx.Err() != nil {
		// Graceful stop: what was acknowledged is committed.
		return nil
	}
	return errors.Join(errs...)
}

// readCID learns the tenant's Falcon CID, which every record carries.
func (w *worker) readCID(ctx context.Context) error {
	cid, err := w.api.CID(ctx)
	w.apiDone(err)
	if err != nil {
		return err
	}
	if err := schema.CheckID("cid", cid); err != nil {
		return fmt.Errorf("the API client's CID %q: %w", cid, err)
	}
	w.cid = cid
	return nil
}

// commit saves the checkpoint. Callers call it only after Kafka acknowledged
// every record the state covers.
func (w *worker) commit(ctx context.Context) error {
	w.state.SavedAt = w.c.now().UTC()
	if err := w.c.deps.Store.Save(ctx, w.state); err != nil {
		w.c.metrics.errors.WithLabelValues(w.name, "checkpoint").Inc()
		return fmt.Errorf("commit checkpoint: %w", err)
	}
	w.lastCommit.Store(time.Now().UnixNano())
	w.c.metrics.commits.WithLabelValues(w.name).Inc()
	return nil
}

// publish writes a batch, retrying with backoff, and counts it. ctx comes
// from graceContext: after the stop signal the attempt in flight may
// finish within the grace period, but no new attempt starts, so that a stop
// during a Kafka outage does not wait out the backoff.
func (w *worker) publish(ctx context.Context, recordType string, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig, _ := ctx.Value(stopSignalKey{}).(context.Context)
	unwatch := func() bool { return false }
	defer func() { unwatch() }()
	failed := 0
	b := retry.WithMaxRetries(uint64(w.c.cfg.PublishAttempts-1), retry.WithCappedDuration(30*time.Second, retry.NewExponential(time.Second)))
	err := retry.Do(rctx, b, func(context.Context) error {
		start := time.Now()
		if err := w.c.deps.Publisher.Publish(ctx, msgs); err != nil {
			w.c.metrics.errors.WithLabelValues(w.name, "publish").Inc()
			if failed == 0 && sig != nil {
				// From now on the stop signal ends the wait for a retry.
				unwatch = context.AfterFunc(sig, cancel)
			}
			if rctx.Err() != nil {
				return err
			}
			failed++
			w.log.Warn("publish to Kafka failed; retrying", "records", len(msgs), "attempt", failed, "err", err)
			return retry.RetryableError(err)
		}
		w.c.metrics.publishDur.Observe(time.Since(start).Seconds())
		if failed > 0 {
			w.log.Info("Kafka recovered: publish succeeded", "records", len(msgs), "failed_attempts", failed)
		}
		return nil
	})
	if err != nil {
		if rctx.Err() != nil {
			w.log.Warn("stopping: Kafka did not acknowledge a batch; the checkpoint stays before it, so the next run collects it again",
				"type", recordType, "records", len(msgs))
			return fmt.Errorf("%w (stopping: %d %s records not acknowledged)", context.Canceled, len(msgs), recordType)
		}
		return err
	}
	w.c.metrics.published.WithLabelValues(w.name, recordType).Add(float64(len(msgs)))
	for i, t := range recordTypes {
		if t == recordType {
			w.c.published[i].Add(int64(len(msgs)))
		}
	}
	return nil
}

// apiDone records the outcome of a Falcon call for the readiness check.
func (w *worker) apiDone(err error) {
	if err == nil {
		w.apiOK.Store(time.Now().UnixNano())
		w.apiErr.Store(nil)
		return
	}
	if !errors.Is(err, context.Canceled) {
		w.apiErr.Store(&err)
	}
}

// graceContext returns a context that outlives parent by grace: work in
// flight when parent is cancelled (a publish, a commit) gets that long to
// finish.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(parent), stopSignalKey{}, parent))
	var timer atomic.Pointer[time.Timer]
	stop := context.AfterFunc(parent, func() { timer.Store(time.AfterFunc(grace, cancel)) })
	return ctx, func() {
		stop()
		if t := timer.Load(); t != nil {
			t.Stop()
		}
		cancel()
	}
}

// stopSignalKey holds, in a graceContext, the parent whose end is the stop
// signal: work in flight continues, but nothing new starts.
type stopSignalKey struct{}
