-- Spend per day × function × variant, for analysts (docs/spend.md): cost in USD summed over
-- the inferences whose route had a known price; `unpriced` counts the answered ones that had
-- none (their cost is NULL and not in cost_usd).
CREATE VIEW IF NOT EXISTS spend_daily AS
SELECT
    toDate(created_at) AS day,
    function,
    variant,
    count() AS inferences,
    countIf(cost IS NOT NULL) AS priced,
    countIf(cost IS NULL AND provider != '') AS unpriced,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(ifNull(cost, 0)) AS cost_usd,
    sum(ifNull(cost, 0)) / nullIf(priced, 0) AS cost_per_inference
FROM inferences
GROUP BY day, function, variant;
