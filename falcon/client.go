package falcon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"
)

const (
	maxBodyBytes = 64 << 20
	maxRedirects = 10
	pathToken    = "/oauth2/token"
	pathRevoke   = "/oauth2/revoke"
)

// Client is a typed client for the Falcon Installation Tokens API. It is safe
// for concurrent use; all goroutines share one OAuth2 token, one rate limiter
// and one 429 cooldown.
type Client struct {
	cfg     Config
	hc      *http.Client
	log     *slog.Logger
	metrics *Metrics
	limiter *limiter
	tokens  *tokenManager

	baseMu sync.RWMutex
	base   string // "" until autodiscovery picked a host

	readBatch atomic.Int64 // IDs per read; lowered after a 414
	health    health
	budget    time.Duration // cfg.retryBudget()
	requests  atomic.Int64  // HTTP requests sent
}

// Requests returns how many HTTP requests the client sent (retries and
// token requests of its own included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// New validates cfg and returns a Client. It does no I/O: the first request
// fetches the OAuth2 token (and autodiscovers the cloud if configured).
// Configuration errors are *ConfigError and match ErrConfig.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: cfg.Metrics,
		limiter: newLimiter(cfg.RequestsPerMinute, cfg.Metrics),
	}
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		hc.Timeout = DefaultHTTPTimeout
	}
	hc.CheckRedirect = checkRedirect
	c.hc = &hc
	switch {
	case cfg.BaseURL != "":
		c.base = cfg.BaseURL
	case Cloud(cfg.Cloud) != CloudAutodiscover:
		c.base = Cloud(cfg.Cloud).BaseURL()
	}
	c.readBatch.Store(int64(cfg.IDsPerRead))
	c.health.now = time.Now
	c.budget = cfg.retryBudget()
	c.tokens = newTokenManager(c)
	return c, nil
}

// checkRedirect follows redirects for the OAuth2 endpoints only; API
// responses are returned as they are.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	switch p := via[0].URL.Path; {
	case strings.HasSuffix(p, pathToken), strings.HasSuffix(p, pathRevoke):
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return http.ErrUseLastResponse
}

// BaseURL returns the API base URL in use, or "" while autodiscovery has not
// run yet.
func (c *Client) BaseURL() string {
	c.baseMu.RLock()
	defer c.baseMu.RUnlock()
	return c.base
}

func (c *Client) setBaseURL(u string) {
	c.baseMu.Lock()
	c.base = u
	c.baseMu.Unlock()
}

// call describes one API request; the body is a byte slice so every try
// replays it.
type call struct {
	op     string
	method string
	path   string
	query  url.Values
	body   []byte
	// form marks the OAuth2 revoke call: form body and Basic credentials
	// instead of a bearer token.
	form bool
	base string // overrides the client's base URL
	// unsafe marks a non-idempotent request (create): when its outcome is
	// unknown (transport error, unreadable 2xx) it is not retried.
	unsafe bool
}

type response struct {
	status int
	header http.Header
	env    envelope
}

// hint tells the backoff how the last try failed.
type hint int

const (
	hintNone     hint = iota
	hintRefresh       // 401: token dropped; retry at once, not counted
	hintCooldown      // 429 with RetryAfter: the limiter waits, no extra backoff
)

// backoff is the per-request retry.Backoff: jittered exponential, capped,
// bounded by MaxRetries, aware of hints.
type backoff struct {
	exp  retry.Backoff
	left int
	hint hint
}

func (c *Client) newBackoff() *backoff {
	exp := retry.WithCappedDuration(c.cfg.BackoffMax,
		retry.WithJitterPercent(20, retry.NewExponential(c.cfg.BackoffBase)))
	return &backoff{exp: exp, left: c.cfg.MaxRetries}
}

func (b *backoff) Next() (time.Duration, bool) {
	h := b.hint
	b.hint = hintNone
	if h == hintRefresh {
		return 0, false
	}
	if b.left <= 0 {
		return 0, true
	}
	b.left--
	d, stop := b.exp.Next()
	if stop {
		return 0, true
	}
	if h == hintCooldown {
		return 0, false
	}
	return d, false
}

// do runs cl with retries. Non-2xx answers are *APIError; other failures
// are wrapped with the operation name.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	b := c.newBackoff()
	refreshed := false
	tries := 0
	unreachable := false // the last attempt failed to reach the API
	resp, err := retry.DoValue(ctx, b, func(ctx context.Context) (*response, error) {
		tries++
		if tries > 1 {
			c.metrics.retry(cl.op)
		}
		o := c.try(ctx, cl, &refreshed)
		b.hint = o.hint
		if o.retry {
			c.log.DebugContext(ctx, "falcon request failed, will retry",
				"operation", cl.op, "try", tries, "error", o.err)
			if o.hint == hintNone && ctx.Err() == nil {
				c.health.failed(ctx, c.log, cl.op, c.BaseURL(), o.err, c.budget)
			}
			unreachable = !errors.Is(o.err, ErrInvalidResponse) && !isRateLimited(o.err)
			return nil, retry.RetryableError(o.err)
		}
		unreachable = false
		if o.err == nil {
			c.health.succeeded(ctx, c.log)
		}
		return o.resp, o.err
	})
	if err != nil {
		if _, ok := err.(*APIError); ok && !unreachable {
			return nil, err
		}
		if unreachable && ctx.Err() == nil {
			return nil, fmt.Errorf("falcon %s: %w: %w", cl.op, ErrUnreachable, err)
		}
		return nil, fmt.Errorf("falcon %s: %w", cl.op, err)
	}
	return resp, nil
}

