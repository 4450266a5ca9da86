package falcon_test

// Contract tests: the client against the project's emulator (falcon/falcontest).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/falcon/falcontest"

	"github.com/tokentrail/tokentrail/internal/configtest"
)

type env struct {
	srv    *falcontest.Server
	emu    *falcontest.Emulator
	tenant *falcontest.Tenant
	client *falcon.Client
	reg    *prometheus.Registry
	cap    *capture
}

// capture records X-RateLimit-RetryAfter of 429s as the client saw them.
type capture struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusTooManyRequests {
		if v, perr := strconv.ParseInt(res.Header.Get("X-RateLimit-RetryAfter"), 10, 64); perr == nil {
			c.mu.Lock()
			c.at = append(c.at, time.Unix(v, 0))
			c.mu.Unlock()
		}
	}
	return res, err
}

func (c *capture) retryAfters() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

func smallTenant() falcontest.TenantConfig {
	return falcontest.TenantConfig{Tokens: 6, Events: 40}
}

// start runs an emulator and a client for its first tenant's first API client.
func start(t *testing.T, cfg falcontest.Config, mod func(*falcon.Config)) *env {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []falcontest.TenantConfig{smallTenant()}
	}
	srv := falcontest.NewServer(cfg)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, emu: srv.Emulator(), reg: prometheus.NewRegistry()}
	e.tenant = e.emu.Tenants()[0]
	id, secret := e.tenant.Credentials()
	base := srv.Client()
	e.cap = &capture{next: base.Transport}
	if e.cap.next == nil {
		e.cap.next = http.DefaultTransport
	}
	fc := withDefaults(falcon.Config{
		BaseURL:           srv.URL,
		ClientID:          id,
		ClientSecret:      secret,
		HTTPClient:        &http.Client{Transport: e.cap, Timeout: 10 * time.Second},
		RequestsPerMinute: -1,
		MaxRetries:        4,
		BackoffBase:       time.Millisecond,
		BackoffMax:        10 * time.Millisecond,
		Metrics:           falcon.NewMetrics(e.reg),
	})
	if mod != nil {
		mod(&fc)
	}
	c, err := falcon.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

// requests returns the emulator's records of op.
func (e *env) requests(op string) []falcontest.Request {
	var out []falcontest.Request
	for _, r := range e.emu.Requests() {
		if op == "" || r.Operation == op {
			out = append(out, r)
		}
	}
	return out
}

