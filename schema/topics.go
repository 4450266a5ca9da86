package schema

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
)

// Kafka header names set on dead-lettered records.
const (
	HeaderDLQTopic     = "dlq_source_topic"
	HeaderDLQPartition = "dlq_source_partition"
	HeaderDLQOffset    = "dlq_source_offset"
	HeaderDLQError     = "dlq_error"
)
