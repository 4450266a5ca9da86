-- name: token-lifecycle
-- title: Token lifecycle
-- description: Per token, the ordered timeline of its lifecycle (created, label or expiry changed, revoked,
-- description: restored, deleted) with the actors, the time to its first use and its active lifetime.
-- description: Without a token or label filter, it covers the tokens with lifecycle activity in the period.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time: lifetimes of live tokens run until it"
-- param: since DateTime = 30d "Start of the period (used when neither token nor label is given)"
-- param: until DateTime = now "End of the period, exclusive (used when neither token nor label is given)"
-- param: token String = "" "Only this token id"
-- param: label String = "" "Only tokens whose label matches this pattern (case-insensitive; * or % any text, _ one character)"
-- param: limit Int = 100 "At most this many tokens, oldest first"

-- section: tokens "Tokens"
-- first_used is the earliest use a collection observed; days_to_first_use counts from creation.
-- active_days counts from creation to deletion, expiry or now, less the time spent revoked.
SELECT
    token_id,
    label,
    state,
    created,
    created_by,
    first_used,
    if(first_used IS NULL, NULL, round(dateDiff('second', created, assumeNotNull(first_used)) / 86400, 1)) AS days_to_first_use,
    revocations,
    restores,
    deleted_at,
    deleted_by,
    round(greatest(0, toInt64(end_at) - toUInt32(created)
        - arraySum(arrayMap(r -> greatest(0, toInt64(least(end_at,
                if(arrayFirst(s -> s > r, restore_times) = 0, end_at, arrayFirst(s -> s > r, restore_times)))) - r),
            arrayFilter(r -> r < end_at, revoke_times)))) / 86400, 1) AS active_days
FROM
(
    SELECT
        *,
        if(deleted = 1 AND deleted_at IS NOT NULL, toUInt32(assumeNotNull(deleted_at)), toUInt32(@now)) AS deleted_or_now,
        least(deleted_or_now, if(expires IS NULL, deleted_or_now, toUInt32(assumeNotNull(expires)))) AS end_at,
        if(empty(audit_revokes) AND revoked IS NOT NULL, [toUInt32(assumeNotNull(revoked))], audit_revokes) AS revoke_times,
        audit_restores AS restore_times
    FROM
    (
        SELECT *
        FROM
        (
            SELECT
                id AS token_id,
                label,
                multiIf(deleted = 1, 'deleted',
                        revoked_timestamp IS NOT NULL OR status = 'revoked', 'revoked',
                        status = 'expired' OR expires_timestamp <= @now, 'expired',
                        'valid') AS state,
                deleted,
                created_timestamp AS created,
                expires_timestamp AS expires,
                revoked_timestamp AS revoked
            FROM tokens FINAL
            WHERE tenant = @tenant
              AND (@token = '' OR id = @token)
              AND (@label = '' OR lower(label) LIKE lower(replaceAll(@label, '*', '%')))
              AND (@token != '' OR @label != ''
                   OR (created_timestamp >= @since AND created_timestamp < @until)
                   OR (expires_timestamp >= @since AND expires_timestamp < @until)
                   OR id IN (SELECT token_id FROM audit_events
                             WHERE tenant = @tenant AND timestamp >= @since AND timestamp < @until)
                   OR id IN (SELECT id FROM token_changes
                             WHERE tenant = @tenant AND last_used_timestamp >= @since AND last_used_timestamp < @until))
            ORDER BY created, token_id
            LIMIT @limit
        )
        LEFT JOIN
        (
            SELECT
                e_token AS token_id,
                argMinIf(e_actor, e_at, e_action = 'token_create') AS created_by,
                countIf(e_action = 'token_revoke') AS revocations,
                countIf(e_action = 'token_restore') AS restores,
                if(countIf(e_action = 'token_delete') = 0, NULL, minIf(e_at, e_action = 'token_delete')) AS deleted_at,
                argMinIf(e_actor, e_at, e_action = 'token_delete') AS deleted_by,
                arraySort(groupArrayIf(toUInt32(e_at), e_action = 'token_revoke')) AS audit_revokes,
                arraySort(groupArrayIf(toUInt32(e_at), e_action = 'token_restore')) AS audit_restores
            FROM
            (
                -- One row per event id: redelivered copies collapse.
                SELECT id, any(token_id) AS e_token, any(action) AS e_action, any(actor) AS e_actor, any(timestamp) AS e_at
                FROM audit_events
                WHERE tenant = @tenant AND token_id != '' AND action IN ('token_create', 'token_revoke', 'token_restore', 'token_delete')
                GROUP BY id
            )
            GROUP BY e_token
        ) USING token_id
    )
    LEFT JOIN
    (
        SELECT id AS token_id, min(last_used_timestamp) AS first_used
        FROM token_changes
        WHERE tenant = @tenant
        GROUP BY token_id
    ) USING token_id
)
-- ClickHouse 18.16 drops subquery columns that only a lambda reads: name them here too.
WHERE NOT ignore(end_at, restore_times)
ORDER BY created, token_id

