-- name: policy-findings
-- title: Policy findings
-- description: Compliance findings with a severity: tokens_required disabled (and since when), valid tokens
-- description: above a share of max_active_tokens, valid tokens without expiry, tokens used after their
-- description: revocation, tokens deleted without a prior revoke, and settings changes with who made them.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time for current states"
-- param: since DateTime = 30d "Start of the period for event findings: uses, deletions, settings changes"
-- param: until DateTime = now "End of the period (exclusive)"
-- param: limit_pct Int = 80 "Report valid tokens above this percentage of max_active_tokens"

-- section: findings "Findings"
-- Severity: high, medium, low, info. State findings are judged as of now; uses after revocation,
-- deletions and settings changes are those in the period. A settings change that weakens the policy
-- (tokens_required turned off, max_active_tokens raised or removed) is medium, any other is info.
-- A token deleted without a prior revoke is low: deleting ends the token at once, as revoking does, so
-- nothing stays exposed; what is missing is the revoke step of the retirement procedure and its audit record.
SELECT severity, finding, subject, at, actor, detail
FROM
(
    -- tokens_required disabled: since the first collection that saw it off after it was last on.
    SELECT
        'high' AS severity,
        'tokens_required_disabled' AS finding,
        @tenant AS subject,
        toDateTime(disabled_since, 'UTC') AS at,
        if(k > 0, ev_actors[k], '') AS actor,
        concat('sensor installs need no installation token since ', toString(toDateTime(disabled_since, 'UTC'))) AS detail
    FROM
    (
        SELECT
            disabled_since,
            ev_actors,
            arrayCount(t -> t <= toUInt32(disabled_since), ev_times) AS k
        FROM
        (
            SELECT tenant, min(collected_at) AS disabled_since
            FROM settings_changes
            WHERE tenant = @tenant AND tokens_required = 0
              AND collected_at > (SELECT maxIf(collected_at, tokens_required = 1) FROM settings_changes WHERE tenant = @tenant)
              AND (SELECT argMax(tokens_required, version) FROM settings_changes WHERE tenant = @tenant) = 0
            GROUP BY tenant
        ) AS disabled
        GLOBAL LEFT JOIN
        (
            SELECT
                tenant,
                arrayMap(x -> tupleElement(x, 1), evs) AS ev_times,
                arrayMap(x -> tupleElement(x, 2), evs) AS ev_actors
            FROM
            (
                -- Only the events after the last collection that saw tokens_required on.
                SELECT tenant, arraySort(groupArray((toUInt32(timestamp), actor))) AS evs
                FROM audit_events
                WHERE tenant = @tenant AND action = 'customer_settings_update'
                  AND timestamp > (SELECT maxIf(collected_at, tokens_required = 1) FROM settings_changes WHERE tenant = @tenant)
                GROUP BY tenant
            )
        ) AS explaining USING tenant
        WHERE NOT ignore(ev_times)
    )

    UNION ALL

    -- Active (valid) tokens above limit_pct percent of max_active_tokens.
    SELECT
        if(active >= max_tokens, 'high', 'medium') AS severity,
        'active_tokens_near_limit' AS finding,
        @tenant AS subject,
        toDateTime(@now, 'UTC') AS at,
        '' AS actor,
        concat(toString(active), ' valid tokens against max_active_tokens ', toString(max_tokens),
               ' (', toString(intDiv(active * 100, greatest(max_tokens, 1))), '%)') AS detail
    FROM
    (
        SELECT
            (
                SELECT count()
                FROM tokens FINAL
                WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
                  AND (expires_timestamp IS NULL OR expires_timestamp > @now)
            ) AS active,
            (
                SELECT argMax(ifNull(max_active_tokens, -1), version)
                FROM settings_changes
                WHERE tenant = @tenant AND collected_at <= @now
            ) AS max_tokens
    )
    WHERE max_tokens > 0 AND active * 100 > @limit_pct * max_tokens

    UNION ALL

    -- Valid tokens without expiry.
    SELECT
        'low' AS severity,
        'token_without_expiry' AS finding,
        token_id AS subject,
        created AS at,
        created_by AS actor,
        concat('"', label, '" is valid and never expires') AS detail
    FROM
    (
        SELECT id AS token_id, label, toDateTime(created_timestamp, 'UTC') AS created
        FROM tokens FINAL
        WHERE tenant = @tenant AND deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')
          AND expires_timestamp IS NULL
    ) AS no_expiry
    GLOBAL LEFT JOIN
    (
        SELECT token_id, argMin(actor, timestamp) AS created_by
        FROM audit_events
        WHERE tenant = @tenant AND action = 'token_create'
        GROUP BY token_id
    ) AS creators USING token_id

    UNION ALL

    -- Tokens used after their revocation time (a use in the period).
    SELECT
        'high' AS severity,
        'used_after_revocation' AS finding,
        token_id AS subject,
        toDateTime(used_at, 'UTC') AS at,
        revoked_by AS actor,
        concat('"', label, '" used at ', toString(used_at), ', revoked at ', toString(revoked_at)) AS detail
    FROM
    (
        SELECT *
        FROM
        (
            SELECT id AS token_id, max(assumeNotNull(last_used_timestamp)) AS used_at, max(assumeNotNull(revoked_timestamp)) AS revoked_at
            FROM token_changes
            WHERE tenant = @tenant AND revoked_timestamp IS NOT NULL AND last_used_timestamp > revoked_timestamp
              AND last_used_timestamp >= @since AND last_used_timestamp < @until
            GROUP BY token_id
        ) AS used
        GLOBAL LEFT JOIN
        (
            SELECT id AS token_id, label
            FROM tokens FINAL
            WHERE tenant = @tenant
        ) AS labels USING token_id
    ) AS used_labels
    GLOBAL LEFT JOIN
    (
        -- The revoke event carries the revocation time: read only the granules holding those instants.
        SELECT token_id, argMax(actor, timestamp) AS revoked_by
        FROM audit_events
        PREWHERE timestamp GLOBAL IN (
            SELECT revoked_timestamp FROM token_changes
            WHERE tenant = @tenant AND revoked_timestamp IS NOT NULL AND last_used_timestamp > revoked_timestamp
              AND last_used_timestamp >= @since AND last_used_timestamp < @until
        )
        WHERE tenant = @tenant AND action = 'token_revoke'
        GROUP BY token_id
    ) AS revokers USING token_id

    UNION ALL

    -- Tokens deleted (in the period) whose last state was not revoked.
    SELECT
        'low' AS severity,
        'deleted_without_revoke' AS finding,
        token_id AS subject,
        toDateTime(deleted_at, 'UTC') AS at,
        deleted_by AS actor,
        concat('"', label, '" deleted at ', toString(deleted_at), ' while valid') AS detail
    FROM
    (
        SELECT *
        FROM
        (
            SELECT token_id, min(del_at) AS deleted_at, max(del_by) AS deleted_by
            FROM
            (
                SELECT token_id, timestamp AS del_at, actor AS del_by
                FROM audit_events
                WHERE tenant = @tenant AND action = 'token_delete' AND token_id != ''
                  AND timestamp >= @since AND timestamp < @until
                UNION ALL
                SELECT id AS token_id, collected_at AS del_at, '' AS del_by
                FROM token_changes
                WHERE tenant = @tenant AND deleted = 1
            )
            GROUP BY token_id
            HAVING deleted_at >= @since AND deleted_at < @until
        ) AS deletions
        GLOBAL LEFT JOIN
        (
            -- A revoke long before the deletion shows in the collected state (revoked_seen); the audit
            -- trail covers one the collections missed, shortly before the deletion.
            SELECT token_id, argMax(action, timestamp) AS last_revoke_or_restore
            FROM audit_events
            WHERE tenant = @tenant AND action IN ('token_revoke', 'token_restore')
              AND timestamp >= subtractDays(@since, 30) AND timestamp < @until
            GROUP BY token_id
        ) AS revokes USING token_id
    ) AS deletions_revokes
    GLOBAL LEFT JOIN
    (
        SELECT id AS token_id, label, revoked_timestamp AS revoked_seen
        FROM tokens FINAL
        WHERE tenant = @tenant
    ) AS states USING token_id
    WHERE last_revoke_or_restore != 'token_revoke' AND revoked_seen IS NULL
    UNION ALL

    -- Settings changes observed in the period. The actor is the author of the latest
    -- customer_settings_update event between the previous collection and this one.
    SELECT
        if(weakened, 'medium', 'info') AS severity,
        'settings_changed' AS finding,
        @tenant AS subject,
        toDateTime(change_at, 'UTC') AS at,
        if(k > 0 AND ev_times[k] > prev_at, ev_actors[k], '') AS actor,
        change AS detail
    FROM
    (
        SELECT
            change_at,
            prev_at,
            weakened,
            change,
            ev_times,
            ev_actors,
            arrayCount(t -> t <= change_at, ev_times) AS k
        FROM
        (
            SELECT
                tenant,
                tupleElement(v[i], 2) AS change_at,
                tupleElement(v[i - 1], 2) AS prev_at,
                tupleElement(v[i - 1], 3) AS old_required,
                tupleElement(v[i], 3) AS new_required,
                tupleElement(v[i - 1], 4) AS old_max,
                tupleElement(v[i], 4) AS new_max,
                (old_required = 1 AND new_required = 0) OR (old_max >= 0 AND (new_max < 0 OR new_max > old_max)) AS weakened,
                concat(
                    if(old_required != new_required,
                       concat('tokens_required ', if(old_required = 1, 'true', 'false'), ' -> ', if(new_required = 1, 'true', 'false')), ''),
                    if(old_required != new_required AND old_max != new_max, '; ', ''),
                    if(old_max != new_max,
                       concat('max_active_tokens ', if(old_max < 0, 'none', toString(old_max)), ' -> ',
                              if(new_max < 0, 'none', toString(new_max))), '')) AS change
            FROM
            (
                SELECT tenant, arraySort(groupArray((version, toUInt32(collected_at), tokens_required, ifNull(max_active_tokens, -1)))) AS v
                FROM settings_changes
                WHERE tenant = @tenant
                GROUP BY tenant
            )
            ARRAY JOIN arrayEnumerate(v) AS i
            WHERE i > 1 AND (old_required != new_required OR old_max != new_max)
              AND change_at >= toUInt32(@since) AND change_at < toUInt32(@until)
        ) AS changes
        GLOBAL LEFT JOIN
        (
            SELECT
                tenant,
                arrayMap(x -> tupleElement(x, 1), evs) AS ev_times,
                arrayMap(x -> tupleElement(x, 2), evs) AS ev_actors
            FROM
            (
                -- Only events after the last collection before the period can explain a change in it.
                SELECT tenant, arraySort(groupArray((toUInt32(timestamp), actor))) AS evs
                FROM audit_events
                WHERE tenant = @tenant AND action = 'customer_settings_update' AND timestamp < @until
                  AND timestamp > (SELECT max(collected_at) FROM settings_changes WHERE tenant = @tenant AND collected_at < @since)
                GROUP BY tenant
            )
        ) AS explaining USING tenant
        WHERE NOT ignore(ev_times)
    )
)
ORDER BY indexOf(['high', 'medium', 'low', 'info'], severity), finding, at, subject

