-- The configured model that served each inference (docs/spend.md): for a function call, the
-- chosen variant's model; `model` stays what the client asked. Spend reports group `model` by
-- this column, falling back to `model` for rows written before it existed (empty here).
ALTER TABLE inferences ADD COLUMN IF NOT EXISTS served_model LowCardinality(String) DEFAULT '' AFTER model;
