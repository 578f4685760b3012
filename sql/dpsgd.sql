--
-- dpsgd: tvae and ctgan under differential privacy.  A private training
-- spends from the table's budget before it reads a row, trains with DP-SGD
-- (Poisson sampling, per-sample clipping, Gaussian noise) over encoders
-- built from noisy 1-way marginals of public domains, and records the spend
-- in synth.ledger with the calibrated noise multiplier, sampling rate and
-- steps.  The noise is secure, so only facts and generous thresholds are
-- printed.  Without an epsilon, tvae and ctgan train as before.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TYPE dps_level AS ENUM ('low', 'mid', 'high');
CREATE TABLE dps_people (
	id			serial PRIMARY KEY,
	age			int NOT NULL CHECK (age BETWEEN 18 AND 90),
	income		numeric(10, 2),
	sex			text NOT NULL,
	city		text,
	smoker		bool,
	level		dps_level NOT NULL,
	note		text
);
SELECT setseed(0.25);
INSERT INTO dps_people (age, income, sex, city, smoker, level, note)
SELECT a,
	   CASE WHEN random() < 0.3 THEN 0 ELSE round((a * 150 + random() * 3000)::numeric, 2) END,
	   CASE WHEN random() < 0.6 THEN 'f' ELSE 'm' END,
	   CASE WHEN random() < 0.1 THEN NULL WHEN a < 40 THEN 'Lyon' WHEN random() < 0.7 THEN 'Paris' ELSE 'Nice' END,
	   a < 35 AND random() < 0.5,
	   (ARRAY['low', 'mid', 'high'])[1 + (a / 30)]::dps_level,
	   'note ' || g
FROM (SELECT g, 18 + (random() * random() * 72)::int AS a FROM generate_series(1, 2000) g) s;

CREATE TABLE dps_opts AS
SELECT '{"domains": {"sex": ["f", "m"], "city": ["Lyon", "Paris", "Nice"]},
		 "bounds": {"income": [0, 20000]}, "exclude": ["note"],
		 "epochs": 3, "batch_size": 200, "progress_every": 0}'::jsonb AS o;

-- no budget: refused before reading
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 1}') FROM dps_opts;
SELECT synth_set_budget('dps_people', 2);

-- the private encoders need public domains and bounds, never the data's: with
-- "domain_share": 0 each must be given (else a share of epsilon discovers them: sql/dp_domains.sql)
SELECT synth_train('dps_people', 'tvae', '{"epsilon": 1, "exclude": ["note"], "domain_share": 0}');
SELECT synth_train('dps_people', 'tvae', o - 'bounds' || '{"epsilon": 1, "domain_share": 0}') FROM dps_opts;

-- a private tvae
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 1.5, "seed": 7}') AS m1 FROM dps_opts \gset
SELECT method, spec->'options'->>'epsilon' AS epsilon, spec->'options'->>'max_grad_norm' AS max_grad_norm,
	   spec->'privacy'->'mechanisms'->2->>'mechanism' AS sgd, spec ? 'rows_sampled' AS exact_rows,
	   metrics ? 'last_epoch_loss' AS loss_stored, metrics->'dp_sgd' ? 'noise_multiplier' AS sigma_reported
FROM synth.models WHERE id = :m1;

-- the ledger: mechanism, the calibrated noise multiplier, sampling rate, steps, max_grad_norm
SELECT model_id = :m1 AS this_model, mechanism, epsilon, delta,
	   (parameters->'mechanisms'->2->>'noise_multiplier')::float8 BETWEEN 0.3 AND 20 AS sigma_calibrated,
	   (parameters->'mechanisms'->2->>'sampling_rate')::float8 BETWEEN 0.05 AND 0.2 AS rate_near_200_of_2000,
	   (parameters->'mechanisms'->2->>'steps')::int BETWEEN 15 AND 60 AS steps_near_3_epochs,
	   parameters->'mechanisms'->2->>'sampling' AS sampling,
	   (parameters->'mechanisms'->2->>'max_grad_norm')::float8 AS max_grad_norm,
	   (parameters->'mechanisms'->2->>'expected_batch_size')::int AS batch,
	   parameters->'mechanisms'->0->>'measures' AS encoders,
	   (parameters->>'epsilon_of_rdp')::float8 <= 1.5 + 1e-9 AS within_epsilon,
	   (parameters->>'epsilon_of_rdp')::float8 > 1.4 AS budget_used