-- section: active_vs_limit "Valid tokens against the limit"
-- chart: line x=day y=active_tokens,max_active_tokens
-- Valid tokens at the end of each day (at until for the last one), from the collected token history, and
-- the max_active_tokens in force then (empty: no limit).
SELECT
    day,
    toUInt64(counts[i]) AS active_tokens,
    if(limits[i] < 0, NULL, limits[i]) AS max_active_tokens
FROM
(
    -- One row. A token is valid from a collection that saw it valid until the next collection or its
    -- expiry; such an interval covers the day instants a (inclusive) to b (exclusive), so the count per
    -- day is the running sum of +1 at a and -1 at b.
    SELECT
        toUInt32(dateDiff('day', toDate(@since), toDate(@until - 1)) + 1) AS n,
        arrayMap(j -> toDate(@since) + j, range(n)) AS days,
        sumMap([a, b], [toInt64(1), toInt64(-1)]) AS deltas,
        arrayCumSum(arrayMap(j -> if(has(tupleElement(deltas, 1), j),
                                     tupleElement(deltas, 2)[indexOf(tupleElement(deltas, 1), j)], 0),
                             range(n))) AS counts,
        (
            SELECT arraySort(groupArray((toUInt32(collected_at), ifNull(max_active_tokens, -1))))
            FROM settings_changes
            WHERE tenant = @tenant
        ) AS sv,
        arrayMap(t -> if(arrayExists(x -> tupleElement(x, 1) <= t, sv),
                         tupleElement(arrayFilter(x -> tupleElement(x, 1) <= t, sv)[-1], 2), -1),
            arrayMap(j -> least(toUInt32(@since) - toUInt32(@since) % 86400 + (j + 1) * 86400, toUInt32(@until)),
                     range(n))) AS limits
    FROM
    (
        SELECT
            if(lo > toUInt32(@until), toInt64(n_days),
               least(greatest(0, intDiv(toInt64(lo) - day0 + 86399, 86400) - 1), n_days - 1)) AS a,
            if(hi > toUInt32(@until), toInt64(n_days),
               least(greatest(0, intDiv(toInt64(hi) - day0 + 86399, 86400) - 1), n_days - 1)) AS b
        FROM
        (
            SELECT
                tupleElement(iv, 1) AS lo,
                tupleElement(iv, 2) AS hi,
                tupleElement(iv, 3) AS valid,
                toInt64(toUInt32(@since) - toUInt32(@since) % 86400) AS day0,
                toInt64(dateDiff('day', toDate(@since), toDate(@until - 1)) + 1) AS n_days
            FROM
            (
                SELECT arrayMap((v, next) -> (tupleElement(v, 1),
                                              least(next, if(tupleElement(v, 3) = 0, toUInt32(4294967295), tupleElement(v, 3))),
                                              tupleElement(v, 2)),
                                vs, arrayPushBack(arrayPopFront(arrayMap(x -> tupleElement(x, 1), vs)), toUInt32(4294967295))) AS ivs
                FROM
                (
                    SELECT id, arraySort(groupArray((toUInt32(collected_at),
                        toUInt8(deleted = 0 AND revoked_timestamp IS NULL AND status NOT IN ('revoked', 'expired')),
                        toUInt32(ifNull(expires_timestamp, toDateTime(0)))))) AS vs
                    FROM token_changes
                    WHERE tenant = @tenant AND collected_at < @until
                    GROUP BY id
                )
            )
            ARRAY JOIN ivs AS iv
        )
        WHERE valid = 1 AND hi > lo
    )
    WHERE a < b
)
ARRAY JOIN days AS day, arrayEnumerate(days) AS i
ORDER BY day
