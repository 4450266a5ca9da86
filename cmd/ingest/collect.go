package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/telemetry"
)

// CollectFlags are the flags of the collector, shared by collect, run and
// demo. Kafka connection flags (KafkaFlags) and --once are separate.
type CollectFlags struct {
	FalconCloud            string `help:"Falcon cloud: us-1, us-2, eu-1, us-gov-1, us-gov-2, us-3 or autodiscover (gov clouds must be named)." default:"autodiscover" env:"FALCON_CLOUD"`
	FalconBaseURL          string `help:"Falcon API base URL; overrides --falcon-cloud (e.g. an emulator)." env:"FALCON_BASE_URL" placeholder:"URL"`
	FalconClientID         string `help:"Falcon API client ID." env:"FALCON_CLIENT_ID"`
	FalconClientSecret     string `help:"Falcon API client secret. Prefer FALCON_CLIENT_SECRET or --falcon-client-secret-file: flag values show in process listings." env:"FALCON_CLIENT_SECRET" placeholder:"SECRET"`
	FalconClientSecretFile string `help:"File holding the Falcon API client secret (wins over --falcon-client-secret)." env:"FALCON_CLIENT_SECRET_FILE" placeholder:"FILE"`
	FalconMemberCID        string `help:"Child CID an MSSP parent client acts for (member_cid)." env:"FALCON_MEMBER_CID" placeholder:"CID"`

	FalconRequestsPerMinute int           `help:"Client-side ceiling on Falcon API requests per minute, per tenant (-1: none). Keep it below the CID's limit, which other integrations share." default:"300" env:"FALCON_REQUESTS_PER_MINUTE"`
	FalconMaxRetries        int           `help:"Retries per Falcon request on 429, 5xx and network errors (-1: none)." default:"8" env:"FALCON_MAX_RETRIES"`
	FalconBackoffBase       time.Duration `help:"First Falcon retry backoff; doubles up to --falcon-backoff-max." default:"2s" env:"FALCON_BACKOFF_BASE"`
	FalconBackoffMax        time.Duration `help:"Longest Falcon retry backoff." default:"60s" env:"FALCON_BACKOFF_MAX"`
	FalconPageLimit         int           `help:"IDs per audit_events_query/tokens_query page (1-1000)." default:"1000" env:"FALCON_PAGE_LIMIT"`
	FalconIDsPerRead        int           `name:"falcon-ids-per-read" help:"IDs per audit_events_read/tokens_read request." default:"500" env:"FALCON_IDS_PER_READ"`
	FalconOffsetCap         int           `help:"Largest offset+limit the API accepts on queries (-1: none); larger windows are split by time." default:"10000" env:"FALCON_OFFSET_CAP"`

	PollInterval time.Duration `help:"Pause between two polls of a tenant." default:"1m" env:"TOKENTRAIL_POLL_INTERVAL"`
	Lookback     time.Duration `help:"Every poll re-reads audit events this far behind the cursor, for events that become visible late; IDs already published are skipped (0: off)." default:"5m" env:"TOKENTRAIL_LOOKBACK"`
	SettleLag    time.Duration `help:"A poll reads audit events older than now minus this lag only, so that late writes settle (0: up to now)." default:"1m" env:"TOKENTRAIL_SETTLE_LAG"`
	StartTime    string        `help:"Where a tenant without a checkpoint starts: an age (30d, 12h), an RFC 3339 time, YYYY-MM-DD, or all (everything the API has)." default:"30d" env:"TOKENTRAIL_START_TIME"`
	Tenant       string        `help:"Tenant name written into every record and naming the checkpoint (a config file may list several tenants instead)." default:"default" env:"TOKENTRAIL_TENANT"`

	StateDir        string `help:"Directory of the file checkpoints (--checkpoint file)." default:"./state" env:"TOKENTRAIL_STATE_DIR" placeholder:"DIR"`
	Checkpoint      string `help:"Checkpoint store: file (--state-dir) or kafka (compacted --checkpoint-topic; lets a collector move between hosts)." enum:"file,kafka" default:"file" env:"TOKENTRAIL_CHECKPOINT"`
	CheckpointTopic string `help:"Compacted topic of --checkpoint kafka." default:"tokentrail.checkpoints" env:"TOKENTRAIL_CHECKPOINT_TOPIC"`

	FingerprintKey     string `help:"HMAC-SHA256 key of value_fingerprint. Prefer TOKENTRAIL_FINGERPRINT_KEY or --fingerprint-key-file. Default: a public built-in key (logged as a warning): set your own, and keep it, or fingerprints change." env:"TOKENTRAIL_FINGERPRINT_KEY" placeholder:"KEY"`
	FingerprintKeyFile string `help:"File holding the value_fingerprint key (wins over --fingerprint-key)." env:"TOKENTRAIL_FINGERPRINT_KEY_FILE" placeholder:"FILE"`

	AuditTopic             string `help:"Topic of audit_event records." default:"installation_tokens.audit_events" env:"TOKENTRAIL_AUDIT_TOPIC"`
	TokensTopic            string `help:"Topic of token records." default:"installation_tokens.tokens" env:"TOKENTRAIL_TOKENS_TOPIC"`
	SettingsTopic          string `help:"Topic of settings records." default:"installation_tokens.settings" env:"TOKENTRAIL_SETTINGS_TOPIC"`
	KafkaCompression       string `help:"Compression of published records: none, gzip, snappy, lz4 or zstd." enum:"none,gzip,snappy,lz4,zstd" default:"zstd" env:"KAFKA_COMPRESSION"`
	CreateTopics           bool   `help:"Create missing topics (the checkpoint topic compacted)." default:"true" negatable:"" env:"TOKENTRAIL_CREATE_TOPICS"`
	TopicPartitions        int    `help:"Partitions of created record topics." default:"3" env:"TOKENTRAIL_TOPIC_PARTITIONS"`
	TopicReplicationFactor int    `help:"Replication factor of created topics (0: min(3, brokers))." default:"0" env:"TOKENTRAIL_TOPIC_REPLICATION_FACTOR"`

	ProgressInterval time.Duration `help:"How often a long backfill logs progress (events, rate, ETA); 0: never." default:"30s" env:"TOKENTRAIL_PROGRESS_INTERVAL"`
}

