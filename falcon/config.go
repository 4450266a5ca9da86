package falcon

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config configures a Client. Start from DefaultConfiguration and set the
// credentials: every field means what it says, zero included, and New
// refuses values that make no sense (*ConfigError names the field and its
// configuration key).
type Config struct {
	// Cloud selects the API host: "us-1", "us-2", "eu-1", "us-gov-1",
	// "us-gov-2", "us-3" or "autodiscover". Default "autodiscover": the first
	// token is requested from us-1 and the X-CS-Region header of its 201 picks
	// the host. Gov clouds cannot be discovered and must be named explicitly.
	Cloud string
	// BaseURL overrides Cloud (scheme and host, optionally a path prefix), for
	// example the URL of a falcontest emulator. No autodiscovery happens.
	BaseURL string

	// ClientID and ClientSecret are the API client credentials (required).
	ClientID     string
	ClientSecret string
	// MemberCID is sent as member_cid when an MSSP parent acts for a child CID.
	MemberCID string

	// HTTPClient is copied, never modified; its redirect policy is replaced so
	// that only /oauth2/token and /oauth2/revoke follow redirects.
	// Default: a client with a 60 s timeout.
	HTTPClient *http.Client

	// RequestsPerMinute is the client-side ceiling on API requests in any
	// sliding minute, kept below the CID-wide server limit so other
	// integrations of the tenant keep room. Default 300; < 0 means unlimited;
	// 0 is refused.
	RequestsPerMinute int
	// IDsPerRead is the number of IDs per tokens_read/audit_events_read
	// request. Default 500.
	IDsPerRead int
	// PageLimit is the default limit of query requests (1-1000). Default 1000.
	PageLimit int
	// OffsetCap is the largest offset+limit the client ever requests, at
	// least PageLimit. Default 10000; < 0 disables the check.
	OffsetCap int

	// MaxRetries bounds retries per request (429, 5xx, network errors,
	// unreadable 2xx bodies). Default 8; 0 means no retries.
	MaxRetries int
	// BackoffBase and BackoffMax shape the jittered exponential backoff.
	// Defaults 2 s and 60 s.
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// RenewBefore renews the OAuth2 token this long before it expires (at
	// most half its lifetime). Default 2 min; 0 renews only at expiry.
	RenewBefore time.Duration

	// UserAgent is sent on every request. Default "tokentrail-falcon".
	UserAgent string
	// Logger receives retry and cooldown diagnostics. Default: discard.
	Logger *slog.Logger
	// Metrics records Prometheus metrics; nil records none.
	Metrics *Metrics
}

// Defaults of Config.
const (
	DefaultRequestsPerMinute = 300
	DefaultIDsPerRead        = 500
	DefaultPageLimit         = 1000
	MaxPageLimit             = 1000
	DefaultOffsetCap         = 10000
	DefaultMaxRetries        = 8
	DefaultBackoffBase       = 2 * time.Second
	DefaultBackoffMax        = 60 * time.Second
	DefaultRenewBefore       = 2 * time.Minute
	DefaultUserAgent         = "tokentrail-falcon"
	DefaultHTTPTimeout       = 60 * time.Second
)

// DefaultConfiguration returns a Config with every default filled in; only
// the credentials are left to the caller.
func DefaultConfiguration() Config {
	return Config{
		Cloud:             string(CloudAutodiscover),
		RequestsPerMinute: DefaultRequestsPerMinute,
		IDsPerRead:        DefaultIDsPerRead,
		PageLimit:         DefaultPageLimit,
		OffsetCap:         DefaultOffsetCap,
		MaxRetries:        DefaultMaxRetries,
		BackoffBase:       DefaultBackoffBase,
		BackoffMax:        DefaultBackoffMax,
		RenewBefore:       DefaultRenewBefore,
		UserAgent:         DefaultUserAgent,
	}
}

// Cloud names a Falcon cloud.
type Cloud string

// Known clouds.
const (
	CloudUS1          Cloud = "us-1"
	CloudUS2          Cloud = "us-2"
	CloudEU1          Cloud = "eu-1"
	CloudUSGov1       Cloud = "us-gov-1"
	CloudUSGov2       Cloud = "us-gov-2"
	CloudUS3          Cloud = "us-3"
	CloudAutodiscover Cloud = "autodiscover"
)

var cloudHosts = map[Cloud]string{
	CloudUS1:    "api.crowdstrike.com",
	CloudUS2:    "api.us-2.crowdstrike.com",
	CloudEU1:    "api.eu-1.crowdstrike.com",
	CloudUSGov1: "api.laggar.gcw.crowdstrike.com",
	CloudUSGov2: "api.us-gov-2.crowdstrike.mil",
	CloudUS3:    "api.us-3.crowdstrike.com",
}

