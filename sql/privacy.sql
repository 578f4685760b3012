--
-- privacy: budgets and the ledger, and mst, the differentially private
-- method.  A budget is set by the table's owner only and shown to its
-- readers; a private training is refused before it reads a row when it would
-- overspend, spends nothing when it fails or rolls back, locks the budget so
-- that a concurrent training waits, and records its spend in synth.ledger;
-- generation spends nothing and gives rows typed like the table, inside its
-- public bounds and domains.  The noise is secure, so no figure that depends
-- on it is printed: only facts and thresholds far from the expected values.
--
CREATE EXTENSION synth;
CREATE EXTENSION dblink;

CREATE ROLE synth_dp_reader;
CREATE ROLE synth_dp_other;

CREATE TYPE dp_level AS ENUM ('low', 'mid', 'high');
CREATE DOMAIN dp_height AS numeric(5, 1) CHECK (VALUE >= 140 AND VALUE <= 210);

CREATE TABLE dp_people (
	id			serial PRIMARY KEY,
	age			int NOT NULL CHECK (age BETWEEN 18 AND 90),
	height		dp_height,
	income		numeric(10, 2),
	sex			text NOT NULL,
	city		varchar(20),
	smoker		bool,
	level		dp_level,
	joined		date CHECK (joined >= '2020-01-01' AND joined < '2025-01-01'),
	note		text
);

SELECT setseed(0.125);
INSERT INTO dp_people (age, height, income, sex, city, smoker, level, joined, note)
SELECT a,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((150 + 20 * random() + (a - 18) / 8.0)::numeric, 1) END,
	   round((a * 150 + random() * 3000)::numeric, 2),
	   CASE WHEN random() < 0.6 THEN 'f' ELSE 'm' END,
	   CASE WHEN random() < 0.1 THEN NULL WHEN a < 40 THEN 'Lyon' WHEN random() < 0.7 THEN 'Paris' ELSE 'Nice' END,
	   CASE WHEN random() < 0.02 THEN NULL ELSE a < 35 AND random() < 0.5 END,
	   (ARRAY['low', 'mid', 'high'])[1 + (a / 30)]::dp_level,
	   date '2020-01-01' + (random() * 1800)::int,
	   'note ' || g
FROM (SELECT g, 18 + (random() * random() * 72)::int AS a FROM generate_series(1, 6000) g) s;

-- the options every private training of dp_people below shares
CREATE TABLE dp_opts AS
SELECT '{"domains": {"sex": ["f", "m"], "city": ["Lyon", "Paris", "Nice"]},
		 "bounds": {"income": [0, 20000]}, "exclude": ["note"]}'::jsonb AS o;
GRANT SELECT ON dp_opts TO synth_dp_reader;

-- ---------------------------------------------------------------- budgets

-- no budget: refused, telling the owner how to set one
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1}') FROM dp_opts;

-- only the owner sets a budget; epsilon and delta are checked
GRANT SELECT ON dp_people TO synth_dp_reader;
SET ROLE synth_dp_reader;
SELECT synth_set_budget('dp_people', 3);
RESET ROLE;
SELECT synth_set_budget('dp_people', 0);
SELECT synth_set_budget('dp_people', 3, delta => 1);
SELECT synth_set_budget('dp_people', epsilon => 3);
SELECT * FROM synth_budget('dp_people');

-- readers of the table see it; others may not
SET ROLE synth_dp_reader;
SELECT epsilon_cap, epsilon_remaining FROM synth_budget('dp_people');
SET ROLE synth_dp_other;
SELECT * FROM synth_budget('dp_people');
RESET ROLE;

-- a private training spends epsilon and its share of delta (1e-6 * 1 / 3)
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1}') > 0 AS trained FROM dp_opts;
SELECT * FROM synth_budget('dp_people');
SELECT model_id = (SELECT max(id) FROM synth.models) AS latest_model, source_table, mechanism,
	   epsilon, delta, role = current_user AS by_me,
	   parameters->>'unit' AS unit,
	   (parameters->>'rho')::float8 > 0 AS has_rho,
	   (parameters->>'epsilon_of_rho')::float8 <= 1 AS rho_within_epsilon,
	   jsonb_path_query_array(parameters, '$.mechanisms[*].mechanism') AS mechanisms