// CollectCmd is the collect command.
type CollectCmd struct {
	KafkaFlags
	CollectFlags
	Once bool `help:"Catch up to the present (minus --settle-lag), publish, commit the checkpoint and exit 0." env:"TOKENTRAIL_ONCE"`
}

// Run implements the command.
func (c *CollectCmd) Run(ctx context.Context, g *Globals) error {
	tel, stopTel, err := g.startTelemetry(ctx)
	if err != nil {
		return err
	}
	defer stopTel()
	return runCollect(ctx, g, c.KafkaFlags, c.CollectFlags, c.Once, tel)
}

// collectNow is the collector's clock; tests replace it with the
// emulator's.
var collectNow = time.Now

// runCollect runs the collector until ctx is done (or once). tel may be nil;
// otherwise the collector's metrics and readiness checks (falcon, kafka)
// are registered on it. Configuration errors are usage errors (exit 2), and
// so is a corrupt or unreadable checkpoint.
func runCollect(ctx context.Context, g *Globals, k KafkaFlags, f CollectFlags, once bool, tel *telemetry.Server) error {
	log := g.Logger()
	kcfg, err := k.KafkaConfig()
	if err != nil {
		return err
	}
	cfg, err := f.collectorConfig(collectNow())
	if err != nil {
		return err
	}
	cfg.ShutdownTimeout = g.ShutdownTimeout
	specs, err := f.tenantSpecs(string(g.Config))
	if err != nil {
		return err
	}
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registry()
	}
	fm := falcon.NewMetrics(reg)
	deps := collector.Dependencies{Logger: log, Registerer: reg, Now: collectNow}
	var clients []*falcon.Client
	for _, s := range specs {
		fc, err := f.falconClient(s, log, fm)
		if err != nil {
			return err
		}
		clients = append(clients, fc)
		deps.Tenants = append(deps.Tenants, collector.Tenant{Name: s.Name, API: fc})
	}
	defer func() {
		// Revoke the OAuth2 tokens on the way out, as a clean client does.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, c := range clients {
			_ = c.Revoke(rctx)
		}
	}()

	if f.CreateTopics {
		var topics []kafkaconn.Topic
		for _, name := range []string{cfg.Topics.AuditEvents, cfg.Topics.Tokens, cfg.Topics.Settings, cfg.Topics.Coverage} {
			topics = append(topics, kafkaconn.Topic{Name: name, Partitions: f.TopicPartitions, ReplicationFactor: f.TopicReplicationFactor})
		}
		if err := kafkaconn.EnsureTopics(ctx, kcfg, topics...); err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
	}
	pub, err := collector.NewKafkaPublisher(kcfg, collector.PublisherConfig{Compression: f.KafkaCompression})
	if err != nil {
		return usagef("--kafka-compression: %v", err)
	}
	defer pub.Close()
	deps.Publisher = pub

	ckptFlag := "--state-dir"
	switch f.Checkpoint {
	case "kafka":
		ckptFlag = "--checkpoint-topic"
		ks, err := checkpoint.OpenKafkaStore(ctx, checkpoint.KafkaConfig{Conn: kcfg, Topic: f.CheckpointTopic,
			Create: f.CreateTopics, ReplicationFactor: f.TopicReplicationFactor})
		if err != nil {
			return err
		}
		defer ks.Close()
		deps.Store = ks
	default:
		fs, err := checkpoint.OpenFileStore(f.StateDir)
		if err != nil {
			return usagef("--state-dir: %v", err)
		}
		deps.Store = fs
	}

	c, err := collector.New(cfg, deps)
	if err != nil {
		return usagef("collect: %v", err)
	}
	if tel != nil {
		tel.AddCheck("falcon", c.CheckFalcon)
		tel.AddCheck("kafka", c.CheckKafka)
	}
	log.Info("collector starting", "tenants", c.Tenants(), "once", once, "checkpoint", f.Checkpoint,
		"poll_interval", cfg.PollInterval, "lookback", f.Lookback, "settle_lag", f.SettleLag)
	if once {
		err = c.RunOnce(ctx)
	} else {
		err = c.Run(ctx)
	}
	if errors.Is(err, checkpoint.ErrCorrupt) {
		return usagef("%s: %v (fix or move it aside; removing it restarts the tenant from --start-time)", ckptFlag, err)
	}
	if err == nil {
		log.Info("collector stopped")
	}
	return err
}

