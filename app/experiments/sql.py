"""The SQL behind campaign results. Every statistic is computed by ClickHouse; Python only
passes parameters and shapes the answer.

The unit of analysis is a feedback *target*: for inference-level metrics each rated inference
(or completion), for episode-level metrics each rated episode, attributed to the variant its
inferences in this campaign were served by. A target rated twice counts once, with its
latest value, entering the sample when it was first rated (``first_at``).
"""

from __future__ import annotations

# Placeholders: {function:String}, {campaign:String}, {metric:String}, {control:String}.
_CAMPAIGN_INFERENCES = "function = {function:String} AND campaign = {campaign:String}"

SAMPLES_INFERENCE = f"""
samples AS (
    SELECT i.variant AS variant, f.latest AS value, f.first_at AS first_at
    FROM (
        SELECT target_id, any(inference_id) AS inference_id, argMax(value, created_at) AS latest,
            min(created_at) AS first_at
        FROM feedback
        WHERE metric = {{metric:String}} AND target_level = 'inference' AND value IS NOT NULL
        GROUP BY target_id
    ) AS f
    INNER JOIN (SELECT id, variant FROM inferences WHERE {_CAMPAIGN_INFERENCES}) AS i
        ON assumeNotNull(f.inference_id) = i.id
)"""

SAMPLES_EPISODE = f"""
samples AS (
    SELECT e.variant AS variant, f.latest AS value, f.first_at AS first_at
    FROM (
        SELECT target_id, argMax(value, created_at) AS latest, min(created_at) AS first_at
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
    avg(prompt_tokens + completion_tokens) AS avg_tokens,
    avg(cost) AS cost_per_inference,
    sum(cost) AS cost_usd
FROM inferences
WHERE {_CAMPAIGN_INFERENCES}
GROUP BY variant
"""

# The anytime-valid comparison with the control (docs/experiments.md, "The method"): a mixture
# SPRT for the difference of means under a normal approximation. Needs the columns n, mean,
# var, is_control and the control's c_n, c_mean, c_var on each row. With V the variance of the
# difference and tau^2 the mixing variance, mixing = tau^2 / V = rho2 / (1/n + 1/c_n) since
# tau^2 = rho2 * sigma^2 and V = sigma^2 (1/n + 1/c_n). mixture_p is 1 / Lambda, the inverse
# of the mixture likelihood ratio; the confidence sequence is the set of differences the same
# test would not reject at alpha.
ANYTIME = """
    if(NOT is_control AND n > 1 AND c_n > 1, var / n + c_var / c_n, NULL) AS diff_var,
    {rho2:Float64} / (1 / n + 1 / c_n) AS mixing,
    if(diff_var > 0,
       least(1, sqrt(1 + mixing) * exp(-mixing * pow(mean - c_mean, 2) / (2 * diff_var * (1 + mixing)))),
       NULL) AS mixture_p,
    if(diff_var > 0,
       sqrt(diff_var * (1 + mixing) / mixing * (2 * ln(1 / {alpha:Float64}) + ln(1 + mixing))),
       NULL) AS half_width,
    mean - c_mean - half_width AS cs_low,
    mean - c_mean + half_width AS cs_high,
    {equivalence_sd:Float64} * sqrt(diff_var / (1 / n + 1 / c_n)) AS equivalence_margin"""