func (e *env) metric(name string, labels map[string]string) float64 {
	mfs, _ := e.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// checkToken compares a client token with the emulator's state.
func checkToken(t *testing.T, got falcon.Token, want falcontest.TokenState) {
	t.Helper()
	if got.ID != want.ID || got.Label != want.Label || got.Value.Reveal() != want.Value || got.Type != want.Type ||
		got.Status != want.Status || !got.CreatedTimestamp.Equal(want.CreatedTimestamp) ||
		!sameTime(got.ExpiresTimestamp, want.ExpiresTimestamp) || !sameTime(got.LastUsedTimestamp, want.LastUsedTimestamp) ||
		!sameTime(got.RevokedTimestamp, want.RevokedTimestamp) {
		t.Errorf("token differs from emulator state:\n got %+v\nwant %+v (value match %v)", got, want, got.Value.Reveal() == want.Value)
	}
}

func TestContractTokenLifecycle(t *testing.T) {
	e := start(t, falcontest.Config{Strict: true}, nil)
	c, ctx := e.client, context.Background()

	label := `contract O'Brien \ test\`
	tok, err := c.CreateToken(ctx, falcon.TokenCreate{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	state, ok := e.tenant.Token(tok.ID)
	if !ok || tok.Value.Reveal() == "" || tok.Status != "valid" || tok.ExpiresTimestamp != nil {
		t.Fatalf("created %+v (exists %v)", tok, ok)
	}
	checkToken(t, tok, state)

	res, err := c.QueryTokens(ctx, falcon.Query{Filter: "label:" + falcon.FQLString(label)})
	if err != nil || !slices.Equal(res.IDs, []string{tok.ID}) || res.Total != 1 {
		t.Fatalf("query by label: %+v %v", res, err)
	}
	unknown := strings.Repeat("ab", 16)
	toks, err := c.GetTokens(ctx, []string{unknown, tok.ID})
	if err != nil || len(toks) != 1 || !slices.Equal(falcon.Missing([]string{unknown, tok.ID}, toks), []string{unknown}) {
		t.Fatalf("read: %+v %v", toks, err)
	}
	checkToken(t, toks[0], state)

	steps := []struct {
		name  string
		patch falcon.TokenPatch
		check func(falcon.Token) bool
	}{
		{"revoke", falcon.TokenPatch{Revoked: falcon.Ptr(true)}, func(k falcon.Token) bool {
			return k.Status == "revoked" && k.RevokedTimestamp != nil
		}},
		{"restore (false on the wire)", falcon.TokenPatch{Revoked: falcon.Ptr(false)}, func(k falcon.Token) bool {
			return k.Status == "valid" && k.RevokedTimestamp == nil
		}},
		{"rename and expire", falcon.TokenPatch{Label: falcon.Ptr("renamed"), Expires: falcon.SetTime(time.Now().Add(48 * time.Hour))},
			func(k falcon.Token) bool { return k.Label == "renamed" && k.ExpiresTimestamp != nil }},
		{"never expires (null)", falcon.TokenPatch{Expires: falcon.ClearTime()}, func(k falcon.Token) bool {
			return k.ExpiresTimestamp == nil && k.Label == "renamed"
		}},
	}
	for _, s := range steps {
		up, err := c.UpdateTokens(ctx, []string{tok.ID}, s.patch)
		if err != nil || len(up) != 1 || !s.check(up[0]) {
			t.Fatalf("%s: %+v %v", s.name, up, err)
		}
		state, _ = e.tenant.Token(tok.ID)
		checkToken(t, up[0], state)
	}

	if err := c.DeleteTokens(ctx, []string{tok.ID}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.tenant.Token(tok.ID); ok {
		t.Fatal("token not deleted")
	}
	if err := c.DeleteTokens(ctx, []string{tok.ID}); err != nil {
		t.Errorf("second delete (404 = gone): %v", err)
	}
	_, err = c.UpdateTokens(ctx, []string{tok.ID}, falcon.TokenPatch{Revoked: falcon.Ptr(true)})
	var apiErr *falcon.APIError
	if !errors.Is(err, falcon.ErrNotFound) || !errors.As(err, &apiErr) || !slices.Contains(apiErr.Resources, tok.ID) {
		t.Errorf("update of a deleted token: %v", err)
	}

	// The audit trail as the client reads it equals the emulator's.
	p := c.AuditEventPager(falcon.Query{Filter: "token_id:" + falcon.FQLString(tok.ID)})
	var ids []string
	for p.Next(ctx) {
		ids = append(ids, p.IDs()...)
	}
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	evs, err := c.GetAuditEvents(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var want []falcontest.AuditEvent
	for _, ev := range e.tenant.AuditEvents(true) {
		if ev.TokenID == tok.ID {
			want = append(want, ev)
		}
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, emulator has %d", len(evs), len(want))
	}
	var actions []string
	for i, ev := range evs {
		w := want[i]
		if ev.ID != w.ID || ev.Action != w.Action || ev.Actor != w.Actor || ev.Description != w.Description ||
			!ev.Timestamp.Equal(w.Timestamp) || ev.TokenID != w.TokenID {
			t.Errorf("event %d: %+v, want %+v", i, ev, w)
		}
		actions = append(actions, ev.Action)
	}
	for _, a := range []string{"token_create", "token_revoke", "token_restore", "token_update", "token_delete"} {
		if !slices.Contains(actions, a) {
			t.Errorf("no %s in %v", a, actions)
		}
	}

	// Every API request carried the bearer and the JSON content type (Strict would have said 400).
	for _, r := range e.emu.Requests() {
		if strings.HasPrefix(r.Operation, "oauth2") {
			continue
		}
		if r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
		if r.Status == http.StatusBadRequest {
			t.Errorf("%s answered 400", r.Operation)
		}
	}
}

func TestContractSettings(t *testing.T) {
	e := start(t, falcontest.Config{Strict: true}, nil)
	c, ctx := e.client, context.Background()
	s, err := c.GetCustomerSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := e.tenant.Settings()
	if s.TokensRequired != st.TokensRequired || !eqInt(s.MaxActiveTokens, st.MaxActiveTokens) {
		t.Errorf("settings %+v, emulator %+v", s, st)
	}
	s, err = c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{TokensRequired: falcon.Ptr(true), MaxActiveTokens: falcon.Ptr[int64](40)})
	if err != nil || !s.TokensRequired || !eqInt(s.MaxActiveTokens, falcon.Ptr[int64](40)) {
		t.Fatalf("%+v %v", s, err)
	}
	s, err = c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{TokensRequired: falcon.Ptr(false)})
	if err != nil || s.TokensRequired || !eqInt(s.MaxActiveTokens, falcon.Ptr[int64](40)) {
		t.Fatalf("false must reach the wire and max stay: %+v %v", s, err)
	}
	if st := e.tenant.Settings(); st.TokensRequired || !eqInt(st.MaxActiveTokens, falcon.Ptr[int64](40)) {
		t.Errorf("emulator state %+v", st)
	}
	_, err = c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{MaxActiveTokens: falcon.Ptr[int64](0)})
	if !errors.Is(err, falcon.ErrBadRequest) {
		t.Errorf("max_active_tokens 0: %v", err)
	}
}

func eqInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// snapshot pages and reads every token and audit event and compares them with
// the emulator's state.
func snapshot(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	var tokIDs []string
	p := e.client.TokenPager(falcon.Query{Sort: "created_timestamp.asc"})
	for p.Next(ctx) {
		tokIDs = append(tokIDs, p.IDs()...)
	}
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	states := e.tenant.Tokens()
	if len(tokIDs) != len(states) {
		t.Fatalf("%d token IDs, emulator has %d", len(tokIDs), len(states))
	}
	toks, err := e.client.GetTokens(ctx, tokIDs)
	if err != nil || len(toks) != len(states) {
		t.Fatalf("%d tokens, %v", len(toks), err)
	}
	for i := range toks {
		checkToken(t, toks[i], states[i])
	}

	var evIDs []string
	ap := e.client.AuditEventPager(falcon.Query{Sort: "timestamp.asc"})
	for ap.Next(ctx) {
		evIDs = append(evIDs, ap.IDs()...)
	}
	if ap.Err() != nil {
		t.Fatal(ap.Err())
	}
	want := e.tenant.AuditEvents(true)
	if len(evIDs) != len(want) {
		t.Fatalf("%d event IDs, emulator has %d", len(evIDs), len(want))
	}
	evs, err := e.client.GetAuditEvents(ctx, evIDs)
	if err != nil || len(evs) != len(want) {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for i := range evs {
		if evs[i].ID != want[i].ID || !evs[i].Timestamp.Equal(want[i].Timestamp) || evs[i].Action != want[i].Action {
			t.Fatalf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
}

func TestContractSnapshotVariants(t *testing.T) {
	// Several pages (PageLimit 250), several read batches (500) and a burst
	// of ties larger than a page.
	tenant := falcontest.TenantConfig{Tokens: 600, Events: 1100, Ties: 400}
	variants := map[string]falcontest.Config{
		"default":            {},
		"zero time unset":    {ZeroTimeForUnset: true},
		"fractional":         {FractionalTimestamps: true},
		"next offset":        {NextOffsetInPagination: true},
		"errors null":        {Faults: falcontest.Faults{ErrorsStyle: "null"}},
		"errors absent":      {Faults: falcontest.Faults{ErrorsStyle: "absent"}},
		"expired status":     {ReportExpiredStatus: true},
		"404 when none":      {NotFoundWhenNoneMatch: true},
		"ids capped at 100":  {MaxIDsPerRead: 100},
		"clamped limit":      {ClampLimit: true},
		"gt acts as gte":     {Faults: falcontest.Faults{GreaterActsAsGreaterEqual: true}},
		"resources null err": {Faults: falcontest.Faults{ResourcesNullOnError: true}},
	}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			cfg.Tenants = []falcontest.TenantConfig{tenant}
			e := start(t, cfg, func(c *falcon.Config) { c.PageLimit = 250 })
			snapshot(t, e)
			if cfg.MaxIDsPerRead > 0 {
				var sizes []int
				for _, r := range e.requests(falcontest.OpTokensRead) {
					q, _ := url.ParseQuery(r.RawQuery)
					sizes = append(sizes, len(q["ids"]))
				}
				if sizes[0] != 500 || sizes[1] != 250 || sizes[2] != 125 || sizes[3] != 62 {
					t.Errorf("read batch sizes %v", sizes[:5])
				}
			}
		})
	}
}

func TestContractOffsetCap(t *testing.T) {
	cfg := falcontest.Config{OffsetCap: 1000, Tenants: []falcontest.TenantConfig{{Tokens: 2, Events: 2500}}}
	e := start(t, cfg, func(c *falcon.Config) { c.OffsetCap = 1000; c.PageLimit = 300 })
	ctx := context.Background()
	p := e.client.AuditEventPager(falcon.Query{})
	n := 0
	for p.Next(ctx) {
		n += len(p.IDs())
	}
	if !errors.Is(p.Err(), falcon.ErrOffsetCap) || n != 1000 {
		t.Fatalf("%d ids, err %v", n, p.Err())
	}
	for _, r := range e.requests(falcontest.OpAuditEventsQuery) {
		if r.Status != 200 {
			t.Errorf("query answered %d: the client must stop before the cap", r.Status)
		}
	}
	// Without the client-side check the emulator's exact 400 comes back.
	e2 := start(t, cfg, func(c *falcon.Config) { c.OffsetCap = -1 })
	p = e2.client.AuditEventPager(falcon.Query{})
	for p.Next(ctx) {
	}
	var apiErr *falcon.APIError
	if !errors.As(p.Err(), &apiErr) || apiErr.StatusCode != 400 || len(apiErr.Errors) != 1 ||
		apiErr.Errors[0].Message != "offset 1000 and limit 1000 are invalid; offset + limit must be less than or equal to 1000" {
		t.Errorf("got %v", p.Err())
	}
}

func TestContractErrorStatuses(t *testing.T) {
	ctx := context.Background()
	id := strings.Repeat("0f", 16)
	many := make([]string, 20)
	for i := range many {
		many[i] = fmt.Sprintf("%032x", i+1)
	}
	roClient := falcontest.APIClient{ID: "ro-client", Secret: "ro-secret", Scopes: []string{falcontest.ScopeRead}}
	noClient := falcontest.APIClient{ID: "no-client", Secret: "no-secret", Scopes: []string{"other:read"}}
	fullClient := falcontest.APIClient{ID: "full-client", Secret: "full-secret",
		Scopes: []string{falcontest.ScopeRead, falcontest.ScopeWrite, falcontest.ScopeSettingsWrite}}
	cfg := falcontest.Config{MaxIDsPerRead: 10, Tenants: []falcontest.TenantConfig{{Tokens: 4, Events: 10,
		Clients: []falcontest.APIClient{fullClient, roClient, noClient}}}}
	as := func(cl falcontest.APIClient) func(*falcon.Config) {
		return func(c *falcon.Config) { c.ClientID, c.ClientSecret = cl.ID, cl.Secret }
	}

	type check struct {
		name   string
		client falcontest.APIClient
		run    func(c *falcon.Client) error
		want   error
		status int
	}
	checks := []check{
		{"tokens_query bad filter", fullClient, func(c *falcon.Client) error {
			_, err := c.QueryTokens(ctx, falcon.Query{Filter: "nosuchfield:'x'"})
			return err
		}, falcon.ErrBadRequest, 400},
		{"audit_events_query bad filter", fullClient, func(c *falcon.Client) error {
			_, err := c.QueryAuditEvents(ctx, falcon.Query{Filter: "action:"})
			return err
		}, falcon.ErrBadRequest, 400},
		{"tokens_read too many ids", fullClient, func(c *falcon.Client) error {
			_, err := c.GetTokens(ctx, many)
			return err
		}, falcon.ErrBadRequest, 400},
		{"audit_events_read too many ids", fullClient, func(c *falcon.Client) error {
			_, err := c.GetAuditEvents(ctx, many)
			return err
		}, falcon.ErrBadRequest, 400},
		{"tokens_update too many ids", fullClient, func(c *falcon.Client) error {
			_, err := c.UpdateTokens(ctx, many, falcon.TokenPatch{Revoked: falcon.Ptr(true)})
			return err
		}, falcon.ErrBadRequest, 400},
		{"tokens_delete too many ids", fullClient, func(c *falcon.Client) error { return c.DeleteTokens(ctx, many) },
			falcon.ErrBadRequest, 400},
		{"customer_settings_update max -1", fullClient, func(c *falcon.Client) error {
			_, err := c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{MaxActiveTokens: falcon.Ptr[int64](-1)})
			return err
		}, falcon.ErrBadRequest, 400},
		{"tokens_update unknown id", fullClient, func(c *falcon.Client) error {
			_, err := c.UpdateTokens(ctx, []string{id}, falcon.TokenPatch{Label: falcon.Ptr("x")})
			return err
		}, falcon.ErrNotFound, 404},
		{"tokens_create read-only", roClient, func(c *falcon.Client) error {
			_, err := c.CreateToken(ctx, falcon.TokenCreate{Label: "x"})
			return err
		}, falcon.ErrForbidden, 403},
		{"tokens_update read-only", roClient, func(c *falcon.Client) error {
			_, err := c.UpdateTokens(ctx, []string{id}, falcon.TokenPatch{Label: falcon.Ptr("x")})
			return err
		}, falcon.ErrForbidden, 403},
		{"tokens_delete read-only", roClient, func(c *falcon.Client) error { return c.DeleteTokens(ctx, []string{id}) },
			falcon.ErrForbidden, 403},
		{"customer_settings_update read-only", roClient, func(c *falcon.Client) error {
			_, err := c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{TokensRequired: falcon.Ptr(true)})
			return err
		}, falcon.ErrForbidden, 403},
	}
	for _, op := range []string{"tokens_query", "tokens_read", "audit_events_query", "audit_events_read", "customer_settings_read"} {
		checks = append(checks, check{op + " without scope", noClient, func(c *falcon.Client) error {
			return runOp(ctx, c, op, id)
		}, falcon.ErrForbidden, 403})
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			e := start(t, cfg, as(ck.client))
			err := ck.run(e.client)
			var apiErr *falcon.APIError
			if !errors.Is(err, ck.want) || !errors.As(err, &apiErr) || apiErr.StatusCode != ck.status ||
				apiErr.TraceID == "" || len(apiErr.Errors) == 0 || apiErr.Errors[0].Message == "" {
				t.Fatalf("got %v (%+v), want %v", err, apiErr, ck.want)
			}
			if ck.status == 403 && apiErr.Errors[0].Message != "access denied, authorization failed" {
				t.Errorf("403 message %q", apiErr.Errors[0].Message)
			}
			if n := len(e.requests(apiErr.Operation)); n != 1 {
				t.Errorf("%d requests; %d is not retried", n, ck.status)
			}
		})
	}

	t.Run("tokens_create 409 at max_active_tokens", func(t *testing.T) {
		e := start(t, falcontest.Config{}, nil)
		active := int64(0)
		for _, s := range e.tenant.Tokens() {
			if s.Status == "valid" && (s.ExpiresTimestamp == nil || s.ExpiresTimestamp.After(time.Now())) {
				active++
			}
		}
		if active == 0 {
			if _, err := e.client.CreateToken(ctx, falcon.TokenCreate{Label: "one"}); err != nil {
				t.Fatal(err)
			}
			active = 1
		}
		if _, err := e.client.UpdateCustomerSettings(ctx, falcon.SettingsPatch{MaxActiveTokens: &active}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.CreateToken(ctx, falcon.TokenCreate{Label: "too many"})
		if !errors.Is(err, falcon.ErrConflict) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("404 on reads and delete is not an error", func(t *testing.T) {
		for _, none := range []bool{false, true} {
			e := start(t, falcontest.Config{NotFoundWhenNoneMatch: none}, nil)
			if toks, err := e.client.GetTokens(ctx, []string{id}); err != nil || len(toks) != 0 {
				t.Errorf("tokens_read: %v %v", toks, err)
			}
			if evs, err := e.client.GetAuditEvents(ctx, []string{id}); err != nil || len(evs) != 0 {
				t.Errorf("audit_events_read: %v %v", evs, err)
			}
			if err := e.client.DeleteTokens(ctx, []string{id}); err != nil {
				t.Errorf("tokens_delete: %v", err)
			}
		}
		// A multi-ID delete with one unknown ID still deletes the known ones.
		e := start(t, falcontest.Config{}, nil)
		known := e.tenant.Tokens()[0].ID
		if err := e.client.DeleteTokens(ctx, []string{id, known}); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.tenant.Token(known); ok {
			t.Error("known token left behind")
		}
	})

	t.Run("customer_settings_update 404 (fault)", func(t *testing.T) {
		e := start(t, falcontest.Config{Faults: falcontest.Faults{Schedule: []falcontest.ScheduledFault{
			{Operation: falcontest.OpCustomerSettingsUpdate, Nth: 1, Kind: falcontest.FaultNotFound}}}}, nil)
		_, err := e.client.UpdateCustomerSettings(ctx, falcon.SettingsPatch{TokensRequired: falcon.Ptr(true)})
		if !errors.Is(err, falcon.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("401 after expiry refreshes once", func(t *testing.T) {
		clock := falcontest.NewClock(time.Now())
		e := start(t, falcontest.Config{Clock: clock}, nil)
		if _, err := e.client.GetCustomerSettings(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(31 * time.Minute) // the emulator expires the bearer; the client's clock does not know
		if _, err := e.client.GetCustomerSettings(ctx); err != nil {
			t.Fatalf("refresh after 401: %v", err)
		}
		var seq []string
		for _, r := range e.emu.Requests() {
			seq = append(seq, fmt.Sprintf("%s:%d", r.Operation, r.Status))
		}
		want := []string{"oauth2_token:201", "customer_settings_read:200", "customer_settings_read:401",
			"oauth2_token:201", "customer_settings_read:200"}
		if !slices.Equal(seq, want) {
			t.Errorf("sequence %v, want %v", seq, want)
		}
	})

	t.Run("revoked bearer refreshes once", func(t *testing.T) {
		e := start(t, falcontest.Config{}, nil)
		if _, err := e.client.GetCustomerSettings(ctx); err != nil {
			t.Fatal(err)
		}
		// Revoke the client's bearer behind its back.
		bearer := strings.TrimPrefix(e.requests(falcontest.OpCustomerSettingsRead)[0].Header.Get("Authorization"), "Bearer ")
		id, secret := e.tenant.Credentials()
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {bearer}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		res, err := e.srv.Client().Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", res, err)
		}
		res.Body.Close()
		if _, err := e.client.GetCustomerSettings(ctx); err != nil {
			t.Fatalf("after revoke: %v", err)
		}
		if n := len(e.requests(falcontest.OpOAuth2Token)); n != 2 {
			t.Errorf("%d token requests", n)
		}
	})

	t.Run("wrong secret is ErrAuth without a loop", func(t *testing.T) {
		e := start(t, falcontest.Config{}, func(c *falcon.Config) { c.ClientSecret = "wrong"; c.BackoffMax = time.Minute })
		for range 3 {
			if _, err := e.client.GetCustomerSettings(ctx); !errors.Is(err, falcon.ErrAuth) {
				t.Fatalf("got %v", err)
			}
		}
		if n := len(e.emu.Requests()); n != 1 {
			t.Errorf("%d requests to the emulator, want 1", n)
		}
	})
}

// runOp runs a named operation with harmless arguments.
func runOp(ctx context.Context, c *falcon.Client, op, id string) error {
	var err error
	switch op {
	case falcontest.OpTokensQuery:
		_, err = c.QueryTokens(ctx, falcon.Query{})
	case falcontest.OpTokensRead:
		_, err = c.GetTokens(ctx, []string{id})
	case falcontest.OpTokensCreate:
		_, err = c.CreateToken(ctx, falcon.TokenCreate{Label: "fault"})
	case falcontest.OpTokensUpdate:
		_, err = c.UpdateTokens(ctx, []string{id}, falcon.TokenPatch{Label: falcon.Ptr("patched")})
	case falcontest.OpTokensDelete:
		err = c.DeleteTokens(ctx, []string{id})
	case falcontest.OpAuditEventsQuery:
		_, err = c.QueryAuditEvents(ctx, falcon.Query{})
	case falcontest.OpAuditEventsRead:
		_, err = c.GetAuditEvents(ctx, []string{id})
	case falcontest.OpCustomerSettingsRead:
		_, err = c.GetCustomerSettings(ctx)
	case falcontest.OpCustomerSettingsUpdate:
		_, err = c.UpdateCustomerSettings(ctx, falcon.SettingsPatch{TokensRequired: falcon.Ptr(true)})
	default:
		err = fmt.Errorf("unknown op %s", op)
	}
	return err
}

var apiOps = falcontest.Operations()[:9]

func TestContractFaultsRetried(t *testing.T) {
	ctx := context.Background()
	kinds := []falcontest.FaultKind{falcontest.FaultServerError, falcontest.FaultBadGateway, falcontest.FaultUnavailable,
		falcontest.FaultTruncate, falcontest.FaultInvalidJSON, falcontest.FaultReset}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := start(t, falcontest.Config{}, nil)
			id := e.tenant.Tokens()[0].ID
			for _, op := range apiOps {
				before := len(e.tenant.Tokens())
				e.emu.ResetRequests()
				e.emu.SetFaults(falcontest.Faults{Schedule: []falcontest.ScheduledFault{{Operation: op, Nth: 1, Count: 2, Kind: kind}}})
				err := runOp(ctx, e.client, op, id)
				processed := kind == falcontest.FaultTruncate || kind == falcontest.FaultInvalidJSON || kind == falcontest.FaultReset
				if op == falcontest.OpTokensCreate && processed {
					// Not idempotent: the outcome is unknown, so it is reported, not retried.
					if err == nil {
						t.Errorf("%s: create after %s: no error", op, kind)
					}
					if got := len(e.tenant.Tokens()); got != before+1 {
						t.Errorf("create: %d tokens, want %d", got, before+1)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: not retried through %s: %v", op, kind, err)
					continue
				}
				if n := len(e.requests(op)); n < 2 {
					t.Errorf("%s: %d requests; the fault was not hit", op, n)
				}
				e.emu.ResetRequests()
				if op == falcontest.OpTokensCreate && len(e.tenant.Tokens()) != before+1 {
					t.Errorf("create after %s: %d tokens, want exactly one more", kind, len(e.tenant.Tokens())-before)
				}
				if op == falcontest.OpTokensDelete {
					if _, ok := e.tenant.Token(id); ok {
						t.Error("token not deleted")
					}
					id = e.tenant.Tokens()[0].ID
				}
			}
			if e.metric("tokentrail_falcon_retries_total", nil) < 8 {
				t.Errorf("retries_total = %v", e.metric("tokentrail_falcon_retries_total", nil))
			}
		})
	}
}

func TestContractServerErrorsExhausted(t *testing.T) {
	ctx := context.Background()
	e := start(t, falcontest.Config{}, func(c *falcon.Config) { c.MaxRetries = 2 })
	id := e.tenant.Tokens()[0].ID
	for _, kind := range []falcontest.FaultKind{falcontest.FaultServerError, falcontest.FaultBadGateway, falcontest.FaultUnavailable} {
		for _, op := range apiOps {
			e.emu.SetFaults(falcontest.Faults{Schedule: []falcontest.ScheduledFault{{Operation: op, Nth: 1, Count: 100, Kind: kind}}})
			e.emu.ResetRequests()
			err := runOp(ctx, e.client, op, id)
			var apiErr *falcon.APIError
			if !errors.Is(err, falcon.ErrServer) || !errors.As(err, &apiErr) || strconv.Itoa(apiErr.StatusCode) != string(kind) || apiErr.Operation != op {
				t.Errorf("%s %s: %v", op, kind, err)
				continue
			}
			if kind == falcontest.FaultServerError &&
				(len(apiErr.Errors) != 1 || apiErr.Errors[0].Message != "Internal Server Error: Please provide trace-id='"+apiErr.TraceID+"' to support") {
				t.Errorf("%s 500 body %+v", op, apiErr.Errors)
			}
			if n := len(e.requests(op)); n != 3 {
				t.Errorf("%s %s: %d requests, want 3", op, kind, n)
			}
		}
	}
	// Body faults on every try: ErrInvalidResponse, never a silent empty result.
	for _, kind := range []falcontest.FaultKind{falcontest.FaultTruncate, falcontest.FaultInvalidJSON} {
		e.emu.SetFaults(falcontest.Faults{Schedule: []falcontest.ScheduledFault{{Operation: falcontest.OpTokensQuery, Nth: 1, Count: 100, Kind: kind}}})
		if _, err := e.client.QueryTokens(ctx, falcon.Query{}); !errors.Is(err, falcon.ErrInvalidResponse) {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

func TestContractLatency(t *testing.T) {
	ctx := context.Background()
	faults := falcontest.Faults{Latency: 300 * time.Millisecond, Operations: []string{falcontest.OpCustomerSettingsRead}}
	e := start(t, falcontest.Config{Faults: faults}, nil)
	if _, err := e.client.GetCustomerSettings(ctx); err != nil {
		t.Fatalf("latency below the timeout: %v", err)
	}
	e = start(t, falcontest.Config{Faults: faults}, func(c *falcon.Config) {
		c.MaxRetries = 2
		c.HTTPClient.Timeout = 100 * time.Millisecond
	})
	_, err := e.client.GetCustomerSettings(ctx)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
	if got := e.metric("tokentrail_falcon_retries_total", map[string]string{"operation": "customer_settings_read"}); got != 2 {
		t.Errorf("timeouts retried %v times, want 2", got)
	}
}

func TestContractLegacyWriteResponses(t *testing.T) {
	ctx := context.Background()
	e := start(t, falcontest.Config{LegacyWriteResponses: true}, nil)
	ids := []string{e.tenant.Tokens()[0].ID, e.tenant.Tokens()[1].ID}
	toks, err := e.client.UpdateTokens(ctx, ids, falcon.TokenPatch{Label: falcon.Ptr("legacy")})
	if err != nil || len(toks) != 2 {
		t.Fatalf("%+v %v", toks, err)
	}
	for i, tk := range toks {
		st, _ := e.tenant.Token(ids[i])
		checkToken(t, tk, st)
		if tk.Label != "legacy" {
			t.Errorf("label %q", tk.Label)
		}
	}
	s, err := e.client.UpdateCustomerSettings(ctx, falcon.SettingsPatch{MaxActiveTokens: falcon.Ptr[int64](77)})
	if err != nil || !eqInt(s.MaxActiveTokens, falcon.Ptr[int64](77)) {
		t.Fatalf("%+v %v", s, err)
	}
	if n := len(e.requests(falcontest.OpTokensRead)); n != 1 {
		t.Errorf("legacy update re-read with %d tokens_read", n)
	}
}

func TestContractSharedCooldown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := start(t, falcontest.Config{Faults: falcontest.Faults{Schedule: []falcontest.ScheduledFault{
		{Operation: falcontest.OpCustomerSettingsRead, Nth: 1, Kind: falcontest.FaultRateLimitStorm}}}}, nil)
	const n = 8
	errs := make(chan error, n+1)
	go func() { _, err := e.client.GetCustomerSettings(ctx); errs <- err }()
	// The client counts a 429 only after its cooldown is in force.
	for e.metric("tokentrail_falcon_rate_limited_total", nil) < 1 {
		if ctx.Err() != nil {
			t.Fatal("no 429 seen")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		op := apiOps[i%len(apiOps)]
		if op == falcontest.OpTokensCreate || op == falcontest.OpTokensDelete || op == falcontest.OpTokensUpdate {
			op = falcontest.OpTokensQuery
		}
		go func() { errs <- runOp(ctx, e.client, op, strings.Repeat("1", 32)) }()
	}
	for range n + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ra := e.cap.retryAfters()
	if len(ra) != 1 {
		t.Fatalf("%d 429s", len(ra))
	}
	reqs := e.emu.Requests()
	seen429 := false
	after := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			seen429 = true
			continue
		}
		if !seen429 || strings.HasPrefix(r.Operation, "oauth2") {
			continue
		}
		after++
		if r.Time.Before(ra[0]) {
			t.Errorf("%s arrived %v before X-RateLimit-RetryAfter", r.Operation, ra[0].Sub(r.Time))
		}
	}
	if after != n+1 {
		t.Errorf("%d requests after the 429, want %d", after, n+1)
	}
	if cd := e.metric("tokentrail_falcon_cooldown_seconds_total", nil); cd < 0.5 {
		t.Errorf("cooldown_seconds_total %v", cd)
	}
}

func TestContract429StormAllOperations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sched []falcontest.ScheduledFault
	for _, op := range apiOps {
		sched = append(sched, falcontest.ScheduledFault{Operation: op, Nth: 1, Kind: falcontest.FaultRateLimitStorm})
	}
	e := start(t, falcontest.Config{Faults: falcontest.Faults{Schedule: sched}}, nil)
	var wg sync.WaitGroup
	for _, op := range apiOps {
		id := e.tenant.Tokens()[0].ID
		if op == falcontest.OpTokensDelete {
			id = e.tenant.Tokens()[1].ID // not the one being updated concurrently
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runOp(ctx, e.client, op, id); err != nil {
				t.Errorf("%s: %v", op, err)
			}
		}()
	}
	wg.Wait()
	for _, op := range apiOps {
		var statuses []int
		for _, r := range e.requests(op) {
			statuses = append(statuses, r.Status)
		}
		if len(statuses) != 2 || statuses[0] != 429 {
			t.Errorf("%s: statuses %v, want a 429 then the answer", op, statuses)
		}
	}
	// Random storms under concurrency: callers back off together and finish.
	e.emu.SetFaults(falcontest.Faults{RateLimitStormRate: 0.2, Operations: []string{falcontest.OpTokensQuery}})
	var errs sync.Map
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.client.QueryTokens(ctx, falcon.Query{Limit: 1}); err != nil {
				errs.Store(i, err)
			}
		}()
	}
	wg.Wait()
	errs.Range(func(k, v any) bool { t.Errorf("caller %v: %v", k, v); return true })

	// Exhausted retries surface ErrRateLimited.
	e2 := start(t, falcontest.Config{Faults: falcontest.Faults{RateLimitStormRate: 1, Operations: []string{falcontest.OpTokensQuery}}},
		func(c *falcon.Config) { c.MaxRetries = 0 })
	if _, err := e2.client.QueryTokens(ctx, falcon.Query{}); !errors.Is(err, falcon.ErrRateLimited) {
		t.Errorf("got %v", err)
	}
}

func TestContractMemberCID(t *testing.T) {
	child := falcontest.TenantConfig{CID: strings.Repeat("c", 32), Tokens: 3, Events: 5}
	parent := falcontest.TenantConfig{Tokens: 9, Events: 5, Clients: []falcontest.APIClient{{
		ID: "mssp", Secret: "mssp-secret", MemberCIDs: []string{child.CID},
		Scopes: []string{falcontest.ScopeRead}}}}
	e := start(t, falcontest.Config{Tenants: []falcontest.TenantConfig{parent, child}}, func(c *falcon.Config) {
		c.ClientID, c.ClientSecret, c.MemberCID = "mssp", "mssp-secret", child.CID
	})
	res, err := e.client.QueryTokens(context.Background(), falcon.Query{})
	if err != nil || res.Total != 3 {
		t.Fatalf("member_cid: %+v %v", res, err)
	}
	if r := e.requests(falcontest.OpTokensQuery)[0]; !strings.EqualFold(r.CID, child.CID) {
		t.Errorf("acted for %s", r.CID)
	}
}

// rewrite sends every host to the emulator, recording the host asked for.
type rewrite struct {
	target *url.URL
	next   http.RoundTripper
	mu     sync.Mutex
	asked  []string
}

func (r *rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.asked = append(r.asked, req.URL.Host+req.URL.Path)
	r.mu.Unlock()
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.target.Scheme, r.target.Host
	return r.next.RoundTrip(req)
}

func TestContractAutodiscoveryAndRevoke(t *testing.T) {
	ctx := context.Background()
	for _, region := range []string{"us-2", "us-gov-1"} {
		srv := falcontest.NewServer(falcontest.Config{Seed: 7, Tenants: []falcontest.TenantConfig{{Region: region, Tokens: 1, Events: 1}}})
		t.Cleanup(srv.Close)
		target, _ := url.Parse(srv.URL)
		rw := &rewrite{target: target, next: srv.Client().Transport}
		if rw.next == nil {
			rw.next = http.DefaultTransport
		}
		id, secret := srv.Emulator().Tenants()[0].Credentials()
		c, err := falcon.New(withDefaults(falcon.Config{ClientID: id, ClientSecret: secret, HTTPClient: &http.Client{Transport: rw}}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCustomerSettings(ctx)
		if region == "us-gov-1" {
			if !errors.Is(err, falcon.ErrConfig) {
				t.Errorf("gov autodiscovery: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.BaseURL() != "https://api.us-2.crowdstrike.com" {
			t.Errorf("base %s", c.BaseURL())
		}
		want := []string{"api.crowdstrike.com/oauth2/token", "api.crowdstrike.com/oauth2/revoke",
			"api.us-2.crowdstrike.com/oauth2/token", "api.us-2.crowdstrike.com/installation-tokens/entities/customer-settings/v1"}
		if !slices.Equal(rw.asked, want) {
			t.Errorf("asked %v", rw.asked)
		}
		// Clean shutdown: the bearer is revoked and a later call gets a new one.
		if err := c.Revoke(ctx); err != nil {
			t.Fatal(err)
		}
		var revokes []int
		for _, r := range srv.Emulator().Requests() {
			if r.Operation == falcontest.OpOAuth2Revoke {
				revokes = append(revokes, r.Status)
			}
		}
		if !slices.Equal(revokes, []int{200, 200}) {
			t.Errorf("revoke statuses %v", revokes)
		}
		if _, err := c.GetCustomerSettings(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContractNotFoundFaultEveryOperation(t *testing.T) {
	ctx := context.Background()
	e := start(t, falcontest.Config{}, nil)
	id := e.tenant.Tokens()[0].ID
	for _, op := range apiOps {
		e.emu.SetFaults(falcontest.Faults{Schedule: []falcontest.ScheduledFault{{Operation: op, Nth: 1, Count: 100, Kind: falcontest.FaultNotFound}}})
		err := runOp(ctx, e.client, op, id)
		switch op {
		case falcontest.OpTokensRead, falcontest.OpAuditEventsRead, falcontest.OpTokensDelete:
			// Reads: absent; delete: already gone.
			if err != nil {
				t.Errorf("%s: 404 must not be an error: %v", op, err)
			}
		default:
			var apiErr *falcon.APIError
			if !errors.Is(err, falcon.ErrNotFound) || !errors.As(err, &apiErr) || apiErr.Operation != op || apiErr.TraceID == "" {
				t.Errorf("%s: got %v, want ErrNotFound", op, err)
			}
		}
		if n := len(e.requests(op)); n != 1 {
			t.Errorf("%s: %d requests; 404 is not retried", op, n)
		}
		e.emu.ResetRequests()
	}
	if _, ok := e.tenant.Token(id); !ok {
		t.Error("the 404 fault must not delete anything")
	}
}

// withDefaults returns cfg with its zero fields set to the defaults.
func withDefaults(cfg falcon.Config) falcon.Config {
	return configtest.WithDefaults(cfg, falcon.DefaultConfiguration())
}