// collectorConfig turns the flags into a collector configuration.
func (f CollectFlags) collectorConfig(now time.Time) (collector.Config, error) {
	cfg := collector.DefaultConfiguration()
	if f.PollInterval <= 0 {
		return cfg, usagef("--poll-interval: %v is not positive", f.PollInterval)
	}
	cfg.PollInterval = f.PollInterval
	// In collector.Config zero means the default and negative means none.
	if f.Lookback < 0 {
		return cfg, usagef("--lookback: %v is negative", f.Lookback)
	}
	cfg.Lookback = orNone(f.Lookback)
	if f.SettleLag < 0 {
		return cfg, usagef("--settle-lag: %v is negative", f.SettleLag)
	}
	cfg.SettleLag = orNone(f.SettleLag)
	start, all, err := collector.ParseStartTime(f.StartTime, now)
	if err != nil {
		return cfg, usagef("--start-time: %v", err)
	}
	cfg.StartTime, cfg.StartAll = start, all
	cfg.Topics = collector.Topics{AuditEvents: f.AuditTopic, Tokens: f.TokensTopic, Settings: f.SettingsTopic, Coverage: schema.TopicCoverage}
	for flag, v := range map[string]string{"--audit-topic": f.AuditTopic, "--tokens-topic": f.TokensTopic, "--settings-topic": f.SettingsTopic} {
		if strings.TrimSpace(v) == "" {
			return cfg, usagef("%s: empty topic name", flag)
		}
	}
	if f.FalconPageLimit < 1 || f.FalconPageLimit > falcon.MaxPageLimit {
		return cfg, usagef("--falcon-page-limit: %d is outside 1-%d", f.FalconPageLimit, falcon.MaxPageLimit)
	}
	cfg.PageLimit = f.FalconPageLimit
	switch {
	case f.FalconOffsetCap < 0:
		cfg.OffsetCap = -1
	case f.FalconOffsetCap < f.FalconPageLimit:
		return cfg, usagef("--falcon-offset-cap: %d is below --falcon-page-limit %d", f.FalconOffsetCap, f.FalconPageLimit)
	default:
		cfg.OffsetCap = f.FalconOffsetCap
	}
	if f.TopicPartitions < 1 {
		return cfg, usagef("--topic-partitions: %d is not positive", f.TopicPartitions)
	}
	if f.TopicReplicationFactor < 0 {
		return cfg, usagef("--topic-replication-factor: %d is negative", f.TopicReplicationFactor)
	}
	cfg.ProgressInterval = f.ProgressInterval
	if f.ProgressInterval <= 0 {
		cfg.ProgressInterval = -1
	}
	key := f.FingerprintKey // the flag, TOKENTRAIL_FINGERPRINT_KEY or the config file
	if f.FingerprintKeyFile != "" {
		k, err := secretFromEnvOrFile("", f.FingerprintKeyFile, "--fingerprint-key-file")
		if err != nil {
			return cfg, err
		}
		if k == "" {
			return cfg, usagef("--fingerprint-key-file: %s is empty", f.FingerprintKeyFile)
		}
		key = k
	}
	if key != "" {
		cfg.FingerprintKey = []byte(key)
	}
	return cfg, nil
}

