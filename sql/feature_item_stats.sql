-- Daily item statistics snapshots over trailing windows, one row per snapshot day, window and
-- item (components/features/compute.py turns the windows into columns).
--
-- The snapshot of day d covers the exposures of the window's days ending with d, and its
-- event_timestamp is the end of day d: a point-in-time join serves it only to later events.
-- Every item the catalog lists by the end of day d belongs to the snapshot, exposed or not, so
-- new and rarely shown items get their age and zero counts rather than no features at all.
--
-- Inputs: views `exposures` (validated curated exposures), `catalog` (the run day's snapshot)
-- and `covered_days` (sql/feature_windows.sql).
WITH daily_activity AS (
    -- Summed per day first: a window then adds up a few rows per item, not every exposure.
    SELECT
        item_id,
        CAST(ts AS DATE) AS day,
        COUNT(*) AS exposures,
        COUNT_IF(clicked) AS clicks
    FROM exposures
    GROUP BY item_id, CAST(ts AS DATE)
),
snapshot_windows AS (
    SELECT DISTINCT snapshot_day, window_days FROM covered_days
),
activity AS (
    SELECT
        w.snapshot_day,
        w.window_days,
        a.item_id,
        SUM(a.exposures) AS exposures,
        SUM(a.clicks) AS clicks
    FROM covered_days AS w
    JOIN daily_activity AS a
        ON a.day = w.day
    GROUP BY w.snapshot_day, w.window_days, a.item_id
),
listed_items AS (
    SELECT
        w.snapshot_day,
        w.window_days,
        c.item_id,
        DATEDIFF(w.snapshot_day, TO_DATE(c.created_at)) AS age_days
    FROM snapshot_windows AS w
    JOIN catalog AS c
        ON TO_DATE(c.created_at) <= w.snapshot_day
)
SELECT
    i.item_id,
    CAST(DATE_ADD(i.snapshot_day, 1) AS TIMESTAMP) AS event_timestamp,
    i.window_days,
    i.age_days,
    COALESCE(a.exposures, 0) AS exposures,
    COALESCE(a.clicks, 0) AS clicks,
    a.clicks / a.exposures AS ctr,
    -- Popularity: where the item's clicks rank among the listed items, from 0 to 1.
    PERCENT_RANK() OVER (
        PARTITION BY i.snapshot_day, i.window_days
        ORDER BY COALESCE(a.clicks, 0)
    ) AS popularity_pct,
    DATE_FORMAT(i.snapshot_day, 'yyyy-MM-dd') AS dt
FROM listed_items AS i
LEFT JOIN activity AS a
    ON a.snapshot_day = i.snapshot_day
    AND a.window_days = i.window_days
    AND a.item_id = i.item_id
