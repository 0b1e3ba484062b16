-- What each inference and each provider attempt cost, in USD, at the price of the route that
-- answered (docs/spend.md). NULL when that route has no known price, and for failed attempts.
ALTER TABLE inferences ADD COLUMN IF NOT EXISTS cost Nullable(Float64) AFTER usage_estimated;
ALTER TABLE model_inferences ADD COLUMN IF NOT EXISTS cost Nullable(Float64) AFTER completion_tokens;
