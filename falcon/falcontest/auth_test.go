package falcontest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOAuthTokenIssue(t *testing.T) {
	srv := startServer(t, Config{Seed: 3, TokenTTL: 10 * time.Minute,
		Tenants: []TenantConfig{{CID: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-1F", Region: "eu-1", Tokens: 2}}})
	tn := srv.Emulator().Tenants()[0]
	id, secret := tn.Credentials()
	c := &caller{t: t, srv: srv, hc: srv.Client()}

	t.Run("form credentials", func(t *testing.T) {
		form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"something-else"}}
		r := c.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
		r.want(t, http.StatusCreated)
		if got := r.Header.Get("X-CS-Region"); got != "eu-1" {
			t.Errorf("X-CS-Region = %q", got)
		}
		for _, h := range []string{"X-CS-TRACEID", "X-RateLimit-Limit", "X-RateLimit-Remaining"} {
			if r.Header.Get(h) == "" {
				t.Errorf("missing %s", h)
			}
		}
		if !strings.Contains(string(r.Raw), `"expires_in":600`) || !strings.Contains(string(r.Raw), `"token_type":"bearer"`) ||
			!strings.Contains(string(r.Raw), `"access_token":"eyJ`) {
			t.Errorf("body %s", r.Raw)
		}
	})
	t.Run("basic credentials", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+pToken, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		form := url.Values{"client_id": {id}, "client_secret": {"nope"}}
		r := c.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
		r.want(t, http.StatusForbidden)
		if !strings.Contains(string(r.Raw), "Failed to issue access token - Not Authorized") {
			t.Errorf("body %s", r.Raw)
		}
	})
	t.Run("missing credentials", func(t *testing.T) {
		r := c.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte("client_id="+id))
		r.want(t, http.StatusBadRequest)
	})
	t.Run("own cid as member_cid, any case and checksum", func(t *testing.T) {
		loginAs(t, srv, id, secret, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	})
}

func TestOAuthMemberCID(t *testing.T) {
	parent, child, other := strings.Repeat("a", 32), strings.Repeat("b", 32), strings.Repeat("c", 32)
	srv := startServer(t, Config{Seed: 4, Tenants: []TenantConfig{
		{CID: parent, Region: "us-2", Tokens: 1, Clients: []APIClient{{ID: "mssp", Secret: "s3cret", Scopes: []string{ScopeRead}, MemberCIDs: []string{child}}}},
		{CID: child, Region: "eu-1", Tokens: 3},
		{CID: other, Tokens: 5},
	}})
	c := loginAs(t, srv, "mssp", "s3cret", strings.ToUpper(child)+"-7A")
	r := c.get(pTokensQ, nil).want(t, http.StatusOK)
	if r.Body.Meta.Pagination.Total != 3 {
		t.Fatalf("member token sees %d tokens, want the child's 3", r.Body.Meta.Pagination.Total)
	}
	// The region header names the child's region.
	cc := &caller{t: t, srv: srv, hc: srv.Client()}
	form := url.Values{"client_id": {"mssp"}, "client_secret": {"s3cret"}, "member_cid": {child}}
	r = cc.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if r.Header.Get("X-CS-Region") != "eu-1" {
		t.Fatalf("X-CS-Region %q, want eu-1", r.Header.Get("X-CS-Region"))
	}
	form.Set("member_cid", other)
	cc.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode())).want(t, http.StatusForbidden)
	form.Set("member_cid", strings.Repeat("d", 32))
	cc.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode())).want(t, http.StatusForbidden)
	// Without member_cid the client acts for its own CID.
	own := loginAs(t, srv, "mssp", "s3cret", "")
	if n := own.get(pTokensQ, nil).want(t, http.StatusOK).Body.Meta.Pagination.Total; n != 1 {
		t.Fatalf("own token sees %d tokens", n)
	}
}

