package falcon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenFetchTimeout bounds one token fetch, which runs detached from the
// context of the caller that happened to start it (others may wait on it).
const tokenFetchTimeout = 2 * time.Minute

// tokenManager holds the shared OAuth2 token. It renews RenewBefore ahead of
// expiry (at most half the token's lifetime ahead), with one single-flight
// fetch shared by all goroutines. Credential failures are remembered for
// BackoffMax so that callers cannot hammer /oauth2/token (15 failures a
// minute lock the host out).
type tokenManager struct {
	c   *Client
	now func() time.Time // clock for renewal decisions; replaced in tests

	mu        sync.Mutex
	tok       string
	renewAt   time.Time
	inflight  *fetchCall
	failErr   error
	failUntil time.Time
}

type fetchCall struct {
	done chan struct{}
	tok  string
	err  error
}

func newTokenManager(c *Client) *tokenManager {
	return &tokenManager{c: c, now: time.Now}
}

// token returns a bearer token that is not due for renewal.
func (m *tokenManager) token(ctx context.Context) (string, error) {
	m.mu.Lock()
	now := m.now()
	if m.tok != "" && now.Before(m.renewAt) {
		t := m.tok
		m.mu.Unlock()
		return t, nil
	}
	if m.failErr != nil && now.Before(m.failUntil) {
		err := m.failErr
		m.mu.Unlock()
		return "", err
	}
	fc := m.inflight
	if fc == nil {
		fc = &fetchCall{done: make(chan struct{})}
		m.inflight = fc
		go m.fetch(context.WithoutCancel(ctx), fc)
	}
	m.mu.Unlock()
	select {
	case <-fc.done:
		return fc.tok, fc.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (m *tokenManager) fetch(ctx context.Context, fc *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, tokenFetchTimeout)
	defer cancel()
	started := m.now()
	tok, lifetime, err := m.retrieve(ctx)
	fc.tok, fc.err = tok, err

	m.mu.Lock()
	m.inflight = nil
	if err == nil {
		early := min(m.c.cfg.RenewBefore, lifetime/2)
		m.tok = tok
		m.renewAt = started.Add(lifetime - early)
		m.failErr = nil
	} else if errors.Is(err, ErrAuth) || errors.Is(err, ErrConfig) {
		m.failErr = err
		m.failUntil = m.now().Add(m.c.cfg.BackoffMax)
	}
	m.mu.Unlock()
	close(fc.done)
}

// invalidate drops tok after a 401 so that the next caller fetches a new
// one; a token already replaced by another goroutine is left alone.
func (m *tokenManager) invalidate(tok string) {
	m.mu.Lock()
	if m.tok == tok {
		m.tok = ""
		m.renewAt = time.Time{}
	}
	m.mu.Unlock()
}

// take removes and returns the current token (for Revoke).
func (m *tokenManager) take() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tok
	m.tok = ""
	m.renewAt = time.Time{}
	return t
}

// retrieve gets a token from the configured host, autodiscovering it first
// when needed.
func (m *tokenManager) retrieve(ctx context.Context) (string, time.Duration, error) {
	if base := m.c.BaseURL(); base != "" {
		tok, life, _, err := m.request(ctx, base)
		return tok, life, err
	}
	us1 := CloudUS1.BaseURL()
	tok, life, region, err := m.request(ctx, us1)
	if err != nil {
		return "", 0, err
	}
	cloud := CloudUS1
	if region != "" {
		cloud, err = ParseCloud(region)
		if err != nil || cloud == CloudAutodiscover {
			return "", 0, fmt.Errorf("%w: %w", ErrAuth, &ConfigError{Field: "Cloud",
				Reason: fmt.Sprintf("autodiscovery got unknown X-CS-Region %q; set Cloud explicitly", region)})
		}
		if cloud.IsGov() {
			return "", 0, fmt.Errorf("%w: %w", ErrAuth, &ConfigError{Field: "Cloud",
				Reason: fmt.Sprintf("X-CS-Region %q is a GovCloud, which autodiscovery does not support; set Cloud explicitly", region)})
		}
	}
	m.c.log.InfoContext(ctx, "falcon cloud autodiscovered", "cloud", string(cloud))
	if cloud == CloudUS1 {
		m.c.setBaseURL(us1)
		return tok, life, nil
	}
	// The token was issued for another cloud: revoke it where it came from
	// (as gofalcon does) and authenticate at the right host.
	if err := m.c.revoke(ctx, us1, tok); err != nil {
		m.c.log.WarnContext(ctx, "falcon: revoking the autodiscovery token failed", "error", err)
	}
	m.c.setBaseURL(cloud.BaseURL())
	tok, life, _, err = m.request(ctx, cloud.BaseURL())
	return tok, life, err
}

