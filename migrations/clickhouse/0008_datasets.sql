-- Datasets for offline evaluations (docs/evaluations.md). A datapoint is one logged request made
-- reusable: the function, the client's messages, system_prompt_args and tools as they came, the
-- output the gateway logged, and a reference output (from a demonstration feedback, or edited by
-- hand). Datasets and datapoints are edited in place, so both are ReplacingMergeTree on
-- updated_at: an edit or a delete is a new row with a later updated_at (deleted = 1 hides it),
-- and readers take FINAL (the tables are small next to the inference log).
CREATE TABLE IF NOT EXISTS datasets
(
    name         String,
    function     LowCardinality(String),
    description  String,
    filter       String CODEC(ZSTD(3)),
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted      UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;

CREATE TABLE IF NOT EXISTS datapoints
(
    dataset              String,
    id                   UUID,
    function             LowCardinality(String),
    source_inference_id  Nullable(UUID),
    input_messages       String CODEC(ZSTD(3)),
    system_prompt_args   String CODEC(ZSTD(3)),
    tools                String CODEC(ZSTD(3)),
    output               String CODEC(ZSTD(3)),
    reference_output     Nullable(String) CODEC(ZSTD(3)),
    reference_source     LowCardinality(String),
    created_at           DateTime64(3, 'UTC'),
    updated_at           DateTime64(3, 'UTC'),
    deleted              UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (dataset, id);
