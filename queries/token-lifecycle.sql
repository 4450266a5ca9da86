-- name: token-lifecycle
-- title: Token lifecycle
-- description: Per token, the ordered timeline of its lifecycle (created, label or expiry changed, revoked,
-- description: restored, deleted) with the actors, the time to its first use and its active lifetime.
-- description: It covers the tokens whose collected state changed in the period (created, changed, used, revoked,
-- description: restored or deleted) or that expired in it, or those a token or label filter names.
-- description: days_to_first_use and active_days have one decimal, halves rounded up (6 hours is 0.3 days) on every
-- description: ClickHouse version.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time: lifetimes of live tokens run until it"
-- param: since DateTime = 30d "Start of the period: its audit events make the timeline"
-- param: until DateTime = now "End of the period (exclusive)"
-- param: token String = "" "Only this token id (then its period activity is not required)"
-- param: label String = "" "Only tokens whose label matches this pattern (case-insensitive; * or % any text, _ one character)"
-- param: limit Int = 100 "At most this many tokens, oldest first"

-- fragment: selected_tokens
-- The tokens the report covers, oldest first: the one a token filter names, those whose label
-- matches a label filter, or else those created, expiring or seen changed in the period.
SELECT id, label, created_timestamp, expires_timestamp, status, revoked_timestamp, deleted
FROM tokens FINAL
WHERE tenant = @tenant
  AND (@token = '' OR id = @token)
  AND (@label = '' OR lower(label) LIKE lower(replaceAll(@label, '*', '%')))
  AND (@token != '' OR @label != ''
       OR (created_timestamp >= @since AND created_timestamp < @until)
       OR (expires_timestamp >= @since AND expires_timestamp < @until)
       OR id GLOBAL IN (SELECT id FROM token_changes
                 WHERE tenant = @tenant AND collected_at >= @since AND collected_at < @until))
ORDER BY created_timestamp, id
LIMIT @limit

-- section: tokens "Tokens"
-- From the collected token states (the whole history): first_used is the earliest use a collection
-- observed, revocations and restores count state changes, active_days runs from creation to deletion,
-- expiry or now, less the time spent revoked (restores are timed by the collection that saw them).
-- created_by and deleted_by come from the audit trail.
SELECT
    token_id,
    label,
    state,
    created,
    created_by,
    first_used,
    if(first_used IS NULL, NULL, floor(dateDiff('second', created, assumeNotNull(first_used)) / 8640 + 0.5) / 10) AS days_to_first_use,
    revocations,
    restores,
    if(audit_deleted_at IS NULL, if(seen_deleted_at = 0, NULL, toDateTime(seen_deleted_at, 'UTC')), audit_deleted_at) AS deleted_at,
    deleted_by,
    floor(active_seconds / 8640 + 0.5) / 10 AS active_days
