package falcon

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
)

func TestCIDFromTokenClaim(t *testing.T) {
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":"c","cid":"0123456789ABCDEF0123456789ABCDEF-1F"}`))
	if got := jwtCID("eyJhbGciOiJSUzI1NiJ9." + claims + ".c2ln"); got != "0123456789ABCDEF0123456789ABCDEF-1F" {
		t.Errorf("jwtCID = %q", got)
	}
	for _, tok := range []string{"tok-1", "a.b.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"cid":5}`)) + ".c"} {
		if got := jwtCID(tok); got != "" {
			t.Errorf("jwtCID(%q) = %q", tok, got)
		}
	}
	for in, want := range map[string]string{
		"0123456789ABCDEF0123456789ABCDEF-1F": "0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcdef":    "0123456789abcdef0123456789abcdef",
		"cid-a":                               "cid-a",
		" AB-CD ":                             "ab",
	} {
		if got := NormalizeCID(in); got != want {
			t.Errorf("NormalizeCID(%q) = %q, want %q", in, got, want)
		}
	}
}

// Without a cid claim the member CID is the answer, after transient token
// failures are retried; without either, a clear error.
func TestCIDFallsBackToMemberCID(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {})
	f.tokenFails.Store(2)
	c := f.client(func(c *Config) { c.MemberCID = "FEDCBA9876543210FEDCBA9876543210-0A" })
	if got, err := c.CID(context.Background()); err != nil || got != "fedcba9876543210fedcba9876543210" {
		t.Errorf("CID = %q, %v", got, err)
	}
	if _, err := f.client(nil).CID(context.Background()); !errors.Is(err, ErrNoCID) {
		t.Errorf("CID without claim or member CID: %v", err)
	}
}
