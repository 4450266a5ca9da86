-- One row per collector poll and tenant (record type coverage, topic installation_tokens.coverage): the audit
-- window it read, the events the API reported and the collector published, the snapshots taken and the
-- failures. Reports read it for collection coverage and reconciliation. A redelivered record has the same
-- version (its collected_at) and collapses under FINAL.
CREATE TABLE IF NOT EXISTS collection_coverage (
    cid               String,
    tenant            String,
    poll_started      DateTime('UTC'),
    audit_from        Nullable(DateTime('UTC')),
    audit_to          DateTime('UTC'),
    query_from        Nullable(DateTime('UTC')),
    api_total         Int64,
    published         Int64,
    published_late    Int64,
    tokens_snapshot   UInt8,
    tokens            Int64,
    settings_snapshot UInt8,
    failures          Int64,
    error             String,
    collected_at      DateTime('UTC'),
    event_time        DateTime('UTC'),
    event_time_source String,
    version           UInt64,
    schema_version    UInt16
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(collected_at)
ORDER BY (tenant, poll_started, version);
