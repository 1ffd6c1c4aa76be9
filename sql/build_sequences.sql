-- Semantic-ID training examples from validated curated exposures.
--
-- Inputs (temporary views registered by components/datasets/stage.py):
--   exposures  curated exposures of the history window (validated partitions only)
--   sid_map    item_id -> sid (array<int>: one code per level plus the de-duplication token)
-- Parameters:
--   :positives      'clicks' | 'purchases' | 'clicks_or_purchases'
--   :max_history    items of history kept per example
--   :holdout_start  with the temporal split, targets at or after this instant are test
--   :valid_start    with the temporal split, targets in [valid_start, holdout_start) are valid
--   :temporal       true for the temporal split, false for leave-one-out
-- Every target at sequence index t >= 1 (0-based) becomes one example whose history is the
-- up-to-max_history positives before it. Leave-one-out: the last target of a user is test,
-- the one before is validation, all earlier ones are training.
WITH positives AS (
    SELECT user_id, item_id, ts, event_id
    FROM exposures
    WHERE (:positives = 'clicks' AND clicked)
       OR (:positives = 'purchases' AND purchased)
       OR (:positives = 'clicks_or_purchases' AND (clicked OR purchased))
),
sequences AS (
    SELECT
        user_id,
        -- Sorting structs orders by ts first, then event_id: a total, deterministic order.
        ARRAY_SORT(COLLECT_LIST(STRUCT(ts, event_id, item_id))) AS events
    FROM positives
    GROUP BY user_id
),
targets AS (
    SELECT
        user_id,
        events,
        SIZE(events) AS n,
        t
    FROM sequences
    LATERAL VIEW EXPLODE(SEQUENCE(1, SIZE(events) - 1)) AS t
    WHERE SIZE(events) >= 2  -- a single positive has no history to predict it from
),
examples AS (
    SELECT
        user_id,
        t AS target_index,
        n AS sequence_length,
        events[t].item_id AS target_item_id,
        events[t].ts AS target_ts,
        TRANSFORM(
            SLICE(events, GREATEST(t - :max_history, 0) + 1, LEAST(t, :max_history)),
            e -> e.item_id
        ) AS history_item_ids
    FROM targets
),
history_positions AS (
    SELECT e.user_id, e.target_index, h.position, h.item_id
    FROM examples AS e
    LATERAL VIEW POSEXPLODE(e.history_item_ids) h AS position, item_id
),
history_tokens AS (
    SELECT p.user_id, p.target_index, p.position, s.sid
    FROM history_positions AS p
    JOIN sid_map AS s
        ON p.item_id = s.item_id
),
history_sids AS (
    SELECT
        user_id,
        target_index,
        FLATTEN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(position, sid))), x -> x.sid))
            AS history_sids
    FROM history_tokens
    GROUP BY user_id, target_index
)
SELECT
    e.user_id,
    e.target_index,
    e.target_ts,
    e.target_item_id,
    t.sid AS target_sid,
    e.history_item_ids,
    h.history_sids,
    CASE
        WHEN :temporal AND e.target_ts >= :holdout_start THEN 'test'
        WHEN :temporal AND e.target_ts >= :valid_start THEN 'valid'
        WHEN :temporal THEN 'train'
        WHEN e.target_index = e.sequence_length - 1 THEN 'test'
        WHEN e.target_index = e.sequence_length - 2 THEN 'valid'
        ELSE 'train'
    END AS split
FROM examples AS e
JOIN sid_map AS t
    ON e.target_item_id = t.item_id
JOIN history_sids AS h
    ON e.user_id = h.user_id AND e.target_index = h.target_index