// ParseCloud parses a cloud name (case-insensitive, surrounding spaces
// ignored). The empty string means CloudAutodiscover.
func ParseCloud(s string) (Cloud, error) {
	c := Cloud(strings.ToLower(strings.TrimSpace(s)))
	if c == "" || c == CloudAutodiscover {
		return CloudAutodiscover, nil
	}
	if _, ok := cloudHosts[c]; !ok {
		return "", fmt.Errorf("falcon: unknown cloud %q (want us-1, us-2, eu-1, us-gov-1, us-gov-2, us-3 or autodiscover)", s)
	}
	return c, nil
}

// Host returns the API host of c, or "" for CloudAutodiscover and unknown
// names.
func (c Cloud) Host() string { return cloudHosts[c] }

// IsGov reports whether c is a US government cloud (never autodiscovered).
func (c Cloud) IsGov() bool { return c == CloudUSGov1 || c == CloudUSGov2 }

// BaseURL returns "https://" + c.Host(), or "" when c has no host.
func (c Cloud) BaseURL() string {
	if h := c.Host(); h != "" {
		return "https://" + h
	}
	return ""
}

// normalize validates cfg. Every setting means what it says, zero
// included: start from DefaultConfiguration. Only the dependencies have
// defaults (HTTPClient, Logger) and an empty UserAgent sends
// DefaultUserAgent.
func (cfg Config) normalize() (Config, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return cfg, configError("ClientID", "required")
	}
	if cfg.ClientSecret == "" {
		return cfg, configError("ClientSecret", "required")
	}
	cloud, err := ParseCloud(cfg.Cloud)
	if err != nil {
		return cfg, configError("Cloud", fmt.Sprintf("unknown cloud %q", cfg.Cloud))
	}
	cfg.Cloud = string(cloud)
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return cfg, configError("BaseURL", fmt.Sprintf("%q is not an http(s) URL without query", cfg.BaseURL))
		}
		cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	switch {
	case cfg.RequestsPerMinute == 0:
		return cfg, configError("RequestsPerMinute", "0 allows no request (use -1 for no ceiling)")
	case cfg.RequestsPerMinute < 0:
		cfg.RequestsPerMinute = -1
	}
	if cfg.IDsPerRead < 1 {
		return cfg, configError("IDsPerRead", fmt.Sprintf("%d is not positive", cfg.IDsPerRead))
	}
	if cfg.PageLimit < 1 || cfg.PageLimit > MaxPageLimit {
		return cfg, configError("PageLimit", fmt.Sprintf("%d is outside 1-%d", cfg.PageLimit, MaxPageLimit))
	}
	switch {
	case cfg.OffsetCap == 0:
		return cfg, configError("OffsetCap", "0 allows no query (use -1 for no cap)")
	case cfg.OffsetCap < 0:
		cfg.OffsetCap = -1
	case cfg.OffsetCap < cfg.PageLimit:
		return cfg, configError("OffsetCap", fmt.Sprintf("%d is below the page limit %d", cfg.OffsetCap, cfg.PageLimit))
	}
	if cfg.MemberCID != "" && !cidRe.MatchString(cfg.MemberCID) {
		return cfg, configError("MemberCID", fmt.Sprintf("%q is not a CID (32 hex digits, optionally -XX)", cfg.MemberCID))
	}
	if cfg.MaxRetries < 0 {
		return cfg, configError("MaxRetries", fmt.Sprintf("%d is negative (0: no retries)", cfg.MaxRetries))
	}
	if cfg.BackoffBase <= 0 {
		return cfg, configError("BackoffBase", fmt.Sprintf("%v is not positive", cfg.BackoffBase))
	}
	if cfg.BackoffMax < cfg.BackoffBase {
		return cfg, configError("BackoffMax", fmt.Sprintf("%v is below BackoffBase %v", cfg.BackoffMax, cfg.BackoffBase))
	}
	if cfg.RenewBefore < 0 {
		return cfg, configError("RenewBefore", fmt.Sprintf("%v is negative (0: renew at expiry)", cfg.RenewBefore))
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// cidRe matches a customer ID: 32 hex digits and an optional checksum.
var cidRe = regexp.MustCompile(`^[0-9a-fA-F]{32}(-[0-9a-fA-F]{2})?$`)

// configKeys are the configuration keys (flag names) of Config's fields.
var configKeys = map[string]string{
	"Cloud": "falcon-cloud", "BaseURL": "falcon-base-url", "ClientID": "falcon-client-id",
	"ClientSecret": "falcon-client-secret", "MemberCID": "falcon-member-cid", "IDsPerRead": "falcon-ids-per-read",
	"PageLimit": "falcon-page-limit", "OffsetCap": "falcon-offset-cap", "BackoffBase": "falcon-backoff-base",
	"BackoffMax": "falcon-backoff-max", "RequestsPerMinute": "falcon-requests-per-minute", "MaxRetries": "falcon-max-retries",
}

func configError(field, reason string) *ConfigError {
	return &ConfigError{Field: field, Key: configKeys[field], Reason: reason}
}
