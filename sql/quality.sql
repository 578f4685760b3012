--
-- Quality reports: fidelity (detection), utility (TSTR), privacy risk, the
-- holdout of synth_train and the gates.  Constructed tables whose answers
-- are known show each figure moving the right way.  Figures are printed as
-- booleans or rounded, with small learners (few trees) to stay fast; every
-- draw is seeded, so the output is the same on every run.
--
CREATE EXTENSION synth;
SET client_min_messages = warning;

-- Rows of one distribution: y follows x, c follows x + y (low/mid/high), b a
-- coin, m a number with NULLs.  Sums of uniforms stand in for normals.
CREATE FUNCTION q_rows(n int, first_id int)
RETURNS TABLE (id int, x float8, y float8, c text, b bool, m numeric)
LANGUAGE sql AS $$
	SELECT first_id + i, x, round((x + 0.5 * e)::numeric, 4)::float8,
		   CASE WHEN x + e > 0.7 THEN 'high' WHEN x + e > -0.7 THEN 'mid' ELSE 'low' END,
		   random() < 0.3,
		   CASE WHEN random() < 0.1 THEN NULL ELSE round((10 + 2 * x + random())::numeric, 2) END
	FROM (SELECT i, round((random() + random() + random() + random() - 2)::numeric * 1.7, 4)::float8 AS x,
				 (random() + random() + random() + random() - 2) * 1.7 AS e
		  FROM generate_series(1, n) i) s
$$;
SELECT setseed(0.25);
CREATE TABLE q_real AS SELECT * FROM q_rows(2000, 0);		-- the rows a generator learnt from
ALTER TABLE q_real ADD PRIMARY KEY (id);
CREATE TABLE q_hold AS SELECT * FROM q_rows(1000, 100000);	-- real rows it never saw
CREATE TABLE q_fresh AS SELECT * FROM q_rows(2000, 200000);	-- a perfect generator
CREATE TABLE q_copy AS SELECT * FROM q_real;					-- a generator that copies
CREATE TABLE q_half AS											-- half copies, half fresh
SELECT * FROM q_real WHERE id % 2 = 0 UNION ALL SELECT * FROM q_fresh WHERE id % 2 = 1;
CREATE TABLE q_shift AS SELECT id, x + 1 AS x, y, c, b, m FROM q_fresh;
-- every column permuted on its own: the same marginals, no relation left
CREATE TABLE q_broken AS
SELECT x.id, x.x, y.y, c.c, b.b, m.m
FROM (SELECT id, x, row_number() OVER (ORDER BY id) AS k FROM q_fresh) x
JOIN (SELECT y, row_number() OVER (ORDER BY md5(id::text || 'y')) AS k FROM q_fresh) y USING (k)
JOIN (SELECT c, row_number() OVER (ORDER BY md5(id::text || 'c')) AS k FROM q_fresh) c USING (k)
JOIN (SELECT b, row_number() OVER (ORDER BY md5(id::text || 'b')) AS k FROM q_fresh) b USING (k)
JOIN (SELECT m, row_number() OVER (ORDER BY md5(id::text || 'm')) AS k FROM q_fresh) m USING (k);

-- every figure of every case, target c, against the holdout table
CREATE TABLE q_fig AS
SELECT s AS synthetic, t.*
FROM unnest(ARRAY['q_copy', 'q_fresh', 'q_half', 'q_shift', 'q_broken']) s,
	 synth_report_table('q_real', s, 'c', 'q_hold',
						'{"trees": 20, "depth": 3, "folds": 3, "privacy_rows": 500}') t;
CREATE FUNCTION fig(syn text, name text) RETURNS float8
LANGUAGE sql AS $$ SELECT value FROM q_fig WHERE synthetic = syn AND metric = name $$;

-- the lines of a report: every figure, thresholds where there are defaults
SELECT pillar, metric, threshold FROM q_fig WHERE synthetic = 'q_fresh';

-- identical tables: a classifier cannot tell them apart (AUC exactly 0.5,
-- identical rows share a fold), every row is a copy at distance 0, and the
-- membership attack wins outright
SELECT fig('q_copy', 'detection_auc') AS detection_auc,
	   fig('q_copy', 'column_shapes') AS shapes,
	   fig('q_copy', 'exact_copy_rate') AS copy_rate,
	   fig('q_copy', 'dcr_synthetic') AS dcr,
	   fig('q_copy', 'dcr_ratio') AS dcr_ratio,
	   fig('q_copy', 'mia_advantage') AS mia_advantage,
	   round(fig('q_copy', 'tstr_ratio')::numeric, 2) AS tstr_ratio;