FROM synth.ledger ORDER BY id;

-- a spend beyond the cap is refused
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 2.5}') FROM dp_opts;
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1, "delta": 1e-5}') FROM dp_opts;

-- a training that rolls back, or fails after it spent, spends nothing
BEGIN;
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.5}') > 0 AS trained FROM dp_opts;
SELECT epsilon_spent FROM synth_budget('dp_people');
ROLLBACK;
SET synth.train_memory = '1MB';
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.5, "bins": 1024}') FROM dp_opts;
RESET synth.train_memory;
SELECT epsilon_spent, delta_spent FROM synth_budget('dp_people');

-- refused before reading a row: a view whose rows cannot be read
CREATE VIEW dp_trap AS SELECT age, (1 / (age - age))::int AS boom FROM dp_people;
SELECT synth_set_budget('dp_trap', 0.5);
SELECT synth_train('dp_trap', 'mst', '{"epsilon": 1, "bounds": {"age": [18, 90], "boom": [0, 1]}}');
SELECT synth_train('dp_trap', 'mst', '{"epsilon": 0.5, "bounds": {"age": [18, 90], "boom": [0, 1]}}');
SELECT epsilon_spent FROM synth_budget('dp_trap');

-- the budget row is locked while a training runs: a concurrent training
-- waits (here: gives up after 200 ms), then sees the first one's spend
SELECT dblink_connect('dp', format('dbname=%s user=%s port=%s host=%s', current_database(), current_user,
								   current_setting('port'), current_setting('unix_socket_directories')));
SELECT dblink_exec('dp', 'SET lock_timeout = ''200ms''');
BEGIN;
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.5}') > 0 AS trained FROM dp_opts;
SET LOCAL client_min_messages = warning;
SELECT dblink_exec('dp', format('SELECT synth_train(''dp_people'', ''mst'', %L)', o || '{"epsilon": 0.5}'),
				   false) AS concurrent FROM dp_opts;
SELECT dblink_error_message('dp') LIKE '%lock timeout%' AS waited_for_the_lock;
COMMIT;
SELECT m > 0 AS trained_after_the_first
FROM dp_opts, dblink('dp', format('SELECT synth_train(''dp_people'', ''mst'', %L)', o || '{"epsilon": 1}'))
	AS t(m bigint);
SELECT dblink_disconnect('dp');
SELECT epsilon_spent, epsilon_remaining FROM synth_budget('dp_people');

-- a reader of the table may train (and spend); auto with an epsilon is mst
SET ROLE synth_dp_reader;
SELECT synth_train('dp_people', 'auto', o || '{"epsilon": 0.5}') > 0 AS trained FROM dp_opts;
RESET ROLE;
SELECT method, spec->>'reason' AS reason FROM synth.models ORDER BY id DESC LIMIT 1;
SELECT * FROM synth_budget('dp_people');
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.01}') FROM dp_opts;

-- the ledger: one row per spend, readable by the table's readers only,
-- writable by nobody but synth
SELECT count(*) AS spends, sum(epsilon) AS epsilon, count(DISTINCT role) AS roles
FROM synth.ledger WHERE source_table = 'dp_people';
SET ROLE synth_dp_reader;
SELECT count(*) AS visible_spends FROM synth.ledger;
DELETE FROM synth.ledger;
UPDATE synth.budgets SET epsilon_cap = 100;
SET ROLE synth_dp_other;
SELECT count(*) AS visible_spends FROM synth.ledger;
SELECT count(*) AS visible_budgets FROM synth.budgets;
RESET ROLE;

