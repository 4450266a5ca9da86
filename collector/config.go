package collector

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/internal/timespec"
	"github.com/tokentrail/tokentrail/schema"
)

// Config is the collector's configuration. Start from DefaultConfiguration:
// every field means what it says, zero included (a zero Lookback re-reads
// nothing, a zero ProgressInterval logs no progress). New validates it;
// errors are *ConfigError naming the setting's key.
type Config struct {
	// PollInterval is the pause between two polls of a tenant in Run
	// (key poll-interval). Must be positive.
	PollInterval time.Duration
	// Lookback: every poll re-reads audit events from Cursor-Lookback on, to
	// catch events that became visible after the cursor passed their
	// timestamp; IDs already published inside the lookback are skipped
	// (key lookback). 0: no re-read.
	Lookback time.Duration
	// SettleLag: a poll reads audit events older than now-SettleLag only,
	// so that late writes settle first (key settle-lag). 0: up to now.
	SettleLag time.Duration
	// StartTime is where a tenant without a checkpoint starts (key
	// start-time); the zero value means DefaultStartAge before the first
	// run. StartAll overrides it and starts at the oldest event the API
	// has. A time after now is refused. A checkpoint that starts later than
	// this is kept (and a warning says so): backfilling is deliberate.
	StartTime time.Time
	StartAll  bool

	// Topics are the topic names.
	Topics Topics

	// FingerprintKey is the HMAC-SHA256 key of value_fingerprint (key
	// fingerprint-key). DefaultConfiguration sets DefaultFingerprintKey,
	// which is public: New logs a warning, and operators must set their
	// own key.
	FingerprintKey []byte

	// ProgressInterval: long audit backfills log progress (events, rate,
	// ETA) this often (key progress-interval). 0: never.
	ProgressInterval time.Duration
	// ShutdownTimeout bounds the in-flight publish and the checkpoint commit
	// after the context of Run or RunOnce is cancelled (key
	// shutdown-timeout). Retries end at the cancellation.
	ShutdownTimeout time.Duration
	// PublishAttempts: a batch Kafka refused is retried (with backoff) this
	// many times in all before the poll fails; at least 1.
	PublishAttempts int
	// ReadRetries: audit events that audit_events_query listed but
	// audit_events_read did not return are asked for again this many times
	// before the poll fails (the cursor never passes an unread event).
	ReadRetries int
}

// Topics names the output topics (keys audit-topic, tokens-topic,
// settings-topic).
type Topics struct {
	AuditEvents string
	Tokens      string
	Settings    string
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

// DefaultConfiguration returns the defaults: the single source of every
// default of the collector, which ingest's help shows.
func DefaultConfiguration() Config {
	return Config{
		PollInterval:     DefaultPollInterval,
		Lookback:         DefaultLookback,
		SettleLag:        DefaultSettleLag,
		Topics:           Topics{AuditEvents: schema.TopicAuditEvents, Tokens: schema.TopicTokens, Settings: schema.TopicSettings},
		FingerprintKey:   []byte(DefaultFingerprintKey),
		ProgressInterval: DefaultProgressInterval,
		ShutdownTimeout:  DefaultShutdownTimeout,
		PublishAttempts:  DefaultPublishAttempts,
		ReadRetries:      DefaultReadRetries,
	}
}

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("collector: invalid configuration")

// ConfigError names the setting, by its configuration key (the flag name),
// that New refused.
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return "collector: " + e.Key + ": " + e.Reason }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Validate checks c as New does (now is the clock), for callers that want
// configuration errors before they do any I/O. Errors are *ConfigError.
func (c Config) Validate(now time.Time) error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.PollInterval <= 0:
		return bad("poll-interval", "%v is not positive", c.PollInterval)
	case c.Lookback < 0:
		return bad("lookback", "%v is negative", c.Lookback)
	case c.SettleLag < 0:
		return bad("settle-lag", "%v is negative", c.SettleLag)
	case !c.StartAll && c.StartTime.After(now):
		return bad("start-time", "%s is in the future", c.StartTime.Format(time.RFC3339))
	case strings.TrimSpace(c.Topics.AuditEvents) == "":
		return bad("audit-topic", "empty topic name")
	case strings.TrimSpace(c.Topics.Tokens) == "":
		return bad("tokens-topic", "empty topic name")
	case strings.TrimSpace(c.Topics.Settings) == "":
		return bad("settings-topic", "empty topic name")
	case len(c.FingerprintKey) == 0:
		return bad("fingerprint-key", "empty")
	case c.ProgressInterval < 0:
		return bad("progress-interval", "%v is negative", c.ProgressInterval)
	case c.ShutdownTimeout < 0:
		return bad("shutdown-timeout", "%v is negative", c.ShutdownTimeout)
	case c.PublishAttempts < 1:
		return bad("publish-attempts", "%d: at least one attempt", c.PublishAttempts)
	case c.ReadRetries < 0:
		return bad("read-retries", "%d is negative", c.ReadRetries)
	}
	return nil
}

// ParseStartTime parses a --start-time value: "all" (everything the API
// has) or any form of timespec.Time (an age such as 30d, 12h or 2w, a date,
// a date and time (UTC without zone) or RFC 3339), like report's --since. A
// time after now is refused: the cursor would pass events that do not exist
// yet, and audit export would stop without a word.
func ParseStartTime(s string, now time.Time) (t time.Time, all bool, err error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "all") {
		return time.Time{}, true, nil
	}
	t, err = timespec.Time(s, now)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%q: want all, or %s", s, timespec.Forms)
	}
	if t.After(now) {
		return time.Time{}, false, fmt.Errorf("%q is in the future (now is %s)", s, now.UTC().Format(time.RFC3339))
	}
	return t, false, nil
}
