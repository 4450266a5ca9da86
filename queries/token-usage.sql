-- name: token-usage
-- title: Token usage
-- description: How installation tokens were used over the period: tokens used per day, active versus idle
-- description: valid tokens, the most used tokens, and the tokens never used.
-- description: pct_of_valid has one decimal, halves rounded up (1 of 16 is 6.3%) on every ClickHouse version.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time for states and ages"
-- param: since DateTime = 30d "Start of the period (inclusive)"
-- param: until DateTime = now "End of the period (exclusive)"
-- param: top Int = 10 "How many tokens the most-used list shows"

-- section: per_day "Tokens used per day"
-- chart: bar x=day y=tokens_used
-- A use is a new last_used_timestamp seen by a collection (uses between two collections count once).
-- Every day of the period is listed, idle days with zero.
SELECT
    day,
    tokens_used,
    uses_observed
FROM
(
    SELECT arrayJoin(arrayMap(i -> toDate(@since) + i,
        range(toUInt32(dateDiff('day', toDate(@since), toDate(@until - 1)) + 1)))) AS day
) AS days
GLOBAL LEFT JOIN
(
    SELECT
        toDate(used_at) AS day,
        uniqExact(id) AS tokens_used,
        count() AS uses_observed
    FROM
    (
        SELECT DISTINCT id, assumeNotNull(last_used_timestamp) AS used_at
        FROM token_changes
        WHERE tenant = @tenant AND last_used_timestamp >= @since AND last_used_timestamp < @until
    )
    GROUP BY day
) AS uses USING day
ORDER BY day

-- section: active_idle "Active and idle valid tokens"
-- Tokens valid now: active = used in the period, idle = used before but not in the period, never_used = no use recorded.
SELECT
    category,
    tokens,
    if(valid_tokens = 0, 0, floor(1000 * tokens / valid_tokens + 0.5) / 10) AS pct_of_valid
FROM
(
    SELECT
        arrayJoin(['active', 'idle', 'never_used']) AS category,
        (
            SELECT count()
            FROM tokens FINAL
            WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
              AND (expires_timestamp IS NULL OR expires_timestamp > @now)
        ) AS valid_tokens
) AS categories
GLOBAL LEFT JOIN
(
    SELECT
        multiIf(id GLOBAL IN (
                    SELECT id FROM token_changes
                    WHERE tenant = @tenant AND last_used_timestamp >= @since AND last_used_timestamp < @until
                ), 'active',
                last_used_timestamp IS NULL, 'never_used',
                'idle') AS category,
        count() AS tokens
    FROM tokens FINAL
    WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
      AND (expires_timestamp IS NULL OR expires_timestamp > @now)
    GROUP BY category
) AS counts USING category
ORDER BY indexOf(['active', 'idle', 'never_used'], category)

-- section: most_used "Most used tokens"
-- Ranked by uses observed in the period, then by days with a use.
SELECT
    token_id,
    label,
    state,
    uses_observed,
    days_used,
    first_use,
    last_use
FROM
(
    SELECT
        id AS token_id,
        count() AS uses_observed,
        uniqExact(toDate(used_at)) AS days_used,
        min(used_at) AS first_use,
        max(used_at) AS last_use
    FROM
    (
        SELECT DISTINCT id, assumeNotNull(last_used_timestamp) AS used_at
        FROM token_changes
        WHERE tenant = @tenant AND last_used_timestamp >= @since AND last_used_timestamp < @until
    )
    GROUP BY token_id
) AS uses
GLOBAL LEFT JOIN
(
    SELECT
        id AS token_id,
        label,
        multiIf(deleted = 1, 'deleted',
                revoked_timestamp IS NOT NULL OR status = 'revoked', 'revoked',
                status = 'expired' OR expires_timestamp <= @now, 'expired',
                'valid') AS state
    FROM tokens FINAL
    WHERE tenant = @tenant
) AS states USING token_id
ORDER BY uses_observed DESC, days_used DESC, last_use DESC, token_id
LIMIT @top

-- section: never_used "Tokens never used"
-- Tokens not deleted that no collection has seen used, oldest first.
SELECT
    token_id,
    label,
    state,
    created,
    created_by,
    expires,
    age_days
FROM
(
    SELECT
        id AS token_id,
        label,
        multiIf(revoked_timestamp IS NOT NULL OR status = 'revoked', 'revoked',
                status = 'expired' OR expires_timestamp <= @now, 'expired',
                'valid') AS state,
        created_timestamp AS created,
        expires_timestamp AS expires,
        intDiv(dateDiff('second', created_timestamp, @now), 86400) AS age_days
    FROM tokens FINAL
    WHERE tenant = @tenant AND deleted = 0 AND last_used_timestamp IS NULL AND created_timestamp < @until
) AS unused
GLOBAL LEFT JOIN
(
    SELECT token_id, argMin(actor, timestamp) AS created_by
    FROM audit_events
    WHERE tenant = @tenant AND action = 'token_create'
    GROUP BY token_id
) AS creators USING token_id
ORDER BY created, token_id
