// Package schema is the contract between the collector, the sink and SIEM
// consumers: the record types published to Kafka, the topic names and
// headers, the JSON Schema documents that describe them (schema/*.schema.json,
// older versions under schema/v1/), and the ClickHouse migrations
// (schema/migrations).
//
// schema is the single owner of each record type. Its Go type (AuditEvent,
// Token with TokenState, Settings) and the field list declared beside it
// (records.go) are the definition from which everything else follows: the
// JSON encoding (Marshal, with one timestamp layout, TimeLayout) and names
// (the struct tags), decoding and validation (Decode, Decoder, CheckID), the
// Kafka headers (Headers), the ClickHouse columns and row mapping (Tables,
// Columns) used by the sink and the test loaders, and the state the
// collector keeps of a token (TokenState). The JSON Schemas and the
// migrations are checked against it by tests (jsonschema_test.go field by
// field; queries/querytest against a real ClickHouse).
//
// Adding a field: declare it on the type and in its def's list (records.go),
// add it to the type's JSON Schema, and add its column with a new migration;
// the tests say what is missing. Set its value where the collector builds
// records. A change that could break a consumer bumps Version (see README,
// "Topic contract"); Decode keeps reading older versions and derives what
// they lack (the type's check function).
//
// Every record carries record_type, schema_version, cid, tenant,
// collected_at, event_time and event_time_source. A token's secret value
// never appears in a record: only value_fingerprint, an HMAC-SHA256 under a
// key the operator controls.
package schema