FROM synth.ledger ORDER BY id;
SELECT epsilon_cap, epsilon_spent, epsilon_remaining FROM synth_budget('dps_people');

-- the model generates rows typed like the table, inside the public domains
SELECT count(*) AS rows, count(*) FILTER (WHERE age NOT BETWEEN 18 AND 90) AS age_outside,
	   count(*) FILTER (WHERE income NOT BETWEEN 0 AND 20000) AS income_outside,
	   count(*) FILTER (WHERE sex NOT IN ('f', 'm')) AS sex_outside,
	   count(*) FILTER (WHERE city NOT IN ('Lyon', 'Paris', 'Nice')) AS city_outside,
	   count(DISTINCT level) BETWEEN 1 AND 3 AS levels, count(*) FILTER (WHERE note IS NOT NULL) AS notes
FROM synth_generate(:m1, NULL::dps_people, 500, seed => 1);

-- the budget refuses an overspend, before reading
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 1}') FROM dps_opts;
SELECT count(*) AS models FROM synth.models;

-- ctgan: its critic under DP-SGD (pac 1), the generator post-processing
SELECT synth_train('dps_people', 'ctgan', o || '{"epsilon": 0.5, "epochs": 1, "batch_size": 100}') AS m2
FROM dps_opts \gset
SELECT mechanism, epsilon, parameters->'mechanisms'->2->>'trains' AS trains,
	   (parameters->'mechanisms'->2->>'noise_multiplier')::float8 > 0 AS sigma_calibrated
FROM synth.ledger WHERE model_id = :m2;
SELECT spec->'network'->>'pac' AS pac FROM synth.models WHERE id = :m2;
SELECT count(*) AS rows, count(*) FILTER (WHERE sex NOT IN ('f', 'm')) AS sex_outside
FROM synth_generate(:m2, NULL::dps_people, 300, seed => 2);
SELECT epsilon_spent, epsilon_remaining FROM synth_budget('dps_people');

-- bad options
SELECT synth_train('dps_people', 'ctgan', o || '{"epsilon": 0.1, "pac": 10}') FROM dps_opts;
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 0.1, "max_grad_norm": 0}') FROM dps_opts;
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 0.1, "marginal_share": 0.9}') FROM dps_opts;
SELECT synth_train('dps_people', 'tvae', o || '{"epsilon": 0.1, "sample_rows": 1000}') FROM dps_opts;
SELECT synth_train('dps_people', 'mst', o - 'epochs' - 'batch_size' - 'progress_every' ||
				   '{"epsilon": 0.1, "max_grad_norm": 1}') FROM dps_opts;
SELECT synth_train('dps_people', 'tvae', '{"max_grad_norm": 1, "epochs": 1}');

-- without an epsilon nothing changes: no spend, no ledger row, the non-private spec
SELECT synth_train('dps_people', 'tvae', '{"epochs": 1, "batch_size": 200, "progress_every": 0, "exclude": ["note"]}') AS m3 \gset
SELECT spec ? 'privacy' AS private, spec ? 'rows_sampled' AS exact_rows, metrics ? 'last_epoch_loss' AS loss
FROM synth.models WHERE id = :m3;
SELECT count(*) AS ledger_rows FROM synth.ledger;
SELECT epsilon_spent FROM synth_budget('dps_people');

DROP TABLE dps_people, dps_opts;
DROP TYPE dps_level;
DROP EXTENSION synth CASCADE;