-- section: timeline "Timeline"
-- Audit events of each token in time order, with the first observed use and the expiry when past.
SELECT
    token_id,
    label,
    at,
    event,
    actor,
    detail
FROM
(
    SELECT token_id, at, event, actor, detail, rank, event_id
    FROM
    (
        SELECT
            e_token AS token_id,
            e_at AS at,
            multiIf(e_action = 'token_create', 'created', e_action = 'token_update', 'updated',
                    e_action = 'token_revoke', 'revoked', e_action = 'token_restore', 'restored',
                    e_action = 'token_delete', 'deleted', e_action) AS event,
            e_actor AS actor,
            e_description AS detail,
            toUInt8(multiIf(e_action = 'token_create', 1, e_action = 'token_update', 2, e_action = 'token_revoke', 4,
                            e_action = 'token_restore', 5, e_action = 'token_delete', 7, 8)) AS rank,
            id AS event_id
        FROM
        (
            -- One row per event id: redelivered copies collapse.
            SELECT id, any(token_id) AS e_token, any(timestamp) AS e_at, any(action) AS e_action,
                   any(actor) AS e_actor, any(description) AS e_description
            FROM audit_events
            WHERE tenant = @tenant AND token_id != ''
              AND token_id IN (
                SELECT id FROM tokens FINAL
                WHERE tenant = @tenant
                  AND (@token = '' OR id = @token)
                  AND (@label = '' OR lower(label) LIKE lower(replaceAll(@label, '*', '%')))
              )
            GROUP BY id
        )
        UNION ALL
        SELECT
            id AS token_id,
            min(assumeNotNull(last_used_timestamp)) AS at,
            'first_use' AS event,
            '' AS actor,
            'first use observed by a collection' AS detail,
            toUInt8(3) AS rank,
            '' AS event_id
        FROM token_changes
        WHERE tenant = @tenant AND last_used_timestamp IS NOT NULL
        GROUP BY token_id
        UNION ALL
        SELECT
            id AS token_id,
            assumeNotNull(expires_timestamp) AS at,
            'expired' AS event,
            '' AS actor,
            'expiry passed' AS detail,
            toUInt8(6) AS rank,
            '' AS event_id
        FROM tokens FINAL
        WHERE tenant = @tenant AND expires_timestamp <= @now
    )
)
INNER JOIN
(
    SELECT id AS token_id, label, created_timestamp AS created
    FROM tokens FINAL
    WHERE tenant = @tenant
      AND (@token = '' OR id = @token)
      AND (@label = '' OR lower(label) LIKE lower(replaceAll(@label, '*', '%')))
      AND (@token != '' OR @label != ''
           OR (created_timestamp >= @since AND created_timestamp < @until)
           OR (expires_timestamp >= @since AND expires_timestamp < @until)
           OR id IN (SELECT token_id FROM audit_events
                     WHERE tenant = @tenant AND timestamp >= @since AND timestamp < @until)
           OR id IN (SELECT id FROM token_changes
                     WHERE tenant = @tenant AND last_used_timestamp >= @since AND last_used_timestamp < @until))
    ORDER BY created, token_id
    LIMIT @limit
) USING token_id
ORDER BY created, token_id, at, rank, event_id
