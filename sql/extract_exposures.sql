-- Curated exposures for the window [:window_start, :window_end).
--
-- Inputs (temporary views registered by components/extract/stage.py):
--   raw_exposures  raw events, with arrival_dt = the raw partition they were delivered in
--   catalog        the item catalog snapshot of the run's logical date
-- Raw delivery is at-least-once and late: the same event_id may arrive twice, and an event of
-- day d may arrive in partition d+1. We keep one row per event_id (its first delivery), keep
-- only events whose own timestamp lies in the window, and partition by the event's day.
WITH in_window AS (
    SELECT *
    FROM raw_exposures
    WHERE ts >= :window_start AND ts < :window_end
),
first_delivery AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY arrival_dt, ts) AS delivery_rank
    FROM in_window
)
SELECT
    e.event_id,
    e.request_id,
    e.user_id,
    e.item_id,
    e.ts,
    e.position,
    e.surface,
    e.logging_score,
    e.clicked,
    e.purchased,
    e.dwell_ms,
    e.experiment_id,
    e.arm,
    c.category,
    c.brand,
    c.price,
    CAST(DATEDIFF(TO_DATE(e.ts), TO_DATE(c.created_at)) AS INT) AS item_age_days,
    DATE_FORMAT(e.ts, 'yyyy-MM-dd') AS dt
FROM first_delivery AS e
LEFT JOIN catalog AS c
    ON e.item_id = c.item_id
WHERE e.delivery_rank = 1
