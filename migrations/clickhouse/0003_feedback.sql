-- Feedback on an inference (or a completion of it) or an episode (docs/experiments.md, "Feedback"). Append-only:
-- a second rating of the same target is a new row; analysts take the latest with argMax.
-- inference_id is the inference the target resolves to (the target itself for inference ids,
-- the owning inference for completion ids, NULL for episode-level feedback); function,
-- variant and campaign are copied from it when the feedback is written, so campaign results
-- need no join. value holds boolean (0/1) and float metrics; value_text holds comments and the
-- JSON of demonstrations and preferences.
CREATE TABLE IF NOT EXISTS feedback
(
    id            UUID,
    created_at    DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    target_id     UUID,
    target_level  Enum8('inference' = 1, 'episode' = 2),
    inference_id  Nullable(UUID),
    episode_id    Nullable(UUID),
    metric        LowCardinality(String),
    type          LowCardinality(String),
    value         Nullable(Float64),
    value_text    String CODEC(ZSTD(3)),
    tags          Map(String, String) CODEC(ZSTD(1)),
    comment       String CODEC(ZSTD(3)),
    function      LowCardinality(String),
    variant       LowCardinality(String),
    campaign      LowCardinality(String),
    api_key_id    LowCardinality(String),
    INDEX idx_inference inference_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (metric, target_id, created_at)
SETTINGS non_replicated_deduplication_window = 1000;
