-- lmm_bootstrap: lme4's confint(m, method = "boot") from the statistics.
-- A fixed seed gives fixed intervals; the replicates drawn from the
-- statistics are distributed as refits of rows drawn from the same model;
-- Agreement with lme4 at nsim = 2000 (REML and ML fits, one term and
-- crossed terms) is test/pgtap/bootstrap.sql.
SET extra_float_digits = 0;
CREATE TABLE boot_sleep (reaction float8, days int, subject text);
\copy boot_sleep FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE boot_models AS
SELECT lmm('reaction ~ days + (days | subject)', 'boot_sleep') AS m;

-- every parameter under lme4's name, the model's estimate, a percentile interval around it
SELECT parameter, round(estimate::numeric, 4) AS estimate, lower < estimate AND estimate < upper AS covers,
	method
FROM boot_models, lmm_bootstrap(m, 100);

-- the same seed, the same intervals; another seed, others
SELECT (SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50, 'seed=7'))
		= (SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50, 'seed=7')) AS same_seed_same,
	(SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50, 'seed=7'))
		<> (SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50, 'seed=8')) AS other_seed_other,
	(SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50))
		= (SELECT array_agg(lower ORDER BY parameter) FROM lmm_bootstrap(m, 50, 'seed=42')) AS default_seed_42
FROM boot_models;

-- a narrower level gives a narrower interval inside the wider one
SELECT a.parameter, b.lower >= a.lower AND b.upper <= a.upper AS nested
FROM boot_models,
	lmm_bootstrap(m, 200, 'level=0.95') a JOIN lmm_bootstrap(m, 200, 'level=0.5') b USING (parameter)
ORDER BY a.parameter;

-- From rows: 300 responses drawn row by row from the REML fit (b = sigma T u
-- per subject, Box-Muller normals from setseed), each fitted by the
-- aggregate lmm_fit; their quartiles and 2.5%/97.5% quantiles against
-- lmm_bootstrap's intervals at level 0.5 and 0.95 from 4000 replicates
-- drawn from the statistics.  Tolerance: 4.5 Monte Carlo standard errors
-- of the difference, each a sample quantile's binomial error
-- sqrt(a(1 - a)/N) times the slope of the quantile function (from the
-- rows' quantiles at a +- 2h), the bootstrap's sqrt(300/4000) of the rows'.
SELECT setseed(0.22);
CREATE TABLE boot_par AS
SELECT s.sigma, s.theta, f.beta
FROM boot_models, lmm_summary(m) s,
	LATERAL (SELECT array_agg(estimate ORDER BY term = '(Intercept)' DESC) AS beta FROM lmm_fixef(m)) f;
CREATE TABLE boot_u AS
SELECT r, subject, sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS u0,
	sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS u1
FROM generate_series(1, 300) r, (SELECT DISTINCT subject FROM boot_sleep) g;
CREATE TABLE boot_rows AS
SELECT u.r, d.subject, d.days,
	p.beta[1] + p.beta[2] * d.days + p.sigma * p.theta[1] * u.u0
		+ p.sigma * (p.theta[2] * u.u0 + p.theta[3] * u.u1) * d.days
		+ p.sigma * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS y
FROM boot_u u JOIN boot_sleep d USING (subject), boot_par p;
CREATE TABLE boot_row_fits AS
SELECT r, lmm_fit(y, ARRAY[days::float8], subject, ARRAY[days::float8]) AS m FROM boot_rows GROUP BY r;
CREATE TABLE boot_row_est AS
SELECT r, v.parameter, v.value
FROM boot_row_fits f, lmm_summary(f.m) s,
	LATERAL (SELECT array_agg(estimate ORDER BY term = '(Intercept)' DESC) AS beta FROM lmm_fixef(f.m)) x,
	LATERAL (VALUES
		('sd_(Intercept)|subject', s.sigma * s.theta[1]),
		('cor_days.(Intercept)|subject', s.theta[2] / sqrt(s.theta[2] ^ 2 + s.theta[3] ^ 2)),
		('sd_days|subject', s.sigma * sqrt(s.theta[2] ^ 2 + s.theta[3] ^ 2)),
		('sigma', s.sigma), ('(Intercept)', x.beta[1]), ('days', x.beta[2])) v(parameter, value)
WHERE s.converged;
CREATE TABLE boot_cmp AS
SELECT b.parameter, l.level, e.a, e.boot, e.rows_q,
	4.5 * sqrt(1 + 300.0 / 4000) * (q.hi - q.lo) / 4 AS tol
FROM boot_models, (VALUES (0.5), (0.95)) l(level),
	lmm_bootstrap(m, 4000, 'level=' || l.level) b,
	LATERAL (VALUES ((1 - l.level) / 2, b.lower), ((1 + l.level) / 2, b.upper)) e0(a, boot),
	LATERAL (SELECT e0.a, e0.boot, percentile_cont(e0.a) WITHIN GROUP (ORDER BY value) AS rows_q,
				sqrt(e0.a * (1 - e0.a) / count(*)) AS h
			 FROM boot_row_est WHERE parameter = b.parameter) e,
	LATERAL (SELECT percentile_cont(greatest(e.a - 2 * e.h, 0)) WITHIN GROUP (ORDER BY value) AS lo,
				percentile_cont(least(e.a + 2 * e.h, 1)) WITHIN GROUP (ORDER BY value) AS hi
			 FROM boot_row_est WHERE parameter = b.parameter) q;
SELECT (SELECT count(DISTINCT r) FROM boot_row_est) >= 295 AS rows_refitted,
	count(*) AS quantiles_compared,
	count(*) FILTER (WHERE abs(boot - rows_q) <= tol) AS within_tolerance
FROM boot_cmp;
-- (any outside, for the record)
SELECT parameter, level, a, round(boot::numeric, 4) AS boot, round(rows_q::numeric, 4) AS rows_q,
	round(tol::numeric, 4) AS tol
FROM boot_cmp WHERE abs(boot - rows_q) > tol;

-- a model whose replicates all refit: no NOTICE; nsim = 1 works
SELECT count(*) AS rows_of_one_replicate, bool_and(lower = upper) AS one_value
FROM boot_models, lmm_bootstrap(m, 1);
-- a model without statistics (format 3, as lmm 0.6 stored models of lmm()) has nothing to draw from
SELECT * FROM lmm_bootstrap((SELECT (jsonb_set(m::text::jsonb - 'terms_stats' - 'factors', '{lmm_model}', '3'))::text::lmm_model
							 FROM boot_models), 10);
-- a long run stops when asked (the host is polled between replicates and in each refit)
SET statement_timeout = '300ms';
SELECT count(*) FROM boot_models, lmm_bootstrap(m, 1000000);
RESET statement_timeout;
DROP TABLE boot_sleep, boot_models, boot_par, boot_u, boot_rows, boot_row_fits, boot_row_est, boot_cmp;
