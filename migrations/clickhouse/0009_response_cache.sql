-- Inferences answered from the response cache (docs/operations.md, "Response cache"): `cost`
-- is 0 for them, and `cost_saved` what the provider call would have cost at its route's price.
ALTER TABLE inferences ADD COLUMN IF NOT EXISTS cached Bool DEFAULT false AFTER cost;
ALTER TABLE inferences ADD COLUMN IF NOT EXISTS cost_saved Nullable(Float64) AFTER cached;
