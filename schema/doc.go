// Package schema is the contract between the collector, the sink and SIEM
// consumers: the record types published to Kafka, the topic names, the JSON
// Schema documents that describe them (schema/*.schema.json), and the
// ClickHouse migrations (schema/migrations).
//
// schema is the single owner of each record type. Its Go type (AuditEvent,
// Token, Settings) and the field list declared beside it (records.go) are the
// definition from which everything else follows: the JSON names (the struct
// tags), decoding and validation (Decode, Decoder, CheckID), the ClickHouse
// columns and row mapping (Tables, Columns) used by the sink and the test
// loaders. The JSON Schemas and the migrations are checked against it by
// tests (jsonschema_test.go; queries/querytest against a real ClickHouse).
//
// Every record carries record_type, schema_version, tenant and collected_at.
// A token's secret value never appears in a record: only value_fingerprint,
// an HMAC-SHA256 under a key the operator controls.
package schema
