-- name: collection-coverage
-- title: Collection coverage
-- description: Whether the period was collected completely, from the coverage record each collector poll
-- description: writes: the audit windows read and the token snapshots taken (with any gap and its times), the
-- description: polls that failed, and a reconciliation of the events the API reported with those stored.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: since DateTime = 30d "Start of the period (inclusive)"
-- param: until DateTime = now "End of the period (exclusive)"
-- param: max_gap Duration = 15m "Longest time without a token snapshot (or, at the end, without a poll) that still counts as continuous"

-- fragment: period_windows
-- The condition on collection_coverage rows that selects the tenant's non-empty audit windows overlapping
-- the period.
tenant = @tenant AND audit_to > ifNull(audit_from, toDateTime(0)) AND audit_to > @since AND ifNull(audit_from, toDateTime(0)) < @until

-- section: summary "Collection"
-- polls and failed_polls count the polls that started in the period; last_collected is the end of the last
-- poll without a failure; first_collected the start of the first poll ever (before it, token states come
-- from the audit trail only).
SELECT
    countIf(poll_started >= @since AND poll_started < @until) AS polls,
    countIf(poll_started >= @since AND poll_started < @until AND failures > 0) AS failed_polls,
    if(count() = 0, NULL, toDateTime(min(poll_started), 'UTC')) AS first_collected,
    if(countIf(failures = 0) = 0, NULL, toDateTime(maxIf(collected_at, failures = 0), 'UTC')) AS last_collected,
    if(count() = 0, NULL, toDateTime(maxIf(audit_to, audit_to <= @until), 'UTC')) AS audit_collected_to
FROM collection_coverage FINAL
WHERE tenant = @tenant AND poll_started < @until

-- section: gaps "Gaps in collection"
-- audit: a part of the period no poll's audit window covers (before the first window, between windows, or
-- after the last one by more than max_gap). snapshots: more than max_gap between two token snapshots, or
-- between the last one and the end of the period.
SELECT kind, toDateTime(gap_from, 'UTC') AS gap_from, toDateTime(gap_to, 'UTC') AS gap_to,
       intDiv(gap_to - gap_from, 60) AS minutes, what
FROM
(
    SELECT
        'audit' AS kind,
        tupleElement(g, 1) AS gap_from,
        tupleElement(g, 2) AS gap_to,
        tupleElement(g, 3) AS what
    FROM
    (
        SELECT
            arraySort(groupArray((toUInt32(ifNull(audit_from, toDateTime(0))), toUInt32(audit_to)))) AS w,
            arrayMap(x -> tupleElement(x, 1), w) AS froms,
            arrayMap(x -> tupleElement(x, 2), w) AS tos,
            toUInt32(@since) AS s,
            toUInt32(@until) AS u,
            arrayConcat(
                arrayFilter(x -> tupleElement(x, 1) < tupleElement(x, 2),
                    [(s, if(length(w) = 0, u, least(froms[1], u)),
                      if(length(w) = 0, 'no audit window covers the period', 'before the first audit window'))]),
                arrayFilter(x -> tupleElement(x, 1) < tupleElement(x, 2),
                    arrayMap(i -> (greatest(tos[i - 1], s), least(froms[i], u), 'between audit windows'),
                             arrayFilter(i -> i > 1 AND froms[i] > tos[i - 1], arrayEnumerate(w)))),
                arrayFilter(x -> length(w) > 0 AND toInt64(u) - toInt64(tupleElement(x, 1)) > @max_gap,
                    [(greatest(arrayReduce('max', tos), s), u, 'after the last audit window')])) AS gaps
        FROM collection_coverage FINAL
        WHERE {{period_windows}}
    ) AS audit_windows
    ARRAY JOIN gaps AS g

    UNION ALL

    SELECT
        'snapshots' AS kind,
        tupleElement(g, 1) AS gap_from,
        tupleElement(g, 2) AS gap_to,
        tupleElement(g, 3) AS what
    FROM
    (
        SELECT
            arraySort(groupArray(toUInt32(poll_started))) AS t,
            toUInt32(@since) AS s,
            toUInt32(@until) AS u,
            arrayConcat(
                arrayMap(i -> (greatest(t[i - 1], s), least(t[i], u), 'no token snapshot'),
                         arrayFilter(i -> i > 1 AND toInt64(t[i]) - toInt64(t[i - 1]) > @max_gap AND t[i] > s AND t[i - 1] < u,
                                     arrayEnumerate(t))),
                arrayFilter(x -> length(t) > 0 AND toInt64(u) - toInt64(tupleElement(x, 1)) > @max_gap,
                    [(greatest(arrayReduce('max', t), s), u, 'no token snapshot since')])) AS gaps
        FROM collection_coverage FINAL
        WHERE tenant = @tenant AND tokens_snapshot = 1 AND poll_started < @until
    ) AS snapshots
    ARRAY JOIN gaps AS g
) AS all_gaps
ORDER BY gap_from, kind

-- section: reconciliation "Reconciliation"
-- The audit windows that overlap the period span [span_from, span_to). api_reported adds up the events the
-- API reported for each window (meta.pagination.total, counted after the window was read); stored counts the
-- events of the span in ClickHouse (FINAL). A positive difference up to late is late arrivals the lookback
-- collected; a negative one is events the API reported that ClickHouse lacks. Windows whose count failed are
-- windows_uncounted.
SELECT
    toDateTime(span_from, 'UTC') AS span_from,
    toDateTime(span_to, 'UTC') AS span_to,
    api_reported,
    stored,
    toInt64(stored) - api_reported AS difference,
    published,
    late,
    windows,
    windows_uncounted
FROM
(
    SELECT
        min(ifNull(audit_from, toDateTime(0))) AS span_from,
        max(audit_to) AS span_to,
        sumIf(api_total, api_total >= 0) AS api_reported,
        sum(published) AS published,
        sum(published_late) AS late,
        count() AS windows,
        countIf(api_total < 0) AS windows_uncounted,
        toUInt64(ifNull((
            SELECT count()
            FROM audit_events FINAL
            WHERE tenant = @tenant
              AND timestamp >= (
                  SELECT min(ifNull(audit_from, toDateTime(0))) FROM collection_coverage FINAL
                  WHERE {{period_windows}})
              AND timestamp < (
                  SELECT max(audit_to) FROM collection_coverage FINAL
                  WHERE {{period_windows}})
        ), 0)) AS stored
    FROM collection_coverage FINAL
    WHERE {{period_windows}}
) AS windows
WHERE windows > 0

-- section: failures "Failed polls"
-- Polls in the period with a failed step; the next successful poll reads the audit events they missed.
SELECT
    toDateTime(poll_started, 'UTC') AS poll_started,
    collected_at AS poll_ended,
    failures,
    error
FROM collection_coverage FINAL
WHERE tenant = @tenant AND poll_started >= @since AND poll_started < @until AND failures > 0
ORDER BY poll_started
