package collector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// Config is the collector's configuration. Zero values mean the documented
// defaults, so Config{} behaves like DefaultConfiguration().
type Config struct {
	// PollInterval is the pause between two polls of a tenant in Run.
	// Default 1m.
	PollInterval time.Duration
	// Lookback: every poll re-reads audit events from Cursor-Lookback on, to
	// catch events that became visible after the cursor passed their
	// timestamp; IDs already published inside the lookback are skipped.
	// Default 5m; negative means 0 (no re-read).
	Lookback time.Duration
	// SettleLag: a poll reads audit events older than now-SettleLag only,
	// so that late writes settle first. Default 1m; negative means 0.
	SettleLag time.Duration
	// StartTime is where a tenant without a checkpoint starts. The zero value
	// means DefaultStartAge before the first run; StartAll overrides it and
	// starts at the oldest event the API has.
	StartTime time.Time
	StartAll  bool

	// Topics are the topic names; empty fields take the schema defaults.
	Topics Topics

	// PageLimit and OffsetCap must match the Falcon client's (falcon.Config
	// PageLimit and OffsetCap): the collector pages queries itself. Defaults
	// 1000 and 10000; OffsetCap < 0 disables the cap.
	PageLimit int
	OffsetCap int

	// FingerprintKey is the HMAC-SHA256 key of value_fingerprint. Nil means
	// DefaultFingerprintKey, which is public: New logs a warning, and
	// operators must set their own key.
	FingerprintKey []byte

	// ProgressInterval: long audit backfills log progress (events, rate,
	// ETA) this often. Default 30s; negative disables progress logs.
	ProgressInterval time.Duration
	// ShutdownTimeout bounds the in-flight publish and the checkpoint commit
	// after the context of Run or RunOnce is cancelled. Default 30s.
	ShutdownTimeout time.Duration
	// PublishAttempts: a batch Kafka refused is retried (with backoff) this
	// many times in all before the poll fails. Default 5.
	PublishAttempts int
	// ReadRetries: audit events that audit_events_query listed but
	// audit_events_read did not return are asked for again this many times
	// before the poll fails (the cursor never passes an unread event).
	// Default 3.
	ReadRetries int
}

// Topics names the output topics.
type Topics struct {
	AuditEvents string // default schema.TopicAuditEvents
	Tokens      string // default schema.TopicTokens
	Settings    string // default schema.TopicSettings
	Coverage    string // default schema.TopicCoverage
}

// Defaults.
const (
	DefaultPollInterval     = time.Minute
	DefaultLookback         = 5 * time.Minute
	DefaultSettleLag        = time.Minute
	DefaultStartAge         = 30 * 24 * time.Hour
	DefaultProgressInterval = 30 * time.Second
	DefaultShutdownTimeout  = 30 * time.Second
	DefaultPublishAttempts  = 5
	DefaultReadRetries      = 3
)

// DefaultFingerprintKey is the key used when none is configured. It is
// public (it is in this source file), so fingerprints made with it only
// hide a token value from someone who cannot guess candidate values; it
// exists so that fingerprints are stable across restarts of an
// unconfigured collector. Set --fingerprint-key-file or
// TOKENTRAIL_FINGERPRINT_KEY in production.
const DefaultFingerprintKey = "tokentrail-default-fingerprint-key-CHANGE-ME"

// DefaultConfiguration returns the defaults.
func DefaultConfiguration() Config {
	return Config{
		PollInterval: DefaultPollInterval,
		Lookback:     DefaultLookback,
		SettleLag:    DefaultSettleLag,
		Topics: Topics{AuditEvents: schema.TopicAuditEvents, Tokens: schema.TopicTokens, Settings: schema.TopicSettings,
			Coverage: schema.TopicCoverage},
		PageLimit:        falcon.DefaultPageLimit,
		OffsetCap:        falcon.DefaultOffsetCap,
		ProgressInterval: DefaultProgressInterval,
		ShutdownTimeout:  DefaultShutdownTimeout,
		PublishAttempts:  DefaultPublishAttempts,
		ReadRetries:      DefaultReadRetries,
	}
}

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("collector: invalid configuration")

func (c Config) normalize() (Config, error) {
	d := DefaultConfiguration()
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	} else if c.PollInterval < 0 {
		return c, fmt.Errorf("%w: PollInterval %v is negative", ErrConfig, c.PollInterval)
	}
	if c.Lookback == 0 {
		c.Lookback = d.Lookback
	} else if c.Lookback < 0 {
		c.Lookback = 0
	}
	if c.SettleLag == 0 {
		c.SettleLag = d.SettleLag
	} else if c.SettleLag < 0 {
		c.SettleLag = 0
	}
	if c.Topics.AuditEvents == "" {
		c.Topics.AuditEvents = d.Topics.AuditEvents
	}
	if c.Topics.Tokens == "" {
		c.Topics.Tokens = d.Topics.Tokens
	}
	if c.Topics.Settings == "" {
		c.Topics.Settings = d.Topics.Settings
	}
	if c.Topics.Coverage == "" {
		c.Topics.Coverage = d.Topics.Coverage
	}
	if c.PageLimit == 0 {
		c.PageLimit = d.PageLimit
	} else if c.PageLimit < 1 || c.PageLimit > falcon.MaxPageLimit {
		return c, fmt.Errorf("%w: PageLimit %d is outside 1-%d", ErrConfig, c.PageLimit, falcon.MaxPageLimit)
	}
	switch {
	case c.OffsetCap == 0:
		c.OffsetCap = d.OffsetCap
	case c.OffsetCap < 0:
		c.OffsetCap = -1
	case c.OffsetCap < c.PageLimit:
		return c, fmt.Errorf("%w: OffsetCap %d is below PageLimit %d", ErrConfig, c.OffsetCap, c.PageLimit)
	}
	if len(c.FingerprintKey) == 0 {
		c.FingerprintKey = []byte(DefaultFingerprintKey)
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = d.ProgressInterval
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.PublishAttempts <= 0 {
		c.PublishAttempts = d.PublishAttempts
	}
	if c.ReadRetries == 0 {
		c.ReadRetries = d.ReadRetries
	} else if c.ReadRetries < 0 {
		c.ReadRetries = 0
	}
	return c, nil
}

// ParseStartTime parses a --start-time value: "all" (everything the API
// has), an RFC 3339 time, a date (YYYY-MM-DD, UTC), or an age before now
// such as "30d", "12h" or "90m".
func ParseStartTime(s string, now time.Time) (t time.Time, all bool, err error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "all"):
		return time.Time{}, true, nil
	case s == "":
		return time.Time{}, false, errors.New("empty start time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), false, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), false, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return time.Time{}, false, fmt.Errorf("%q: want all, an RFC 3339 time, YYYY-MM-DD or an age like 30d", s)
		}
		return now.Add(-time.Duration(days) * 24 * time.Hour).UTC(), false, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, false, fmt.Errorf("%q: want all, an RFC 3339 time, YYYY-MM-DD or an age like 30d", s)
	}
	return now.Add(-d).UTC(), false, nil
}
