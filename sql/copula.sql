--
-- copula: train over every supported type, generate, and check what the
-- foundation promises: typed rows, NOT NULL, NULL rates, fresh keys, scale,
-- rare categories and near-unique text never emitted, same seed same rows.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN code AS text CHECK (VALUE ~ '^[A-Z]');

CREATE TABLE people (
	id			serial PRIMARY KEY,
	ident		uuid NOT NULL,
	email		text UNIQUE,
	age			int2 NOT NULL,
	visits		int4,
	big			int8,
	score		float4,
	ratio		float8 NOT NULL,
	balance		numeric(10, 2),
	amount		numeric,
	active		bool,
	city		varchar(20),
	grade		char(1),
	feeling		mood,
	qty			posint,
	label		code,
	born		date,
	seen		timestamp,
	seen_tz		timestamptz,
	notes		text
);

SELECT setseed(0.25);
INSERT INTO people (ident, email, age, visits, big, score, ratio, balance, amount,
					active, city, grade, feeling, qty, label, born, seen, seen_tz, notes)
SELECT md5(g::text)::uuid,
	   'user' || g || '@example.com',
	   a,
	   CASE WHEN random() < 0.2 THEN NULL ELSE (a / 2 + random() * 10)::int END,
	   (random() * 1e12)::int8,
	   (random() * 100)::float4,
	   a / 100.0 + random(),
	   round((a * 1000 + random() * 5000)::numeric, 2),
	   round((random() * 10)::numeric, 3),
	   random() < 0.7,
	   CASE WHEN g <= 2 THEN 'Smallville'
			ELSE (ARRAY['Paris', 'Lyon', 'Nice', 'Lille'])[1 + (random() * 3.99)::int] END,
	   (ARRAY['A', 'B', 'C'])[1 + (random() * 2.99)::int],
	   (ARRAY['sad', 'ok', 'happy'])[1 + (random() * 2.99)::int]::mood,
	   1 + (random() * 50)::int,
	   (ARRAY['Xa', 'Yb', 'Zc'])[1 + (random() * 2.99)::int],
	   date '1950-01-01' + (a * 365 + random() * 300)::int,
	   timestamp '2020-01-01' + random() * interval '365 days',
	   timestamptz '2021-06-01 12:00+00' + random() * interval '30 days',
	   CASE WHEN random() < 0.1 THEN NULL ELSE 'note ' || md5(g::text) END
FROM (SELECT g, (18 + random() * 60)::int2 AS a FROM generate_series(1, 3000) g) s;

SELECT synth_train('people', 'copula', '{"seed": 1}') > 0 AS trained;

-- what the model decided for each column
SELECT c.col->>'name' AS name, c.col->>'type' AS type, c.col->>'encoder' AS encoder,
	   c.col->>'value_type' AS value_type
FROM synth.models m, jsonb_array_elements(m.spec->'columns') WITH ORDINALITY AS c(col, ord)
WHERE m.source_table = 'people' ORDER BY c.ord;
SELECT method, status, n_rows, spec->>'reason' AS reason, metrics ? 'train_seconds' AS timed,
	   created_by = current_user AS by_me
FROM synth.models WHERE source_table = 'people';


-- rows of the table's own type; the same seed gives the same rows
CREATE TABLE syn AS SELECT * FROM synth_generate(NULL::people, 3000, 42);
CREATE TABLE syn2 AS SELECT * FROM synth_generate(NULL::people, 3000, seed => 42);
SELECT count(*) AS n, (SELECT count(*) FROM (SELECT * FROM syn EXCEPT ALL SELECT * FROM syn2) d) AS differ
FROM syn;
SELECT count(*) > 0 AS other_seed_differs
FROM (SELECT * FROM synth_generate(NULL::people, 100, 43) EXCEPT SELECT * FROM syn) d;
SELECT pg_typeof(s) AS row_type FROM synth_generate(NULL::people, 1, 1) s;

-- NOT NULL holds; NULL rates are reproduced
SELECT count(*) FILTER (WHERE ident IS NULL OR age IS NULL OR ratio IS NULL OR id IS NULL) AS notnull_violations
FROM syn;
SELECT abs(avg((visits IS NULL)::int) - (SELECT avg((visits IS NULL)::int) FROM people)) < 0.04 AS visits_null_rate_kept,
	   abs(avg((notes IS NULL)::int) - (SELECT avg((notes IS NULL)::int) FROM people)) < 0.04 AS notes_null_rate_kept,
	   abs(avg((city IS NULL)::int) - (SELECT avg((city IS NULL)::int) FROM people)) < 0.04 AS city_null_rate_kept
FROM syn;

