package falcontest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditFor returns the visible audit events of one token, in (timestamp, id) order.
func auditFor(tn *Tenant, tokenID string) []AuditEvent {
	var out []AuditEvent
	for _, ev := range tn.AuditEvents(true) {
		if ev.TokenID == tokenID {
			out = append(out, ev)
		}
	}
	return out
}

func actions(evs []AuditEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

func TestTokenLifecycle(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Clock: clock, Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	clientID, _ := tn.Credentials()

	// create: 201, every field, created now, never expires.
	tok := c.createToken("Windows servers", nil)
	if len(tok.ID) != 32 || strings.ToLower(tok.ID) != tok.ID || tok.Label != "Windows servers" || tok.Type != "customer_managed" ||
		tok.Status != "valid" || tok.Value == "" || tok.Created == nil || *tok.Created != "2025-06-01T12:00:00Z" ||
		tok.Expires != nil || tok.LastUsed != nil || tok.Revoked != nil {
		t.Fatalf("created token %+v", tok)
	}
	// The defaults: no type, no label, the zero time meaning never.
	r := c.do(http.MethodPost, pTokens, nil, `{"expires_timestamp":"0001-01-01T00:00:00.000Z"}`).want(t, http.StatusCreated)
	bare := r.tokens(t)[0]
	if bare.Type != "customer_managed" || bare.Label != "" || bare.Expires != nil {
		t.Fatalf("defaults: %+v", bare)
	}
	exp := c.createToken("expiring", "2025-07-01T10:00:00.123+02:00")
	if *exp.Expires != "2025-07-01T08:00:00Z" {
		t.Fatalf("expires_timestamp %s, want whole seconds in UTC", *exp.Expires)
	}

	// read: repeated keys, CSV and both.
	for _, query := range []url.Values{
		{"ids": {tok.ID, exp.ID}},
		{"ids": {tok.ID + "," + exp.ID}},
		{"ids": {tok.ID + "," + bare.ID, strings.ToUpper(exp.ID)}},
	} {
		got := c.get(pTokens, query).want(t, http.StatusOK).tokens(t)
		if len(got) != len(requestIDs(query["ids"])) {
			t.Fatalf("read %v: %d tokens", query, len(got))
		}
	}
	// Unknown IDs: the found subset.
	if got := c.get(pTokens, q("ids", tok.ID, "ids", strings.Repeat("0", 32))).want(t, http.StatusOK).tokens(t); len(got) != 1 {
		t.Fatalf("subset read returned %d", len(got))
	}

	// update: rename + expiry in one patch is one token_update; revoke; restore.
	clock.Advance(time.Minute)
	r = c.do(http.MethodPatch, pTokens, q("ids", tok.ID), map[string]any{"label": "Windows servers prod", "expires_timestamp": "2026-01-01T00:00:00Z"}).want(t, http.StatusOK)
	if got := r.tokens(t)[0]; got.Label != "Windows servers prod" || *got.Expires != "2026-01-01T00:00:00Z" {
		t.Fatalf("patched %+v", got)
	}
	clock.Advance(time.Minute)
	r = c.do(http.MethodPatch, pTokens, q("ids", tok.ID), map[string]any{"revoked": true}).want(t, http.StatusOK)
	if got := r.tokens(t)[0]; got.Status != "revoked" || got.Revoked == nil || *got.Revoked != "2025-06-01T12:02:00Z" {
		t.Fatalf("revoked %+v", got)
	}
	// No effective change, no event: same label, revoke again.
	c.do(http.MethodPatch, pTokens, q("ids", tok.ID), map[string]any{"label": "Windows servers prod", "revoked": true}).want(t, http.StatusOK)
	clock.Advance(time.Minute)
	r = c.do(http.MethodPatch, pTokens, q("ids", tok.ID), `{"revoked":false}`).want(t, http.StatusOK)
	if got := r.tokens(t)[0]; got.Status != "valid" || got.Revoked != nil {
		t.Fatalf("restored %+v", got)
	}
	c.do(http.MethodPatch, pTokens, q("ids", tok.ID), map[string]any{"expires_timestamp": nil}).want(t, http.StatusOK)

	// delete: 200, meta and errors only; audit events stay.
	clock.Advance(time.Minute)
	r = c.do(http.MethodDelete, pTokens, q("ids", tok.ID), nil).want(t, http.StatusOK)
	if r.has("resources") || !r.has("errors") || !r.has("meta") {
		t.Fatalf("delete body %s", r.Raw)
	}
	if got := c.get(pTokens, q("ids", tok.ID)).want(t, http.StatusOK).tokens(t); len(got) != 0 {
		t.Fatal("deleted token still readable")
	}

	evs := auditFor(tn, tok.ID)
	want := []string{"token_create", "token_update", "token_revoke", "token_restore", "token_update", "token_delete"}
	if !slices.Equal(actions(evs), want) {
		t.Fatalf("audit actions %v, want %v", actions(evs), want)
	}
	for _, ev := range evs {
		if ev.Actor != clientID || ev.TokenID != tok.ID {
			t.Fatalf("event %+v: want actor %s", ev, clientID)
		}
	}
	for i, d := range []string{
		"token Windows servers created",
		"token Windows servers renamed to Windows servers prod; expiry set to 2026-01-01T00:00:00Z",
		"token Windows servers prod revoked",
		"token Windows servers prod restored",
		"token Windows servers prod expiry removed",
		"token Windows servers prod deleted",
	} {
		if evs[i].Description != d {
			t.Errorf("event %d description %q, want %q", i, evs[i].Description, d)
		}
	}
	// The same events through the API.
	ids := c.get(pAuditQ, q("filter", "token_id:'"+tok.ID+"'", "sort", "timestamp.asc")).want(t, http.StatusOK).ids(t)
	got := c.get(pAudit, url.Values{"ids": ids}).want(t, http.StatusOK).events(t)
	if len(got) != 6 || got[0].Timestamp != "2025-06-01T12:00:00Z" {
		t.Fatalf("audit via API: %+v", got)
	}
}

func TestTokenWriteErrors(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	a := c.createToken("a", nil)
	b := c.createToken("b", nil)
	unknown := strings.Repeat("f", 32)
	before := tn.AuditEventCount()

	for name, tc := range map[string]struct {
		method string
		query  url.Values
		body   any
	}{
		"create without body":         {http.MethodPost, nil, nil},
		"create with invalid JSON":    {http.MethodPost, nil, `{"label":`},
		"create with a JSON array":    {http.MethodPost, nil, `[]`},
		"create with numeric label":   {http.MethodPost, nil, `{"label":5}`},
		"create with bad expiry":      {http.MethodPost, nil, `{"expires_timestamp":"tomorrow"}`},
		"update without ids":          {http.MethodPatch, nil, `{"label":"x"}`},
		"update without body":         {http.MethodPatch, q("ids", a.ID), nil},
		"update with null revoked":    {http.MethodPatch, q("ids", a.ID), `{"revoked":null}`},
		"update with string revoked":  {http.MethodPatch, q("ids", a.ID), `{"revoked":"false"}`},
		"update with null label":      {http.MethodPatch, q("ids", a.ID), `{"label":null}`},
		"delete without ids":          {http.MethodDelete, nil, nil},
		"read without ids":            {http.MethodGet, nil, nil},
		"read with only blank ids":    {http.MethodGet, q("ids", " , "), nil},
		"audit read without ids":      {http.MethodGet, nil, nil},
		"settings without body":       {http.MethodPatch, nil, nil},
		"settings max zero":           {http.MethodPatch, nil, `{"max_active_tokens":0}`},
		"settings max negative":       {http.MethodPatch, nil, `{"max_active_tokens":-3}`},
		"settings max fractional":     {http.MethodPatch, nil, `{"max_active_tokens":2.5}`},
		"settings required as string": {http.MethodPatch, nil, `{"tokens_required":"true"}`},
		"settings required null":      {http.MethodPatch, nil, `{"tokens_required":null}`},
	} {
		path := pTokens
		switch {
		case strings.HasPrefix(name, "settings"):
			path = pSettings
		case strings.HasPrefix(name, "audit"):
			path = pAudit
		}
		r := c.do(tc.method, path, tc.query, tc.body)
		r.wantError(t, http.StatusBadRequest, "")
		if !r.has("resources") || string(r.Body.Resources) != "null" {
			t.Errorf("%s: service 400 should carry resources null: %s", name, r.Raw)
		}
	}

	// Any unknown ID: 404 with the unknown IDs in resources, and nothing changes.
	r := c.do(http.MethodPatch, pTokens, q("ids", a.ID+","+unknown), map[string]any{"revoked": true})
	r.want(t, http.StatusNotFound)
	if ids := r.ids(t); !slices.Equal(ids, []string{unknown}) {
		t.Fatalf("404 resources %v", ids)
	}
	if errs := r.errors(t); len(errs) != 1 || errs[0].Code != 404 || errs[0].ID != unknown {
		t.Fatalf("404 errors %+v", errs)
	}
	if st, _ := tn.Token(a.ID); st.Status != "valid" {
		t.Fatal("partial update applied")
	}
	c.do(http.MethodDelete, pTokens, q("ids", b.ID, "ids", unknown), nil).want(t, http.StatusNotFound)
	if _, ok := tn.Token(b.ID); !ok {
		t.Fatal("partial delete applied")
	}
	if n := tn.AuditEventCount(); n != before {
		t.Fatalf("failed writes added %d audit events", n-before)
	}
}

func TestMaxActiveTokens(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	a := c.createToken("a", nil)
	c.createToken("b", nil)
	c.createToken("expired", "2000-01-01T00:00:00Z") // expired tokens do not count
	c.do(http.MethodPatch, pSettings, nil, map[string]any{"max_active_tokens": 2}).want(t, http.StatusOK)

	r := c.do(http.MethodPost, pTokens, nil, map[string]any{"label": "c"})
	r.wantError(t, http.StatusConflict, "")
	if _, err := tn.CreateToken("tester", "d", nil); !errors.Is(err, ErrMaxActiveTokens) {
		t.Fatalf("CreateToken over the limit: %v", err)
	}
	// Revoking frees a slot; restoring is not limited.
	c.do(http.MethodPatch, pTokens, q("ids", a.ID), map[string]any{"revoked": true}).want(t, http.StatusOK)
	c.createToken("c", nil)
	r = c.do(http.MethodPatch, pTokens, q("ids", a.ID), map[string]any{"revoked": false}).want(t, http.StatusOK)
	if r.tokens(t)[0].Status != "valid" {
		t.Fatal("restore over the limit failed")
	}
	// null removes the limit.
	c.do(http.MethodPatch, pSettings, nil, `{"max_active_tokens":null}`).want(t, http.StatusOK)
	c.createToken("d", nil)
}

func TestCustomerSettings(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Clock: clock, Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Events: 50, TokensRequired: true, MaxActiveTokens: ptr(int64(40))}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	clock.Advance(time.Minute)
	r := c.get(pSettings, nil).want(t, http.StatusOK)
	if string(r.Body.Resources) != `[{"max_active_tokens":40,"tokens_required":true}]` {
		t.Fatalf("settings %s", r.Body.Resources)
	}
	before := tn.AuditEventCount()
	r = c.do(http.MethodPatch, pSettings, nil, map[string]any{"tokens_required": false}).want(t, http.StatusOK)
	if string(r.Body.Resources) != `[{"max_active_tokens":40,"tokens_required":false}]` {
		t.Fatalf("updated settings %s", r.Body.Resources)
	}
	c.do(http.MethodPatch, pSettings, nil, map[string]any{"tokens_required": false}).want(t, http.StatusOK) // no change
	c.do(http.MethodPatch, pSettings, nil, `{"max_active_tokens":null}`).want(t, http.StatusOK)
	if got := c.get(pSettings, nil).Body.Resources; string(got) != `[{"tokens_required":false}]` {
		t.Fatalf("without a limit max_active_tokens is absent: %s", got)
	}
	evs := tn.AuditEvents(true)
	evs = evs[len(evs)-2:]
	if tn.AuditEventCount() != before+2 || evs[0].Action != "customer_settings_update" || evs[0].TokenID != "" ||
		evs[0].Description != "tokens_required changed from true to false" || evs[1].Description != "max_active_tokens removed (was 40)" {
		t.Fatalf("settings events %+v", evs)
	}
	// The id appears as "token_id":"" on the wire.
	ids := c.get(pAuditQ, q("filter", "action:'customer_settings_update'+token_id:null", "sort", "timestamp.desc", "limit", "1")).want(t, http.StatusOK).ids(t)
	read := c.get(pAudit, q("ids", ids[0])).want(t, http.StatusOK)
	if !strings.Contains(string(read.Raw), `"token_id":""`) {
		t.Fatalf("settings event %s", read.Raw)
	}
}

