--
-- synth_evaluate: fidelity scores on constructed tables whose answers are
-- known (no model involved), and the errors of bad input.
--
CREATE EXTENSION synth;

-- 100 rows: x = 1..100, y = 2x, c in shares p 50% / q 30% / r 20%, a bool,
-- a date, a numeric with NULLs in every 10th row, and a primary key.
CREATE TABLE ev_real (
	id		int PRIMARY KEY,
	x		int,
	y		float8,
	c		text,
	b		bool,
	d		date,
	m		numeric(6,2)
);
INSERT INTO ev_real
SELECT i, i, 2 * i,
	   CASE WHEN i <= 50 THEN 'p' WHEN i <= 80 THEN 'q' ELSE 'r' END,
	   i % 2 = 0,
	   date '2024-01-01' + i,
	   CASE WHEN i % 10 = 0 THEN NULL ELSE i / 4.0 END
FROM generate_series(1, 100) i;

-- identical copy: every score is 1, every row is a copy; the key is skipped
CREATE TABLE ev_same (LIKE ev_real INCLUDING ALL);
INSERT INTO ev_same SELECT * FROM ev_real;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_same');

-- x shifted by 10: KS statistic 10/100, so KSComplement 0.9; y = 2x no
-- longer holds, so no row is a copy; x and y stay perfectly correlated
CREATE TABLE ev_shift AS SELECT id, x + 10 AS x, y, c, b, d, m FROM ev_real;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_shift')
WHERE column_name IN ('x', 'y', 'x, y') OR metric IN ('column_shapes', 'exact_copy_rate');

-- y shuffled (a permutation of the same values): shapes stay 1, the
-- correlation of x and y drops to 1 - |1 - corr|/2, corr from SQL
CREATE TABLE ev_shuffled AS
SELECT id, x, 2 * ((x * 37) % 100 + 1)::float8 AS y, c, b, d, m FROM ev_real;
SELECT round((1 - abs(1 - corr(x, y)) / 2)::numeric, 6) AS expected_correlation_similarity
FROM ev_shuffled;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_shuffled')
WHERE metric IN ('KSComplement', 'CorrelationSimilarity', 'column_shapes')
  AND (column_name IS NULL OR column_name IN ('x', 'y', 'x, y'));
SELECT round(e.score::numeric, 6) = (SELECT round((1 - abs(1 - corr(x, y)) / 2)::numeric, 6)
									 FROM ev_shuffled) AS correlation_matches_sql
FROM synth_evaluate('ev_real', 'ev_shuffled') e
WHERE e.column_name = 'x, y';

-- category shares p 40% / q 30% / s 20% / NULL 10% against p 50% / q 30% /
-- r 20%: TVComplement = 1 - (0.1 + 0 + 0.2 + 0.2 + 0.1) / 2 = 0.7
CREATE TABLE ev_shares AS
SELECT id, x, y,
	   CASE WHEN x <= 40 THEN 'p' WHEN x <= 70 THEN 'q' WHEN x <= 90 THEN 's' END AS c,
	   b, d, m
FROM ev_real;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_shares')
WHERE column_name = 'c';

-- NULL rate of m 30% against 10%: MissingValueSimilarity 0.8; 40 rows are
-- copies (x <= 50 keeps c, and m where it is not newly NULL; NULL equals NULL)
CREATE TABLE ev_nulls AS
SELECT id, x, y, CASE WHEN x <= 50 THEN c ELSE 'z' END AS c, b, d,
	   CASE WHEN x % 10 IN (0, 3, 7) THEN NULL ELSE m END AS m
FROM ev_real;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_nulls')
WHERE column_name = 'm' OR metric = 'exact_copy_rate';
SELECT count(*) AS rows_copied_sql
FROM ev_nulls s
WHERE EXISTS (SELECT 1 FROM ev_real r
			  WHERE (r.x, r.y, r.c, r.b, r.d) = (s.x, s.y, s.c, s.b, s.d)
				AND r.m IS NOT DISTINCT FROM s.m);

-- every score lies in [0, 1], whatever the pair
SELECT bool_and(score BETWEEN 0 AND 1) AS scores_in_range,
	   count(*) FILTER (WHERE metric = 'ContingencySimilarity') AS contingency_pairs,
	   count(*) FILTER (WHERE metric = 'CorrelationSimilarity') AS correlation_pairs
FROM synth_evaluate('ev_real', 'ev_nulls')
WHERE metric NOT IN ('real_rows', 'synthetic_rows');

