--
-- The quality report on the Adult census data: a Gaussian copula keeps the
-- columns' shapes and most pairs (quality score above 0.9), yet boosted
-- trees tell its rows from real ones, and a gate on detection refuses it;
-- its rows are useful (TSTR close to TRTR) and show no sign of copying.
-- Prints booleans only.  Skips when the data set is absent
-- (expected/quality_adult_1.out).
--
CREATE EXTENSION synth;
SET client_min_messages = warning;

\set adult_file ../shared/datasets/adult/adult.csv
\set have_adult `test -f :'adult_file' && echo true || echo false`

\if :have_adult
CREATE TABLE adult (
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
\copy adult FROM '../shared/datasets/adult/adult.csv' WITH (FORMAT csv, HEADER true)

SELECT synth_train('adult', 'copula', '{"seed": 42, "holdout": 0.2}') AS model \gset
SELECT (spec->'holdout'->>'rows')::int BETWEEN 6000 AND 7000 AS a_fifth_held_out
FROM synth.models WHERE id = :model;

-- default settings: 10,000 rows a side, 5 folds of 100 trees
SELECT synth_report(:model, 'income') AS report \gset
SELECT (r->'fidelity'->>'quality_score')::float8 > 0.9 AS quality_above_0_9,
	   (r->'fidelity'->>'detection_auc')::float8 > 0.8 AS detected_above_0_8,
	   (r->'utility'->>'trtr')::float8 > 0.88 AS trtr_auc_above_0_88,
	   (r->'utility'->>'tstr_ratio')::float8 > 0.85 AS tstr_ratio_above_0_85,
	   (r->'privacy'->>'exact_copy_rate')::float8 < 0.01 AS no_copies,
	   (r->'privacy'->>'dcr_ratio')::float8 > 1 AS further_than_unseen_rows,
	   (r->'privacy'->>'mia_advantage')::float8 < 0.05 AS mia_below_0_05,
	   r->'passed' AS passed
FROM (SELECT :'report'::jsonb AS r) s;
SELECT metric FROM synth_report_table(:'report'::jsonb) WHERE NOT passed;

-- the gate on detection refuses it, the gates on utility and privacy do not
CREATE FUNCTION refusal(model bigint, gates jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM synth_check_gates(model, gates);
	RETURN 'accepted';
EXCEPTION WHEN object_not_in_prerequisite_state THEN
	RETURN substring(SQLERRM FROM 'gate [a-z_]+');
END
$$;
SELECT refusal(:model, '{"detection_auc_max": 0.75}') AS detection,
	   refusal(:model, '{"tstr_ratio_min": 0.85, "dcr_ratio_min": 0.9, "mia_advantage_max": 0.1}') AS utility_and_privacy;

DROP TABLE adult;
DROP FUNCTION refusal(bigint, jsonb);
\else
\echo 'SKIP: ../shared/datasets/adult/adult.csv is absent; the Adult quality test did not run'
\endif

DROP EXTENSION synth CASCADE;
