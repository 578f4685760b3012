--
-- dpsgd_large: tvae and ctgan under differential privacy on a table larger
-- than synth.train_memory.  A noisy row count (1 % of the budget) chooses a
-- rate p; each row is kept with probability p, drawn from the secret
-- stream (a Poisson sample); the training on the sample is calibrated to
-- the (epsilon', delta') that Poisson subsampling amplifies to the rest of
-- the budget: log(1 + p (e^epsilon' - 1)) and p delta' (Balle, Barthe,
-- Gaboardi 2018).  The spend is exactly what was asked.  The noise and the
-- sample are secret and random, so only facts and generous thresholds are
-- printed, and the NOTICE's figures (in its DETAIL) are not shown.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TABLE dpl_rows (
	id			serial PRIMARY KEY,
	a			int NOT NULL CHECK (a BETWEEN 0 AND 99),
	b			text NOT NULL,
	c			bool NOT NULL,
	x			float8 NOT NULL
);
SELECT setseed(0.5);
INSERT INTO dpl_rows (a, b, c, x)
SELECT a, CASE WHEN a < 30 THEN 'u' WHEN random() < 0.6 THEN 'v' ELSE 'w' END,
	   a > 50, random() * (1 + a) / 100
FROM (SELECT g, (random() * random() * 100)::int AS a FROM generate_series(1, 12000) g) s;

CREATE TABLE dpl_opts AS
SELECT '{"domains": {"b": ["u", "v", "w"]}, "bounds": {"x": [0, 1]},
		 "epochs": 1, "batch_size": 500, "progress_every": 0}'::jsonb AS o;
SELECT synth_set_budget('dpl_rows', 2);

-- 1 MB holds about 9,000 encoded rows of this table: 12,000 do not fit
SET synth.train_memory = '1MB';

\set VERBOSITY terse
SELECT synth_train('dpl_rows', 'tvae', o || '{"epsilon": 1, "seed": 3}') AS m1 FROM dpl_opts \gset
\set VERBOSITY default

