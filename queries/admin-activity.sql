-- name: admin-activity
-- title: Admin activity
-- description: Who did what to installation tokens and settings over the period: audit actions per actor and
-- description: per day, who created, revoked and deleted tokens, and tokens created and deleted by the same
-- description: actor within a short window.
-- description: minutes_alive has one decimal, halves rounded up (15 seconds is 0.3 minutes) on every ClickHouse version.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: since DateTime = 30d "Start of the period (inclusive)"
-- param: until DateTime = now "End of the period (exclusive)"
-- param: window Duration = 1h "Longest a token may live to count as created and deleted within a short window"
-- param: limit Int = 1000 "At most this many rows in the list of creations, revocations and deletions"

-- section: per_actor "Actions per actor"
-- Actions the audit trail does not know yet are counted as other. Busiest actor first.
SELECT
    actor,
    count() AS actions,
    countIf(action = 'token_create') AS created,
    countIf(action = 'token_update') AS updated,
    countIf(action = 'token_revoke') AS revoked,
    countIf(action = 'token_restore') AS restored,
    countIf(action = 'token_delete') AS deleted,
    countIf(action = 'customer_settings_update') AS settings_changed,
    countIf(action NOT IN ('token_create', 'token_update', 'token_revoke', 'token_restore', 'token_delete',
                           'customer_settings_update')) AS other,
    min(timestamp) AS first_action,
    max(timestamp) AS last_action
FROM audit_events FINAL
WHERE tenant = @tenant AND timestamp >= @since AND timestamp < @until
GROUP BY actor
ORDER BY actions DESC, actor

-- section: per_day "Actions per day"
-- chart: bar x=day y=created,updated,revoked,restored,deleted,settings_changed,other
-- Every day of the period is listed, quiet days with zero.
SELECT
    day,
    actions,
    actors,
    created,
    updated,
    revoked,
    restored,
    deleted,
    settings_changed,
    other
FROM
(
    SELECT arrayJoin(arrayMap(i -> toDate(@since) + i,
        range(toUInt32(dateDiff('day', toDate(@since), toDate(@until - 1)) + 1)))) AS day
) AS days
GLOBAL LEFT JOIN
(
    SELECT
        toDate(timestamp) AS day,
        count() AS actions,
        uniqExact(actor) AS actors,
        countIf(action = 'token_create') AS created,
        countIf(action = 'token_update') AS updated,
        countIf(action = 'token_revoke') AS revoked,
        countIf(action = 'token_restore') AS restored,
        countIf(action = 'token_delete') AS deleted,
        countIf(action = 'customer_settings_update') AS settings_changed,
        countIf(action NOT IN ('token_create', 'token_update', 'token_revoke', 'token_restore', 'token_delete',
                               'customer_settings_update')) AS other
    FROM audit_events FINAL
    WHERE tenant = @tenant AND timestamp >= @since AND timestamp < @until
    GROUP BY day
) AS counts USING day
ORDER BY day

-- section: token_events "Tokens created, revoked and deleted"
-- Who created, revoked or deleted which token, in time order (at most limit rows).
SELECT
    at,
    action_name AS action,
    e_actor AS actor,
    token_id,
    label
FROM
(
    -- Redelivered copies of an event are identical: DISTINCT collapses them without FINAL (one token
    -- cannot get the same action from the same actor twice in one second).
    SELECT DISTINCT
        timestamp AS at,
        multiIf(action = 'token_create', 'created', action = 'token_revoke', 'revoked', 'deleted') AS action_name,
        actor AS e_actor,
        token_id
    FROM audit_events
    WHERE tenant = @tenant AND timestamp >= @since AND timestamp < @until
      AND action IN ('token_create', 'token_revoke', 'token_delete')
    ORDER BY at, token_id, action_name, e_actor
    LIMIT @limit
) AS events
GLOBAL LEFT JOIN
(
    SELECT id AS token_id, label
    FROM tokens FINAL
    WHERE tenant = @tenant
) AS labels USING token_id
ORDER BY at, token_id, action, actor

-- section: quick_create_delete "Created and deleted by the same actor within the window"
-- A token that lives briefly and leaves by its creator's hand can hide a leaked installation.
SELECT
    token_id,
    label,
    actor,
    created_at,
    deleted_at,
    floor(dateDiff('second', created_at, deleted_at) / 6 + 0.5) / 10 AS minutes_alive
FROM
(
    SELECT *
    FROM
    (
        SELECT token_id, actor, min(timestamp) AS created_at
        FROM audit_events
        WHERE tenant = @tenant AND action = 'token_create' AND token_id != ''
          AND timestamp >= subtractSeconds(@since, @window) AND timestamp < @until
        GROUP BY token_id, actor
    ) AS creations
    GLOBAL INNER JOIN
    (
        SELECT token_id, actor, min(timestamp) AS deleted_at
        FROM audit_events
        WHERE tenant = @tenant AND action = 'token_delete' AND token_id != ''
          AND timestamp >= @since AND timestamp < @until
        GROUP BY token_id, actor
    ) AS deletions USING (token_id, actor)
    WHERE deleted_at >= created_at AND dateDiff('second', created_at, deleted_at) <= @window
) AS quick
GLOBAL LEFT JOIN
(
    SELECT id AS token_id, label
    FROM tokens FINAL
    WHERE tenant = @tenant
) AS labels USING token_id
ORDER BY deleted_at, token_id
