package falcon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// ErrUnreachable is wrapped by the error of a request whose retries all
// failed to reach the API (connection refused, DNS, TLS, timeout) or got
// only 5xx answers: the callers stop polling instead of trying every other
// operation against a dead host.
var ErrUnreachable = errors.New("falcon: API unreachable")

// Escalation of a persistent failure: the first failed attempt of each kind
// is a WARN; once the API has failed for escalateAfter, an ERROR, repeated
// every escalateEvery while it lasts; the first success after, an INFO.
const (
	escalateAfter = time.Minute
	escalateEvery = 5 * time.Minute
)

// health watches the outcome of requests so that an unreachable API is
// said at once, at WARN, with its cause and what to check, instead of only
// at debug level until the retries run out minutes later.
type health struct {
	mu        sync.Mutex
	now       func() time.Time
	since     time.Time       // start of the failure streak; zero: healthy
	warned    map[string]bool // kinds already logged in this streak
	failures  int             // attempts failed in this streak
	escalated time.Time       // last ERROR of this streak
	last      error           // last failure, with its cause
}

// classify classifies a failure to reach the API and says what to check.
func classify(err error) (cause, check string) {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recHdr tls.RecordHeaderError
	var apiErr *APIError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "DNS lookup failed", "the API host name (--falcon-cloud, --falcon-base-url) and this host's DNS resolver"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", "--falcon-base-url or --falcon-cloud, and any proxy or firewall between this host and the API"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recHdr):
		return "TLS handshake failed", "that the URL is the API's (https), and the CA of a TLS-intercepting proxy"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout", "network egress to the API host (firewall, proxy, or the wrong gov cloud)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "network error", "routing and firewalls between this host and the API"
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 500:
		return fmt.Sprintf("HTTP %d", apiErr.StatusCode), "the CrowdStrike status page; 5xx answers are usually transient"
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
		return "rate limited", "other integrations sharing the CID's rate limit"
	case errors.Is(err, ErrInvalidResponse):
		return "unreadable response", "a proxy rewriting or cutting responses"
	}
	return "request failed", "network access to the API host"
}

// failed records a failed attempt that will be retried.
func (h *health) failed(ctx context.Context, log *slog.Logger, op, url string, err error, giveUp time.Duration) {
	cause, check := classify(err)
	h.mu.Lock()
	now := h.now()
	if h.since.IsZero() {
		h.since, h.warned = now, map[string]bool{}
	}
	h.last = fmt.Errorf("%s since %s (%s): %w", cause, h.since.UTC().Format(time.RFC3339), op, err)
	h.failures++
	// A lone 5xx or 429 is the API's everyday weather: said at the second
	// failure in a row. Not reaching the API at all is said at once.
	var apiErr *APIError
	answered := errors.As(err, &apiErr) || errors.Is(err, ErrInvalidResponse)
	first := !h.warned[cause] && (!answered || h.failures >= 2)
	if first {
		h.warned[cause] = true
	}
	escalate := now.Sub(h.since) >= escalateAfter && now.Sub(h.escalated) >= escalateEvery
	if escalate {
		h.escalated = now
	}
	since := h.since
	h.mu.Unlock()
	switch {
	case escalate:
		log.ErrorContext(ctx, "falcon API still failing", "cause", cause, "check", check, "failing_for", now.Sub(since).Round(time.Second).String(),
			"url", url, "operation", op, "error", err.Error())
	case first:
		log.WarnContext(ctx, "falcon API request failed; retrying", "cause", cause, "check", check, "url", url, "operation", op,
			"gives_up_after", giveUp.Round(time.Second).String(), "error", err.Error())
	}
}

// succeeded records a successful request.
func (h *health) succeeded(ctx context.Context, log *slog.Logger) {
	h.mu.Lock()
	since, said := h.since, len(h.warned) > 0
	h.since, h.warned, h.failures, h.escalated, h.last = time.Time{}, nil, 0, time.Time{}, nil
	now := h.now()
	h.mu.Unlock()
	if said {
		log.InfoContext(ctx, "falcon API recovered", "failed_for", now.Sub(since).Round(time.Second).String())
	}
}

// failure returns the ongoing failure, or nil.
func (h *health) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Failure returns why requests are failing right now (the cause, since
// when, and the last error), or nil when the last request succeeded. It is
// what a readiness check should report: a probe of its own would only time
// out.
func (c *Client) Failure() error { return c.health.failure() }

// retryBudget is the longest a request waits between its attempts (the sum
// of the backoffs with jitter): how long an unreachable API takes to fail a
// request, plus the attempts' own timeouts.
func (cfg Config) retryBudget() time.Duration {
	var total time.Duration
	d := cfg.BackoffBase
	for i := 0; i < cfg.MaxRetries; i++ {
		total += min(d, cfg.BackoffMax)
		d *= 2
	}
	return total * 12 / 10
}
