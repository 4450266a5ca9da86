package falcon

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// retryAfterIn returns an epoch-seconds X-RateLimit-RetryAfter value at least
// d from now (rounded up, as the emulator does) and its instant.
func retryAfterIn(d time.Duration) (string, time.Time) {
	s := time.Now().Add(d).Unix() + 1
	return strconv.FormatInt(s, 10), time.Unix(s, 0)
}

func rateLimited(w http.ResponseWriter, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("X-RateLimit-RetryAfter", retryAfter)
	}
	w.Header().Set("X-RateLimit-Remaining", "0")
	writeEnv(w, 429, `{"meta":{"query_time":1.5e-07,"powered_by":"crowdstrike-api-gateway","trace_id":"t429"},"errors":[{"code":429,"message":"API rate limit exceeded."}]}`)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCooldownPausesAllGoroutines(t *testing.T) {
	var first atomic.Bool
	var mu sync.Mutex
	var until time.Time
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			v, at := retryAfterIn(time.Second)
			mu.Lock()
			until = at
			mu.Unlock()
			rateLimited(w, v)
			return
		}
		settingsOK(w, r)
	})
	m := NewMetrics(prometheus.NewRegistry())
	c := f.client(func(c *Config) { c.Metrics = m })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const n = 8
	errs := make(chan error, n+1)
	go func() { _, err := c.GetCustomerSettings(ctx); errs <- err }()
	// The metric counts the 429 after the cooldown is set, so from here on
	// every new request must wait for it.
	waitFor(t, "the 429", func() bool {
		return testutil.ToFloat64(m.rateLimited.WithLabelValues("customer_settings_read")) == 1
	})
	for range n {
		go func() { _, err := c.GetCustomerSettings(ctx); errs <- err }()
	}
	for range n + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.requests()
	if len(reqs) != n+2 {
		t.Fatalf("%d requests, want %d", len(reqs), n+2)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range reqs[1:] {
		if r.at.Before(until) {
			t.Errorf("request %d arrived %v before RetryAfter %v", i+1, until.Sub(r.at), until.Format(time.RFC3339Nano))
		}
	}
	if cd := testutil.ToFloat64(m.cooldown); cd < 0.9 || cd > 2.1 {
		t.Errorf("cooldown_seconds_total = %v, want the ~1-2 s pause", cd)
	}
}

func TestCooldownStormOneRetryPerCaller(t *testing.T) {
	v, until := retryAfterIn(time.Second)
	var n429 atomic.Int32
	var mu sync.Mutex
	var okAt []time.Time
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		if now.Before(until) {
			n429.Add(1)
			rateLimited(w, v)
			return
		}
		mu.Lock()
		okAt = append(okAt, now)
		mu.Unlock()
		settingsOK(w, r)
	})
	c := f.client(func(c *Config) { c.MaxRetries = 50 })
	const n = 10
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetCustomerSettings(context.Background()); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d callers failed", failed.Load())
	}
	// With fast backoff and no cooldown, callers would hammer the server
	// until RetryAfter; the shared cooldown allows one 429 each at most.
	if got := n429.Load(); got < 1 || got > n {
		t.Errorf("%d 429s for %d callers", got, n)
	}
	if len(okAt) != n {
		t.Errorf("%d successful requests, want %d", len(okAt), n)
	}
}