-- contingency of a categorical and a continuous column, checked against SQL:
-- x in 10 equal-width bins over the real range 1..100 (values beyond it in
-- the end bins), NULL its own category
SELECT e.metric, e.column_name, round(e.score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_shares') e
WHERE e.column_name = 'x, c';
SELECT e.metric, e.column_name, round(e.score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_shift') e
WHERE e.column_name = 'x, c';
CREATE FUNCTION ev_contingency_sql(syn regclass) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	result numeric;
BEGIN
	EXECUTE format($q$
		WITH r AS (SELECT c, greatest(least(floor((x - 1) / 9.9), 9), 0) AS bin FROM ev_real),
			 s AS (SELECT c, greatest(least(floor((x - 1) / 9.9), 9), 0) AS bin FROM %s),
			 pr AS (SELECT c, bin, count(*) / 100.0 AS p FROM r GROUP BY 1, 2),
			 ps AS (SELECT c, bin, count(*) / 100.0 AS q FROM s GROUP BY 1, 2)
		SELECT round(1 - sum(abs(coalesce(p, 0) - coalesce(q, 0))) / 2, 6)
		FROM pr FULL JOIN ps ON pr.c IS NOT DISTINCT FROM ps.c AND pr.bin = ps.bin$q$, syn)
	INTO result;
	RETURN result;
END
$$;
SELECT ev_contingency_sql('ev_shares') AS shares_sql, ev_contingency_sql('ev_shift') AS shift_sql;

-- enums and domains (by their base type), a uuid key, an unsupported type,
-- columns only one side has, and a column whose kind differs
CREATE TYPE ev_mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN ev_score AS int CHECK (VALUE >= 0);
CREATE TABLE ev_types_real (
	u		uuid,
	mood	ev_mood,
	score	ev_score,
	pt		point,
	only_real int,
	k		int
);
INSERT INTO ev_types_real
SELECT md5(i::text)::uuid, (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::ev_mood,
	   i % 7, point(i, i), i, i
FROM generate_series(1, 30) i;
CREATE TABLE ev_types_syn (
	u		uuid,
	mood	ev_mood,
	score	int,
	pt		point,
	only_syn int,
	k		text
);
INSERT INTO ev_types_syn
SELECT md5((i + 1000)::text)::uuid, (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::ev_mood,
	   i % 7, point(i, i), i, i::text
FROM generate_series(1, 30) i;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_types_real', 'ev_types_syn');

-- more than 50 columns: pairs among the first 50 only (50 * 49 / 2 = 1225)
DO $$
BEGIN
	EXECUTE 'CREATE TABLE ev_wide AS SELECT '
		|| (SELECT string_agg(format('i * %s AS w%s', n, n), ', ')
			FROM generate_series(1, 52) n)
		|| ' FROM generate_series(1, 5) i';
END
$$;
SELECT count(*) FILTER (WHERE column_name LIKE '%,%') AS pairs,
	   count(*) FILTER (WHERE metric = 'KSComplement') AS shapes,
	   min(score) AS min_score
FROM synth_evaluate('ev_wide', 'ev_wide');

-- more distinct values than a dictionary holds: the rest is pooled
CREATE TABLE ev_many AS SELECT 'v' || i AS v FROM generate_series(1, 12000) i;
SELECT column_name, metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_many', 'ev_many');

-- errors: an empty table, no column in common, nothing comparable, NULL
CREATE TABLE ev_empty (LIKE ev_real);
SELECT * FROM synth_evaluate('ev_real', 'ev_empty');
SELECT * FROM synth_evaluate('ev_empty', 'ev_real');
CREATE TABLE ev_other AS SELECT 1 AS unrelated;
SELECT * FROM synth_evaluate('ev_real', 'ev_other');
CREATE TABLE ev_keys_only AS SELECT id FROM ev_real;
SELECT * FROM synth_evaluate('ev_real', 'ev_keys_only');
SELECT * FROM synth_evaluate('ev_real', NULL);
SELECT * FROM synth_evaluate('ev_real', 'ev_real_pkey');

-- errors: a caller without SELECT on either table
CREATE ROLE regress_synth_evaluator;
GRANT SELECT ON ev_same TO regress_synth_evaluator;
SET ROLE regress_synth_evaluator;
SELECT * FROM synth_evaluate('ev_real', 'ev_same');
SELECT * FROM synth_evaluate('ev_same', 'ev_real');
RESET ROLE;
GRANT SELECT ON ev_real TO regress_synth_evaluator;
SET ROLE regress_synth_evaluator;
SELECT metric, round(score::numeric, 6) AS score
FROM synth_evaluate('ev_real', 'ev_same')
WHERE column_name IS NULL;
RESET ROLE;

DROP TABLE ev_real, ev_same, ev_shift, ev_shuffled, ev_shares, ev_nulls,
	ev_types_real, ev_types_syn, ev_wide, ev_many, ev_empty, ev_other, ev_keys_only;
DROP FUNCTION ev_contingency_sql(regclass);
DROP TYPE ev_mood;
DROP DOMAIN ev_score;
DROP ROLE regress_synth_evaluator;
DROP EXTENSION synth CASCADE;
