package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// readyFresh: a Falcon call that succeeded this recently proves auth works,
// so readiness probes do not spend the tenant's rate budget.
const readyFresh = 5 * time.Minute

// readyCache rate-limits live readiness probes of one tenant.
type readyCache struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// CheckFalcon reports whether every tenant can use the Falcon API. A recent
// successful call counts; otherwise the last failure is reported, and
// without either it reads the customer settings (at most once a minute per
// tenant). Usable with telemetry.Server.AddCheck.
func (c *Collector) CheckFalcon(ctx context.Context) error {
	var errs []error
	for _, w := range c.workers {
		if err := w.checkFalcon(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", w.name, err))
		}
	}
	return errors.Join(errs...)
}

func (w *worker) checkFalcon(ctx context.Context) error {
	// A request failing right now (and being retried) names its cause; a
	// probe of our own would only time out behind it.
	if f, ok := w.api.(interface{ Failure() error }); ok {
		if err := f.Failure(); err != nil {
			return err
		}
	}
	if ok := w.apiOK.Load(); ok != 0 && time.Since(time.Unix(0, ok)) < readyFresh {
		return nil
	}
	if e := w.apiErr.Load(); e != nil {
		return *e
	}
	w.ready.mu.Lock()
	defer w.ready.mu.Unlock()
	if !w.ready.at.IsZero() && time.Since(w.ready.at) < time.Minute {
		return w.ready.err
	}
	_, err := w.api.GetCustomerSettings(ctx)
	w.ready.at, w.ready.err = time.Now(), err
	w.apiDone(err)
	return err
}

// CheckKafka reports whether a Kafka broker answers, when the publisher can
// tell (it has a Ping(ctx) error method). Usable with
// telemetry.Server.AddCheck.
func (c *Collector) CheckKafka(ctx context.Context) error {
	if p, ok := c.deps.Publisher.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Ready combines CheckFalcon and CheckKafka.
func (c *Collector) Ready(ctx context.Context) error {
	return errors.Join(c.CheckFalcon(ctx), c.CheckKafka(ctx))
}
