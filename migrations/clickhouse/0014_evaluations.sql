-- Offline evaluation runs (docs/evaluations.md). A run is one row per version (status and
-- heartbeat change while it runs; ReplacingMergeTree on updated_at keeps the last). A result is
-- one (run, variant, datapoint): the inference the variant answered with, or the error; a score
-- is one evaluator's grade of that result, linked to the inference (and to the judge's own
-- inference for llm_judge). A resumed run skips the (variant, datapoint) pairs it already has,
-- so each lands once; the Replacing engines only guard against a replayed insert.
CREATE TABLE IF NOT EXISTS evaluation_runs
(
    id              UUID,
    evaluation      String,
    function        LowCardinality(String),
    dataset         String,
    variants        Array(String),
    concurrency     UInt16,
    max_datapoints  UInt32,
    total           UInt32,
    status          LowCardinality(String),
    error           String,
    config_version  UInt32,
    started_by      String,
    created_at      DateTime64(3, 'UTC'),
    heartbeat_at    DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;

CREATE TABLE IF NOT EXISTS evaluation_results
(
    run_id        UUID,
    variant       LowCardinality(String),
    datapoint_id  String,
    inference_id  Nullable(UUID),
    status        Enum8('ok' = 1, 'error' = 2),
    error         String CODEC(ZSTD(3)),
    output        String CODEC(ZSTD(3)),
    cost          Nullable(Float64),
    latency_ms    Float32,
    created_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (run_id, variant, datapoint_id);

CREATE TABLE IF NOT EXISTS evaluation_scores
(
    run_id              UUID,
    variant             LowCardinality(String),
    evaluator           LowCardinality(String),
    datapoint_id        String,
    inference_id        Nullable(UUID),
    score               Nullable(Float64),
    error               String CODEC(ZSTD(3)),
    judge_inference_id  Nullable(UUID),
    created_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (run_id, variant, evaluator, datapoint_id);
