-- name: expiring-tokens
-- title: Expiring tokens
-- description: Valid tokens that expire within the next N days, and valid tokens that never expire.
-- description: days_left has one decimal, halves rounded up (6 hours is 0.3 days) on every ClickHouse version.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time: expiry is counted from it"
-- param: days Int = 30 "Look-ahead window in days"

-- section: expiring "Expiring soon"
-- Soonest first; days_left has one decimal, halves rounded up.
SELECT
    token_id,
    label,
    expires,
    days_left,
    last_used,
    created_by
FROM
(
    SELECT
        id AS token_id,
        label,
        expires_timestamp AS expires,
        floor(dateDiff('second', @now, assumeNotNull(expires_timestamp)) / 8640 + 0.5) / 10 AS days_left,
        last_used_timestamp AS last_used
    FROM tokens FINAL
    WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
      AND expires_timestamp > @now AND expires_timestamp <= addDays(@now, @days)
) AS expiring
GLOBAL LEFT JOIN
(
    SELECT token_id, argMin(actor, timestamp) AS created_by
    FROM audit_events
    WHERE tenant = @tenant AND action = 'token_create'
    GROUP BY token_id
) AS creators USING token_id
ORDER BY expires, token_id

-- section: never_expire "Never expire"
-- A token without expiry stays usable until someone revokes it. Oldest first; policy-findings names
-- their creators.
SELECT
    id AS token_id,
    label,
    created_timestamp AS created,
    intDiv(dateDiff('second', created_timestamp, @now), 86400) AS age_days,
    last_used_timestamp AS last_used,
    intDiv(dateDiff('second', last_used_timestamp, @now), 86400) AS days_since_last_use
FROM tokens FINAL
WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
  AND expires_timestamp IS NULL
ORDER BY created, token_id
