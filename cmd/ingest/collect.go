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
	FalconCloud            string `help:"Falcon cloud: us-1, us-2, eu-1, us-gov-1, us-gov-2, us-3 or autodiscover (gov clouds must be named)." default:"${falcon_cloud}" env:"FALCON_CLOUD"`
	FalconBaseURL          string `help:"Falcon API base URL; overrides --falcon-cloud (e.g. an emulator)." env:"FALCON_BASE_URL" placeholder:"URL"`
	FalconClientID         string `help:"Falcon API client ID." env:"FALCON_CLIENT_ID"`
	FalconClientSecret     string `help:"Falcon API client secret. Prefer FALCON_CLIENT_SECRET or --falcon-client-secret-file: flag values show in process listings." env:"FALCON_CLIENT_SECRET" placeholder:"SECRET"`
	FalconClientSecretFile string `help:"File holding the Falcon API client secret (wins over --falcon-client-secret)." env:"FALCON_CLIENT_SECRET_FILE" placeholder:"FILE"`
	FalconMemberCID        string `help:"Child CID an MSSP parent client acts for (member_cid)." env:"FALCON_MEMBER_CID" placeholder:"CID"`

	FalconRequestsPerMinute int           `help:"Client-side ceiling on Falcon API requests per minute, per tenant (-1: none). Keep it below the CID's limit, which other integrations share." default:"${falcon_requests_per_minute}" env:"FALCON_REQUESTS_PER_MINUTE"`
	FalconMaxRetries        int           `help:"Retries per Falcon request on 429, 5xx and network errors (0: none)." default:"${falcon_max_retries}" env:"FALCON_MAX_RETRIES"`
	FalconBackoffBase       time.Duration `help:"First Falcon retry backoff; doubles up to --falcon-backoff-max." default:"${falcon_backoff_base}" env:"FALCON_BACKOFF_BASE"`
	FalconBackoffMax        time.Duration `help:"Longest Falcon retry backoff." default:"${falcon_backoff_max}" env:"FALCON_BACKOFF_MAX"`
	FalconPageLimit         int           `help:"IDs per audit_events_query/tokens_query page (1-1000)." default:"${falcon_page_limit}" env:"FALCON_PAGE_LIMIT"`
	FalconIDsPerRead        int           `name:"falcon-ids-per-read" help:"IDs per audit_events_read/tokens_read request." default:"${falcon_ids_per_read}" env:"FALCON_IDS_PER_READ"`
	FalconOffsetCap         int           `help:"Largest offset+limit the API accepts on queries (-1: none); larger windows are split by time." default:"${falcon_offset_cap}" env:"FALCON_OFFSET_CAP"`

	PollInterval time.Duration `help:"Pause between two polls of a tenant." default:"${poll_interval}" env:"TOKENTRAIL_POLL_INTERVAL"`
	Lookback     time.Duration `help:"Every poll re-reads audit events this far behind the cursor, for events that become visible late; IDs already published are skipped (0: off)." default:"${lookback}" env:"TOKENTRAIL_LOOKBACK"`
	SettleLag    time.Duration `help:"A poll reads audit events older than now minus this lag only, so that late writes settle (0: up to now)." default:"${settle_lag}" env:"TOKENTRAIL_SETTLE_LAG"`
	StartTime    string        `help:"Where a tenant without a checkpoint starts: an age (30d, 12h), an RFC 3339 time, YYYY-MM-DD, or all (everything the API has)." default:"${start_time}" env:"TOKENTRAIL_START_TIME"`
	Tenant       string        `help:"Tenant name written into every record and naming the checkpoint (a config file may list several tenants instead)." default:"default" env:"TOKENTRAIL_TENANT"`

	StateDir        string `help:"Directory of the file checkpoints (--checkpoint file); default ${default}. A separate directory starts every tenant afresh from --start-time (a deliberate backfill)." default:"./state" env:"TOKENTRAIL_STATE_DIR" placeholder:"DIR"`
	Checkpoint      string `help:"Checkpoint store: file (--state-dir) or kafka (compacted --checkpoint-topic; lets a collector move between hosts)." enum:"file,kafka" default:"file" env:"TOKENTRAIL_CHECKPOINT"`
	CheckpointTopic string `help:"Compacted topic of --checkpoint kafka." default:"${checkpoint_topic}" env:"TOKENTRAIL_CHECKPOINT_TOPIC"`

	FingerprintKey     string `help:"HMAC-SHA256 key of value_fingerprint. Prefer TOKENTRAIL_FINGERPRINT_KEY or --fingerprint-key-file. Default: a public built-in key (logged as a warning): set your own, and keep it, or fingerprints change." env:"TOKENTRAIL_FINGERPRINT_KEY" placeholder:"KEY"`
	FingerprintKeyFile string `help:"File holding the value_fingerprint key (wins over --fingerprint-key)." env:"TOKENTRAIL_FINGERPRINT_KEY_FILE" placeholder:"FILE"`

	AuditTopic             string `help:"Topic of audit_event records." default:"${audit_topic}" env:"TOKENTRAIL_AUDIT_TOPIC"`
	TokensTopic            string `help:"Topic of token records." default:"${tokens_topic}" env:"TOKENTRAIL_TOKENS_TOPIC"`
	SettingsTopic          string `help:"Topic of settings records." default:"${settings_topic}" env:"TOKENTRAIL_SETTINGS_TOPIC"`
	KafkaCompression       string `help:"Compression of published records: none, gzip, snappy, lz4 or zstd." enum:"none,gzip,snappy,lz4,zstd" default:"zstd" env:"KAFKA_COMPRESSION"`
	CreateTopics           bool   `help:"Create missing topics (the checkpoint topic compacted); default on." default:"true" negatable:"" env:"TOKENTRAIL_CREATE_TOPICS"`
	TopicPartitions        int    `help:"Partitions of created record topics." default:"${topic_partitions}" env:"TOKENTRAIL_TOPIC_PARTITIONS"`
	TopicReplicationFactor int    `help:"Replication factor of created topics (0: min(3, brokers))." default:"0" env:"TOKENTRAIL_TOPIC_REPLICATION_FACTOR"`

	ProgressInterval time.Duration `help:"How often a long backfill logs progress (events, rate, ETA); 0: never." default:"${progress_interval}" env:"TOKENTRAIL_PROGRESS_INTERVAL"`
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
	cfg, err := f.collectorConfig(collectNow(), g.ShutdownTimeout)
	if err != nil {
		return err
	}
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
		for _, name := range []string{cfg.Topics.AuditEvents, cfg.Topics.Tokens, cfg.Topics.Settings, schema.TopicCoverage} {
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
	start := time.Now()
	if once {
		err = c.RunOnce(ctx)
		var requests int64
		for _, fc := range clients {
			requests += fc.Requests()
		}
		st := c.Stats()
		log.Info("collect --once summary", "audit_events", st.Published[schema.TypeAuditEvent], "tokens", st.Published[schema.TypeToken],
			"settings", st.Published[schema.TypeSettings], "api_requests", requests, "elapsed", time.Since(start).Round(time.Millisecond).String(),
			"ok", err == nil)
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

// collectorConfig turns the flags into a collector configuration; the
// collector's constructor validates it.
func (f CollectFlags) collectorConfig(now time.Time, shutdownTimeout time.Duration) (collector.Config, error) {
	cfg := collector.DefaultConfiguration()
	cfg.ShutdownTimeout = shutdownTimeout
	cfg.PollInterval, cfg.Lookback, cfg.SettleLag = f.PollInterval, f.Lookback, f.SettleLag
	start, all, err := collector.ParseStartTime(f.StartTime, now)
	if err != nil {
		return cfg, usagef("--start-time: %v", err)
	}
	cfg.StartTime, cfg.StartAll = start, all
	cfg.Topics = collector.Topics{AuditEvents: f.AuditTopic, Tokens: f.TokensTopic, Settings: f.SettingsTopic}
	cfg.ProgressInterval = f.ProgressInterval
	if f.TopicPartitions < 1 {
		return cfg, usagef("--topic-partitions: %d is not positive", f.TopicPartitions)
	}
	if f.TopicReplicationFactor < 0 {
		return cfg, usagef("--topic-replication-factor: %d is negative", f.TopicReplicationFactor)
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
	// The collector's own check, before any I/O.
	var ce *collector.ConfigError
	if err := cfg.Validate(now); errors.As(err, &ce) {
		return cfg, usagef("--%s: %s", ce.Key, ce.Reason)
	} else if err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// falconClient builds the Falcon client of one tenant; falcon.New
// validates the settings, and its errors name the flag (or the config
// file's key of a listed tenant).
func (f CollectFlags) falconClient(s tenantSpec, log *slog.Logger, m *falcon.Metrics) (*falcon.Client, error) {
	cfg := falcon.DefaultConfiguration()
	cfg.Cloud, cfg.BaseURL, cfg.ClientID, cfg.ClientSecret, cfg.MemberCID = s.Cloud, s.BaseURL, s.ClientID, s.ClientSecret, s.MemberCID
	cfg.RequestsPerMinute, cfg.IDsPerRead, cfg.PageLimit, cfg.OffsetCap = s.RequestsPerMinute, f.FalconIDsPerRead, f.FalconPageLimit, f.FalconOffsetCap
	cfg.MaxRetries, cfg.BackoffBase, cfg.BackoffMax = f.FalconMaxRetries, f.FalconBackoffBase, f.FalconBackoffMax
	cfg.Logger, cfg.Metrics = log.With("tenant", s.Name), m
	fc, err := falcon.New(cfg)
	var ce *falcon.ConfigError
	switch {
	case errors.As(err, &ce) && s.FromFile:
		return nil, usagef("--config: tenant %s: %s: %s", s.Name, ce.Key, ce.Reason)
	case errors.As(err, &ce) && (ce.Field == "ClientID" || ce.Field == "ClientSecret"):
		return nil, usagef("--%s: %s (or set %s)", ce.Key, ce.Reason, map[string]string{
			"ClientID": "FALCON_CLIENT_ID", "ClientSecret": "FALCON_CLIENT_SECRET, or --falcon-client-secret-file"}[ce.Field])
	case errors.As(err, &ce):
		return nil, usagef("--%s: %s", ce.Key, ce.Reason)
	case err != nil:
		return nil, usagef("tenant %s: %v", s.Name, err)
	}
	return fc, nil
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
