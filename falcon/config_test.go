package falcon

import (
	"errors"
	"testing"
	"time"
)

func TestDefaultConfiguration(t *testing.T) {
	d := DefaultConfiguration()
	if d.Cloud != "autodiscover" || d.RequestsPerMinute != 300 || d.IDsPerRead != 500 || d.PageLimit != 1000 ||
		d.OffsetCap != 10000 || d.MaxRetries != 8 || d.BackoffBase != 2*time.Second || d.BackoffMax != 60*time.Second ||
		d.RenewBefore != 2*time.Minute {
		t.Fatalf("defaults: %+v", d)
	}
	// Zero means zero: a zero setting is refused or means none, never the
	// default.
	if _, err := (Config{ClientID: "a", ClientSecret: "b"}).normalize(); !errors.Is(err, ErrConfig) {
		t.Fatalf("zero config: %v, want a ConfigError", err)
	}
	base := d
	base.ClientID, base.ClientSecret = "a", "b"
	n, err := base.normalize()
	if err != nil || n.Logger == nil || n.MaxRetries != 8 {
		t.Fatalf("defaults: %+v, %v", n, err)
	}
	none := base
	none.RequestsPerMinute, none.OffsetCap, none.MaxRetries, none.RenewBefore = -5, -1, 0, 0
	n, err = none.normalize()
	if err != nil || n.RequestsPerMinute != -1 || n.OffsetCap != -1 || n.MaxRetries != 0 || n.RenewBefore != 0 {
		t.Fatalf("none: %+v, %v", n, err)
	}
}

func TestNewValidation(t *testing.T) {
	base := withDefaults(Config{ClientID: "id", ClientSecret: "secret"})
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{"ClientID", func(c *Config) { c.ClientID = " " }},
		{"ClientSecret", func(c *Config) { c.ClientSecret = "" }},
		{"Cloud", func(c *Config) { c.Cloud = "mars-1" }},
		{"BaseURL", func(c *Config) { c.BaseURL = "ftp://x" }},
		{"BaseURL", func(c *Config) { c.BaseURL = "http://" }},
		{"PageLimit", func(c *Config) { c.PageLimit = 1001 }},
		{"IDsPerRead", func(c *Config) { c.IDsPerRead = -1 }},
		{"IDsPerRead", func(c *Config) { c.IDsPerRead = 0 }},
		{"PageLimit", func(c *Config) { c.PageLimit = 0 }},
		{"RequestsPerMinute", func(c *Config) { c.RequestsPerMinute = 0 }},
		{"OffsetCap", func(c *Config) { c.OffsetCap = 0 }},
		{"OffsetCap", func(c *Config) { c.OffsetCap = 500 }},
		{"MaxRetries", func(c *Config) { c.MaxRetries = -1 }},
		{"MemberCID", func(c *Config) { c.MemberCID = "not-a-cid" }},
		{"BackoffBase", func(c *Config) { c.BackoffBase = -time.Second }},
		{"BackoffMax", func(c *Config) { c.BackoffBase = time.Second; c.BackoffMax = time.Millisecond }},
	}
	for _, tc := range cases {
		cfg := base
		tc.mod(&cfg)
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Key == "" || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "" {
		t.Errorf("autodiscover client has base %q before discovery", c.BaseURL())
	}
	c, _ = New(withDefaults(Config{ClientID: "id", ClientSecret: "s", Cloud: "EU-1"}))
	if c.BaseURL() != "https://api.eu-1.crowdstrike.com" {
		t.Errorf("eu-1 base = %q", c.BaseURL())
	}
	c, _ = New(withDefaults(Config{ClientID: "id", ClientSecret: "s", Cloud: "us-gov-1", BaseURL: "http://127.0.0.1:1/"}))
	if c.BaseURL() != "http://127.0.0.1:1" {
		t.Errorf("BaseURL must win over Cloud: %q", c.BaseURL())
	}
}

func TestParseCloud(t *testing.T) {
	want := map[string]string{
		"us-1":     "api.crowdstrike.com",
		"us-2":     "api.us-2.crowdstrike.com",
		"eu-1":     "api.eu-1.crowdstrike.com",
		"us-gov-1": "api.laggar.gcw.crowdstrike.com",
		"us-gov-2": "api.us-gov-2.crowdstrike.mil",
		"us-3":     "api.us-3.crowdstrike.com",
	}
	for name, host := range want {
		c, err := ParseCloud(" " + name + " ")
		if err != nil || c.Host() != host {
			t.Errorf("%s: %v %q", name, err, c.Host())
		}
		if c.IsGov() != (name == "us-gov-1" || name == "us-gov-2") {
			t.Errorf("%s: IsGov %v", name, c.IsGov())
		}
	}
	for _, s := range []string{"", "autodiscover", "AutoDiscover"} {
		if c, err := ParseCloud(s); err != nil || c != CloudAutodiscover || c.Host() != "" {
			t.Errorf("%q: %v %v", s, c, err)
		}
	}
	if _, err := ParseCloud("us-4"); err == nil {
		t.Error("us-4 accepted")
	}
}
