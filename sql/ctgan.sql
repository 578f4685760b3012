--
-- ctgan: train the conditional GAN for a few epochs over mixed types with
-- NULLs and keys, then check what generation promises (typed rows, NOT NULL,
-- fresh keys, values inside the real range, only emitted categories), that a
-- seed reproduces training and generation, and that bad options are refused.
-- Prints facts, never figures that depend on floating point.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TABLE visits (
	id			bigserial PRIMARY KEY,
	age			int NOT NULL,
	amount		numeric(8, 2),
	channel		text NOT NULL,
	device		text,
	regular	bool NOT NULL,
	at			timestamp
);

SELECT setseed(0.25);
INSERT INTO visits (age, amount, channel, device, regular, at)
SELECT a,
	   CASE WHEN random() < 0.4 THEN 0 ELSE round((a * 3 + random() * 80)::numeric, 2) END,
	   (ARRAY['web', 'app', 'store', 'phone'])[1 + floor(random() * 4)::int],
	   CASE WHEN random() < 0.15 THEN NULL
			ELSE (ARRAY['ios', 'android', 'desktop'])[1 + (a % 3)] END,
	   a > 45,
	   timestamp '2024-01-01' + random() * interval '90 days'
FROM (SELECT (18 + random() * 60)::int AS a FROM generate_series(1, 500)) s;

-- a few epochs of 5 steps of 100 rows, packed by 10: seconds
SELECT synth_train('visits', 'ctgan',
				   '{"epochs": 3, "batch_size": 100, "seed": 5, "device": "cpu", "progress_every": 0}') AS m1 \gset
SELECT method, spec->>'method' AS spec_method, spec->'training'->>'epochs' AS epochs,
	   (spec->'network'->>'pac')::int AS pac,
	   spec->'network'->'generator_dims' AS generator_dims,
	   spec->'network'->'discriminator_dims' AS discriminator_dims,
	   metrics ? 'last_epoch_generator_loss' AND metrics ? 'last_epoch_critic_loss' AS has_losses
FROM synth.models WHERE id = :m1;

-- the same seed trains the same weights (on the CPU)
SELECT synth_train('visits', 'ctgan',
				   '{"epochs": 3, "batch_size": 100, "seed": 5, "device": "cpu", "progress_every": 0}') AS m2 \gset
SELECT (SELECT weights FROM synth.models WHERE id = :m1) =
	   (SELECT weights FROM synth.models WHERE id = :m2) AS same_weights;

CREATE TABLE visits_syn AS SELECT * FROM synth_generate(:m1, NULL::visits, 1500, seed => 9);

SELECT count(*) AS n,
	   count(DISTINCT id) AS distinct_ids,
	   min(id) > (SELECT max(id) FROM visits) AS fresh_ids,
	   count(*) FILTER (WHERE age IS NULL OR channel IS NULL OR regular IS NULL) AS not_null_violations,
	   bool_and(age BETWEEN (SELECT min(age) FROM visits) AND (SELECT max(age) FROM visits)) AS age_in_range,
	   bool_and(amount BETWEEN 0 AND (SELECT max(amount) FROM visits)) AS amount_in_range,
	   bool_and(at BETWEEN timestamp '2024-01-01' AND timestamp '2024-03-31') AS at_in_range,
	   bool_and(channel IN ('web', 'app', 'store', 'phone')) AS known_channels,
	   count(DISTINCT channel) AS channels,
	   bool_and(device IS NULL OR device IN ('ios', 'android', 'desktop')) AS known_devices,
	   count(*) FILTER (WHERE device IS NULL) > 0 AS some_null_devices
FROM visits_syn;

-- the same seed gives the same rows
SELECT count(*) AS differing_rows FROM (
	(SELECT * FROM synth_generate(:m1, NULL::visits, 300, seed => 11)
	 EXCEPT ALL
	 SELECT * FROM synth_generate(:m1, NULL::visits, 300, seed => 11))
) d;

-- conditions hold in every row
SELECT count(*) AS rows, bool_and(channel = 'app') AS all_hold
FROM synth_generate(:m1, NULL::visits, 100, 3, condition => $$channel = 'app'$$);

-- equality and IN on a categorical column (NULL included) condition the
-- generator through its conditional vector: every row has an allowed
-- category, drawn by the categories' shares of the training rows (rejection
-- would give the shares the generator happens to emit)
SELECT count(*) AS rows, bool_and(device IS NULL) AS all_null
FROM synth_generate(:m1, NULL::visits, 200, 5, condition => 'device IS NULL');
WITH g AS (SELECT * FROM synth_generate(:m1, NULL::visits, 2000, 6,
										condition => $$device IN ('ios', 'desktop')$$))
SELECT count(*) AS rows, bool_and(device IN ('ios', 'desktop')) AS all_hold,
	   abs(avg((device = 'ios')::int) -
		   (SELECT avg((device = 'ios')::int) FROM visits WHERE device IN ('ios', 'desktop'))) < 0.04
	   AS ios_share_as_trained
FROM g;

-- a rebalanced category is conditioned the same way: exact counts, every row has it
SELECT channel, count(*) FROM synth_generate(:m1, NULL::visits, 400, 7,
	rebalance => '{"channel": {"phone": 0.25, "store": 0.75}}')
GROUP BY 1 ORDER BY 1;

-- the other terms are met by rejection, with the same error when they almost never hold
\set VERBOSITY terse
SELECT count(*) FROM synth_generate(:m1, NULL::visits, 10, 8,
	condition => $$channel = 'app' AND age * 1000 + amount::int % 997 = 7$$);
\set VERBOSITY default

-- more critic steps per generator step, a smaller pac
SELECT synth_train('visits', 'ctgan',
				   '{"epochs": 1, "batch_size": 60, "pac": 3, "discriminator_steps": 2, "device": "cpu", "progress_every": 0}') > 0 AS trained;

-- bad options are refused
\set VERBOSITY terse
SELECT synth_train('visits', 'ctgan', '{"batch_size": 105, "epochs": 1}');
SELECT synth_train('visits', 'ctgan', '{"pac": 0}');
SELECT synth_train('visits', 'ctgan', '{"discriminator_steps": 1000}');
SELECT synth_train('visits', 'tvae', '{"discriminator_steps": 2}');
\set VERBOSITY default

DROP TABLE visits, visits_syn;
DROP EXTENSION synth CASCADE;
