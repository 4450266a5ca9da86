package falcon

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate-limit constants of the contract (§8).
const (
	slowRemaining     = 10
	slowDelay         = 200 * time.Millisecond
	slowerRemaining   = 5
	slowerDelay       = 500 * time.Millisecond
	minRetryAfterWait = time.Second
	maxRetryAfterWait = 60 * time.Second
	budgetWindow      = time.Minute
)

// limiter is shared by every goroutine of a Client. It combines three gates:
// the cooldown set by a 429 (pauses all requests), pacing when
// X-RateLimit-Remaining runs low, and the RequestsPerMinute sliding window.
type limiter struct {
	limit   int           // requests per window; <= 0 means unlimited
	window  time.Duration // budget window (a minute; shorter in tests)
	metrics *Metrics

	mu       sync.Mutex
	starts   []time.Time // ring of the last `limit` reserved start times, oldest at head
	head     int
	last     time.Time     // latest reserved start; starts are non-decreasing
	pace     time.Duration // minimum spacing derived from the last Remaining
	cooldown time.Time     // no request starts before this instant
}

func newLimiter(requestsPerMinute int, m *Metrics) *limiter {
	return &limiter{limit: requestsPerMinute, window: budgetWindow, metrics: m}
}

// wait blocks until the caller may send one request. A slot reserved and then
// invalidated by a new cooldown is abandoned, which only errs on the slow side.
func (l *limiter) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		if cd := l.cooldown; cd.After(now) {
			l.mu.Unlock()
			if err := sleepUntil(ctx, cd); err != nil {
				return err
			}
			continue
		}
		at := now
		if l.last.After(at) {
			at = l.last
		}
		if l.pace > 0 && !l.last.IsZero() {
			if p := l.last.Add(l.pace); p.After(at) {
				at = p
			}
		}
		if l.limit > 0 {
			if len(l.starts) < l.limit {
				l.starts = append(l.starts, at)
			} else {
				if free := l.starts[l.head].Add(l.window); free.After(at) {
					at = free
				}
				l.starts[l.head] = at
				l.head = (l.head + 1) % l.limit
			}
		}
		l.last = at
		l.mu.Unlock()

		if err := sleepUntil(ctx, at); err != nil {
			return err
		}
		l.mu.Lock()
		cooling := l.cooldown.After(time.Now())
		l.mu.Unlock()
		if !cooling {
			return nil
		}
	}
}

// observe digests the rate-limit headers of a response. For a 429 it sets the
// shared cooldown from X-RateLimit-RetryAfter and reports whether the header
// was usable (otherwise the caller backs off exponentially). The Remaining of
// a 429 is stale once the cooldown is over, so it does not set the pace.
func (l *limiter) observe(status int, h http.Header) (cooled bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if status != http.StatusTooManyRequests {
		if rem, ok := headerInt(h, "X-RateLimit-Remaining"); ok {
			switch {
			case rem <= slowerRemaining:
				l.pace = slowerDelay
			case rem <= slowRemaining:
				l.pace = slowDelay
			default:
				l.pace = 0
			}
		}
		return false
	}
	until, ok := retryAfter(h, now)
	if !ok {
		return false
	}
	if until.After(l.cooldown) {
		from := now
		if l.cooldown.After(from) {
			from = l.cooldown
		}
		l.metrics.addCooldown(until.Sub(from))
		l.cooldown = until
	}
	return true
}

// retryAfter converts X-RateLimit-RetryAfter (epoch seconds; a value above
// 1e12 is epoch milliseconds) into an instant between now+1s and now+60s.
func retryAfter(h http.Header, now time.Time) (time.Time, bool) {
	v, ok := headerInt(h, "X-RateLimit-RetryAfter")
	if !ok || v <= 0 {
		return time.Time{}, false
	}
	var at time.Time
	if v > 1e12 {
		at = time.UnixMilli(v)
	} else {
		at = time.Unix(v, 0)
	}
	d := min(max(at.Sub(now), minRetryAfterWait), maxRetryAfterWait)
	return now.Add(d), true
}

// headerValue looks a header up case-insensitively, also in maps whose keys
// were not canonicalised.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func headerInt(h http.Header, name string) (int64, bool) {
	s := strings.TrimSpace(headerValue(h, name))
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f || f > 9e18 || f < -9e18 {
			return 0, false
		}
		v = int64(f)
	}
	return v, true
}

// sleepUntil waits for t or the end of ctx.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
