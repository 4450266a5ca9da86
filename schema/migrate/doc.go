// Package migrate applies the versioned ClickHouse migrations embedded in the
// binary (schema/migrations) and records each one in a schema_migrations
// table of the target database.
//
// Migrations are files named NNNN_name.sql, applied in version order. A
// migration is recorded only after every one of its statements ran, and
// every statement must be idempotent, so Apply is safe to run twice, from
// several processes at once, and again after a partial failure:
//
//   - CREATE TABLE IF NOT EXISTS t ...
//   - ALTER TABLE t ADD COLUMN c ... (skipped when the column exists),
//     ALTER TABLE t DROP COLUMN c (skipped when it does not),
//     ALTER TABLE t MODIFY COLUMN c ...; one action per ALTER
//   - DROP TABLE IF EXISTS t
//
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so the runner checks
// system.columns itself. Table names in the files are unqualified: Apply
// qualifies them with Options.Database, so each file stays directly
// executable, statement by statement, on a single node.
//
// With Options.Cluster set, Apply rewrites the DDL for a cluster instead of
// templating the files: each table t becomes t_local ON CLUSTER with the
// Replicated variant of its engine (ZooKeeper path ZooKeeperPath, which
// names the cluster and {shard}), plus t itself as a Distributed table over
// t_local, sharded by a hash of the sort key without the ReplacingMergeTree
// version column (audit_events: of tenant and token_id), so that rows which
// replace each other meet on one shard. Readers and writers keep using the
// same table names.
//
// On a cluster, Apply reads the ledger before it sends any DDL, so a start
// with the schema current never waits for a host that is down. An ALTER
// runs on the Replicated local table on one replica of each shard, reached
// through Options.Dial and guarded by its system.columns (18.16 has no IF
// [NOT] EXISTS there, and its ON CLUSTER ALTER of replicated tables can run
// twice in a shard and hang a server's DDL queue); the other replicas take
// it from ZooKeeper. The Distributed table is then re-created over the
// local one under a temporary name and renamed into place, ON CLUSTER
// (18.16 refuses ALTER ON CLUSTER on a Distributed table of a replicated
// cluster). Each ON CLUSTER statement and each ALTER waits at most
// Options.DDLTimeout; a host that did not finish makes it a
// *DDLTimeoutError naming the hosts, and the migration is not recorded.
// The ledger itself is one table replicated on every node of the cluster.
package migrate
