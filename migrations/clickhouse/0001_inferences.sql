-- One row per inference (docs/analytics.md). Sorted for the analyst's usual question, "this function's
-- variants over this period", so WHERE function/variant/created_at prunes granules; point reads
-- by id go through inference_by_id (0004). Bodies are ZSTD-compressed (they are most of the
-- bytes and compress 5-10x); timestamps use DoubleDelta; names are LowCardinality.
-- No row TTL: inferences are the experiment record and feedback targets. Add one per
-- deployment if needed: ALTER TABLE inferences MODIFY TTL toDateTime(created_at) + INTERVAL 1 YEAR.
CREATE TABLE IF NOT EXISTS inferences
(
    id                     UUID,
    created_at             DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    function               LowCardinality(String),
    variant                LowCardinality(String),
    campaign               LowCardinality(String),
    sticky_unit            String CODEC(ZSTD(1)),
    session_id             Nullable(UUID),
    episode_id             UUID,
    user                   String CODEC(ZSTD(1)),
    api_key_id             LowCardinality(String),
    model                  LowCardinality(String),
    provider               LowCardinality(String),
    provider_model         LowCardinality(String),
    status                 Enum8('ok' = 1, 'error' = 2, 'cancelled' = 3),
    error                  String CODEC(ZSTD(3)),
    input_messages         String CODEC(ZSTD(3)),
    system_prompt          String CODEC(ZSTD(3)),
    system_prompt_args     String CODEC(ZSTD(3)),
    params                 String CODEC(ZSTD(3)),
    output                 String CODEC(ZSTD(3)),
    finish_reason          LowCardinality(String),
    labels                 Map(String, String) CODEC(ZSTD(1)),
    tags                   Array(String) CODEC(ZSTD(1)),
    prompt_tokens          UInt32 CODEC(T64, ZSTD(1)),
    completion_tokens      UInt32 CODEC(T64, ZSTD(1)),
    total_tokens           UInt32 ALIAS prompt_tokens + completion_tokens,
    usage_estimated        Bool,
    ttft_ms                Nullable(Float32) CODEC(ZSTD(1)),
    latency_ms             Float32 CODEC(ZSTD(1)),
    queue_ms               Float32 CODEC(ZSTD(1)),
    streamed               Bool,
    completion_ids         Array(UUID) CODEC(ZSTD(1)),
    parent_completion_ids  Array(String) CODEC(ZSTD(1)),
    config_version         UInt32 CODEC(Delta, ZSTD(1)),
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_episode episode_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_label_keys mapKeys(labels) TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_label_values mapValues(labels) TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_tags tags TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (function, variant, created_at)
SETTINGS non_replicated_deduplication_window = 1000;