// outcome is the result of one try.
type outcome struct {
	resp  *response
	err   error
	retry bool // err is transient
	hint  hint
}

func fail(err error) outcome      { return outcome{err: err} }
func transient(err error) outcome { return outcome{err: err, retry: true} }

// try sends cl once and classifies the outcome.
func (c *Client) try(ctx context.Context, cl call, refreshed *bool) outcome {
	if err := c.limiter.wait(ctx); err != nil {
		return fail(err)
	}
	var bearer string
	if !cl.form {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return outcome{err: err, retry: tokenErrRetryable(err)}
		}
		bearer = tok
	}
	base := cl.base
	if base == "" {
		base = c.BaseURL()
	}
	u := base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	if cl.form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	} else {
		// Required on every request, GET and DELETE included.
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
	}

	start := time.Now()
	c.requests.Add(1)
	res, err := c.hc.Do(req)
	if err != nil {
		c.metrics.request(cl.op, 0, time.Since(start))
		if cl.unsafe {
			return fail(fmt.Errorf("outcome unknown, not retried: %w", err))
		}
		return transient(err)
	}
	data, readErr := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes+1))
	_ = res.Body.Close()
	// The cooldown is set before the request is counted, so observers of
	// the metrics never see a 429 whose cooldown is not in force yet.
	cooled := c.limiter.observe(res.StatusCode, res.Header)
	c.metrics.request(cl.op, res.StatusCode, time.Since(start))
	trace := headerValue(res.Header, "X-CS-TRACEID")

	if res.StatusCode >= 200 && res.StatusCode <= 299 {
		return c.decodeOK(cl, res.StatusCode, res.Header, data, readErr, trace)
	}

	apiErr := &APIError{Operation: cl.op, StatusCode: res.StatusCode, TraceID: trace}
	var env envelope
	if readErr == nil && json.Unmarshal(data, &env) == nil {
		apiErr.Errors = env.Errors
		if apiErr.TraceID == "" {
			apiErr.TraceID = env.Meta.TraceID
		}
		if res.StatusCode == http.StatusNotFound {
			apiErr.Resources, _ = env.strings()
		}
	}
	switch code := res.StatusCode; {
	case code == http.StatusUnauthorized && !cl.form && !*refreshed:
		*refreshed = true
		c.tokens.invalidate(bearer)
		return outcome{err: apiErr, retry: true, hint: hintRefresh}
	case code == http.StatusTooManyRequests:
		if cooled {
			c.log.WarnContext(ctx, "falcon rate limited, pausing all requests",
				"operation", cl.op, "retry_after", headerValue(res.Header, "X-RateLimit-RetryAfter"), "trace_id", trace)
			return outcome{err: apiErr, retry: true, hint: hintCooldown}
		}
		return transient(apiErr)
	case code >= 500:
		return transient(apiErr)
	}
	return fail(apiErr)
}

// decodeOK decodes a 2xx envelope. A body that is unreadable or not JSON
// (truncated, reset) is retried; JSON of the wrong shape is reported.
func (c *Client) decodeOK(cl call, status int, h http.Header, data []byte, readErr error, trace string) outcome {
	bad := func(reason error, retryable bool) outcome {
		err := fmt.Errorf("%w: HTTP %d (trace_id %s): %w", ErrInvalidResponse, status, trace, reason)
		return outcome{err: err, retry: retryable && !cl.unsafe}
	}
	if readErr != nil {
		return bad(fmt.Errorf("reading body: %w", readErr), true)
	}
	if len(data) > maxBodyBytes {
		return bad(fmt.Errorf("body larger than %d bytes", maxBodyBytes), false)
	}
	r := &response{status: status, header: h}
	if cl.form && len(bytes.TrimSpace(data)) == 0 {
		return outcome{resp: r} // revoke: the body is not needed
	}
	if err := json.Unmarshal(data, &r.env); err != nil {
		var syn *json.SyntaxError
		return bad(err, errors.As(err, &syn) || len(bytes.TrimSpace(data)) == 0)
	}
	if len(r.env.Errors) > 0 {
		c.log.Warn("falcon success response carries errors", "operation", cl.op,
			"status", status, "errors", r.env.Errors, "trace_id", trace)
	}
	return outcome{resp: r}
}

func isRateLimited(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests
}
