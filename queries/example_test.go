package queries_test

import (
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/queries"
)

// Resolve turns command-line text into typed, bindable parameter values.
func ExampleReport_Resolve() {
	r, err := queries.Lookup("stale-tokens")
	if err != nil {
		panic(err)
	}
	v, err := r.Resolve(map[string]string{"days": "60"}, time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	for _, p := range r.Params {
		fmt.Printf("%s (%s) = %s\n", p.Name, p.Type, v.Text(p.Name))
	}
	_, err = r.Resolve(map[string]string{"days": "soon"}, time.Now())
	fmt.Println(err)
	// Output:
	// tenant (String) = default
	// now (DateTime) = 2025-06-30 12:00:00
	// days (Int) = 60
	// report stale-tokens: parameter days: "soon": want a whole number >= 0
}

// Parse reads a report file: header, parameters and sections.
func ExampleParse() {
	r, err := queries.Parse(`-- name: tokens-per-status
-- title: Tokens per status
-- description: How many tokens each status has.
-- param: tenant String = default "Falcon tenant"
-- section: counts "Counts"
SELECT status, count() AS tokens FROM tokens FINAL WHERE tenant = @tenant GROUP BY status ORDER BY status
`)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Name, r.Sections[0].Name, queries.References(r.Sections[0].SQL))
	// Output: tokens-per-status counts [tenant]
}
