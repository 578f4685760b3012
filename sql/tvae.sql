--
-- tvae: train the variational autoencoder for a few epochs over mixed
-- types with NULLs, keys and free text, then check what generation
-- promises (typed rows, NOT NULL, fresh keys, values inside the real range,
-- only emitted categories), that a seed reproduces training and generation,
-- that conditions hold, and that bad options are refused.  Prints facts,
-- never figures that depend on floating point.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TYPE tier AS ENUM ('bronze', 'silver', 'gold');

CREATE TABLE shop (
	id			serial PRIMARY KEY,
	age			int NOT NULL,
	spend		numeric(10, 2),
	rating		float8,
	city		text NOT NULL,
	member		bool,
	level		tier,
	joined		date,
	note		text
);

SELECT setseed(0.5);
INSERT INTO shop (age, spend, rating, city, member, level, joined, note)
SELECT a,
	   CASE WHEN random() < 0.3 THEN 0 ELSE round((a * 20 + random() * 500)::numeric, 2) END,
	   CASE WHEN random() < 0.1 THEN NULL ELSE random() * 5 END,
	   (ARRAY['Paris', 'Lyon', 'Nice'])[1 + (a % 3)],
	   CASE WHEN random() < 0.05 THEN NULL ELSE a > 40 END,
	   (ARRAY['bronze', 'silver', 'gold'])[1 + (random() * 2.99)::int]::tier,
	   date '2020-01-01' + (random() * 1000)::int,
	   'note ' || md5(random()::text)
FROM (SELECT (18 + random() * 60)::int AS a FROM generate_series(1, 600)) s;

-- a few epochs, small batches: seconds
SELECT synth_train('shop', 'tvae',
				   '{"epochs": 3, "batch_size": 100, "seed": 42, "device": "cpu", "progress_every": 0}') AS m1 \gset
SELECT method, spec->>'method' AS spec_method, spec->'training'->>'epochs' AS epochs,
	   spec->'training'->>'batch_size' AS batch_size,
	   (spec->'encoding'->>'positions')::int AS positions,
	   (spec->'network'->>'embedding_dim')::int AS embedding_dim,
	   spec->'network'->'compress_dims' AS compress_dims,
	   metrics ? 'last_epoch_loss' AS has_loss
FROM synth.models WHERE id = :m1;

-- the same seed trains the same weights (on the CPU)
SELECT synth_train('shop', 'tvae',
				   '{"epochs": 3, "batch_size": 100, "seed": 42, "device": "cpu", "progress_every": 0}') AS m2 \gset
SELECT (SELECT weights FROM synth.models WHERE id = :m1) =
	   (SELECT weights FROM synth.models WHERE id = :m2) AS same_weights;
SELECT synth_train('shop', 'tvae',
				   '{"epochs": 3, "batch_size": 100, "seed": 43, "device": "cpu", "progress_every": 0}') AS m3 \gset
SELECT (SELECT weights FROM synth.models WHERE id = :m1) =
	   (SELECT weights FROM synth.models WHERE id = :m3) AS same_weights_other_seed;

CREATE TABLE shop_syn AS SELECT * FROM synth_generate(:m1, NULL::shop, 2000, seed => 7);

SELECT count(*) AS n,
	   count(DISTINCT id) AS distinct_ids,
	   min(id) > (SELECT max(id) FROM shop) AS fresh_ids,
	   count(*) FILTER (WHERE age IS NULL OR city IS NULL) AS not_null_violations,
	   bool_and(age BETWEEN (SELECT min(age) FROM shop) AND (SELECT max(age) FROM shop)) AS age_in_range,
	   bool_and(spend BETWEEN 0 AND (SELECT max(spend) FROM shop)) AS spend_in_range,
	   bool_and(spend = round(spend, 2)) AS spend_scale,
	   bool_and(joined BETWEEN date '2020-01-01' AND date '2022-09-27') AS joined_in_range,
	   count(*) FILTER (WHERE rating IS NULL) BETWEEN 60 AND 400 AS some_rating_nulls,
	   count(*) FILTER (WHERE spend = 0) > 0 AS zero_spend_kept,
	   bool_and(city IN ('Paris', 'Lyon', 'Nice')) AS known_cities,
	   count(DISTINCT city) AS cities,
	   count(DISTINCT level) AS levels,
	   count(*) FILTER (WHERE note IN (SELECT note FROM shop)) AS copied_notes
FROM shop_syn;

-- the same seed gives the same rows
SELECT count(*) AS differing_rows FROM (
	(SELECT * FROM synth_generate(:m1, NULL::shop, 300, seed => 11)
	 EXCEPT ALL
	 SELECT * FROM synth_generate(:m1, NULL::shop, 300, seed => 11))
) d;

-- conditions hold in every row; rebalanced shares are exact
SELECT count(*) AS rows, bool_and(city = 'Nice' AND age > 30) AS all_hold
FROM synth_generate(:m1, NULL::shop, 200, 3, condition => $$city = 'Nice' AND age > 30$$);
SELECT level, count(*) FROM synth_generate(:m1, NULL::shop, 300, 4,
	rebalance => '{"level": {"bronze": 0.5, "silver": 0.25, "gold": 0.25}}') GROUP BY 1 ORDER BY 1;

-- the latest model of the table is used by default
SELECT count(*) FROM synth_generate(NULL::shop, 10, seed => 1);

-- bad options are refused
\set VERBOSITY terse
SELECT synth_train('shop', 'tvae', '{"epochs": 0}');
SELECT synth_train('shop', 'tvae', '{"epochs": 2.5}');
SELECT synth_train('shop', 'tvae', '{"batch_size": 1}');
SELECT synth_train('shop', 'tvae', '{"device": "tpu"}');
SELECT synth_train('shop', 'tvae', '{"learning_rate": -1}');
SELECT synth_train('shop', 'tvae', '{"pac": 10, "epochs": 1}');
SELECT synth_train('shop', 'copula', '{"epochs": 10}');
SELECT synth_train('shop', 'tvae', '{"epoch": 10}');
\set VERBOSITY default

-- a cancelled training stops promptly and leaves no model behind
SELECT count(*) AS models_before FROM synth.models \gset
SET statement_timeout = '300ms';
SELECT synth_train('shop', 'tvae', '{"epochs": 100000, "device": "cpu", "progress_every": 0}');
RESET statement_timeout;
SELECT count(*) - :models_before AS new_models FROM synth.models;

-- a table with nothing for a network (a key and free text) still trains and generates
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 100) g;
SELECT synth_train('notes', 'tvae', '{"epochs": 1, "device": "cpu"}') > 0 AS trained;
SELECT spec->'network' AS network FROM synth.models ORDER BY id DESC LIMIT 1;
SELECT count(*), min(id) > 100 AS fresh_ids FROM synth_generate(NULL::notes, 5, seed => 1);

DROP TABLE shop, shop_syn, notes;
DROP TYPE tier;
DROP EXTENSION synth CASCADE;
