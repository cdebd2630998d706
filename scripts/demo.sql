-- The demo: lme4's sleepstudy, Dyestuff and cake examples, fitted in SQL.
CREATE EXTENSION lmm;
CREATE TABLE sleepstudy (reaction float8, days int, subject text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE dyestuff (batch text, yield float8);
\copy dyestuff FROM 'test/data/dyestuff.csv' CSV HEADER
CREATE TABLE cake (replicate int, recipe text, temperature text, angle float8, temp float8);
\copy cake FROM 'test/data/cake.csv' CSV HEADER

\echo '== sleepstudy: reaction ~ days + (days | subject), REML'
CREATE TABLE models AS
SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
			   'x_names=days, z_names=days, g_name=subject') AS m
FROM sleepstudy;
\echo '== the fit as lme4''s summary() prints it'
\pset format unaligned
\pset tuples_only on
SELECT lmm_print(m) FROM models;
\pset format aligned
\pset tuples_only off
SELECT term, estimate, std_error, t_value FROM lmm_fixef((SELECT m FROM models));
SELECT * FROM lmm_varcorr((SELECT m FROM models));
SELECT method, n_obs, n_groups, criterion, aic, bic, sigma, converged, singular
FROM lmm_summary((SELECT m FROM models));
\echo '== conditional modes (BLUPs), first three subjects'
SELECT * FROM lmm_ranef((SELECT m FROM models)) LIMIT 6;

\echo '== inference: Satterthwaite df and p-values (lmerTest), profile intervals (lme4 confint)'
SELECT term, df, p_value, conf_low, conf_high FROM lmm_fixef((SELECT m FROM models));
SELECT * FROM lmm_confint((SELECT m FROM models));
\echo '== does the random slope improve on a random intercept? (lme4 anova)'
SELECT a.* FROM lmm_anova(
	(SELECT lmm_fit(reaction, ARRAY[days], subject, 'x_names=days, g_name=subject') FROM sleepstudy),
	(SELECT m FROM models)) a;

\echo '== Dyestuff: yield ~ 1 + (1 | batch), ML'
SELECT * FROM lmm_varcorr((SELECT lmm_fit(yield, ARRAY[]::float8[], batch, 'method=ml, g_name=batch') FROM dyestuff));

\echo '== cake: angle ~ recipe * temperature + (1 | recipe:replicate); lmerTest''s anova(m)'
SELECT term, num_df, den_df, f_value, p_value
FROM lmm_anova(lmm('angle ~ recipe * temperature + (1 | recipe:replicate)', 'cake'));
\echo '== is recipe B different from recipe C? (lmerTest contest)'
SELECT estimate, std_error, den_df, p_value
FROM lmm_contrast(lmm('angle ~ recipe + temperature + (1 | recipe:replicate)', 'cake'),
				  ARRAY[0, 1, -1, 0, 0, 0, 0, 0]);