# Mean, standard error and 95% CI per variant, and the comparison with the control. The
# fixed-horizon p_value is the two-proportion z-test (pooled) for boolean metrics and Welch's
# t-test for floats. The always-valid p-value is never below it (docs/experiments.md): it is
# the larger of the two. Window aggregates put the control's figures on every row.
STATS = """
WITH {samples},
stats AS (
    SELECT variant, count() AS n, avg(value) AS mean, if(n > 1, varSamp(value), 0) AS var, sum(value) AS total
    FROM samples GROUP BY variant
),
welch AS (
    SELECT cmp AS compared, toNullable(tupleElement(welchTTest(value, toUInt8(variant = cmp)), 2)) AS welch_p
    FROM samples
    ARRAY JOIN {{others:Array(String)}} AS cmp
    WHERE variant IN (cmp, {{control:String}})
    GROUP BY cmp
    HAVING countIf(variant = cmp) > 1 AND countIf(variant = {{control:String}}) > 1
),
compared AS (
    SELECT *,
        variant = {{control:String}} AS is_control,
        sqrt(var / n) AS se,
        anyIf(n, is_control) OVER () AS c_n,
        anyIf(mean, is_control) OVER () AS c_mean,
        anyIf(var, is_control) OVER () AS c_var,
        anyIf(total, is_control) OVER () AS c_total
    FROM stats
)
SELECT
    variant, n, mean, se,
    mean - 1.959964 * se AS ci_low,
    mean + 1.959964 * se AS ci_high,
    if(c_n > 0, mean - c_mean, NULL) AS lift_abs,
    if(c_n > 0 AND c_mean != 0, (mean - c_mean) / abs(c_mean), NULL) AS lift,
    (c_total + total) / (c_n + n) AS pooled,
    if(c_n > 0 AND NOT is_control AND pooled > 0 AND pooled < 1,
       erfc(abs(mean - c_mean) / sqrt(pooled * (1 - pooled) * (1 / c_n + 1 / n)) / sqrt(2)),
       NULL) AS z_p_value,
    if(is_control, NULL, if({{is_boolean:UInt8}}, z_p_value, w.welch_p)) AS p_value,
    {anytime},
    if(isNull(p_value) OR isNull(mixture_p), NULL, greatest(p_value, mixture_p)) AS always_valid_p_value
FROM compared LEFT JOIN welch AS w ON compared.variant = w.compared
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

# Results over time: per bucket and variant, the units first served and the targets first
# rated in the bucket, and the cumulative mean and confidence sequence as of the bucket's end.
# A target enters in the bucket of its first rating, with its latest value. Cumulative moments
# come from running sums (n, sum, sum of squares); every configured variant has a row in every
# bucket, so the control's figures sit beside each variant's. {bucket} is toStartOfHour or
# toStartOfDay, chosen by the caller from a fixed list.
TIMELINE = """
WITH {samples},
units AS (
    SELECT variant, bucket, count() AS new_units
    FROM (
        SELECT variant, {bucket}(min(created_at)) AS bucket
        FROM inferences WHERE {in_campaign}
        GROUP BY variant, sticky_unit, if(sticky_unit = '', toString(id), '')
    )
    GROUP BY variant, bucket
),
rated AS (
    SELECT variant, {bucket}(first_at) AS bucket,
        count() AS new_feedback, sum(value) AS total, sum(value * value) AS squares
    FROM samples GROUP BY variant, bucket
),
grid AS (
    SELECT bucket, arrayJoin({{variants:Array(String)}}) AS variant
    FROM (SELECT bucket FROM units UNION DISTINCT SELECT bucket FROM rated)
),
running AS (
    SELECT g.bucket AS bucket, g.variant AS variant, u.new_units AS new_units,
        r.new_feedback AS new_feedback,
        sum(u.new_units) OVER w AS cumulative_units,
        sum(r.new_feedback) OVER w AS n,
        sum(r.total) OVER w AS s,
        sum(r.squares) OVER w AS ss
    FROM grid AS g
    LEFT JOIN units AS u ON g.variant = u.variant AND g.bucket = u.bucket
    LEFT JOIN rated AS r ON g.variant = r.variant AND g.bucket = r.bucket
    WINDOW w AS (PARTITION BY g.variant ORDER BY g.bucket ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
moments AS (
    SELECT *,
        variant = {{control:String}} AS is_control,
        if(n > 0, s / n, NULL) AS mean,
        if(n > 1, greatest(0, (ss - s * s / n) / (n - 1)), 0) AS var
    FROM running
),
compared AS (
    SELECT *,
        anyIf(n, is_control) OVER (PARTITION BY bucket) AS c_n,
        anyIf(mean, is_control) OVER (PARTITION BY bucket) AS c_mean,
        anyIf(var, is_control) OVER (PARTITION BY bucket) AS c_var
    FROM moments
)
SELECT start, variant, new_units, new_feedback, cumulative_units, n, mean, cs_low, cs_high
FROM (SELECT *, formatDateTime(bucket, '%FT%TZ', 'UTC') AS start, {anytime} FROM compared)
ORDER BY bucket, indexOf({{variants:Array(String)}}, variant)
"""

SAMPLES = {"inference": SAMPLES_INFERENCE, "episode": SAMPLES_EPISODE}
BUCKETS = {"hour": "toStartOfHour", "day": "toStartOfDay"}


def stats_query(level: str) -> str:
    """``STATS`` for a metric at ``level`` (inference or episode)."""
    return STATS.format(samples=SAMPLES[level], anytime=ANYTIME)


def timeline_query(level: str, bucket: str) -> str:
    """``TIMELINE`` for a metric at ``level``, bucketed by ``bucket`` (a key of ``BUCKETS``)."""
    return TIMELINE.format(
        samples=SAMPLES[level],
        in_campaign=_CAMPAIGN_INFERENCES,
        bucket=BUCKETS[bucket],
        anytime=ANYTIME,
    )
