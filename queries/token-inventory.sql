-- name: token-inventory
-- title: Token inventory
-- description: Every installation token the collector has seen, deleted ones included: its state, label,
-- description: creation, expiry, last use and revocation, its age and the days since its last use.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time for states, ages and days since last use"

-- section: tokens "Tokens"
-- State is judged as of now: deleted, revoked (status or revoked_timestamp), expired (status or
-- expires_timestamp), otherwise valid. Ages are whole days.
SELECT
    id AS token_id,
    label,
    multiIf(deleted = 1, 'deleted',
            revoked_timestamp IS NOT NULL OR status = 'revoked', 'revoked',
            status = 'expired' OR expires_timestamp <= @now, 'expired',
            'valid') AS state,
    status,
    created_timestamp AS created,
    expires_timestamp AS expires,
    last_used_timestamp AS last_used,
    revoked_timestamp AS revoked,
    intDiv(dateDiff('second', created_timestamp, @now), 86400) AS age_days,
    intDiv(dateDiff('second', last_used_timestamp, @now), 86400) AS days_since_last_use
FROM tokens FINAL
WHERE tenant = @tenant
ORDER BY created, token_id