-- keys are fresh and unique: no real id, uuid or email comes out
SELECT count(DISTINCT id) = count(*) AS ids_unique,
	   min(id) > (SELECT max(id) FROM people) AS ids_fresh,
	   count(DISTINCT ident) = count(*) AS uuids_unique,
	   count(DISTINCT email) = count(*) AS emails_unique
FROM syn;
SELECT (SELECT count(*) FROM syn s JOIN people p USING (ident)) AS uuid_copies,
	   (SELECT count(*) FROM syn s JOIN people p USING (email)) AS email_copies,
	   (SELECT count(*) FROM syn s JOIN people p USING (notes)) AS notes_copies;

-- numeric keeps its scale: the typmod's, or the largest seen
SELECT count(*) FILTER (WHERE scale(balance) <> 2) AS balance_wrong_scale,
	   count(*) FILTER (WHERE scale(amount) <> 3) AS amount_wrong_scale
FROM syn;

-- rare categories (seen fewer than 5 times) are not emitted; others are
SELECT count(*) FILTER (WHERE city = 'Smallville') AS rare_emitted,
	   count(DISTINCT city) AS cities, count(DISTINCT grade) AS grades,
	   count(DISTINCT feeling) AS feelings
FROM syn;

-- domains hold; values stay in the real ranges
SELECT count(*) FILTER (WHERE qty <= 0) AS qty_violations,
	   count(*) FILTER (WHERE label !~ '^[A-Z]') AS label_violations,
	   min(age) >= 18 AND max(age) <= 78 AS age_in_range,
	   min(born) >= (SELECT min(born) FROM people) AND max(born) <= (SELECT max(born) FROM people) AS born_in_range,
	   min(seen_tz) >= (SELECT min(seen_tz) FROM people) AS seen_tz_in_range
FROM syn;

-- distributions and correlations are kept
SELECT abs(avg(age) - (SELECT avg(age) FROM people)) < 2 AS age_mean_kept,
	   abs(avg(active::int) - (SELECT avg(active::int) FROM people)) < 0.04 AS active_share_kept,
	   corr(age, visits) > 0.8 AS age_visits_correlated,
	   corr(age, balance) > 0.8 AS age_balance_correlated,
	   corr(age, extract(epoch FROM born)) > 0.8 AS age_born_correlated
FROM syn;

-- a chosen model through the second signature
SELECT count(*) AS from_model
FROM synth_generate((SELECT max(id) FROM synth.models WHERE source_table = 'people'), NULL::people, 7, 1);
SELECT count(*) AS zero_rows FROM synth_generate(NULL::people, 0);

-- options choose the columns; a column left out is its default or NULL
SELECT synth_train('people', 'copula', '{"exclude": ["notes", "city"], "seed": 2}') > 0 AS trained;
SELECT count(*) FILTER (WHERE notes IS NULL AND city IS NULL) AS left_out_null,
	   count(*) FILTER (WHERE age IS NOT NULL) AS modelled
FROM synth_generate(NULL::people, 50, 1);
SELECT synth_train('people', 'auto', '{"columns": ["id", "ident", "age", "ratio", "visits"]}') > 0 AS trained;
SELECT count(*) FILTER (WHERE visits IS NOT NULL) > 0 AS visits_modelled,
	   count(*) FILTER (WHERE email IS NULL AND big IS NULL) = 50 AS others_null
FROM synth_generate(NULL::people, 50, 1);
SELECT spec->>'requested_method' AS requested, method, spec->'reason' AS reason
FROM synth.models ORDER BY id DESC LIMIT 1;

-- a large table is read in batches into a bounded sample
CREATE TABLE wide AS SELECT g AS a, g % 7 AS b, (g % 13)::text AS c, g * 0.5 AS d
FROM generate_series(1, 100000) g;
SET synth.train_memory = '1MB';
SET synth.read_batch_rows = 1000;
SELECT synth_train('wide', 'copula') > 0 AS trained_sampled;
RESET synth.train_memory;
RESET synth.read_batch_rows;
SELECT n_rows, (spec->>'rows_sampled')::int AS sampled FROM synth.models
WHERE source_table = 'wide';
SELECT count(DISTINCT c) AS c_values, min(b) >= 0 AND max(b) <= 6 AS b_in_range
FROM synth_generate(NULL::wide, 5000, 3);

-- after pg_dump and restore a table's oid differs: its models are found by name
UPDATE synth.models SET source_relid = 1 WHERE source_table = 'wide';
SELECT count(*) AS found_by_name FROM synth_generate(NULL::wide, 10, 1);
SELECT count(*) AS found_by_id
FROM synth_generate((SELECT max(id) FROM synth.models WHERE source_table = 'wide'), NULL::wide, 10, 1);

DROP TABLE syn, syn2, people, wide;
DROP EXTENSION synth CASCADE;
DROP TYPE mood;
DROP DOMAIN posint;
DROP DOMAIN code;
