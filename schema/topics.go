package schema

import "strconv"

// Default topic names. Operators may override them; SIEM consumers script
// against these defaults, so they never change.
const (
	TopicAuditEvents = "installation_tokens.audit_events"
	TopicTokens      = "installation_tokens.tokens"
	TopicSettings    = "installation_tokens.settings"
	// TopicDLQ receives records the sink cannot decode or validate, with
	// headers naming the source topic, partition, offset and the error.
	TopicDLQ = "installation_tokens.dlq"
)

// Kafka header names set on every published record.
const (
	HeaderRecordType    = "record_type"
	HeaderSchemaVersion = "schema_version"
	// HeaderEventTime is the record's event_time (TimeLayout), for
	// connectors that route or index by a header (from schema_version 2).
	// The Kafka message timestamp stays the publish time: a broker applies
	// retention.ms and message.timestamp.*.max.ms to it, so a backfill
	// stamped with old event times would be deleted or rejected
	// (docs/siem.md, "Event time").
	HeaderEventTime = "event_time"
)

// Header is one Kafka message header.
type Header struct {
	Key   string
	Value []byte
}

// Headers returns the headers of r's message: record_type, schema_version
// and event_time.
func Headers(r Record) []Header {
	env := r.Header()
	return []Header{
		{HeaderRecordType, []byte(env.RecordType)},
		{HeaderSchemaVersion, []byte(strconv.Itoa(env.SchemaVersion))},
		{HeaderEventTime, []byte(FormatTime(env.EventTime))},
	}
}

// Kafka header names set on dead-lettered records.
const (
	HeaderDLQTopic     = "dlq_source_topic"
	HeaderDLQPartition = "dlq_source_partition"
	HeaderDLQOffset    = "dlq_source_offset"
	HeaderDLQError     = "dlq_error"
)
