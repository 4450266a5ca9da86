package falcontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	pTokensQ   = "/installation-tokens/queries/tokens/v1"
	pTokens    = "/installation-tokens/entities/tokens/v1"
	pAuditQ    = "/installation-tokens/queries/audit-events/v1"
	pAudit     = "/installation-tokens/entities/audit-events/v1"
	pSettings  = "/installation-tokens/entities/customer-settings/v1"
	pToken     = "/oauth2/token"
	pRevoke    = "/oauth2/revoke"
	msgBearer  = "access denied, invalid bearer token"
	msgDenied  = "access denied, authorization failed"
	scopeAllRW = ScopeRead + " " + ScopeWrite
)

// reply is a decoded API response.
type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   struct {
		Meta struct {
			QueryTime  float64 `json:"query_time"`
			PoweredBy  string  `json:"powered_by"`
			TraceID    string  `json:"trace_id"`
			Pagination *struct {
				Offset, Limit, Total int
			} `json:"pagination"`
		} `json:"meta"`
		Resources json.RawMessage `json:"resources"`
		Errors    json.RawMessage `json:"errors"`
	}
	fields map[string]json.RawMessage
}

func (r *reply) has(key string) bool { _, ok := r.fields[key]; return ok }

func (r *reply) ids(t testing.TB) []string {
	t.Helper()
	var ids []string
	if err := json.Unmarshal(r.Body.Resources, &ids); err != nil {
		t.Fatalf("resources are not IDs: %s", r.Raw)
	}
	return ids
}

type tokenJSON struct {
	ID, Label, Value, Type, Status string
	Created                        *string `json:"created_timestamp"`
	Expires                        *string `json:"expires_timestamp"`
	LastUsed                       *string `json:"last_used_timestamp"`
	Revoked                        *string `json:"revoked_timestamp"`
}

type eventJSON struct {
	ID, Action, Actor, Description, Timestamp string
	TokenID                                   string `json:"token_id"`
}

func (r *reply) tokens(t testing.TB) []tokenJSON {
	t.Helper()
	var out []tokenJSON
	if err := json.Unmarshal(r.Body.Resources, &out); err != nil {
		t.Fatalf("resources are not tokens: %s", r.Raw)
	}
	return out
}

func (r *reply) events(t testing.TB) []eventJSON {
	t.Helper()
	var out []eventJSON
	if err := json.Unmarshal(r.Body.Resources, &out); err != nil {
		t.Fatalf("resources are not events: %s", r.Raw)
	}
	return out
}

type apiErr struct {
	Code    int
	Message string
	ID      string
}

func (r *reply) errors(t testing.TB) []apiErr {
	t.Helper()
	var out []apiErr
	if err := json.Unmarshal(r.Body.Errors, &out); err != nil {
		t.Fatalf("errors field: %v in %s", err, r.Raw)
	}
	return out
}

// wantError asserts status and the single error message.
func (r *reply) wantError(t testing.TB, status int, msgContains string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	errs := r.errors(t)
	if len(errs) == 0 || errs[0].Code != status || !strings.Contains(errs[0].Message, msgContains) {
		t.Fatalf("errors %+v, want code %d containing %q", errs, status, msgContains)
	}
}

func (r *reply) want(t testing.TB, status int) *reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// caller talks to a test server as one API client.
type caller struct {
	t      testing.TB
	srv    *Server
	hc     *http.Client
	bearer string
}

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv := NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// login authenticates as the tenant's first client.
func login(t testing.TB, srv *Server, tenant *Tenant) *caller {
	t.Helper()
	id, secret := tenant.Credentials()
	return loginAs(t, srv, id, secret, "")
}

func loginAs(t testing.TB, srv *Server, id, secret, member string) *caller {
	t.Helper()
	c := &caller{t: t, srv: srv, hc: srv.Client()}
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"}}
	if member != "" {
		form.Set("member_cid", member)
	}
	r := c.raw(http.MethodPost, pToken, nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
	r.want(t, http.StatusCreated)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(r.Raw, &tok)
	c.bearer = tok.AccessToken
	return c
}

func (c *caller) raw(method, path string, q url.Values, contentType string, body []byte) *reply {
	c.t.Helper()
	u := c.srv.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	r := &reply{Status: resp.StatusCode, Header: resp.Header}
	if r.Raw, err = io.ReadAll(resp.Body); err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && path != pToken {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			c.t.Fatalf("%s %s: invalid JSON %q: %v", method, path, r.Raw, err)
		}
		json.Unmarshal(r.Raw, &r.fields)
	}
	return r
}

// do sends an API request with Content-Type: application/json; body is marshalled unless it is []byte.
func (c *caller) do(method, path string, q url.Values, body any) *reply {
	c.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.raw(method, path, q, "application/json", b)
}

func (c *caller) get(path string, q url.Values) *reply {
	c.t.Helper()
	return c.do(http.MethodGet, path, q, nil)
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// createToken creates a token over the API and returns it.
func (c *caller) createToken(label string, expires any) tokenJSON {
	c.t.Helper()
	body := map[string]any{"label": label, "expires_timestamp": expires, "type": "customer_managed"}
	r := c.do(http.MethodPost, pTokens, nil, body).want(c.t, http.StatusCreated)
	toks := r.tokens(c.t)
	if len(toks) != 1 {
		c.t.Fatalf("create returned %d tokens", len(toks))
	}
	return toks[0]
}

// emptyTenant is a tenant without seeded data, with a fixed CID.
func emptyTenant(cid string) TenantConfig { return TenantConfig{CID: cid} }

func ptr[T any](v T) *T { return &v }
