-- One row per provider attempt (fallbacks included), linked to inferences by inference_id.
-- Sorted by provider and time because the questions asked of it are per provider ("slowest
-- providers", "error rate of each upstream"). A bloom filter on inference_id makes
-- "the attempts of this inference" cheap without a second sort order.
-- Raw provider payloads are the bulk of the bytes and only serve debugging: a column TTL
-- empties them after 30 days; the rest of the row (latency, tokens, status) is kept.
CREATE TABLE IF NOT EXISTS model_inferences
(
    id                 UUID,
    inference_id       UUID,
    attempt            UInt8,
    created_at         DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    function           LowCardinality(String),
    variant            LowCardinality(String),
    provider           LowCardinality(String),
    provider_type      LowCardinality(String),
    model              LowCardinality(String),
    status             Enum8('ok' = 1, 'error' = 2, 'cancelled' = 3),
    error              String CODEC(ZSTD(3)),
    http_status        Nullable(UInt16),
    latency_ms         Float32 CODEC(ZSTD(1)),
    ttft_ms            Nullable(Float32) CODEC(ZSTD(1)),
    prompt_tokens      UInt32 CODEC(T64, ZSTD(1)),
    completion_tokens  UInt32 CODEC(T64, ZSTD(1)),
    raw_request        String CODEC(ZSTD(3)) TTL toDateTime(created_at) + INTERVAL 30 DAY,
    raw_response       String CODEC(ZSTD(3)) TTL toDateTime(created_at) + INTERVAL 30 DAY,
    INDEX idx_inference inference_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (provider, model, created_at)
SETTINGS non_replicated_deduplication_window = 1000;
