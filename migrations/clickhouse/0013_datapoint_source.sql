-- A datapoint also keeps where its output came from: the variant that answered and the system
-- prompt it rendered (docs/evaluations.md), so a chat fine-tuning export can put the prompt the
-- output was produced under first. Both are empty for a datapoint added by hand.
ALTER TABLE datapoints ADD COLUMN IF NOT EXISTS variant LowCardinality(String) DEFAULT '' AFTER function;
ALTER TABLE datapoints ADD COLUMN IF NOT EXISTS system_prompt String DEFAULT '' CODEC(ZSTD(3)) AFTER system_prompt_args;