-- raising the cap afterwards is the owner's call; lowering it below the spend
-- warns; the delta spent counts against a new delta too
SELECT synth_set_budget('dp_people', 1);
SELECT synth_set_budget('dp_people', 5);
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.5}') FROM dp_opts;
SELECT synth_set_budget('dp_people', 5, delta => 2e-6);
SELECT * FROM synth_budget('dp_people');

-- restored by pg_dump elsewhere, the table's oid differs (made stale here by
-- hand): its budget is found by name and keeps what was spent, also when a
-- budget was set anew meanwhile (the spends add up)
UPDATE synth.budgets SET relid = 1 WHERE source_table = 'dp_people';
SELECT epsilon_cap, epsilon_spent FROM synth_budget('dp_people');
SELECT relid = 'dp_people'::regclass AS oid_updated FROM synth.budgets WHERE source_table = 'dp_people';
UPDATE synth.budgets SET relid = 1 WHERE source_table = 'dp_people';
INSERT INTO synth.budgets (relid, source_schema, source_table, epsilon_cap, delta, owner)
VALUES ('dp_people'::regclass, 'public', 'dp_people', 5, 2e-6, current_user);
SELECT epsilon_cap, epsilon_spent, count(*) OVER () AS budget_rows FROM synth_budget('dp_people');
SELECT count(*) AS rows_of_dp_people FROM synth.budgets WHERE source_table = 'dp_people';

-- a holdout is left out of the counts, and its size is not stored
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 0.5, "holdout": 0.2}') > 0 AS trained FROM dp_opts;
SELECT spec->'holdout'->>'fraction' AS fraction, spec->'holdout' ? 'rows' AS has_rows,
	   abs(n_rows - 4800) < 500 AS n_rows_near_4800
FROM synth.models ORDER BY id DESC LIMIT 1;

-- ---------------------------------------------------------------- mst models and generation

-- what a private model stores: public bounds and domains, noisy shares, no exact count
SELECT id AS dp_model FROM synth.models WHERE method = 'mst' ORDER BY id LIMIT 1 \gset
SELECT spec->'privacy'->>'epsilon' AS epsilon,
	   spec ? 'rows_sampled' AS has_rows_sampled,
	   metrics ? 'rows_read' AS has_rows_read,
	   abs(n_rows - 6000) < 600 AS n_rows_near_6000,
	   jsonb_array_length(spec->'mst'->'attributes') AS attributes,
	   (SELECT count(*) FROM jsonb_array_elements(spec->'mst'->'attributes') a
		WHERE a->>'parent' IS NULL) AS roots
FROM synth.models WHERE id = :dp_model;
SELECT c->>'name' AS name, c->>'encoder' AS encoder, c->'bounds' AS bounds, c->>'categories' AS categories
FROM synth.models, jsonb_array_elements(spec->'columns') c
WHERE id = :dp_model ORDER BY 1;

-- rows typed like the table that satisfy its constraints (a copy has them all)
CREATE TABLE dp_copy (LIKE dp_people INCLUDING ALL);
INSERT INTO dp_copy SELECT * FROM synth_generate(:dp_model, NULL::dp_people, 3000, seed => 1);
SELECT count(*) AS rows, count(DISTINCT id) AS ids, min(id) AS min_id,
	   count(*) FILTER (WHERE sex NOT IN ('f', 'm')) AS bad_sex,
	   count(*) FILTER (WHERE city NOT IN ('Lyon', 'Paris', 'Nice')) AS bad_city,
	   count(*) FILTER (WHERE income < 0 OR income > 20000) AS bad_income,
	   count(*) FILTER (WHERE note IS NOT NULL) AS notes
FROM dp_copy;
SELECT pg_typeof(height) AS height, pg_typeof(level) AS level, pg_typeof(joined) AS joined
FROM synth_generate(:dp_model, NULL::dp_people, 1, seed => 1);

-- the same seed gives the same rows; generation spends nothing
SELECT count(*) AS differing FROM (
	SELECT * FROM synth_generate(:dp_model, NULL::dp_people, 500, seed => 7)
	EXCEPT ALL
	SELECT * FROM synth_generate(:dp_model, NULL::dp_people, 500, seed => 7)) d;
