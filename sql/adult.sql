--
-- Fidelity on the Adult census data: train a copula on 80% of the rows,
-- generate as many rows as the 20% holdout has, and compare them with the
-- holdout.  Prints booleans only, so the output does not depend on the
-- figures beyond the thresholds.  Skips when the data set is absent
-- (expected/adult_1.out).
--
CREATE EXTENSION synth;

\set adult_file ../shared/datasets/adult/adult.csv
\set have_adult `test -f :'adult_file' && echo true || echo false`

\if :have_adult
CREATE TABLE adult_raw (
	rn				bigint GENERATED ALWAYS AS IDENTITY,
	age				int,
	workclass		text,
	fnlwgt			int,
	education		text,
	education_num	int,
	marital_status	text,
	occupation		text,
	relationship	text,
	race			text,
	sex				text,
	capital_gain	int,
	capital_loss	int,
	hours_per_week	int,
	native_country	text,
	income			text
);
\copy adult_raw (age, workclass, fnlwgt, education, education_num, marital_status, occupation, relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income) FROM '../shared/datasets/adult/adult.csv' WITH (FORMAT csv, HEADER true)

-- a deterministic 80/20 split by load order
CREATE TABLE adult_train AS
SELECT age, workclass, fnlwgt, education, education_num, marital_status,
	   occupation, relationship, race, sex, capital_gain, capital_loss,
	   hours_per_week, native_country, income
FROM adult_raw WHERE rn % 5 <> 0 ORDER BY rn;
CREATE TABLE adult_holdout AS
SELECT age, workclass, fnlwgt, education, education_num, marital_status,
	   occupation, relationship, race, sex, capital_gain, capital_loss,
	   hours_per_week, native_country, income
FROM adult_raw WHERE rn % 5 = 0 ORDER BY rn;

SELECT synth_train('adult_train', 'copula', '{"seed": 42}') > 0 AS trained;

CREATE TABLE adult_syn AS
SELECT * FROM synth_generate(NULL::adult_train, (SELECT count(*) FROM adult_holdout), seed => 7);

SELECT (SELECT count(*) FROM adult_raw) AS raw_rows,
	   (SELECT count(*) FROM adult_train) AS train_rows,
	   (SELECT count(*) FROM adult_holdout) AS holdout_rows,
	   (SELECT count(*) FROM adult_syn) AS synthetic_rows;

CREATE TEMP TABLE adult_eval AS
SELECT * FROM synth_evaluate('adult_holdout', 'adult_syn');

-- every column and every pair is scored
SELECT count(*) FILTER (WHERE metric IN ('KSComplement', 'TVComplement')) AS column_scores,
	   count(*) FILTER (WHERE column_name LIKE '%, %') AS pair_scores
FROM adult_eval;

SELECT score >= 0.90 AS quality_score_at_least_0_90
FROM adult_eval WHERE metric = 'quality_score';
SELECT score <= 0.05 AS exact_copy_rate_at_most_0_05
FROM adult_eval WHERE metric = 'exact_copy_rate';

-- conditional generation: the other columns follow the real rows that
-- satisfy the same predicate (column shapes >= 0.85)
CREATE TABLE adult_old AS
SELECT * FROM synth_generate(NULL::adult_train, 2000, 11, condition => 'age > 60');
CREATE TABLE adult_real_old AS SELECT * FROM adult_train WHERE age > 60;
SELECT count(*) FILTER (WHERE NOT age > 60) AS violations FROM adult_old;
SELECT score >= 0.85 AS age_over_60_shapes_at_least_0_85
FROM synth_evaluate('adult_real_old', 'adult_old') WHERE metric = 'column_shapes';
CREATE TABLE adult_fem_rich AS
SELECT * FROM synth_generate(NULL::adult_train, 2000, 12,
							 condition => $$sex = ' Female' AND income = ' >50K'$$);
CREATE TABLE adult_real_fem_rich AS
SELECT * FROM adult_train WHERE sex = ' Female' AND income = ' >50K';
SELECT count(*) FILTER (WHERE NOT (sex = ' Female' AND income = ' >50K')) AS violations
FROM adult_fem_rich;
SELECT score >= 0.85 AS female_rich_shapes_at_least_0_85
FROM synth_evaluate('adult_real_fem_rich', 'adult_fem_rich') WHERE metric = 'column_shapes';
-- rebalanced income shares are exact
SELECT income, count(*) FROM synth_generate(NULL::adult_train, 1000, 13,
	rebalance => '{"income": {" <=50K": 0.5, " >50K": 0.5}}') GROUP BY 1 ORDER BY 1;

DROP TABLE adult_raw, adult_train, adult_holdout, adult_syn, adult_eval, adult_old,
	adult_real_old, adult_fem_rich, adult_real_fem_rich;
\else
\echo 'SKIP: ../shared/datasets/adult/adult.csv is absent; the Adult fidelity test did not run'
\endif

DROP EXTENSION synth CASCADE;