func TestOAuthExpiryAndRevoke(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Clock: clock, TokenTTL: 10 * time.Minute, Tenants: []TenantConfig{{Tokens: 1}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	c.get(pSettings, nil).want(t, http.StatusOK)
	clock.Advance(10*time.Minute - time.Second)
	c.get(pSettings, nil).want(t, http.StatusOK)
	clock.Advance(time.Second)
	r := c.get(pSettings, nil)
	r.wantError(t, http.StatusUnauthorized, msgBearer)
	if r.Body.Meta.PoweredBy != "crowdstrike-api-gateway" || r.has("resources") {
		t.Errorf("gateway 401 body %s", r.Raw)
	}

	c = login(t, srv, tn)
	id, secret := tn.Credentials()
	revoke := func(user, pass, token string) *reply {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+pRevoke, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		rc := &caller{t: t, srv: srv, hc: srv.Client()}
		resp, err := rc.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return &reply{Status: resp.StatusCode, Header: resp.Header}
	}
	if r := revoke(id, "wrong", c.bearer); r.Status != http.StatusForbidden {
		t.Fatalf("revoke with wrong secret: %d", r.Status)
	}
	c.get(pSettings, nil).want(t, http.StatusOK)
	if r := revoke(id, secret, c.bearer); r.Status != http.StatusOK || r.Header.Get("X-CS-TRACEID") == "" {
		t.Fatalf("revoke: %d", r.Status)
	}
	c.get(pSettings, nil).wantError(t, http.StatusUnauthorized, msgBearer)
}

func TestBadBearer(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{}}})
	c := &caller{t: t, srv: srv, hc: srv.Client()}
	c.get(pTokensQ, nil).wantError(t, http.StatusUnauthorized, msgBearer)
	c.bearer = "not-a-token"
	c.get(pTokensQ, nil).wantError(t, http.StatusUnauthorized, msgBearer)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+pTokensQ, nil)
	req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("basic auth on API: %d", resp.StatusCode)
	}
}

func TestScopes(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{CID: strings.Repeat("1", 32), Tokens: 2, Clients: []APIClient{
		{ID: "reader", Secret: "r", Scopes: []string{ScopeRead}},
		{ID: "writer", Secret: "w", Scopes: []string{ScopeRead, ScopeWrite}},
		{ID: "none", Secret: "n"},
	}}}})
	reader := loginAs(t, srv, "reader", "r", "")
	writer := loginAs(t, srv, "writer", "w", "")
	none := loginAs(t, srv, "none", "n", "")

	reader.get(pTokensQ, nil).want(t, http.StatusOK)
	reader.get(pAuditQ, nil).want(t, http.StatusOK)
	reader.get(pSettings, nil).want(t, http.StatusOK)
	none.get(pTokensQ, nil).wantError(t, http.StatusForbidden, msgDenied)
	reader.do(http.MethodPost, pTokens, nil, map[string]any{"label": "x"}).wantError(t, http.StatusForbidden, msgDenied)
	writer.createToken("x", nil)
	writer.do(http.MethodPatch, pSettings, nil, map[string]any{"tokens_required": true}).wantError(t, http.StatusForbidden, msgDenied)
	if tok := srv.Emulator().Tenants()[0].Settings(); tok.TokensRequired {
		t.Fatal("forbidden settings update took effect")
	}
}

func TestRateLimitPerCID(t *testing.T) {
	clock := NewClock(t0)
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	srv := startServer(t, Config{Clock: clock, RateLimit: RateLimit{PerMinute: 5}, Tenants: []TenantConfig{
		{CID: a, Clients: []APIClient{{ID: "a1", Secret: "x", Scopes: []string{ScopeRead}}, {ID: "a2", Secret: "x", Scopes: []string{ScopeRead}}}},
		{CID: b},
	}})
	a1 := loginAs(t, srv, "a1", "x", "")
	a2 := loginAs(t, srv, "a2", "x", "")
	cb := login(t, srv, srv.Emulator().Tenant(b))
	first := clock.Now()
	for i := range 5 {
		c := a1
		if i%2 == 1 {
			c = a2 // clients of one CID share the window
		}
		r := c.get(pSettings, nil).want(t, http.StatusOK)
		if r.Header.Get("X-RateLimit-Limit") != "5" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(4-i) {
			t.Fatalf("request %d: limit %s remaining %s", i, r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
		}
		clock.Advance(1500 * time.Millisecond)
	}
	r := a2.get(pSettings, nil)
	r.wantError(t, http.StatusTooManyRequests, "API rate limit exceeded.")
	if r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("429 headers %v", r.Header)
	}
	// The oldest counted request leaves the window at first+60s: epoch seconds, rounded up.
	if got, want := r.Header.Get("X-RateLimit-RetryAfter"), strconv.FormatInt(first.Add(time.Minute).Unix(), 10); got != want {
		t.Fatalf("RetryAfter %s, want %s", got, want)
	}
	cb.get(pSettings, nil).want(t, http.StatusOK) // another CID has its own window
	clock.Set(first.Add(time.Minute))
	r = a1.get(pSettings, nil).want(t, http.StatusOK)
	if r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("after the first left the window: remaining %s", r.Header.Get("X-RateLimit-Remaining"))
	}

	// Fractional instants round up.
	clock.Set(t0.Add(20*time.Minute + 300*time.Millisecond))
	for range 5 {
		cb.get(pSettings, nil)
	}
	r = cb.get(pSettings, nil).want(t, http.StatusTooManyRequests)
	if got, want := r.Header.Get("X-RateLimit-RetryAfter"), strconv.FormatInt(t0.Add(21*time.Minute).Unix()+1, 10); got != want {
		t.Fatalf("RetryAfter %s, want %s (rounded up)", got, want)
	}
}

