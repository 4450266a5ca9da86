package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/sink"
)

// defaultVars are the defaults the flags' tags interpolate (default:"${x}"):
// each comes from its component's DefaultConfiguration, the one place it
// is defined, so that help and behaviour cannot drift apart.
func defaultVars() kong.Vars {
	c, f, s, k := collector.DefaultConfiguration(), falcon.DefaultConfiguration(), sink.DefaultConfiguration(), kafkaconn.DefaultConfiguration()
	return kong.Vars{
		"poll_interval":     fmtDuration(c.PollInterval),
		"lookback":          fmtDuration(c.Lookback),
		"settle_lag":        fmtDuration(c.SettleLag),
		"start_time":        fmtDuration(collector.DefaultStartAge),
		"progress_interval": fmtDuration(c.ProgressInterval),
		"shutdown_timeout":  fmtDuration(c.ShutdownTimeout),
		"audit_topic":       c.Topics.AuditEvents,
		"tokens_topic":      c.Topics.Tokens,
		"settings_topic":    c.Topics.Settings,
		"checkpoint_topic":  checkpoint.DefaultTopic,

		"falcon_cloud":               f.Cloud,
		"falcon_requests_per_minute": strconv.Itoa(f.RequestsPerMinute),
		"falcon_max_retries":         strconv.Itoa(f.MaxRetries),
		"falcon_backoff_base":        fmtDuration(f.BackoffBase),
		"falcon_backoff_max":         fmtDuration(f.BackoffMax),
		"falcon_page_limit":          strconv.Itoa(f.PageLimit),
		"falcon_ids_per_read":        strconv.Itoa(f.IDsPerRead),
		"falcon_offset_cap":          strconv.Itoa(f.OffsetCap),

		"kafka_client_id": k.ClientID,

		"group":                    s.Group,
		"batch_rows":               strconv.Itoa(s.BatchRows),
		"batch_age":                fmtDuration(s.BatchAge),
		"dlq_topic":                s.Topics.DLQ,
		"group_session_timeout":    fmtDuration(s.SessionTimeout),
		"group_heartbeat_interval": fmtDuration(s.HeartbeatInterval),
		"topic_partitions":         strconv.Itoa(s.Partitions),
		"memory_budget_mib":        strconv.FormatInt(s.MemoryBudget>>20, 10),
	}
}

// fmtDuration writes d as an operator would (1m, 30d, 2s), not 1m0s.
func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