FROM
(
    SELECT *
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
                created_timestamp AS created
            FROM ({{selected_tokens}})
        ) AS listed
        GLOBAL LEFT JOIN
        (
            SELECT
                token_id,
                first_used,
                arraySum(arrayMap((r, p) -> toUInt64(r = 1 AND p = 0), revoked_flags, prev_flags)) AS revocations,
                arraySum(arrayMap((r, p) -> toUInt64(r = 0 AND p = 1), revoked_flags, prev_flags)) AS restores,
                tupleElement(arrayFirst(x -> tupleElement(x, 3) = 1, vs), 1) AS seen_deleted_at,
                arraySum(arrayMap((b, e, ok) -> if(ok = 1, greatest(0, toInt64(e) - b), 0), starts, ends, valid_flags)) AS active_seconds
            FROM
            (
                SELECT
                    token_id,
                    first_used,
                    -- A token first seen already revoked was valid from its creation to the revocation,
                    -- a version no collection saw: put it back.
                    if(tupleElement(seen[1], 2) = 1 AND tupleElement(seen[1], 4) > tupleElement(seen[1], 6),
                       arrayPushFront(seen, (tupleElement(seen[1], 6), toUInt8(0), toUInt8(0), toUInt32(0),
                                             tupleElement(seen[1], 5), tupleElement(seen[1], 6))),
                       seen) AS vs,
                    arrayMap(x -> tupleElement(x, 2), vs) AS revoked_flags,
                    arrayPushFront(arrayPopBack(revoked_flags), toUInt8(0)) AS prev_flags,
                    arrayMap(x -> toUInt8(tupleElement(x, 2) = 0 AND tupleElement(x, 3) = 0), vs) AS valid_flags,
                    -- A version starts at its collection, the first at creation, one that shows a new
                    -- revocation at the revocation instant.
                    arrayPushFront(arrayPopFront(arrayMap((x, p) -> if(tupleElement(x, 2) = 1 AND p = 0 AND tupleElement(x, 4) > 0,
                                                                       tupleElement(x, 4), tupleElement(x, 1)), vs, prev_flags)),
                                   tupleElement(vs[1], 6)) AS starts,
                    arrayMap((next, x) -> least(next, if(tupleElement(x, 5) = 0, next, tupleElement(x, 5))),
                             arrayPushBack(arrayPopFront(starts), toUInt32(@now)), vs) AS ends
                FROM
                (
                    SELECT
                        id AS token_id,
                        min(last_used_timestamp) AS first_used,
                        arraySort(groupArray((toUInt32(collected_at),
                                              toUInt8(revoked_timestamp IS NOT NULL OR status = 'revoked'),
                                              deleted,
                                              toUInt32(ifNull(revoked_timestamp, toDateTime(0))),
                                              toUInt32(ifNull(expires_timestamp, toDateTime(0))),
                                              toUInt32(created_timestamp)))) AS seen
                    FROM token_changes
                    PREWHERE id GLOBAL IN (SELECT id FROM ({{selected_tokens}}))
                    WHERE tenant = @tenant AND collected_at <= @now
                    GROUP BY token_id
                )
            )
        ) AS history USING token_id
    ) AS listed_history
    GLOBAL LEFT JOIN
    (
        -- Creation and deletion events of the listed tokens, whenever they happened (a token asked for
        -- by id may have been deleted long before the period). Both actions are rare and lead the
        -- audit sort key, so this reads a small share of a long history.
        SELECT
            token_id,
            argMinIf(actor, timestamp, action = 'token_create') AS created_by,
            if(countIf(action = 'token_delete') = 0, NULL, minIf(timestamp, action = 'token_delete')) AS audit_deleted_at,
            argMinIf(actor, timestamp, action = 'token_delete') AS deleted_by
        FROM audit_events
        PREWHERE token_id GLOBAL IN (SELECT id FROM ({{selected_tokens}}))
        WHERE tenant = @tenant AND action IN ('token_create', 'token_delete')
        GROUP BY token_id
    ) AS audit USING token_id
)
ORDER BY created, token_id
-- ClickHouse 18.16 builds the set of an IN subquery on a key column once more for every level of
-- nesting, to try it on the index; the token lists are scattered ids no index can narrow, so build
-- each set once, when the query runs.
SETTINGS use_index_for_in_with_subqueries = 0

-- section: timeline "Timeline"
-- Each token's creation, its audit events in the period, its first observed use and its expiry when
-- past, in time order.
SELECT
    token_id,
    label,
    at,
    event,
    actor,
    detail
FROM
(
    SELECT token_id, at, event, actor, detail, rank, event_key
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
            e_description AS event_key
        FROM
        (
            -- Redelivered copies of an event are identical: DISTINCT collapses them.
            SELECT DISTINCT token_id AS e_token, timestamp AS e_at, action AS e_action,
                   actor AS e_actor, description AS e_description
            FROM audit_events
            PREWHERE token_id GLOBAL IN (SELECT id FROM ({{selected_tokens}}))
            WHERE tenant = @tenant
              AND (action = 'token_create' OR (timestamp >= @since AND timestamp < @until))
        )
        UNION ALL
        SELECT
            id AS token_id,
            min(assumeNotNull(last_used_timestamp)) AS at,
            'first_use' AS event,
            '' AS actor,
            'first use observed by a collection' AS detail,
            toUInt8(3) AS rank,
            '' AS event_key
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
            '' AS event_key
        FROM tokens FINAL
        WHERE tenant = @tenant AND expires_timestamp <= @now
    )
) AS events
GLOBAL INNER JOIN
(
    SELECT id AS token_id, label, created_timestamp AS created
    FROM ({{selected_tokens}})
) AS listed USING token_id
ORDER BY created, token_id, at, rank, actor, event_key
-- ClickHouse 18.16 builds the set of an IN subquery on a key column once more for every level of
-- nesting, to try it on the index; the token lists are scattered ids no index can narrow, so build
-- each set once, when the query runs.
SETTINGS use_index_for_in_with_subqueries = 0
