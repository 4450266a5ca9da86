package falcontest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawGet sends one authenticated GET and returns the response and the body read error, if any.
func rawGet(t *testing.T, c *caller, path string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func faultServer(t *testing.T, f Faults) (*Server, *caller) {
	t.Helper()
	clock := NewClock(t0)
	srv := startServer(t, Config{Seed: 2, Clock: clock, Faults: f, Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 5, Events: 30}}})
	// Authenticate before any OAuth fault can hit.
	f0 := f
	srv.Emulator().SetFaults(Faults{})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	srv.Emulator().SetFaults(f0)
	return srv, c
}

func TestFaultServerErrors(t *testing.T) {
	_, c := faultServer(t, Faults{Schedule: []ScheduledFault{
		{Operation: OpCustomerSettingsRead, Nth: 2, Kind: FaultServerError},
		{Operation: OpCustomerSettingsRead, Nth: 3, Kind: FaultBadGateway},
		{Operation: OpCustomerSettingsRead, Nth: 4, Kind: FaultUnavailable},
		{Operation: OpCustomerSettingsUpdate, Nth: 1, Kind: FaultNotFound},
	}})
	c.get(pSettings, nil).want(t, http.StatusOK)
	r := c.get(pSettings, nil)
	r.wantError(t, http.StatusInternalServerError, "Internal Server Error: Please provide trace-id='"+r.Header.Get("X-CS-TRACEID")+"' to support")
	resp, body, err := rawGet(t, c, pSettings)
	if err != nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "502 Bad Gateway") || resp.Header.Get("X-CS-TRACEID") == "" {
		t.Fatalf("502: %v %v %s", err, resp, body)
	}
	c.get(pSettings, nil).wantError(t, http.StatusServiceUnavailable, "")
	c.get(pSettings, nil).want(t, http.StatusOK)

	r = c.do(http.MethodPatch, pSettings, nil, map[string]any{"tokens_required": true})
	r.want(t, http.StatusNotFound)
	if !r.has("resources") || !r.has("errors") {
		t.Fatalf("404 shape %s", r.Raw)
	}
	if c.srv.Emulator().Tenants()[0].Settings().TokensRequired {
		t.Fatal("a faulted update took effect")
	}
}

func TestFaultRateLimitStorm(t *testing.T) {
	srv, c := faultServer(t, Faults{RateLimitStormRate: 1, Operations: []string{OpTokensQuery}})
	r := c.get(pTokensQ, nil)
	r.wantError(t, http.StatusTooManyRequests, "API rate limit exceeded.")
	retry, err := strconv.ParseInt(r.Header.Get("X-RateLimit-RetryAfter"), 10, 64)
	now := srv.Emulator().Clock().Now().Unix()
	if err != nil || retry < now+1 || retry > now+3 || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("storm headers %v (now %d)", r.Header, now)
	}
	c.get(pSettings, nil).want(t, http.StatusOK) // other operations unaffected
}

func TestFaultBodies(t *testing.T) {
	srv, c := faultServer(t, Faults{Schedule: []ScheduledFault{
		{Operation: OpTokensQuery, Nth: 1, Kind: FaultTruncate},
		{Operation: OpTokensQuery, Nth: 2, Kind: FaultInvalidJSON},
		{Operation: OpTokensCreate, Nth: 1, Kind: FaultReset},
	}})
	resp, body, err := rawGet(t, c, pTokensQ)
	if resp == nil || resp.StatusCode != http.StatusOK || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) == 0 {
		t.Fatalf("truncate: %v, %d bytes, err %v", resp, len(body), err)
	}
	resp, body, err = rawGet(t, c, pTokensQ)
	var v any
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) == nil {
		t.Fatalf("invalid JSON: %v %q %v", resp, body, err)
	}
	// The reset comes after the create took effect: the client cannot know.
	tn := srv.Emulator().Tenants()[0]
	before := len(tn.Tokens())
	req, _ := http.NewRequest(http.MethodPost, srv.URL+pTokens, strings.NewReader(`{"label":"lost reply"}`))
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset: got status %d", resp.StatusCode)
	}
	if len(tn.Tokens()) != before+1 {
		t.Fatal("reset request did not take effect")
	}
	// The handler records the request after it reset the connection, so
	// the client can see the reset before the record exists.
	var last Request
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		reqs := srv.Emulator().Requests()
		if last = reqs[len(reqs)-1]; last.Operation == OpTokensCreate || time.Now().After(deadline) {
			break
		}
	}
	if last.Operation != OpTokensCreate || last.Status != 0 {
		t.Fatalf("recorded reset %+v", last)
	}
	c.get(pTokensQ, nil).want(t, http.StatusOK)
}

func TestFaultLatency(t *testing.T) {
	_, c := faultServer(t, Faults{Latency: 40 * time.Millisecond, Operations: []string{OpCustomerSettingsRead}})
	start := time.Now()
	c.get(pSettings, nil).want(t, http.StatusOK)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("answered after %v, before the configured latency", d)
	}
}

func TestFaultProbabilities(t *testing.T) {
	srv, c := faultServer(t, Faults{ServerErrorRate: 1, Operations: []string{OpAuditEventsQuery}})
	for range 10 {
		if r := c.get(pAuditQ, nil); r.Status < 500 {
			t.Fatalf("rate 1: status %d", r.Status)
		}
		c.get(pTokensQ, nil).want(t, http.StatusOK)
	}
	srv.Emulator().SetFaults(Faults{ServerErrorRate: 0.5})
	fails := 0
	for range 60 {
		if r, _, _ := rawGet(t, c, pSettings); r.StatusCode >= 500 {
			fails++
		}
	}
	if fails < 10 || fails > 50 {
		t.Fatalf("rate 0.5: %d of 60 failed", fails)
	}
	// OAuth takes faults too.
	srv.Emulator().SetFaults(Faults{Schedule: []ScheduledFault{{Operation: OpOAuth2Token, Nth: 1, Count: 2, Kind: FaultServerError}}})
	tn := srv.Emulator().Tenants()[0]
	id, secret := tn.Credentials()
	for i, want := range []int{500, 500, 201} {
		resp, err := c.hc.PostForm(srv.URL+pToken, map[string][]string{"client_id": {id}, "client_secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("token request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func TestFaultResponseShapes(t *testing.T) {
	srv, c := faultServer(t, Faults{ErrorsStyle: "null"})
	if r := c.get(pSettings, nil); string(r.Body.Errors) != "null" {
		t.Fatalf("errors %s", r.Body.Errors)
	}
	srv.Emulator().SetFaults(Faults{ErrorsStyle: "absent", ResourcesNullOnError: true})
	if r := c.get(pSettings, nil); r.has("errors") {
		t.Fatalf("errors present: %s", r.Raw)
	}
	anon := &caller{t: t, srv: srv, hc: srv.Client()}
	r := anon.get(pSettings, nil)
	r.wantError(t, http.StatusUnauthorized, msgBearer)
	if string(r.Body.Resources) != "null" {
		t.Fatalf("401 with ResourcesNullOnError: %s", r.Raw)
	}
	srv.Emulator().SetFaults(Faults{})
	if r := anon.get(pSettings, nil); r.has("resources") {
		t.Fatalf("gateway 401 by default has no resources: %s", r.Raw)
	}
}
