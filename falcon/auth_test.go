package falcon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func settingsOK(w http.ResponseWriter, r *http.Request) {
	writeEnv(w, 200, ok(`[{"max_active_tokens":50,"tokens_required":true}]`))
}

func TestHeadersOnEveryMethod(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			writeEnv(w, 201, ok("["+tokenJSON(hexID(1))+"]"))
		case http.MethodPatch:
			writeEnv(w, 200, ok("["+tokenJSON(hexID(1))+"]"))
		case http.MethodDelete:
			writeEnv(w, 200, `{"meta":{"query_time":0.1,"trace_id":"x"},"errors":[]}`)
		default:
			writeEnv(w, 200, ok("["+tokenJSON(hexID(1))+"]"))
		}
	})
	c := f.client(func(c *Config) { c.UserAgent = "tt-test/1" })
	ctx := context.Background()
	if _, err := c.GetTokens(ctx, []string{hexID(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateToken(ctx, TokenCreate{Label: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateTokens(ctx, []string{hexID(1)}, TokenPatch{Label: Ptr("y")}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTokens(ctx, []string{hexID(1)}); err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, r := range f.requests() {
		methods[r.method] = true
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("%s %s: Content-Type %q", r.method, r.path, got)
		}
		if got := r.header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("%s %s: Authorization %q", r.method, r.path, got)
		}
		if got := r.header.Get("User-Agent"); got != "tt-test/1" {
			t.Errorf("%s: User-Agent %q", r.method, got)
		}
	}
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		if !methods[m] {
			t.Errorf("no %s request seen", m)
		}
	}
}

func TestTokenRequestForm(t *testing.T) {
	f := newFake(t, settingsOK)
	c := f.client(func(c *Config) { c.MemberCID = "0123456789abcdef0123456789abcdef" })
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	toks := f.tokenRequests()
	if len(toks) != 1 {
		t.Fatalf("%d token requests, want 1 (no failing auto-detect attempt)", len(toks))
	}
	tr := toks[0]
	form, err := url.ParseQuery(string(tr.body))
	if err != nil {
		t.Fatal(err)
	}
	if tr.method != "POST" || !strings.HasPrefix(tr.header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Errorf("token request %s %q", tr.method, tr.header.Get("Content-Type"))
	}
	if form.Get("client_id") != "client-id" || form.Get("client_secret") != "client-secret" || form.Get("member_cid") != "0123456789abcdef0123456789abcdef" {
		t.Errorf("form = %v", form)
	}
	if tr.header.Get("Authorization") != "" {
		t.Errorf("credentials must go in the form, got Authorization %q", tr.header.Get("Authorization"))
	}
}

func TestTokenEndpointConfigErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403} {
		f := newFake(t, settingsOK)
		f.tokenStatus.Store(int32(status))
		c := f.client(func(c *Config) { c.BackoffMax = time.Hour; c.BackoffBase = time.Millisecond })
		_, err := c.GetCustomerSettings(context.Background())
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("%d: %v, want ErrAuth", status, err)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.TraceID != "trace-"+strconv.Itoa(status) {
			t.Fatalf("%d: APIError %+v", status, apiErr)
		}
		// A second call is answered from memory: no tight loop against /oauth2/token.
		if _, err := c.GetCustomerSettings(context.Background()); !errors.Is(err, ErrAuth) {
			t.Fatalf("second call: %v", err)
		}
		if n := len(f.tokenRequests()); n != 1 {
			t.Errorf("%d: %d token requests, want 1", status, n)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%d: %d API requests without a token", status, n)
		}
	}
}

