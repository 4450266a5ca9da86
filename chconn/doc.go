// Package chconn answers one question for the sink, the migrate command and
// the report command: how to reach ClickHouse. It turns a clickhouse:// DSN
// plus the user, password and TLS settings given beside it into a native
// protocol connection, creating the DSN's database when it is missing.
// Flags are the command-line flags and variables that say so, shared by
// the ingest and report commands.
//
// The native protocol is the one that works on every server the project
// supports (ClickHouse 18.16 rejects clickhouse-go's HTTP protocol), so
// only clickhouse:// DSNs are accepted.
package chconn