SELECT epsilon_spent FROM synth_budget('dp_people');

-- the shares follow the table's (epsilon 1 on 6000 rows: far within 0.1)
SELECT abs((SELECT avg((sex = 'f')::int) FROM dp_copy) -
		   (SELECT avg((sex = 'f')::int) FROM dp_people)) < 0.1 AS sex_share_close,
	   abs((SELECT avg(age) FROM dp_copy) - (SELECT avg(age) FROM dp_people)) < 5 AS age_mean_close,
	   abs((SELECT avg((city IS NULL)::int) FROM dp_copy) -
		   (SELECT avg((city IS NULL)::int) FROM dp_people)) < 0.05 AS city_null_share_close;

-- conditions and rebalancing work as for any model
SELECT count(*) AS rows, count(*) FILTER (WHERE NOT age > 60) AS violations
FROM synth_generate(:dp_model, NULL::dp_people, 200, seed => 3, condition => 'age > 60');
SELECT sex, count(*) FROM synth_generate(:dp_model, NULL::dp_people, 400, seed => 4,
	rebalance => '{"sex": {"f": 0.25, "m": 0.75}}') GROUP BY sex ORDER BY sex;

-- ---------------------------------------------------------------- errors

SELECT synth_set_budget('dp_people', 100);
SELECT synth_train('dp_people', 'copula', '{"epsilon": 1}');
SELECT synth_train('dp_people', 'tvae', '{"epsilon": 1, "domain_share": 0}');
SELECT synth_train('dp_people', 'mst');
SELECT synth_train('dp_people', 'copula', '{"bins": 10}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": -1}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "delta": 2}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "bins": 1}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "bounds": {"income": [0]}}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "domains": {"sex": ["f", "f"]}}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "rare_category_k": 3}');
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1, "bounds": {"nope": [0, 1]}}') FROM dp_opts;
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1, "domains": {"age": ["1"]}}') FROM dp_opts;
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "exclude": ["note"], "bounds": {"income": [0, 1]}, "domain_share": 0}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "domains": {"sex": ["f"], "city": ["Lyon"]}, "exclude": ["note"], "domain_share": 0}');
SELECT synth_train('dp_people', 'mst', '{"epsilon": 1, "domain_share": 0.6}');
SELECT synth_train('dp_people', 'mst', o || '{"epsilon": 1, "bounds": {"income": [10, 1]}}') FROM dp_opts;
CREATE TABLE dp_keys (id serial PRIMARY KEY, ident uuid);
INSERT INTO dp_keys (ident) SELECT md5(g::text)::uuid FROM generate_series(1, 10) g;
SELECT synth_set_budget('dp_keys', 1);
SELECT synth_train('dp_keys', 'mst', '{"epsilon": 1}');
SELECT synth_budget(NULL);
SELECT synth_set_budget(NULL, 1);

-- epsilon and delta as named arguments, as the design writes it
-- (synth_train('orders', epsilon => 1)): the options of those names
SELECT synth_set_budget('dp_people', 100, delta => 1e-5);
SELECT synth_train('dp_people', 'mst', o, epsilon => 0.25, delta => 1e-7) > 0 AS trained FROM dp_opts;
SELECT mechanism, epsilon, delta FROM synth.ledger ORDER BY id DESC LIMIT 1;
SELECT synth_train('dp_people', method => 'mst', options => o || '{"epsilon": 1}', epsilon => 1) FROM dp_opts;
SELECT synth_train('dp_people', 'mst', o, epsilon => 'infinity') FROM dp_opts;

DROP VIEW dp_trap;
DROP TABLE dp_people, dp_copy, dp_opts, dp_keys;
DROP TYPE dp_level;
DROP DOMAIN dp_height;
DROP EXTENSION synth CASCADE;
DROP EXTENSION dblink;
DROP ROLE synth_dp_reader;
DROP ROLE synth_dp_other;