func TestTokenEndpointTransientErrorsRetried(t *testing.T) {
	f := newFake(t, settingsOK)
	f.tokenFails.Store(2)
	c := f.client(nil)
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatalf("transient token errors must be retried: %v", err)
	}
	if n := len(f.tokenRequests()); n != 3 {
		t.Errorf("%d token requests, want 3", n)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	// tok-1 is rejected; tok-2 works.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			writeEnv(w, 401, `{"meta":{"query_time":2.1e-07,"powered_by":"crowdstrike-api-gateway","trace_id":"t401"},"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}`)
			return
		}
		settingsOK(w, r)
	})
	c := f.client(nil)
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tokenRequests()); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d API requests, want 2", n)
	}

	// Every token rejected: one refresh, one retry, then ErrUnauthorized.
	f2 := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 401, errBody(401, "access denied, invalid bearer token"))
	})
	c2 := f2.client(func(c *Config) { c.MaxRetries = 5 })
	_, err := c2.GetCustomerSettings(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if n := len(f2.requests()); n != 2 {
		t.Errorf("%d API requests, want 2 (a second 401 is final)", n)
	}
	if n := len(f2.tokenRequests()); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestRenewalBeforeExpirySingleFlight(t *testing.T) {
	f := newFake(t, settingsOK)
	f.tokenDelay = 50 * time.Millisecond // make the refresh overlap all callers
	c := f.client(func(c *Config) { c.RenewBefore = 2 * time.Minute })
	var mu sync.Mutex
	now := time.Now()
	c.tokens.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()

	if _, err := c.GetCustomerSettings(ctx); err != nil {
		t.Fatal(err)
	}
	// 1799 s token: still fresh 1 min before the renewal point.
	advance(1799*time.Second - 3*time.Minute)
	if _, err := c.GetCustomerSettings(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tokenRequests()); n != 1 {
		t.Fatalf("%d token requests before the renewal window, want 1", n)
	}
	// Inside the 2-minute window (still 90 s before expiry): 20 goroutines, one refresh.
	advance(90 * time.Second)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetCustomerSettings(ctx); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if n := len(f.tokenRequests()); n != 2 {
		t.Fatalf("%d token requests, want exactly 2 (one shared renewal)", n)
	}
	reqs := f.requests()
	for _, r := range reqs[2:] {
		if r.header.Get("Authorization") != "Bearer tok-2" {
			t.Errorf("request after renewal used %q", r.header.Get("Authorization"))
		}
	}
}

func TestShortLivedTokenNotRefreshedEveryCall(t *testing.T) {
	// A lifetime below RenewBefore renews at half-life instead of always.
	f := newFake(t, settingsOK)
	f.expiresIn = 60
	c := f.client(nil) // RenewBefore 2 min > 60 s lifetime
	for range 5 {
		if _, err := c.GetCustomerSettings(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.tokenRequests()); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// hostMap routes requests for fake cloud hosts to one test server and records
// the host asked for.
type hostMap struct {
	target *url.URL
	mu     sync.Mutex
	hosts  []string
}

func (h *hostMap) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host+r.URL.Path)
	h.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = h.target.Scheme, h.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func TestAutodiscovery(t *testing.T) {
	f := newFake(t, settingsOK)
	f.region = "eu-1"
	target, _ := url.Parse(f.srv.URL)
	hm := &hostMap{target: target}
	c, err := New(withDefaults(Config{ClientID: "id", ClientSecret: "s", HTTPClient: &http.Client{Transport: hm},
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"api.crowdstrike.com/oauth2/token",      // discovery at us-1
		"api.crowdstrike.com/oauth2/revoke",     // discovery token released
		"api.eu-1.crowdstrike.com/oauth2/token", // real token
		"api.eu-1.crowdstrike.com/installation-tokens/entities/customer-settings/v1",
	}
	if strings.Join(hm.hosts, " ") != strings.Join(want, " ") {
		t.Errorf("requests:\n%v\nwant\n%v", hm.hosts, want)
	}
	if c.BaseURL() != "https://api.eu-1.crowdstrike.com" {
		t.Errorf("BaseURL %q", c.BaseURL())
	}
	if rv := f.revoke; len(rv) != 1 || !strings.Contains(string(rv[0].body), "token=tok-1") {
		t.Errorf("revoke requests %v", rv)
	}

	// us-1 (or no header) keeps the first token.
	f2 := newFake(t, settingsOK)
	f2.region = "us-1"
	t2, _ := url.Parse(f2.srv.URL)
	hm2 := &hostMap{target: t2}
	c2, _ := New(withDefaults(Config{ClientID: "id", ClientSecret: "s", HTTPClient: &http.Client{Transport: hm2}}))
	if _, err := c2.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f2.tokenRequests()) != 1 || c2.BaseURL() != "https://api.crowdstrike.com" {
		t.Errorf("us-1: %d token requests, base %q", len(f2.tokenRequests()), c2.BaseURL())
	}
}

func TestAutodiscoveryRejectsGov(t *testing.T) {
	for _, region := range []string{"us-gov-1", "us-gov-2", "moon-1"} {
		f := newFake(t, settingsOK)
		f.region = region
		target, _ := url.Parse(f.srv.URL)
		c, _ := New(withDefaults(Config{ClientID: "id", ClientSecret: "s", HTTPClient: &http.Client{Transport: &hostMap{target: target}}}))
		_, err := c.GetCustomerSettings(context.Background())
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "Cloud" || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want a Cloud ConfigError", region, err)
		}
		if len(f.requests()) != 0 {
			t.Errorf("%s: API request sent", region)
		}
	}
	// An explicit gov cloud goes straight to its host.
	f := newFake(t, settingsOK)
	target, _ := url.Parse(f.srv.URL)
	hm := &hostMap{target: target}
	c, _ := New(withDefaults(Config{ClientID: "id", ClientSecret: "s", Cloud: "us-gov-1", HTTPClient: &http.Client{Transport: hm}}))
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hm.hosts[0] != "api.laggar.gcw.crowdstrike.com/oauth2/token" {
		t.Errorf("gov host: %v", hm.hosts)
	}
}

func TestRevoke(t *testing.T) {
	f := newFake(t, settingsOK)
	c := f.client(nil)
	ctx := context.Background()
	if err := c.Revoke(ctx); err != nil || len(f.revoke) != 0 {
		t.Fatalf("revoke without token: %v, %d requests", err, len(f.revoke))
	}
	if _, err := c.GetCustomerSettings(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
	rv := f.revoke[0]
	user, pass, okb := (&http.Request{Header: rv.header}).BasicAuth()
	form, _ := url.ParseQuery(string(rv.body))
	if !okb || user != "client-id" || pass != "client-secret" || form.Get("token") != "tok-1" ||
		!strings.HasPrefix(rv.header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Errorf("revoke request: basic %v %q %q form %v", okb, user, pass, form)
	}
	if _, err := c.GetCustomerSettings(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[1].header.Get("Authorization"); got != "Bearer tok-2" {
		t.Errorf("after revoke: %q", got)
	}
}

func TestRedirectsOnlyForOAuth(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved/token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"access_token":"tok-moved","expires_in":1799}`))
			return
		}
		settingsOK(w, r)
	}))
	t.Cleanup(other.Close)
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	// Token endpoint redirects with 308 (PSFalcon retries those).
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/moved/token", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/", f.serve)
	f.srv.Config.Handler = mux
	c := f.client(nil)
	_, err := c.GetCustomerSettings(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTemporaryRedirect || !errors.Is(err, ErrUnexpectedCode) {
		t.Fatalf("API redirect must not be followed: %v", err)
	}
	if got := f.requests()[0].header.Get("Authorization"); got != "Bearer tok-moved" {
		t.Errorf("token redirect not followed: %q", got)
	}
}

func TestContextCancelDuringCooldown(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-RetryAfter", "9999999999")
		writeEnv(w, 429, errBody(429, "API rate limit exceeded."))
	})
	c := f.client(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.GetCustomerSettings(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests during a 60 s cooldown", n)
	}
}
