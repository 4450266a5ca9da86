// Package schema is the contract between the collector, the sink and SIEM
// consumers: the record types published to Kafka, the topic names, the JSON
// Schema documents that describe them (schema/*.schema.json), and the
// ClickHouse migrations (schema/migrations).
//
// Every record carries record_type, schema_version, tenant and collected_at.
// A token's secret value never appears in a record: only value_fingerprint,
// an HMAC-SHA256 under a key the operator controls.
package schema