func TestRetryAfterUnits(t *testing.T) {
	t.Run("seconds", func(t *testing.T) {
		v, until := retryAfterIn(2 * time.Second) // read as ms it would be 1970: a 1 s wait
		var calls atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				rateLimited(w, v)
				return
			}
			settingsOK(w, r)
		})
		c := f.client(nil)
		if _, err := c.GetCustomerSettings(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := f.requests()[1]; r.at.Before(until) {
			t.Errorf("retry %v before RetryAfter", until.Sub(r.at))
		}
	})
	t.Run("milliseconds", func(t *testing.T) {
		until := time.Now().Add(1500 * time.Millisecond) // read as seconds it would be a 60 s wait
		var calls atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				rateLimited(w, strconv.FormatInt(until.UnixMilli(), 10))
				return
			}
			settingsOK(w, r)
		})
		c := f.client(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.GetCustomerSettings(ctx); err != nil {
			t.Fatal(err)
		}
		if r := f.requests()[1]; r.at.Before(until.Truncate(time.Millisecond)) {
			t.Errorf("retry %v before RetryAfter", until.Sub(r.at))
		}
	})
	t.Run("missing header backs off", func(t *testing.T) {
		var calls atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				rateLimited(w, "")
				return
			}
			settingsOK(w, r)
		})
		m := NewMetrics(prometheus.NewRegistry())
		c := f.client(func(c *Config) { c.Metrics = m })
		if _, err := c.GetCustomerSettings(context.Background()); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 3 || testutil.ToFloat64(m.cooldown) != 0 {
			t.Errorf("calls %d cooldown %v", calls.Load(), testutil.ToFloat64(m.cooldown))
		}
		if got := testutil.ToFloat64(m.retries.WithLabelValues("customer_settings_read")); got != 2 {
			t.Errorf("retries_total = %v, want 2", got)
		}
	})
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Unix(1767225600, 0)
	cases := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"seconds", http.Header{"X-Ratelimit-Retryafter": {"1767225610"}}, 10 * time.Second, true},
		{"milliseconds", http.Header{"X-Ratelimit-Retryafter": {"1767225605500"}}, 5500 * time.Millisecond, true},
		{"past clamps to 1s", http.Header{"X-Ratelimit-Retryafter": {"1767225000"}}, time.Second, true},
		{"far future clamps to 60s", http.Header{"X-Ratelimit-Retryafter": {"1767239999"}}, 60 * time.Second, true},
		{"non-canonical key", http.Header{"x-ratelimit-retryafter": {"1767225603"}}, 3 * time.Second, true},
		{"mixed-case key", http.Header{"X-RateLimit-RetryAfter": {"1767225603"}}, 3 * time.Second, true},
		{"garbage", http.Header{"X-Ratelimit-Retryafter": {"soon"}}, 0, false},
		{"absent", http.Header{}, 0, false},
	}
	for _, tc := range cases {
		at, ok := retryAfter(tc.h, now)
		if ok != tc.ok || (ok && at.Sub(now) != tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, at.Sub(now), ok, tc.want, tc.ok)
		}
	}
	if v := headerValue(http.Header{"x-cs-traceid": {"abc"}}, "X-CS-TRACEID"); v != "abc" {
		t.Errorf("trace id lookup %q", v)
	}
}

// arrivalGaps returns the gaps between consecutive request arrivals.
func arrivalGaps(reqs []seen) []time.Duration {
	var gaps []time.Duration
	for i := 1; i < len(reqs); i++ {
		gaps = append(gaps, reqs[i].at.Sub(reqs[i-1].at))
	}
	return gaps
}

func TestRemainingLowSlowsDown(t *testing.T) {
	const tolerance = 50 * time.Millisecond // pacing counts from the reserved start, not the arrival
	for _, tc := range []struct {
		remaining string
		gap       time.Duration
	}{{"10", 200 * time.Millisecond}, {"8", 200 * time.Millisecond}, {"5", 500 * time.Millisecond}, {"1", 500 * time.Millisecond}} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", tc.remaining)
			settingsOK(w, r)
		})
		c := f.client(nil)
		for range 3 {
			if _, err := c.GetCustomerSettings(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for i, g := range arrivalGaps(f.requests()) {
			if g < tc.gap-tolerance {
				t.Errorf("remaining %s: gap %d = %v, want >= %v", tc.remaining, i, g, tc.gap)
			}
		}
	}
	// Plenty remaining: no pacing state.
	f := newFake(t, settingsOK)
	c := f.client(nil)
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.limiter.pace != 0 {
		t.Errorf("pace %v with 5000 remaining", c.limiter.pace)
	}
}

func TestRequestsPerMinuteBudget(t *testing.T) {
	f := newFake(t, settingsOK)
	c := f.client(func(c *Config) { c.RequestsPerMinute = 3 })
	const window = 300 * time.Millisecond
	c.limiter.window = window // a minute is too long for a unit test
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetCustomerSettings(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	reqs := f.requests()
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.at
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for i := 0; i+3 < len(at); i++ {
		if d := at[i+3].Sub(at[i]); d < window-50*time.Millisecond {
			t.Errorf("4 requests within %v (window %v)", d, window)
		}
	}
}

func TestUnlimitedBudget(t *testing.T) {
	l := newLimiter(-1, nil)
	for range 10000 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.starts) != 0 {
		t.Errorf("unlimited limiter recorded %d starts", len(l.starts))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l = newLimiter(1, nil)
	_ = l.wait(context.Background())
	if err := l.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: %v", err)
	}
}