func TestRateLimitPerIP(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Clock: clock, RateLimit: RateLimit{PerMinute: 1000, TokenPerMinute: 3}, Tenants: []TenantConfig{{}}})
	c := &caller{t: t, srv: srv, hc: srv.Client(), bearer: "expired-or-garbage"}
	for i := range DefaultBadBearerPerMinute {
		r := c.get(pSettings, nil)
		r.wantError(t, http.StatusUnauthorized, msgBearer)
		if r.Header.Get("X-RateLimit-Limit") != "15" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(14-i) {
			t.Fatalf("bad bearer %d: headers %v", i, r.Header)
		}
	}
	c.get(pSettings, nil).wantError(t, http.StatusTooManyRequests, "API rate limit exceeded.")

	tn := srv.Emulator().Tenants()[0]
	for range 2 {
		login(t, srv, tn)
	}
	// Third token request in the minute: still fine; the fourth is refused.
	c3 := login(t, srv, tn)
	id, secret := tn.Credentials()
	form := url.Values{"client_id": {id}, "client_secret": {secret}}
	r := c3.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
	r.want(t, http.StatusTooManyRequests)
	if r.Header.Get("X-RateLimit-RetryAfter") == "" {
		t.Fatal("429 without X-RateLimit-RetryAfter")
	}
	// A valid bearer is not limited by the bad-bearer bucket.
	c3.get(pSettings, nil).want(t, http.StatusOK)
	clock.Advance(time.Minute)
	login(t, srv, tn)
}

func TestRateLimitDisabledHeaders(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{}}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	for range 3 {
		r := c.get(pSettings, nil).want(t, http.StatusOK)
		if r.Header.Get("X-RateLimit-Limit") != "6000" || r.Header.Get("X-RateLimit-Remaining") != "5999" {
			t.Fatalf("headers %v", r.Header)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"ties above events":   {Tenants: []TenantConfig{{Events: 5, Ties: 6}}},
		"late fraction":       {Tenants: []TenantConfig{{LateFraction: 1.5}}},
		"negative":            {Tenants: []TenantConfig{{Tokens: -1}}},
		"max active zero":     {Tenants: []TenantConfig{{MaxActiveTokens: ptr(int64(0))}}},
		"duplicate cid":       {Tenants: []TenantConfig{{CID: "ab"}, {CID: "AB"}}},
		"duplicate client":    {Tenants: []TenantConfig{{Clients: []APIClient{{ID: "x", Secret: "1"}}}, {Clients: []APIClient{{ID: "x", Secret: "2"}}}}},
		"client no secret":    {Tenants: []TenantConfig{{Clients: []APIClient{{ID: "x"}}}}},
		"unknown member":      {Tenants: []TenantConfig{{Clients: []APIClient{{ID: "x", Secret: "1", MemberCIDs: []string{"zz"}}}}}},
		"fault probability":   {Faults: Faults{TruncateRate: 2}},
		"fault operation":     {Faults: Faults{Operations: []string{"tokens-query"}}},
		"fault schedule kind": {Faults: Faults{Schedule: []ScheduledFault{{Nth: 1, Kind: "boom"}}}},
		"fault schedule nth":  {Faults: Faults{Schedule: []ScheduledFault{{Kind: FaultReset}}}},
		"errors style":        {Faults: Faults{ErrorsStyle: "none"}},
		"negative ttl":        {TokenTTL: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewServer with an invalid config did not panic")
		}
	}()
	NewServer(Config{TokenTTL: -1})
}
