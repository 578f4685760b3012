--
-- Fidelity under differential privacy on the Adult census data: train mst
-- with epsilon 1 on 80% of the rows, generate as many rows as the 20%
-- holdout has, and compare them with the holdout.  Prints booleans only
-- (the noise is secure and differs at every run; the thresholds sit well
-- below the scores measured, about 0.967 for quality).  Skips when the data
-- set is absent (expected/privacy_adult_1.out).
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
SELECT * FROM adult_train WHERE false;
INSERT INTO adult_holdout
SELECT age, workclass, fnlwgt, education, education_num, marital_status,
	   occupation, relationship, race, sex, capital_gain, capital_loss,
	   hours_per_week, native_country, income
FROM adult_raw WHERE rn % 5 = 0 ORDER BY rn;

-- The public knowledge: each text column's categories (the data set's
-- codebook, here read from the file as a stand-in for its documentation)
-- and each number's range.
CREATE TABLE adult_public AS
SELECT jsonb_build_object(
		'epsilon', 1,
		'bounds', '{"age": [17, 90], "fnlwgt": [0, 1500000], "education_num": [1, 16],
					"capital_gain": [0, 100000], "capital_loss": [0, 5000],
					"hours_per_week": [1, 99]}'::jsonb,
		'domains', jsonb_build_object(
			'workclass', (SELECT jsonb_agg(DISTINCT workclass) FROM adult_raw),
			'education', (SELECT jsonb_agg(DISTINCT education) FROM adult_raw),
			'marital_status', (SELECT jsonb_agg(DISTINCT marital_status) FROM adult_raw),
			'occupation', (SELECT jsonb_agg(DISTINCT occupation) FROM adult_raw),
			'relationship', (SELECT jsonb_agg(DISTINCT relationship) FROM adult_raw),
			'race', (SELECT jsonb_agg(DISTINCT race) FROM adult_raw),
			'sex', (SELECT jsonb_agg(DISTINCT sex) FROM adult_raw),
			'native_country', (SELECT jsonb_agg(DISTINCT native_country) FROM adult_raw),
			'income', (SELECT jsonb_agg(DISTINCT income) FROM adult_raw))) AS options;

SELECT synth_set_budget('adult_train', epsilon => 1);
SELECT synth_train('adult_train', 'mst', options) > 0 AS trained FROM adult_public;
SELECT epsilon_spent, epsilon_remaining FROM synth_budget('adult_train');

CREATE TABLE adult_syn AS
SELECT * FROM synth_generate(NULL::adult_train, (SELECT count(*) FROM adult_holdout), seed => 7);
SELECT (SELECT count(*) FROM adult_holdout) = (SELECT count(*) FROM adult_syn) AS same_rows;

CREATE TEMP TABLE adult_eval AS
SELECT * FROM synth_evaluate('adult_holdout', 'adult_syn');
SELECT score >= 0.93 AS quality_score_at_least_0_93
FROM adult_eval WHERE metric = 'quality_score';
SELECT score >= 0.95 AS column_shapes_at_least_0_95
FROM adult_eval WHERE metric = 'column_shapes';
SELECT count(*) AS columns_below_0_9
FROM adult_eval WHERE metric IN ('KSComplement', 'TVComplement') AND score < 0.9;
SELECT score <= 0.05 AS exact_copy_rate_at_most_0_05
FROM adult_eval WHERE metric = 'exact_copy_rate';

-- a condition holds in every row
SELECT count(*) FILTER (WHERE NOT age > 60) AS violations
FROM synth_generate(NULL::adult_train, 500, 11, condition => 'age > 60');

DROP TABLE adult_raw, adult_train, adult_holdout, adult_public, adult_syn, adult_eval;
\else
\echo 'SKIP: ../shared/datasets/adult/adult.csv is absent; the Adult fidelity test under differential privacy did not run'
\endif

DROP EXTENSION synth CASCADE;