func TestLegacyWriteResponses(t *testing.T) {
	cid := strings.Repeat("e", 32)
	srv := startServer(t, Config{LegacyWriteResponses: true, Tenants: []TenantConfig{emptyTenant(cid)}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	tok := c.createToken("a", nil) // create still returns the object
	r := c.do(http.MethodPatch, pTokens, q("ids", tok.ID), map[string]any{"label": "b"}).want(t, http.StatusOK)
	if ids := r.ids(t); !slices.Equal(ids, []string{tok.ID}) {
		t.Fatalf("legacy update resources %v", ids)
	}
	r = c.do(http.MethodPatch, pSettings, nil, map[string]any{"tokens_required": true}).want(t, http.StatusOK)
	if ids := r.ids(t); !slices.Equal(ids, []string{cid}) {
		t.Fatalf("legacy settings resources %v", ids)
	}
}

func TestResponseOptions(t *testing.T) {
	clock := NewClock(t0.Add(123456789 * time.Nanosecond))
	srv := startServer(t, Config{Clock: clock, ZeroTimeForUnset: true, FractionalTimestamps: true, ReportExpiredStatus: true,
		NotFoundWhenNoneMatch: true, MaxIDsPerRead: 2, Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	tok := c.createToken("a", "2025-06-01T12:00:10.9Z")
	if *tok.Created != "2025-06-01T12:00:00.123456Z" || *tok.Revoked != "0001-01-01T00:00:00.000Z" || *tok.Expires != "2025-06-01T12:00:10Z" {
		t.Fatalf("token %+v", tok)
	}
	clock.Advance(10 * time.Second)
	if got := c.get(pTokens, q("ids", tok.ID)).tokens(t)[0].Status; got != "expired" {
		t.Fatalf("status %q, want expired", got)
	}
	c.get(pTokensQ, q("filter", "status:'expired'")).want(t, http.StatusOK)
	r := c.get(pTokens, q("ids", strings.Repeat("0", 32)))
	r.want(t, http.StatusNotFound)
	if !r.has("resources") {
		t.Fatalf("404 without resources: %s", r.Raw)
	}
	c.get(pAudit, q("ids", strings.Repeat("0", 32))).want(t, http.StatusNotFound)
	c.get(pTokens, q("ids", "a,b,c")).wantError(t, http.StatusBadRequest, "too many ids")
	c.get(pTokens, q("ids", "a,a,b")).want(t, http.StatusNotFound) // duplicates count once
}

func TestStrictContentTypeAndRecording(t *testing.T) {
	srv := startServer(t, Config{Strict: true, RecordLimit: 3, Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	c.raw(http.MethodGet, pSettings, nil, "", nil).wantError(t, http.StatusBadRequest, "Content-Type")
	c.raw(http.MethodGet, pSettings, nil, "application/json; charset=utf-8", nil).want(t, http.StatusOK)
	c.do(http.MethodPatch, pSettings, nil, `{"tokens_required":false}`).want(t, http.StatusOK)

	reqs := srv.Emulator().Requests()
	if len(reqs) != 3 { // the ring keeps the last three: the token request fell out
		t.Fatalf("%d requests recorded", len(reqs))
	}
	last := reqs[2]
	clientID, _ := tn.Credentials()
	if last.Method != http.MethodPatch || last.Path != pSettings || last.Operation != OpCustomerSettingsUpdate ||
		last.Status != http.StatusOK || last.Header.Get("Content-Type") != "application/json" ||
		string(last.Body) != `{"tokens_required":false}` || last.ClientID != clientID || last.CID != tn.CID() {
		t.Fatalf("recorded %+v", last)
	}
	if reqs[0].Status != http.StatusBadRequest || reqs[0].Header.Get("Content-Type") != "" {
		t.Fatalf("first recorded %+v", reqs[0])
	}
	srv.Emulator().ResetRequests()
	if n := len(srv.Emulator().Requests()); n != 0 {
		t.Fatalf("%d requests after reset", n)
	}
}

func TestHeadersAndEnvelope(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 3, Events: 10}}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	anon := &caller{t: t, srv: srv, hc: srv.Client()}
	for name, r := range map[string]*reply{
		"200":          c.get(pTokensQ, nil),
		"400":          c.get(pTokensQ, q("limit", "0")),
		"401":          anon.get(pTokensQ, nil),
		"unknown path": c.get("/installation-tokens/queries/nothing/v1", nil),
		"wrong method": c.do(http.MethodPut, pTokens, nil, nil),
	} {
		trace := r.Header.Get("X-CS-TRACEID")
		if trace == "" || trace != r.Body.Meta.TraceID {
			t.Errorf("%s: X-CS-TRACEID %q vs meta.trace_id %q", name, trace, r.Body.Meta.TraceID)
		}
		if r.Header.Get("X-RateLimit-Limit") == "" || r.Header.Get("X-RateLimit-Remaining") == "" {
			t.Errorf("%s: rate limit headers missing", name)
		}
		if r.Body.Meta.QueryTime <= 0 || r.Body.Meta.PoweredBy == "" {
			t.Errorf("%s: meta %+v", name, r.Body.Meta)
		}
	}
	if r := c.get("/installation-tokens/queries/nothing/v1", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.Status)
	}
	if r := c.do(http.MethodPut, pTokens, nil, nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("wrong method: %d", r.Status)
	}
	r := c.get(pTokensQ, nil)
	if string(r.Body.Errors) != "[]" {
		t.Errorf("errors on success %s", r.Body.Errors)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(r.Raw, &m)
	if len(m) != 3 {
		t.Errorf("envelope keys %v", m)
	}
}

func TestTenantMethods(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Clock: clock, Tenants: []TenantConfig{emptyTenant(strings.Repeat("e", 32))}})
	tn := srv.Emulator().Tenants()[0]
	exp := t0.Add(48 * time.Hour)
	id, err := tn.CreateToken("ops@example.com", "kiosks", &exp)
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return tn.RenameToken("ops@example.com", id, "kiosks EU") },
		func() error { return tn.RenameToken("ops@example.com", id, "kiosks EU") }, // no change
		func() error { return tn.SetExpiry("ops@example.com", id, nil) },
		func() error { return tn.RevokeToken("ops@example.com", id) },
		func() error { return tn.RevokeToken("ops@example.com", id) }, // no change
		func() error { return tn.RestoreToken("ops@example.com", id) },
		func() error { return tn.UpdateSettings("ops@example.com", ptr(true), ptr(int64(9))) },
	}
	for i, step := range steps {
		clock.Advance(time.Second)
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	before := tn.AuditEventCount()
	clock.Advance(time.Hour)
	if err := tn.SimulateInstall(id); err != nil {
		t.Fatal(err)
	}
	st, _ := tn.Token(id)
	if st.LastUsedTimestamp == nil || !st.LastUsedTimestamp.Equal(clock.Now()) || tn.AuditEventCount() != before {
		t.Fatalf("install: %+v, events %d→%d", st, before, tn.AuditEventCount())
	}
	if err := tn.DeleteToken("ops@example.com", id); err != nil {
		t.Fatal(err)
	}
	evs := tn.AuditEvents(true)
	want := []string{"token_create", "token_update", "token_update", "token_revoke", "token_restore", "customer_settings_update", "token_delete"}
	if !slices.Equal(actions(evs), want) {
		t.Fatalf("actions %v, want %v", actions(evs), want)
	}
	if evs[5].Description != "tokens_required changed from false to true; max_active_tokens set to 9" {
		t.Fatalf("settings description %q", evs[5].Description)
	}
	for _, err := range []error{
		tn.RenameToken("x", id, "y"), tn.RevokeToken("x", id), tn.DeleteToken("x", id), tn.SimulateInstall(id),
	} {
		if !errors.Is(err, ErrTokenNotFound) {
			t.Fatalf("on a deleted token: %v", err)
		}
	}
	id2, _ := tn.CreateToken("x", "y", nil)
	tn.RevokeToken("x", id2)
	if err := tn.SimulateInstall(id2); !errors.Is(err, ErrTokenNotUsable) {
		t.Fatalf("install with a revoked token: %v", err)
	}
	past := t0
	id3, _ := tn.CreateToken("x", "z", &past)
	if err := tn.SimulateInstall(id3); !errors.Is(err, ErrTokenNotUsable) {
		t.Fatalf("install with an expired token: %v", err)
	}
}
