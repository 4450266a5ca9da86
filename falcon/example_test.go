package falcon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tokentrail/tokentrail/falcon"
)

// exampleAPI is a tiny stand-in for the Falcon API (use falcon/falcontest
// for a full emulator).
func exampleAPI() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"access_token":"example","expires_in":1799,"token_type":"bearer"}`)
	})
	mux.HandleFunc("GET /installation-tokens/queries/tokens/v1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"meta":{"query_time":0.01,"trace_id":"t1","pagination":{"offset":0,"limit":2,"total":2}},
			"resources":["c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d","0b1c2d3e4f5a46b7889900aabbccddee"],"errors":[]}`)
	})
	mux.HandleFunc("GET /installation-tokens/entities/tokens/v1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"meta":{"query_time":0.01,"trace_id":"t2"},"resources":[
			{"id":"0b1c2d3e4f5a46b7889900aabbccddee","label":"Linux fleet","value":"A1B2C3","type":"customer_managed",
			 "status":"revoked","created_timestamp":"2025-01-10T08:00:00Z","expires_timestamp":"0001-01-01T00:00:00.000Z",
			 "last_used_timestamp":null,"revoked_timestamp":"2025-03-01T12:00:00Z"},
			{"id":"c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d","label":"Windows servers","value":"7D41C9A2","type":"customer_managed",
			 "status":"valid","created_timestamp":"2025-02-03T09:15:00Z","expires_timestamp":null,
			 "last_used_timestamp":"2025-04-11T22:07:45Z","revoked_timestamp":null}],"errors":[]}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := exampleAPI()
	defer srv.Close()

	cfg := falcon.DefaultConfiguration()
	cfg.BaseURL = srv.URL // or cfg.Cloud = "eu-1"; the default autodiscovers
	cfg.ClientID, cfg.ClientSecret = "my-client-id", "my-client-secret"
	client, err := falcon.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	page, err := client.QueryTokens(ctx, falcon.Query{
		Filter: "status:" + falcon.FQLString("valid") + ",status:" + falcon.FQLString("revoked"),
		Sort:   "created_timestamp.desc",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("total:", page.Total)

	tokens, err := client.GetTokens(ctx, page.IDs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range tokens { // in the order of page.IDs
		fmt.Printf("%s %q %s value=%v never-expires=%v\n", t.ID[:8], t.Label, t.Status, t.Value, t.ExpiresTimestamp == nil)
	}
	// Output:
	// total: 2
	// c3f0a9e1 "Windows servers" valid value=[REDACTED] never-expires=true
	// 0b1c2d3e "Linux fleet" revoked value=[REDACTED] never-expires=true
}

func ExampleClient_TokenPager() {
	srv := exampleAPI()
	defer srv.Close()
	cfg := falcon.DefaultConfiguration()
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret = srv.URL, "id", "secret"
	client, _ := falcon.New(cfg)
	ctx := context.Background()

	p := client.TokenPager(falcon.Query{Sort: "created_timestamp.asc"})
	for p.Next(ctx) {
		fmt.Println(len(p.IDs()), "ids at offset", p.Offset()-len(p.IDs()))
	}
	if err := p.Err(); errors.Is(err, falcon.ErrOffsetCap) {
		fmt.Println("narrow the filter window and continue")
	} else if err != nil {
		fmt.Println(err)
	}
	// Output:
	// 2 ids at offset 0
}

func ExampleNew_errors() {
	_, err := falcon.New(falcon.Config{ClientID: "id"})
	var ce *falcon.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field, errors.Is(err, falcon.ErrConfig))
	// Output:
	// true ClientSecret true
}

// Failure says why requests fail right now, for a readiness check: here,
// an API address where nothing listens.
func ExampleClient_Failure() {
	cfg := falcon.DefaultConfiguration()
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret = "http://127.0.0.1:1", "id", "secret"
	cfg.MaxRetries = 0
	client, _ := falcon.New(cfg)
	_, err := client.GetCustomerSettings(context.Background())
	fmt.Println(errors.Is(err, falcon.ErrUnreachable))
	cause, _, _ := strings.Cut(client.Failure().Error(), " since ")
	fmt.Println(cause)
	// Output:
	// true
	// connection refused
}