-- a fresh sample of the same distribution: nothing to detect, no copies, as
-- far from the training rows as unseen real rows are, as useful as real rows
SELECT fig('q_fresh', 'detection_auc') BETWEEN 0.4 AND 0.6 AS detection_near_half,
	   fig('q_fresh', 'exact_copy_rate') = 0 AS no_copies,
	   fig('q_fresh', 'dcr_ratio') BETWEEN 0.85 AND 1.15 AS dcr_ratio_near_1,
	   fig('q_fresh', 'dcr_closer_to_training') BETWEEN 0.4 AND 0.6 AS closer_near_half,
	   fig('q_fresh', 'mia_advantage') < 0.1 AS mia_weak,
	   fig('q_fresh', 'tstr_ratio') > 0.95 AS tstr_near_1;

-- half of the rows copied: between the two
SELECT fig('q_half', 'exact_copy_rate') AS copy_rate,
	   fig('q_half', 'dcr_ratio') BETWEEN 0.3 AND 0.7 AS dcr_ratio_about_half,
	   fig('q_half', 'dcr_closer_to_training') > fig('q_fresh', 'dcr_closer_to_training') AS closer_rises,
	   fig('q_half', 'mia_advantage') BETWEEN 0.3 AND 0.7 AS mia_about_half,
	   fig('q_half', 'detection_auc') < 0.6 AS detection_blind_to_copies;

-- x shifted by one: detection sees it, and so do the column shapes
SELECT fig('q_shift', 'detection_auc') > 0.9 AS detected,
	   fig('q_shift', 'column_shapes') < fig('q_fresh', 'column_shapes') AS shapes_drop,
	   fig('q_shift', 'tstr_ratio') < fig('q_fresh', 'tstr_ratio') AS tstr_drops;

