-- The demo: lme4's sleepstudy and Dyestuff examples, fitted in SQL.
CREATE EXTENSION lmm;
CREATE TABLE sleepstudy (reaction float8, days int, subject text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE dyestuff (batch text, yield float8);
\copy dyestuff FROM 'test/data/dyestuff.csv' CSV HEADER

\echo '== sleepstudy: reaction ~ days + (days | subject), REML'
CREATE TABLE models AS
SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
			   'x_names=days, z_names=days, g_name=subject') AS m
FROM sleepstudy;
SELECT * FROM lmm_fixef((SELECT m FROM models));
SELECT * FROM lmm_varcorr((SELECT m FROM models));
SELECT method, n_obs, n_groups, criterion, aic, bic, sigma, converged, singular
FROM lmm_summary((SELECT m FROM models));
\echo '== conditional modes (BLUPs), first three subjects'
SELECT * FROM lmm_ranef((SELECT m FROM models)) LIMIT 6;

\echo '== Dyestuff: yield ~ 1 + (1 | batch), ML'
SELECT * FROM lmm_varcorr((SELECT lmm_fit(yield, ARRAY[]::float8[], batch, 'method=ml, g_name=batch') FROM dyestuff));
