-- 0001: the four tables. Columns are the contract the reports in queries/ read.
-- Timestamps are DateTime('UTC') (second precision: ClickHouse 18.16 has no DateTime64).
-- version = collected_at in Unix nanoseconds: the newest collected state wins in ReplacingMergeTree.

CREATE TABLE IF NOT EXISTS audit_events (
    tenant         String,
    id             String,
    action         String,
    actor          String,
    description    String,
    timestamp      DateTime('UTC'),
    token_id       String,
    collected_at   DateTime('UTC'),
    version        UInt64,
    schema_version UInt16
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(timestamp)
-- Reports ask for one action (or a few) over a period, so the key leads with (action, timestamp): those
-- questions read ranges, not whole columns. An event's id fixes its action, timestamp and token_id, so
-- de-duplication still happens per (tenant, id).
ORDER BY (tenant, action, timestamp, token_id, id);

CREATE TABLE IF NOT EXISTS tokens (
    tenant              String,
    id                  String,
    label               String,
    type                String,
    status              String,
    value_fingerprint   String,
    created_timestamp   DateTime('UTC'),
    expires_timestamp   Nullable(DateTime('UTC')),
    last_used_timestamp Nullable(DateTime('UTC')),
    revoked_timestamp   Nullable(DateTime('UTC')),
    deleted             UInt8,
    collected_at        DateTime('UTC'),
    version             UInt64,
    schema_version      UInt16
) ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, id);

CREATE TABLE IF NOT EXISTS token_changes (
    tenant              String,
    id                  String,
    label               String,
    type                String,
    status              String,
    value_fingerprint   String,
    created_timestamp   DateTime('UTC'),
    expires_timestamp   Nullable(DateTime('UTC')),
    last_used_timestamp Nullable(DateTime('UTC')),
    revoked_timestamp   Nullable(DateTime('UTC')),
    deleted             UInt8,
    collected_at        DateTime('UTC'),
    version             UInt64,
    schema_version      UInt16
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(collected_at)
ORDER BY (tenant, id, version);

CREATE TABLE IF NOT EXISTS settings_changes (
    tenant            String,
    max_active_tokens Nullable(Int64),
    tokens_required   UInt8,
    collected_at      DateTime('UTC'),
    version           UInt64,
    schema_version    UInt16
) ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, version);
