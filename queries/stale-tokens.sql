-- name: stale-tokens
-- title: Stale tokens
-- description: Valid tokens unused for the last N days, or never used N days after their creation:
-- description: the candidates for revocation.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time: staleness is counted back from it"
-- param: days Int = 90 "Days without a use after which a valid token is stale"

-- section: stale "Revoke candidates"
-- Valid = not deleted, not revoked, not expired. Oldest activity first.
SELECT
    token_id,
    label,
    reason,
    created,
    created_by,
    last_used,
    days_since_last_use,
    age_days,
    expires
FROM
(
    SELECT
        id AS token_id,
        label,
        if(last_used_timestamp IS NULL, 'never used', 'unused') AS reason,
        created_timestamp AS created,
        last_used_timestamp AS last_used,
        intDiv(dateDiff('second', last_used_timestamp, @now), 86400) AS days_since_last_use,
        intDiv(dateDiff('second', created_timestamp, @now), 86400) AS age_days,
        expires_timestamp AS expires
    FROM tokens FINAL
    WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
      AND (expires_timestamp IS NULL OR expires_timestamp > @now)
      AND ifNull(last_used_timestamp, created_timestamp) < subtractDays(@now, @days)
) AS stale
GLOBAL LEFT JOIN
(
    SELECT token_id, argMin(actor, timestamp) AS created_by
    FROM audit_events
    WHERE tenant = @tenant AND action = 'token_create'
    GROUP BY token_id
) AS creators USING token_id
ORDER BY ifNull(last_used, created), token_id