// request runs one client-credentials exchange against base. It returns the
// token, its lifetime and the X-CS-Region response header.
func (m *tokenManager) request(ctx context.Context, base string) (string, time.Duration, string, error) {
	cfg := m.c.cfg
	cc := clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     base + pathToken,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	if cfg.MemberCID != "" {
		cc.EndpointParams = url.Values{"member_cid": {cfg.MemberCID}}
	}
	rec := &recorder{next: m.c.hc.Transport, ua: cfg.UserAgent}
	if rec.next == nil {
		rec.next = http.DefaultTransport
	}
	hc := *m.c.hc
	hc.Transport = rec
	start := time.Now()
	t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, &hc))
	m.c.metrics.request("oauth2_token", rec.status, time.Since(start))
	if err != nil {
		return "", 0, "", m.tokenError(err)
	}
	if t.AccessToken == "" {
		return "", 0, "", fmt.Errorf("%w: oauth2_token: empty access_token", ErrInvalidResponse)
	}
	life := time.Duration(0)
	if !t.Expiry.IsZero() {
		life = time.Until(t.Expiry)
	}
	if life <= 0 {
		// No expires_in: keep the token until a 401 says otherwise.
		life = 100 * 365 * 24 * time.Hour
	}
	return t.AccessToken, life, headerValue(rec.header, "X-CS-Region"), nil
}

// tokenError maps a failed token request: 400/401/403 are configuration
// errors (ErrAuth), 429 sets the shared cooldown.
func (m *tokenManager) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return fmt.Errorf("oauth2_token: %w", err)
	}
	apiErr := &APIError{Operation: "oauth2_token", StatusCode: re.Response.StatusCode,
		TraceID: headerValue(re.Response.Header, "X-CS-TRACEID")}
	var env envelope
	if json.Unmarshal(re.Body, &env) == nil {
		apiErr.Errors = env.Errors
		if apiErr.TraceID == "" {
			apiErr.TraceID = env.Meta.TraceID
		}
	}
	switch apiErr.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w (check ClientID, ClientSecret, MemberCID and Cloud): %w", ErrAuth, apiErr)
	case http.StatusTooManyRequests:
		m.c.limiter.observe(apiErr.StatusCode, re.Response.Header)
	}
	return apiErr
}

// tokenErrRetryable: network trouble, 429 and 5xx from /oauth2/token are
// transient; credential and configuration errors are not.
func tokenErrRetryable(err error) bool {
	if errors.Is(err, ErrAuth) || errors.Is(err, ErrConfig) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
	}
	return true
}

// recorder keeps the status and headers of the last token response (the
// oauth2 package does not expose X-CS-Region) and sets the User-Agent.
type recorder struct {
	next   http.RoundTripper
	ua     string
	status int
	header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", r.ua)
	res, err := r.next.RoundTrip(req)
	if err == nil {
		r.status, r.header = res.StatusCode, res.Header
	}
	return res, err
}

// Revoke revokes the client's current OAuth2 token (POST /oauth2/revoke)
// for a clean shutdown. Without a token it does nothing. A later request
// fetches a new token.
func (c *Client) Revoke(ctx context.Context) error {
	tok := c.tokens.take()
	if tok == "" {
		return nil
	}
	return c.revoke(ctx, c.BaseURL(), tok)
}

func (c *Client) revoke(ctx context.Context, base, tok string) error {
	form := url.Values{"token": {tok}, "client_id": {c.cfg.ClientID}}
	_, err := c.do(ctx, call{
		op: "oauth2_revoke", method: http.MethodPost, path: pathRevoke,
		body: []byte(form.Encode()), form: true, base: base,
	})
	return err
}
