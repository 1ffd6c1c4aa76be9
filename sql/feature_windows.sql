-- The days each feature snapshot aggregates, registered as view `covered_days` for the
-- feature SQL: one row per snapshot day, window length and covered day (the window's days
-- end with the snapshot's day).
--
-- Parameters: :snapshot_days (ARRAY<DATE>) and :windows_days (ARRAY<INT>).
SELECT
    snapshot_day,
    window_days,
    EXPLODE(SEQUENCE(DATE_SUB(snapshot_day, window_days - 1), snapshot_day)) AS day
FROM (SELECT EXPLODE(:snapshot_days) AS snapshot_day)
CROSS JOIN (SELECT EXPLODE(:windows_days) AS window_days)
