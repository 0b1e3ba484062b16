"""The SQL behind campaign results. Every statistic is computed by ClickHouse; Python only
passes parameters and shapes the answer.

The unit of analysis is a feedback *target*: for inference-level metrics each rated inference
(or completion), for episode-level metrics each rated episode, attributed to the variant its
inferences in this campaign were served by. A target rated twice counts once, with its
latest value.
"""

from __future__ import annotations

# Placeholders: {function:String}, {campaign:String}, {metric:String}, {control:String}.
_CAMPAIGN_INFERENCES = "function = {function:String} AND campaign = {campaign:String}"

SAMPLES_INFERENCE = f"""
samples AS (
    SELECT i.variant AS variant, f.latest AS value
    FROM (
        SELECT target_id, any(inference_id) AS inference_id, argMax(value, created_at) AS latest
        FROM feedback
        WHERE metric = {{metric:String}} AND target_level = 'inference' AND value IS NOT NULL
        GROUP BY target_id
    ) AS f
    INNER JOIN (SELECT id, variant FROM inferences WHERE {_CAMPAIGN_INFERENCES}) AS i
        ON assumeNotNull(f.inference_id) = i.id
)"""

SAMPLES_EPISODE = f"""
samples AS (
    SELECT e.variant AS variant, f.latest AS value
    FROM (
        SELECT target_id, argMax(value, created_at) AS latest
        FROM feedback
        WHERE metric = {{metric:String}} AND target_level = 'episode' AND value IS NOT NULL
        GROUP BY target_id
    ) AS f
    INNER JOIN (
        SELECT episode_id, any(variant) AS variant
        FROM inferences WHERE {_CAMPAIGN_INFERENCES} GROUP BY episode_id
    ) AS e ON f.target_id = e.episode_id
)"""

# Per-variant traffic and the operational guardrails, side by side.
ASSIGNMENT = f"""
SELECT
    variant,
    count() AS inferences,
    uniqExactIf(sticky_unit, sticky_unit != '') + countIf(sticky_unit = '') AS units,
    countIf(status != 'ok') / count() AS error_rate,
    quantileExact(0.95)(latency_ms) AS p95_latency_ms,
    avg(prompt_tokens + completion_tokens) AS avg_tokens
FROM inferences
WHERE {_CAMPAIGN_INFERENCES}
GROUP BY variant
"""

# Mean, standard error and 95% CI per variant, and the comparison with the control:
# two-proportion z-test (pooled) for boolean metrics; for floats the p-value comes from
# WELCH below. Window aggregates put the control's figures on every row.
STATS = """
WITH {samples},
stats AS (
    SELECT variant, count() AS n, avg(value) AS mean, if(n > 1, varSamp(value), 0) AS var, sum(value) AS total
    FROM samples GROUP BY variant
),
compared AS (
    SELECT *,
        sqrt(var / n) AS se,
        anyIf(n, variant = {{control:String}}) OVER () AS c_n,
        anyIf(mean, variant = {{control:String}}) OVER () AS c_mean,
        anyIf(total, variant = {{control:String}}) OVER () AS c_total
    FROM stats
)
SELECT
    variant, n, mean, se,
    mean - 1.959964 * se AS ci_low,
    mean + 1.959964 * se AS ci_high,
    if(c_n > 0, mean - c_mean, NULL) AS lift_abs,
    if(c_n > 0 AND c_mean != 0, (mean - c_mean) / abs(c_mean), NULL) AS lift,
    (c_total + total) / (c_n + n) AS pooled,
    if(c_n > 0 AND variant != {{control:String}} AND pooled > 0 AND pooled < 1,
       erfc(abs(mean - c_mean) / sqrt(pooled * (1 - pooled) * (1 / c_n + 1 / n)) / sqrt(2)),
       NULL) AS z_p_value
FROM compared
"""

# Welch's t-test of each variant against the control, on the raw samples.
WELCH = """
WITH {samples}
SELECT cmp AS compared, welchTTest(value, toUInt8(variant = cmp)) AS test
FROM samples
ARRAY JOIN {{others:Array(String)}} AS cmp
WHERE variant IN (cmp, {{control:String}})
GROUP BY cmp
HAVING countIf(variant = cmp) > 1 AND countIf(variant = {{control:String}}) > 1
"""

# Probability of being best: draws from each variant's approximate posterior, a normal with the
# variant's mean and standard error (for booleans, the Beta(1+x, 1+n-x) posterior's mean and
# standard deviation). {best} is max or min, following the metric's ``optimize``.
PROBABILITY_BEST = """
WITH {samples},
posterior AS (
    SELECT variant,
        if({{is_boolean:UInt8}}, (sum(value) + 1) / (count() + 2), avg(value)) AS centre,
        if({{is_boolean:UInt8}}, sqrt(centre * (1 - centre) / (count() + 3)), sqrt(if(count() > 1, varSamp(value), 0) / count())) AS spread
    FROM samples GROUP BY variant
),
draws AS (
    SELECT d.number AS draw, p.variant AS variant, p.centre + p.spread * randNormal(0, 1, 1) AS sample
    FROM numbers({{draws:UInt32}}) AS d CROSS JOIN posterior AS p
)
SELECT variant, countIf(sample = best_sample) / {{draws:UInt32}} AS probability_best
FROM (SELECT variant, sample, {best}(sample) OVER (PARTITION BY draw) AS best_sample FROM draws)
GROUP BY variant
"""

# Sample-ratio mismatch: chi-square of the units each variant got against the configured
# weights. The p-value is exact for one degree of freedom (erfc) and the Wilson-Hilferty
# normal approximation of the chi-square tail beyond.
SRM = f"""
WITH observed AS (
    SELECT variant, uniqExactIf(sticky_unit, sticky_unit != '') + countIf(sticky_unit = '') AS units
    FROM inferences WHERE {_CAMPAIGN_INFERENCES} GROUP BY variant
),
configured AS (
    SELECT tupleElement(vw, 1) AS variant, tupleElement(vw, 2) AS weight
    FROM (SELECT arrayJoin(arrayZip({{variants:Array(String)}}, {{weights:Array(Float64)}})) AS vw)
),
joined AS (
    SELECT c.variant AS variant, c.weight / sum(c.weight) OVER () AS share, toFloat64(o.units) AS units
    FROM configured AS c LEFT JOIN observed AS o ON c.variant = o.variant
),
chi AS (
    SELECT sum(pow(units - expected, 2) / expected) AS chi2, count() - 1 AS df, sum(units) AS total
    FROM (SELECT units, share * sum(units) OVER () AS expected FROM joined)
)
SELECT chi2, df, total,
    if(df = 1, erfc(sqrt(chi2 / 2)),
       0.5 * erfc(((pow(chi2 / df, 1 / 3) - (1 - 2 / (9 * df))) / sqrt(2 / (9 * df))) / sqrt(2))) AS p_value
FROM chi
WHERE total > 0
"""
