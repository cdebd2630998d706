-- lmm_print(m): lme4's summary() layout as one text value.  The printed
-- fits pin the layout (one-term REML, ML, a random slope, crossed and
-- nested terms, a fit from stored statistics); the checks after them read
-- the printed tables back and compare them with lmm_fixef and lmm_varcorr
-- at the precision shown.
SET extra_float_digits = 0;
CREATE TABLE print_fits AS
SELECT 'dyestuff reml' AS fit, lmm_fit(yield, ARRAY[]::float8[], batch, 'g_name=batch') AS m FROM dyestuff
UNION ALL SELECT 'sleepstudy slope ml', lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
	'method=ml, x_names=days, z_names=days, g_name=subject') FROM sleepstudy
UNION ALL SELECT 'sleepstudy slope reml', lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
	'x_names=days, z_names=days, g_name=subject') FROM sleepstudy
UNION ALL SELECT 'penicillin crossed', lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin')
UNION ALL SELECT 'pastes nested ml', lmm('strength ~ 1 + (1 | batch/cask)', 'pastes', 'method=ml')
UNION ALL SELECT 'sleepstudy uncorrelated', lmm('reaction ~ days + (days || subject)', 'sleepstudy')
UNION ALL SELECT 'stored statistics', lmm_fit(lmm_stats('reaction ~ days + (days | subject)', 'sleepstudy'));

\pset format unaligned
\pset tuples_only on
SELECT fit || E':\n' || lmm_print(m) || E'\n' FROM print_fits ORDER BY fit;
\pset format aligned
\pset tuples_only off

-- The printed fixed-effects table: each row's estimate, standard error, df
-- and t value equal lmm_fixef's rounded to the decimals printed, and its
-- p-value lmm_fixef's to the 3 significant digits printed.
CREATE TEMP TABLE printed AS
SELECT f.fit, l.line, l.n
FROM print_fits f, regexp_split_to_table(lmm_print(f.m), E'\n') WITH ORDINALITY l(line, n);
CREATE TEMP TABLE printed_fixef AS
SELECT p.fit, x.term, x.estimate, x.std_error, x.df, x.t_value, x.p_value,
	regexp_split_to_array(btrim(substr(p.line, length(x.term) + 1)), ' +') AS cols
FROM print_fits f, lmm_fixef(f.m) WITH ORDINALITY x(term, estimate, std_error, t_value, df, p_value, conf_low, conf_high, k),
	printed p
WHERE p.fit = f.fit
	AND p.n = (SELECT n FROM printed h WHERE h.fit = f.fit AND h.line = 'Fixed effects:') + 1 + x.k
	AND left(p.line, length(x.term)) = x.term;
SELECT fit, term,
	cols[1]::numeric = round(estimate::numeric, scale(cols[1]::numeric)) AS estimate,
	cols[2]::numeric = round(std_error::numeric, scale(cols[2]::numeric)) AS std_error,
	cols[3]::numeric = round(df::numeric, scale(cols[3]::numeric)) AS df,
	cols[4]::numeric = round(t_value::numeric, scale(cols[4]::numeric)) AS t_value,
	CASE WHEN cols[5] LIKE '<%' THEN p_value < 2.2e-16
		ELSE abs(cols[5]::float8 / p_value - 1) < 5e-3 END AS p_value
FROM printed_fixef ORDER BY fit, term;
SELECT count(*) AS rows_compared, (SELECT count(*) FROM print_fits f, lmm_fixef(f.m)) AS fixef_rows
FROM printed_fixef;

-- The residual line of the random-effects table against lmm_varcorr.
SELECT p.fit,
	(regexp_split_to_array(btrim(p.line), ' +'))[2]::numeric = round(v.variance::numeric,
		scale((regexp_split_to_array(btrim(p.line), ' +'))[2]::numeric)) AS variance,
	(regexp_split_to_array(btrim(p.line), ' +'))[3]::numeric = round(v.std_dev::numeric,
		scale((regexp_split_to_array(btrim(p.line), ' +'))[3]::numeric)) AS std_dev
FROM print_fits f, lmm_varcorr(f.m) v, printed p
WHERE v.grp = 'Residual' AND p.fit = f.fit AND p.line LIKE ' Residual %'
ORDER BY 1;

-- The README's example (section "Reading a fit: lmm_print") runs as
-- written and prints what the README shows: its first fenced block is the
-- query, its second the output (test/helpers/readme_block.sh).
\set readme_sql `bash test/helpers/readme_block.sh 'Reading a fit: lmm_print' 1 | sed 's/;$//'`
\set readme_out `bash test/helpers/readme_block.sh 'Reading a fit: lmm_print' 2`
SELECT (:readme_sql) = :'readme_out' AS readme_output_matches,
	length(:'readme_out') > 500 AS readme_shows_a_page;

-- NULL in, NULL out (STRICT); 14_hostile feeds it damaged models.
SELECT lmm_print(NULL) IS NULL AS null_model;
DROP TABLE print_fits;
