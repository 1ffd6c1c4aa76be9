-- Daily user statistics snapshots over trailing windows, one row per snapshot day, window and
-- user (components/features/compute.py turns the windows into columns).
--
-- The snapshot of day d covers the exposures of the window's days ending with d, and its
-- event_timestamp is the end of day d: a point-in-time join serves it only to later events.
-- A user belongs to a snapshot when active in any of its windows; counts of a window without
-- activity are 0 and the rates null.
--
-- Inputs: views `exposures` (validated curated exposures) and `covered_days`
-- (sql/feature_windows.sql).
WITH daily_activity AS (
    -- Summed per day first: a window then adds up a few rows per user, not every exposure.
    SELECT
        user_id,
        CAST(ts AS DATE) AS day,
        COUNT(*) AS exposures,
        COUNT_IF(clicked) AS clicks,
        COUNT_IF(purchased) AS purchases
    FROM exposures
    GROUP BY user_id, CAST(ts AS DATE)
),
daily_category_clicks AS (
    -- category_rank 1 is the user's most clicked category; a tie goes to the first name.
    SELECT user_id, CAST(ts AS DATE) AS day, category, COUNT(*) AS clicks
    FROM exposures
    WHERE clicked AND category IS NOT NULL
    GROUP BY user_id, CAST(ts AS DATE), category
),
snapshot_windows AS (
    SELECT DISTINCT snapshot_day, window_days FROM covered_days
),
activity AS (
    SELECT
        w.snapshot_day,
        w.window_days,
        a.user_id,
        SUM(a.exposures) AS exposures,
        SUM(a.clicks) AS clicks,
        SUM(a.purchases) AS purchases
    FROM covered_days AS w
    JOIN daily_activity AS a
        ON a.day = w.day
    GROUP BY w.snapshot_day, w.window_days, a.user_id
),
category_clicks AS (
    -- category_rank 1 is the user's most clicked category; a tie goes to the first name.
    SELECT
        w.snapshot_day,
        w.window_days,
        c.user_id,
        c.category,
        SUM(c.clicks) AS clicks,
        ROW_NUMBER() OVER (
            PARTITION BY w.snapshot_day, w.window_days, c.user_id
            ORDER BY SUM(c.clicks) DESC, c.category
        ) AS category_rank
    FROM covered_days AS w
    JOIN daily_category_clicks AS c
        ON c.day = w.day
    GROUP BY w.snapshot_day, w.window_days, c.user_id, c.category
),
snapshot_users AS (
    -- Every window of a snapshot, for each user active in any of them.
    SELECT DISTINCT w.snapshot_day, w.window_days, a.user_id
    FROM snapshot_windows AS w
    JOIN activity AS a
        ON a.snapshot_day = w.snapshot_day
)
SELECT
    u.user_id,
    CAST(DATE_ADD(u.snapshot_day, 1) AS TIMESTAMP) AS event_timestamp,
    u.window_days,
    COALESCE(a.exposures, 0) AS exposures,
    COALESCE(a.clicks, 0) AS clicks,
    COALESCE(a.purchases, 0) AS purchases,
    a.clicks / a.exposures AS click_rate,
    c.category AS top_category,
    c.clicks / a.clicks AS top_category_share,
    DATE_FORMAT(u.snapshot_day, 'yyyy-MM-dd') AS dt
FROM snapshot_users AS u
LEFT JOIN activity AS a
    ON a.snapshot_day = u.snapshot_day
    AND a.window_days = u.window_days
    AND a.user_id = u.user_id
LEFT JOIN category_clicks AS c
    ON c.snapshot_day = u.snapshot_day
    AND c.window_days = u.window_days
    AND c.user_id = u.user_id
    AND c.category_rank = 1
