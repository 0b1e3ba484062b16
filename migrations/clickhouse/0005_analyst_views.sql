-- Feedback with the context of the inference(s) it is about: inference-level feedback joins
-- its inference, episode-level feedback joins every inference of the episode. inferences is
-- the left side so the (smaller) feedback table is the one ClickHouse builds the hash from.
CREATE VIEW IF NOT EXISTS inference_feedback AS
SELECT
    f.id AS feedback_id, f.created_at AS feedback_at, f.metric, f.type AS metric_type,
    f.value, f.value_text, f.comment, f.tags AS feedback_tags, f.target_level, f.target_id,
    i.id AS inference_id, i.created_at, i.function, i.variant, i.campaign, i.sticky_unit,
    i.session_id, i.episode_id, i.user, i.model, i.provider, i.status, i.labels, i.tags,
    i.prompt_tokens, i.completion_tokens, i.latency_ms, i.ttft_ms
FROM inferences AS i
INNER JOIN feedback AS f ON i.id = f.inference_id
WHERE f.target_level = 'inference'
UNION ALL
SELECT
    f.id, f.created_at, f.metric, f.type, f.value, f.value_text, f.comment, f.tags,
    f.target_level, f.target_id, i.id, i.created_at, i.function, i.variant, i.campaign,
    i.sticky_unit, i.session_id, i.episode_id, i.user, i.model, i.provider, i.status, i.labels,
    i.tags, i.prompt_tokens, i.completion_tokens, i.latency_ms, i.ttft_ms
FROM inferences AS i
INNER JOIN feedback AS f ON i.episode_id = f.target_id
WHERE f.target_level = 'episode';

-- Daily rollup per function/variant/campaign, maintained on insert by a materialized view into
-- an AggregatingMergeTree: dashboards read a few rows per day instead of scanning inferences.
-- Latency and TTFT quantiles are t-digest states (mergeable across parts and days); units
-- counts distinct sticky units (session, user or episode, per the campaign).
CREATE TABLE IF NOT EXISTS inference_daily_state
(
    day                Date,
    function           LowCardinality(String),
    variant            LowCardinality(String),
    campaign           LowCardinality(String),
    inferences         SimpleAggregateFunction(sum, UInt64),
    errors             SimpleAggregateFunction(sum, UInt64),
    cancelled          SimpleAggregateFunction(sum, UInt64),
    streamed           SimpleAggregateFunction(sum, UInt64),
    prompt_tokens      SimpleAggregateFunction(sum, UInt64),
    completion_tokens  SimpleAggregateFunction(sum, UInt64),
    units              AggregateFunction(uniqIf, String, UInt8),
    latency_ms         AggregateFunction(quantilesTDigest(0.5, 0.95), Float32),
    ttft_ms            AggregateFunction(quantilesTDigest(0.5, 0.95), Nullable(Float32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, function, variant, campaign)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS inference_daily_mv TO inference_daily_state AS
SELECT
    toDate(created_at) AS day,
    function,
    variant,
    campaign,
    count() AS inferences,
    countIf(status = 'error') AS errors,
    countIf(status = 'cancelled') AS cancelled,
    countIf(streamed) AS streamed,
    sum(toUInt64(prompt_tokens)) AS prompt_tokens,
    sum(toUInt64(completion_tokens)) AS completion_tokens,
    uniqIfState(sticky_unit, sticky_unit != '') AS units,
    quantilesTDigestState(0.5, 0.95)(latency_ms) AS latency_ms,
    quantilesTDigestState(0.5, 0.95)(ttft_ms) AS ttft_ms
FROM inferences
GROUP BY day, function, variant, campaign;

CREATE VIEW IF NOT EXISTS daily_stats AS
SELECT
    day,
    function,
    variant,
    campaign,
    sum(inferences) AS inferences,
    sum(errors) AS errors,
    sum(cancelled) AS cancelled,
    round(errors / inferences, 4) AS error_rate,
    sum(streamed) AS streamed,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    uniqIfMerge(units) AS units,
    round(quantilesTDigestMerge(0.5, 0.95)(latency_ms)[1], 1) AS latency_p50_ms,
    round(quantilesTDigestMerge(0.5, 0.95)(latency_ms)[2], 1) AS latency_p95_ms,
    round(quantilesTDigestMerge(0.5, 0.95)(ttft_ms)[1], 1) AS ttft_p50_ms,
    round(quantilesTDigestMerge(0.5, 0.95)(ttft_ms)[2], 1) AS ttft_p95_ms
FROM inference_daily_state
GROUP BY day, function, variant, campaign;