func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// falconClient builds the Falcon client of one tenant.
func (f CollectFlags) falconClient(s tenantSpec, log *slog.Logger, m *falcon.Metrics) (*falcon.Client, error) {
	flag := func(name string) string {
		if s.FromFile {
			return fmt.Sprintf("--config: tenant %s: %s", s.Name, strings.TrimPrefix(name, "--"))
		}
		return name
	}
	if strings.TrimSpace(s.ClientID) == "" {
		return nil, usagef("%s: required (or set FALCON_CLIENT_ID)", flag("--falcon-client-id"))
	}
	if s.ClientSecret == "" {
		return nil, usagef("%s: required (or set FALCON_CLIENT_SECRET, or --falcon-client-secret-file)", flag("--falcon-client-secret"))
	}
	if f.FalconBackoffBase <= 0 {
		return nil, usagef("--falcon-backoff-base: %v is not positive", f.FalconBackoffBase)
	}
	if f.FalconBackoffMax < f.FalconBackoffBase {
		return nil, usagef("--falcon-backoff-max: %v is below --falcon-backoff-base %v", f.FalconBackoffMax, f.FalconBackoffBase)
	}
	if f.FalconIDsPerRead < 1 {
		return nil, usagef("--falcon-ids-per-read: %d is not positive", f.FalconIDsPerRead)
	}
	rpm := s.RequestsPerMinute
	if rpm == 0 {
		return nil, usagef("%s: 0 allows no request (use -1 for no ceiling)", flag("--falcon-requests-per-minute"))
	}
	retries := f.FalconMaxRetries
	if retries == 0 {
		retries = -1 // falcon.Config: 0 is the default, < 0 none
	}
	fc, err := falcon.New(falcon.Config{
		Cloud: s.Cloud, BaseURL: s.BaseURL, ClientID: s.ClientID, ClientSecret: s.ClientSecret, MemberCID: s.MemberCID,
		RequestsPerMinute: rpm, IDsPerRead: f.FalconIDsPerRead, PageLimit: f.FalconPageLimit, OffsetCap: f.FalconOffsetCap,
		MaxRetries: retries, BackoffBase: f.FalconBackoffBase, BackoffMax: f.FalconBackoffMax,
		Logger: log.With("tenant", s.Name), Metrics: m,
	})
	if err != nil {
		var ce *falcon.ConfigError
		if errors.As(err, &ce) {
			return nil, usagef("%s: %s", flag(falconFlag(ce.Field)), ce.Reason)
		}
		return nil, usagef("tenant %s: %v", s.Name, err)
	}
	return fc, nil
}

// falconFlag names the flag behind a falcon.Config field.
func falconFlag(field string) string {
	switch field {
	case "Cloud":
		return "--falcon-cloud"
	case "BaseURL":
		return "--falcon-base-url"
	case "ClientID":
		return "--falcon-client-id"
	case "ClientSecret":
		return "--falcon-client-secret"
	case "MemberCID":
		return "--falcon-member-cid"
	case "IDsPerRead":
		return "--falcon-ids-per-read"
	case "PageLimit":
		return "--falcon-page-limit"
	case "OffsetCap":
		return "--falcon-offset-cap"
	case "BackoffBase":
		return "--falcon-backoff-base"
	case "BackoffMax":
		return "--falcon-backoff-max"
	case "RequestsPerMinute":
		return "--falcon-requests-per-minute"
	case "MaxRetries":
		return "--falcon-max-retries"
	}
	return "--falcon-" + strings.ToLower(field)
}

// clientSecret resolves the top-level secret: the file wins over the flag
// or FALCON_CLIENT_SECRET.
func (f CollectFlags) clientSecret() (string, error) {
	if f.FalconClientSecretFile != "" {
		b, err := os.ReadFile(f.FalconClientSecretFile)
		if err != nil {
			return "", usagef("--falcon-client-secret-file: %v", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", usagef("--falcon-client-secret-file: %s is empty", f.FalconClientSecretFile)
		}
		return s, nil
	}
	return f.FalconClientSecret, nil
}
