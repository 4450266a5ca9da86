-- name: tenant-settings
-- title: Token settings
-- description: The tenant's installation-token settings as last collected: whether sensor installs need a
-- description: token (tokens_required) and the max_active_tokens limit, each with the time since which it holds.
-- param: tenant String = default "Falcon tenant (CID) to report on"
-- param: now DateTime = now "Reference time: the settings in force then"

-- section: current "Settings in force"
-- since is the first collection that saw the value after one that saw another; when every collection saw
-- the same value, since_first_collection is 1 and the value held at least from then.
SELECT
    setting,
    value,
    toDateTime(since_at, 'UTC') AS since,
    toUInt8(other_at = 0) AS since_first_collection,
    toDateTime(last_at, 'UTC') AS last_collected
FROM
(
    SELECT
        'tokens_required' AS setting,
        if(tupleElement(v[-1], 3) = 1, 'true', 'false') AS value,
        arrayReduce('max', arrayMap(x -> tupleElement(x, 2), arrayFilter(x -> tupleElement(x, 3) != tupleElement(v[-1], 3), v))) AS other_at,
        arrayReduce('min', arrayMap(x -> tupleElement(x, 2), arrayFilter(x -> tupleElement(x, 2) > other_at, v))) AS since_at,
        tupleElement(v[-1], 2) AS last_at,
        length(v) AS n
    FROM
    (
        SELECT arraySort(groupArray((version, toUInt32(collected_at), toInt64(tokens_required)))) AS v
        FROM settings_changes
        WHERE tenant = @tenant AND collected_at <= @now
    ) AS required_history

    UNION ALL

    SELECT
        'max_active_tokens' AS setting,
        if(tupleElement(v[-1], 3) < 0, 'no limit', toString(tupleElement(v[-1], 3))) AS value,
        arrayReduce('max', arrayMap(x -> tupleElement(x, 2), arrayFilter(x -> tupleElement(x, 3) != tupleElement(v[-1], 3), v))) AS other_at,
        arrayReduce('min', arrayMap(x -> tupleElement(x, 2), arrayFilter(x -> tupleElement(x, 2) > other_at, v))) AS since_at,
        tupleElement(v[-1], 2) AS last_at,
        length(v) AS n
    FROM
    (
        SELECT arraySort(groupArray((version, toUInt32(collected_at), ifNull(max_active_tokens, -1)))) AS v
        FROM settings_changes
        WHERE tenant = @tenant AND collected_at <= @now
    ) AS limit_history
) AS settings
WHERE n > 0
ORDER BY setting DESC
