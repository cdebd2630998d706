-- Shifting y or a covariate by a large constant changes only the intercept;
-- row order does not matter; single-row groups and singular fits are fine.
CREATE FUNCTION fit_numbers(m lmm_model) RETURNS float8[] LANGUAGE sql AS $$
	SELECT array_agg(v) FROM (
		SELECT estimate AS v FROM lmm_fixef(m) WHERE term <> '(Intercept)'
		UNION ALL SELECT std_error FROM lmm_fixef(m) WHERE term <> '(Intercept)'
		UNION ALL SELECT unnest(theta) FROM lmm_summary(m)
		UNION ALL SELECT sigma FROM lmm_summary(m)
		UNION ALL SELECT criterion FROM lmm_summary(m)
		UNION ALL SELECT estimate FROM lmm_ranef(m)) s
$$;
CREATE FUNCTION max_rel_diff(a float8[], b float8[]) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(x - y) / greatest(abs(y), 1e-3)) FROM unnest(a, b) u(x, y)
$$;
CREATE TABLE base AS
SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days]) AS m FROM sleepstudy;

-- y + 1e6
SELECT max_rel_diff(fit_numbers(s.m), fit_numbers(base.m)) < 1e-7 AS y_shift_ok,
	abs((SELECT estimate FROM lmm_fixef(s.m) LIMIT 1) - 1e6 - (SELECT estimate FROM lmm_fixef(base.m) LIMIT 1)) < 1e-6 AS intercept_moves
FROM base, (SELECT lmm_fit(reaction + 1e6, ARRAY[days], subject, ARRAY[days]) AS m FROM sleepstudy) s;
-- a year-like and an epoch-like covariate in x (z keeps days)
SELECT max_rel_diff(fit_numbers(s.m), fit_numbers(base.m)) < 1e-7 AS year_ok
FROM base, (SELECT lmm_fit(reaction, ARRAY[2000 + days], subject, ARRAY[days]) AS m FROM sleepstudy) s;
-- (REML's criterion depends on the scale of X, so compare like with like)
SELECT max_rel_diff(fit_numbers(s.m), fit_numbers(u.m)) < 1e-7 AS epoch_ok
FROM (SELECT lmm_fit(reaction, ARRAY[1.7e9 + 86400 * days], subject, ARRAY[days]) AS m FROM sleepstudy) s,
	 (SELECT lmm_fit(reaction, ARRAY[86400 * days], subject, ARRAY[days]) AS m FROM sleepstudy) u;

-- z far from the intercept's scale: with the intercept in the term, z + s or
-- z * c is the same model, so the criterion, sigma, fixed effects and
-- predictions must not move (the slope's SD scales by 1 / c); without the
-- internal standardization of z, BOBYQA stopped at criteria up to 1786 here
SELECT v.s, v.c,
	abs(f.criterion - b.criterion) / b.criterion < 1e-10 AS criterion_same,
	abs(f.sigma - b.sigma) / b.sigma < 1e-7 AS sigma_same,
	(SELECT max(abs(x.estimate - y.estimate) / abs(y.estimate) + abs(x.std_error - y.std_error) / y.std_error)
	   FROM lmm_fixef(z.m) x JOIN lmm_fixef(base.m) y USING (term)) < 1e-7 AS fixef_same,
	abs((SELECT std_dev FROM lmm_varcorr(z.m) WHERE term1 = 'z1' AND term2 IS NULL) * v.c -
		(SELECT std_dev FROM lmm_varcorr(base.m) WHERE term1 = 'z1' AND term2 IS NULL)) < 1e-6 AS slope_sd_scales,
	(SELECT max(abs(lmm_predict(z.m, ARRAY[days], subject, ARRAY[(days + v.s) * v.c]) -
					lmm_predict(base.m, ARRAY[days], subject, ARRAY[days])))
	   FROM sleepstudy) < 1e-7 AS predictions_same,
	f.converged
FROM base, lmm_summary(base.m) b,
	(VALUES (1000::float8, 1::float8), (0, 1e5), (0, 1e-6), (1000, 1e-3), (-50, 1)) v(s, c),
	LATERAL (SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[(days + v.s) * v.c]) AS m FROM sleepstudy) z,
	lmm_summary(z.m) f;
-- the same with two slopes (q = 3), one shifted, the other scaled
SELECT v.s, v.c, abs(f.criterion - b.criterion) / b.criterion < 1e-10 AS criterion_same, f.converged
FROM (SELECT lmm_summary(lmm_fit(reaction, ARRAY[days], subject, ARRAY[days, (days - 4.5)^2 / 10])) AS b
	  FROM sleepstudy) u,
	LATERAL (SELECT (u.b).criterion) b(criterion),
	(VALUES (1000::float8, 1::float8), (0, 1e4)) v(s, c),
	LATERAL (SELECT (lmm_summary(lmm_fit(reaction, ARRAY[days], subject,
										 ARRAY[days + v.s, (days - 4.5)^2 * v.c / 10]))).*
			 FROM sleepstudy) f;

-- row order changes sums at rounding level only; BOBYQA may amplify that
-- within its tolerance on a flat criterion (about 1e-8 here)
SELECT max_rel_diff(fit_numbers(s.m), fit_numbers(base.m)) < 1e-6 AS order_ok
FROM base, (SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days] ORDER BY md5(reaction::text)) AS m FROM sleepstudy) s;

-- single-row groups next to larger ones
SELECT n_groups, converged, singular FROM lmm_summary((
	SELECT lmm_fit(reaction, ARRAY[days], CASE WHEN days = 0 THEN subject || '-first' ELSE subject END) FROM sleepstudy));

-- a group effect of exactly zero variance is a valid, singular answer
SELECT round(theta[1]::numeric, 6) AS theta, singular, converged FROM lmm_summary((
	SELECT lmm_fit(y, ARRAY[x], g) FROM (SELECT (i % 10)::float8 + (i % 7) * 0.3 AS y, (i % 10)::float8 AS x, i % 5 AS g
										FROM generate_series(1, 100) i) s));