-- the spend is the requested epsilon and delta; the parameters say how
SELECT mechanism, epsilon, delta,
	   parameters->>'subsampling' AS subsampling,
	   (parameters->>'subsample_rate')::float8 BETWEEN 0.3 AND 0.7 AS rate_near_half,
	   (parameters->>'rows_counted')::float8 BETWEEN 9000 AND 15000 AS count_near_12000,
	   (parameters->>'rows_memory')::int BETWEEN 8000 AND 10000 AS memory_rows,
	   (parameters->>'epsilon_count')::float8 = 0.01 AS count_share,
	   -- amplification: log(1 + p (e^eps' - 1)) + eps_count = eps, p delta' + delta_count = delta
	   abs(ln(1 + (parameters->>'subsample_rate')::float8 *
				  (exp((parameters->>'epsilon_inner')::float8) - 1))
		   + (parameters->>'epsilon_count')::float8 - epsilon) < 1e-9 AS epsilon_amplified,
	   abs(((parameters->>'delta_inner')::float8 * (parameters->>'subsample_rate')::float8
			+ (parameters->>'delta_count')::float8) / delta - 1) < 1e-9 AS delta_amplified,
	   (parameters->>'epsilon_inner')::float8 > 1.2 AS inner_epsilon_larger,
	   (parameters->>'epsilon_of_rdp')::float8 <= (parameters->>'epsilon_inner')::float8 + 1e-9 AS within_inner,
	   (parameters->>'epsilon_of_rdp')::float8 > 0.9 * (parameters->>'epsilon_inner')::float8 AS inner_used,
	   parameters->'mechanisms'->2->>'sampling' AS batches,
	   (parameters->'mechanisms'->2->>'sampling_rate')::float8 BETWEEN 0.05 AND 0.2 AS batch_rate_of_sample,
	   parameters->'mechanisms'->3->>'measures' AS counted
FROM synth.ledger WHERE model_id = :m1;
SELECT epsilon_cap, epsilon_spent, delta_spent = 5e-7 AS delta_spent, epsilon_remaining
FROM synth_budget('dpl_rows');

-- the model: its row count estimates the table's, its spec holds the rate
SELECT method, n_rows BETWEEN 9000 AND 15000 AS rows_near_12000,
	   spec->'privacy'->>'subsample_rate' = l.parameters->>'subsample_rate' AS rate_in_spec,
	   (metrics->>'subsample_rate')::float8 < 1 AS rate_in_metrics
FROM synth.models m JOIN synth.ledger l ON l.model_id = m.id WHERE m.id = :m1;

-- generation: rows typed like the table, inside the public domains
SELECT count(*) AS rows, count(*) FILTER (WHERE a NOT BETWEEN 0 AND 99) AS a_outside,
	   count(*) FILTER (WHERE b NOT IN ('u', 'v', 'w')) AS b_outside,
	   count(*) FILTER (WHERE x NOT BETWEEN 0 AND 1) AS x_outside,
	   count(DISTINCT c) AS c_values
FROM synth_generate(:m1, NULL::dpl_rows, 500, seed => 1);

-- ctgan with a holdout: the count and the sample leave the held-out rows out
\set VERBOSITY terse
SELECT synth_train('dpl_rows', 'ctgan', o || '{"epsilon": 0.5, "holdout": 0.2}') AS m2 FROM dpl_opts \gset
\set VERBOSITY default
SELECT mechanism, epsilon, parameters->>'subsampling' AS subsampling,
	   (parameters->>'rows_counted')::float8 BETWEEN 7000 AND 12500 AS count_near_9600,
	   abs(ln(1 + (parameters->>'subsample_rate')::float8 *
				  (exp((parameters->>'epsilon_inner')::float8) - 1))
		   + (parameters->>'epsilon_count')::float8 - epsilon) < 1e-9 AS epsilon_amplified
FROM synth.ledger WHERE model_id = :m2;
SELECT count(*) AS rows, count(*) FILTER (WHERE b NOT IN ('u', 'v', 'w')) AS b_outside
FROM synth_generate(:m2, NULL::dpl_rows, 200, seed => 2);

-- a delta the sample cannot carry (delta / p >= 1) is refused, and spends nothing
SELECT synth_set_budget('dpl_rows', 3, delta => 0.95);
DO $$
DECLARE
	msg			text;
	hint		text;
BEGIN
	PERFORM synth_train('dpl_rows', 'tvae', o || '{"epsilon": 0.5, "delta": 0.9}') FROM dpl_opts;
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RAISE NOTICE '%', msg;
	RAISE NOTICE 'hint: %', hint;
END
$$;
SELECT epsilon_spent, delta_spent = 5e-7 + 2.5e-7 AS delta_spent FROM synth_budget('dpl_rows');
SELECT count(*) AS ledger_rows FROM synth.ledger;

-- with the default memory the table fits: every row, no amplification
RESET synth.train_memory;
SELECT synth_train('dpl_rows', 'tvae', o || '{"epsilon": 0.5, "delta": 1e-7}') AS m3 FROM dpl_opts \gset
SELECT parameters->>'subsampling' AS subsampling, (parameters->>'subsample_rate')::float8 AS rate,
	   abs((parameters->>'epsilon_inner')::float8 - 0.495) < 1e-12 AS inner_is_rest,
	   n_rows BETWEEN 9000 AND 15000 AS rows_near_12000
FROM synth.ledger l JOIN synth.models m ON m.id = l.model_id WHERE model_id = :m3;

-- a public label first seen after 10,000 other values (a full dictionary)
-- keeps its own cell: a row's cell depends on that row alone
CREATE TABLE dpl_late (t text NOT NULL, n int NOT NULL CHECK (n BETWEEN 0 AND 9));
INSERT INTO dpl_late SELECT 'junk ' || g, g % 10 FROM generate_series(1, 10001) g;
INSERT INTO dpl_late SELECT 'u', g % 10 FROM generate_series(1, 5000) g;
SELECT synth_set_budget('dpl_late', 1);
SELECT synth_train('dpl_late', 'tvae', '{"epsilon": 1, "domains": {"t": ["u", "v"]}, "epochs": 1,
	"batch_size": 500, "progress_every": 0}') AS m4 \gset
SELECT (c->>'rare_share')::float8 BETWEEN 0.6 AND 0.75 AS other_share_near_two_thirds
FROM synth.models, jsonb_array_elements(spec->'columns') c WHERE id = :m4 AND c->>'name' = 't';

DROP TABLE dpl_rows, dpl_opts, dpl_late;
DROP EXTENSION synth CASCADE;
