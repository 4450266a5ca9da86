package falcontest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
)

// A test starts an emulator, authenticates as the tenant's API client and calls an operation, exactly as
// the real client would against api.crowdstrike.com.
func ExampleNewServer() {
	srv := falcontest.NewServer(falcontest.Config{Seed: 1, Tenants: []falcontest.TenantConfig{{Tokens: 12, Events: 300}}})
	defer srv.Close()

	tenant := srv.Emulator().Tenants()[0]
	id, secret := tenant.Credentials()
	resp, _ := http.PostForm(srv.URL+"/oauth2/token", url.Values{"client_id": {id}, "client_secret": {secret}})
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("X-CS-Region"), tok.ExpiresIn)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/installation-tokens/queries/tokens/v1?filter="+
		url.QueryEscape("type:'customer_managed'")+"&sort=created_timestamp.desc&limit=5", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, _ = http.DefaultClient.Do(req)
	var page struct {
		Meta struct {
			Pagination struct{ Offset, Limit, Total int }
		}
		Resources []string
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, len(page.Resources), page.Meta.Pagination.Total)
	// Output:
	// 201 us-1 1799
	// 200 5 12
}

// Faults are switched at run time; a schedule fails exactly the requests a test names.
func ExampleEmulator_SetFaults() {
	srv := falcontest.NewServer(falcontest.Config{Tenants: []falcontest.TenantConfig{{Tokens: 1}}})
	defer srv.Close()
	srv.Emulator().SetFaults(falcontest.Faults{Schedule: []falcontest.ScheduledFault{
		{Operation: falcontest.OpOAuth2Token, Nth: 1, Kind: falcontest.FaultServerError},
	}})
	id, secret := srv.Emulator().Tenants()[0].Credentials()
	for range 2 {
		resp, _ := http.PostForm(srv.URL+"/oauth2/token", url.Values{"client_id": {id}, "client_secret": {secret}})
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 500
	// 201
}

// A test clock drives token expiry, late arrivals and rate windows.
func ExampleClock() {
	clock := falcontest.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	e, _ := falcontest.New(falcontest.Config{Clock: clock, Tenants: []falcontest.TenantConfig{{}}})
	t := e.Tenants()[0]
	id, _ := t.CreateToken("ops@example.com", "kiosks", nil)
	clock.Advance(time.Hour)
	t.SimulateInstall(id)
	st, _ := t.Token(id)
	fmt.Println(st.CreatedTimestamp.Format(time.RFC3339), st.LastUsedTimestamp.Format(time.RFC3339))
	for _, ev := range t.AuditEvents(true) {
		fmt.Println(ev.Action, ev.Actor, ev.Description)
	}
	// Output:
	// 2025-06-01T12:00:00Z 2025-06-01T13:00:00Z
	// token_create ops@example.com token kiosks created
}
