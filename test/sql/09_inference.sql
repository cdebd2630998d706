-- Inference: the README's "Inference" statements verbatim (full-precision
-- output to /dev/null), then rounded checks, text and binary round trips of
-- what inference needs, and the upgrade from 0.2.0.
SET extra_float_digits = 0;
\o /dev/null
-- fixed effects with Satterthwaite df and p-values (lmerTest's summary table)
SELECT term, estimate, std_error, df, t_value, p_value, conf_low, conf_high
FROM models, lmm_fixef(m) WHERE name = 'mobility';

-- does the random slope earn its two parameters? lme4's anova(m_small, m_big)
WITH fits AS (
  SELECT lmm_fit(reaction, ARRAY[days], subject, 'x_names=days, g_name=subject') AS m_small,
         lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
                 'x_names=days, z_names=days, g_name=subject') AS m_big
  FROM sleepstudy)
SELECT a.* FROM fits, lmm_anova(m_small, m_big) a;

-- confidence intervals: likelihood profile (the default) or Wald, at any level
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'));
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'method=profile, level=0.9');
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'method=wald');
\o

-- the same, rounded
SELECT term, round(estimate::numeric, 4) AS estimate, round(df::numeric, 2) AS df,
	round(t_value::numeric, 3) AS t_value, p_value < 0.05 AS significant,
	conf_low < estimate AND estimate < conf_high AS ci_holds_estimate
FROM models, lmm_fixef(m) WHERE name = 'mobility';
WITH fits AS (
  SELECT lmm_fit(reaction, ARRAY[days], subject, 'x_names=days, g_name=subject') AS m_small,
         lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
                 'x_names=days, z_names=days, g_name=subject') AS m_big
  FROM sleepstudy)
SELECT a.model, a.npar, round(a.aic::numeric, 2) AS aic, round(a.deviance::numeric, 2) AS deviance,
	round(a.chisq::numeric, 3) AS chisq, a.df, a.p_value < 1e-8 AS p_below_1e8
FROM fits, lmm_anova(m_small, m_big) a;
SELECT parameter, round(estimate::numeric, 3) AS estimate, round(lower::numeric, 3) AS lower,
	round(upper::numeric, 3) AS upper, method
FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'));
-- a 90% interval lies inside the 95% one; Wald intervals are the fixed effects only
SELECT bool_and(n.lower > w.lower AND n.upper < w.upper) AS narrower
FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'method=profile, level=0.9') n
JOIN lmm_confint((SELECT m FROM models WHERE name = 'mobility')) w USING (parameter);
SELECT parameter, round(lower::numeric, 4) AS lower, round(upper::numeric, 4) AS upper
FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'method=wald');

-- what df and refits need survives text and binary round trips exactly
SELECT (SELECT array_agg(df) FROM lmm_fixef(m::text::lmm_model)) = (SELECT array_agg(df) FROM lmm_fixef(m)) AS same_df,
	(SELECT array_agg(lower) FROM lmm_confint(m::text::lmm_model)) = (SELECT array_agg(lower) FROM lmm_confint(m)) AS same_profile,
	lmm_model_send(m) = lmm_model_send(m::text::lmm_model) AS same_bytes
FROM models WHERE name = 'mobility';

-- options
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'level=95');
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'method=wald, method=wald');
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'levels=0.9');
SELECT * FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), 'wald');
SELECT count(*) FROM lmm_confint((SELECT m FROM models WHERE name = 'mobility'), ' method = WALD ');