-- columns permuted one by one: one-way marginals identical (the shapes score
-- equals the fresh sample's, from the same values), pairs broken; the
-- classifier sees it, and a model trained on these rows predicts nothing
SELECT fig('q_broken', 'column_shapes') = fig('q_fresh', 'column_shapes') AS same_shapes,
	   fig('q_broken', 'column_pair_trends') < 0.8 AS trends_broken,
	   fig('q_broken', 'detection_auc') > 0.8 AS detected,
	   fig('q_broken', 'tstr_ratio') < 0.6 AS tstr_low;

-- pass or fail per line, from the default thresholds
SELECT synthetic, string_agg(metric, ', ' ORDER BY metric) AS failing
FROM q_fig WHERE NOT passed GROUP BY synthetic ORDER BY synthetic;

-- the other targets: three classes (macro F1) and a number (R^2)
SELECT r->'utility'->>'task' AS task, r->'utility'->>'metric' AS metric,
	   (r->'utility'->>'classes')::int AS classes,
	   (r->'utility'->>'tstr_ratio')::float8 > 0.9 AS tstr_ratio_above_0_9
FROM (SELECT synth_report('q_real', 'q_fresh', t, 'q_hold', '{"trees": 20, "depth": 3, "folds": 3, "privacy_rows": 200}') AS r
	  FROM unnest(ARRAY['c', 'b', 'y']) t) s;

-- singling out: a zip-code-like column makes rare combinations; copies of
-- training rows reproduce them, fresh rows hit them as often as unseen real
-- rows do (the baseline)
SELECT setseed(0.5);
CREATE TABLE q_zip AS SELECT *, 'z' || floor(random() * 400) AS zip FROM q_rows(2000, 0);
CREATE TABLE q_zip_hold AS SELECT *, 'z' || floor(random() * 400) AS zip FROM q_rows(1000, 100000);
CREATE TABLE q_zip_fresh AS SELECT *, 'z' || floor(random() * 400) AS zip FROM q_rows(2000, 200000);
CREATE TABLE q_zip_copy AS SELECT * FROM q_zip;
SELECT s AS synthetic,
	   (r->'privacy'->>'singling_out_rate')::float8 > (r->'privacy'->>'singling_out_baseline')::float8 + 0.1 AS above_baseline,
	   (r->'privacy'->>'singling_out_risk')::float8 < 0.05 AS risk_below_0_05
FROM unnest(ARRAY['q_zip_copy', 'q_zip_fresh']) s,
	 synth_report('q_zip', s, NULL, 'q_zip_hold', '{"trees": 5, "depth": 2, "privacy_rows": 500}') r
ORDER BY 1;

-- without holdout rows: the figures that need unseen rows are NULL, and a
-- note says what to do
SELECT metric, value IS NULL AS is_null
FROM synth_report_table('q_real', 'q_fresh', NULL, NULL, '{"trees": 5, "depth": 2, "privacy_rows": 100}')
WHERE pillar = 'privacy';
SELECT jsonb_array_elements_text(synth_report('q_real', 'q_fresh', NULL, NULL,
	'{"trees": 5, "depth": 2, "privacy_rows": 100}')->'notes') AS note;

-- ---- a model's report: holdout rows chosen by synth_train, rows generated afresh

CREATE TABLE q_train AS SELECT * FROM q_real UNION ALL SELECT * FROM q_hold;
ALTER TABLE q_train ADD PRIMARY KEY (id);
SELECT synth_train('q_train', 'copula', '{"seed": 7, "holdout": 0.25}') AS model \gset

-- the spec says how to recompute the holdout: fraction, seed, rule, columns
SELECT spec->'holdout'->'fraction' AS fraction, spec->'holdout'->'seed' AS seed,
	   spec->'holdout'->>'rule' AS rule, spec->'holdout'->'columns' AS columns,
	   (spec->'holdout'->>'rows')::int + n_rows = 3000 AS rows_add_up,
	   (spec->'holdout'->>'rows')::int BETWEEN 650 AND 850 AS about_a_quarter,
	   (spec->'holdout'->>'training_rows')::int = n_rows AS training_rows_recorded
FROM synth.models WHERE id = :model;

SELECT synth_report(:model, 'c', '{"trees": 20, "depth": 3, "folds": 3, "privacy_rows": 300}') AS report \gset
-- the report finds the very same split, and compares as many synthetic rows
SELECT (:'report'::jsonb->'rows'->>'holdout')::int = (spec->'holdout'->>'rows')::int AS same_holdout,
	   (:'report'::jsonb->'rows'->>'training')::int = n_rows AS same_training,
	   (:'report'::jsonb->'rows'->>'synthetic')::int = n_rows AS as_many_synthetic,
	   :'report'::jsonb->'model_id' = to_jsonb(id) AS model_id,
	   :'report'::jsonb->'columns' AS columns
FROM synth.models WHERE id = :model;
-- a copula on this data: good shapes, some structure missed, no copies
SELECT (r->'fidelity'->>'quality_score')::float8 > 0.85 AS quality_above_0_85,
	   (r->'fidelity'->>'detection_auc')::float8 BETWEEN 0.5 AND 0.9 AS detection_auc_in_0_5_0_9,
	   (r->'utility'->>'tstr_ratio')::float8 > 0.8 AS tstr_ratio_above_0_8,
	   (r->'privacy'->>'exact_copy_rate')::float8 = 0 AS no_copies,
	   (r->'privacy'->>'dcr_ratio')::float8 > 0.9 AS dcr_ratio_above_0_9,
	   (r->'privacy'->>'mia_advantage')::float8 < 0.2 AS mia_below_0_2,	-- noise at 300 rows: about 0.05
	   jsonb_array_length(r->'fidelity'->'detection_columns') > 0 AS columns_named
FROM (SELECT :'report'::jsonb AS r) s;

-- stored with the model, as the catalog owner; the same seed gives the same report
SELECT metrics->'quality'->'checks' = :'report'::jsonb->'checks' AS stored,
	   metrics ? 'train_seconds' AS training_metrics_kept
FROM synth.models WHERE id = :model;
SELECT synth_report(:model, 'c', '{"trees": 20, "depth": 3, "folds": 3, "privacy_rows": 300}')->'checks'
	   = :'report'::jsonb->'checks' AS deterministic;
-- store => false leaves the stored report alone
SELECT synth_report(:model, NULL, '{"trees": 5, "depth": 2, "privacy_rows": 100, "store": false}') IS NOT NULL AS reported;
SELECT metrics->'quality'->'utility'->>'target' AS stored_target FROM synth.models WHERE id = :model;
-- the readable form of the stored report
SELECT pillar, metric, threshold, value IS NOT NULL AS has_value
FROM synth_report_table((SELECT metrics->'quality' FROM synth.models WHERE id = :model))
WHERE pillar = 'utility';
-- thresholds can be set and removed per report
SELECT metric, threshold, passed
FROM synth_report_table(:model, 'c', '{"trees": 5, "depth": 2, "privacy_rows": 100, "store": false,
	"thresholds": {"detection_auc_max": 1, "quality_score_min": null, "exact_copy_rate_max": 0.2}}')
WHERE metric IN ('detection_auc', 'quality_score', 'exact_copy_rate');

-- ---- gates

-- met: nothing happens
SELECT synth_check_gates(:model, '{"exact_copy_rate_max": 0.01, "detection_auc_max": 0.999}');
-- missed: the message names the figure; others missed are listed
SELECT synth_check_gates(:model, '{"exact_copy_rate_min": 0.5}');
SELECT synth_check_gates(:model, '{"exact_copy_rate_min": 0.5, "holdout_copy_rate_min": 0.5}');
-- a figure the stored report lacks fails too
SELECT synth_report(:model, NULL, '{"trees": 5, "depth": 2, "privacy_rows": 100}') IS NOT NULL AS reported_without_target;
SELECT synth_check_gates(:model, '{"tstr_ratio_min": 0.9}');
-- synth_generate refuses when synth.gates asks for more than the model has
SET synth.gates = '{"exact_copy_rate_min": 0.5}';
SELECT count(*) FROM synth_generate(NULL::q_train, 10, seed => 1);
SELECT synth_check_gates(:model);
-- the report itself still runs under gates (it generates its own rows)
SELECT synth_report(:model, 'c', '{"trees": 5, "depth": 2, "privacy_rows": 100}') IS NOT NULL AS reported_under_gates;
SET synth.gates = '{"exact_copy_rate_max": 0.01}';
SELECT count(*) FROM synth_generate(NULL::q_train, 10, seed => 1);
RESET synth.gates;
-- a model without a report, and one without a holdout
SELECT synth_train('q_train', 'copula', '{"seed": 8}') AS plain \gset
SELECT synth_check_gates(:plain, '{"detection_auc_max": 0.75}');
SELECT synth_report(:plain, NULL, '{"trees": 5, "depth": 2, "privacy_rows": 100}')->'holdout' AS holdout;
SELECT synth_check_gates(:plain, '{"dcr_ratio_min": 0.9}');

-- gates on a report just made (what multi-table code calls for a materialized table)
SELECT synth_check_gates(synth_report('q_real', 'q_fresh', NULL, 'q_hold', '{"trees": 5, "depth": 2, "privacy_rows": 200}'),
						 '{"exact_copy_rate_max": 0.01, "dcr_ratio_min": 0.8}');
SELECT synth_check_gates(synth_report('q_real', 'q_copy', NULL, 'q_hold', '{"trees": 5, "depth": 2, "privacy_rows": 200}'),
						 '{"exact_copy_rate_max": 0.01, "mia_advantage_max": 0.1}');
SELECT synth_check_gates(synth_report('q_real', 'q_copy', NULL, NULL, '{"trees": 5, "depth": 2, "privacy_rows": 200}'),
						 '{"dcr_ratio_min": 0.9}');
SELECT synth_check_gates('{"a": 1}'::jsonb, '{"dcr_ratio_min": 0.9}');

-- ---- errors

SELECT synth_report(NULL::bigint);
SELECT synth_report(999999);
SELECT synth_report(:model, 'nope');
SELECT synth_report(:model, 'id');
SELECT synth_report(:model, NULL, '{"bogus": 1}');
SELECT synth_report(:model, NULL, '{"sample_rows": 10}');
SELECT synth_report(:model, NULL, '{"learning_rate": 0}');
SELECT synth_report(:model, NULL, '{"thresholds": [1]}');
SELECT synth_report(:model, NULL, '{"thresholds": {"detection_auc": 0.7}}');
SELECT synth_report(:model, NULL, '[]');
SELECT synth_report('q_real', 'q_fresh', NULL, NULL, '{"store": true}');
SELECT synth_report('q_real', 'q_nope');
SELECT synth_report('q_real', NULL);
SELECT synth_report('q_real', 'q_fresh', 'c', 'q_real_pkey');
CREATE TABLE q_other AS SELECT 1 AS unrelated;
SELECT synth_report('q_real', 'q_other');
CREATE TABLE q_hold_narrow AS SELECT id, x FROM q_hold;
SELECT synth_report('q_real', 'q_fresh', NULL, 'q_hold_narrow');
SELECT synth_check_gates(NULL::bigint, '{}');
SELECT synth_check_gates(999999, '{"detection_auc_max": 0.75}');
SELECT synth_check_gates(:model, '{"detection_auc": 0.75}');
SELECT synth_check_gates(:model, '{"bogus_max": 0.75}');
SELECT synth_check_gates(:model, '{"detection_auc_max": "high"}');
SELECT synth_check_gates(:model, '[0.75]');
SELECT synth_check_gates(NULL::jsonb, '{}');
SET synth.gates = 'not json';
SET synth.gates = '[1]';
SET synth.gates = '{"bogus_min": 1}';
SET synth.gates = '{"detection_auc_max": "x"}';
SET synth.gates = '{"detection_auc_max": {"a": 1}}';
SELECT synth_train('q_train', 'copula', '{"holdout": 0}');
SELECT synth_train('q_train', 'copula', '{"holdout": 0.6}');
SELECT synth_train('q_train', 'copula', '{"holdout": "a fifth"}');
-- a caller without SELECT on the tables
CREATE ROLE regress_synth_reporter;
SET ROLE regress_synth_reporter;
SELECT synth_report(:model);
SELECT synth_report('q_real', 'q_fresh');
RESET ROLE;
DROP ROLE regress_synth_reporter;

DROP EXTENSION synth CASCADE;
