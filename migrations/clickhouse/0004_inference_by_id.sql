-- Point reads by id. inferences is sorted by (function, variant, created_at), so
-- `WHERE id = X` there is a full scan; this narrow table is sorted by id and maps every id a
-- client may hold (inference id, each completion id, episode id) to the inference's sort key.
-- Filled by a materialized view on every insert into inferences, so the writer cannot forget
-- it. ReplacingMergeTree because an id/kind/inference triple is a fact: a duplicate (from a
-- replay outside the deduplication window) is harmless and merges away.
CREATE TABLE IF NOT EXISTS inference_by_id
(
    id            UUID,
    kind          Enum8('inference' = 1, 'completion' = 2, 'episode' = 3),
    inference_id  UUID,
    episode_id    UUID,
    created_at    DateTime64(3, 'UTC'),
    function      LowCardinality(String),
    variant       LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (id, kind, inference_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS inference_by_id_mv TO inference_by_id AS
SELECT
    key.1 AS id,
    key.2 AS kind,
    i.id AS inference_id,
    i.episode_id AS episode_id,
    i.created_at AS created_at,
    i.function AS function,
    i.variant AS variant
FROM inferences AS i
ARRAY JOIN arrayConcat(
    [(i.id, 'inference')],
    arrayMap(c -> (c, 'completion'), arrayFilter(c -> c != i.id, i.completion_ids)),
    [(i.episode_id, 'episode')]
) AS key;

-- SELECT * FROM inference_lookup(id = '0193…'): the whole inference row by any of its ids,
-- read through the sort key found in inference_by_id.
CREATE VIEW IF NOT EXISTS inference_lookup AS
SELECT *
FROM inferences
WHERE (function, variant, created_at) IN (
    SELECT function, variant, created_at FROM inference_by_id WHERE id = {id:UUID} AND kind != 'episode'
)
AND id IN (SELECT inference_id FROM inference_by_id WHERE id = {id:UUID} AND kind != 'episode');
