--
-- protection: what a model trained without DP does not emit (doc/privacy.md,
-- "Protection without DP"): categories seen in fewer than rare_category_k
-- rows (default 5), values beyond the 0.05 % and 99.95 % quantiles of a
-- column or beyond its k-th smallest and largest values, real keys (fresh
-- ones count from the power of ten above the largest), real values of
-- near-unique text.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

SELECT setseed(0.5);
CREATE TABLE pr_people (id serial PRIMARY KEY, city text, income float8, name text);
INSERT INTO pr_people (city, income, name)
SELECT CASE WHEN g <= 4 THEN 'Rareville' WHEN g <= 9 THEN 'Fivetown'
			WHEN g % 2 = 0 THEN 'Lyon' ELSE 'Paris' END,
	   CASE WHEN g = 100 THEN 1e6 ELSE 1000 + random() * 1000 END,
	   'Person ' || g
FROM generate_series(1, 5000) g;

SELECT synth_train('pr_people', 'copula', '{"seed": 1}') > 0 AS trained;
CREATE TABLE pr_synth AS SELECT * FROM synth_generate(NULL::pr_people, 50000, seed => 1);
SELECT count(*) FILTER (WHERE city = 'Rareville') AS rare_city_rows,
	   count(*) FILTER (WHERE city = 'Fivetown') > 0 AS city_of_5_rows_emitted,
	   max(income) < (SELECT max(income) FROM pr_people WHERE income < 1e6) AS below_second_largest,
	   min(income) > (SELECT min(income) FROM pr_people) AS above_smallest,
	   min(id) = 10001 AS keys_from_10_to_the_4_plus_1,
	   count(*) FILTER (WHERE id IN (SELECT id FROM pr_people)) AS real_keys,
	   count(*) FILTER (WHERE name IN (SELECT name FROM pr_people)) AS real_names,
	   bool_and(name ~ '^[A-Z][a-z]{5} [0-9]{1,4}$') AS names_keep_their_shape
FROM pr_synth;
-- the encoders: the id is a key, the name free text
SELECT c->>'name' AS name, c->>'encoder' AS encoder
FROM synth.models, jsonb_array_elements(spec->'columns') c
WHERE id = (SELECT max(id) FROM synth.models) ORDER BY 1;

-- rare_category_k lowers the threshold
SELECT synth_train('pr_people', 'copula', '{"seed": 1, "rare_category_k": 2}') > 0 AS trained;
SELECT count(*) FILTER (WHERE city = 'Rareville') > 0 AS rare_city_emitted_at_k_2
FROM synth_generate(NULL::pr_people, 50000, seed => 1);
SELECT synth_train('pr_people', 'copula', '{"rare_category_k": 0}');

-- a small column: its extremes are capped midway between its 5th and 6th
-- smallest and largest values (rare_category_k); at k = 1 the outlier comes out
CREATE TABLE pr_small (x float8);
INSERT INTO pr_small SELECT CASE WHEN g = 1 THEN 1e6 ELSE g END FROM generate_series(1, 500) g;
SELECT synth_train('pr_small', 'copula', '{"seed": 1}') > 0 AS trained;
SELECT max(x) = ((SELECT x FROM pr_small ORDER BY x DESC OFFSET 4 LIMIT 1) +
				  (SELECT x FROM pr_small ORDER BY x DESC OFFSET 5 LIMIT 1)) / 2 AS max_between_5th_and_6th_largest,
	   min(x) = ((SELECT x FROM pr_small ORDER BY x OFFSET 4 LIMIT 1) +
				 (SELECT x FROM pr_small ORDER BY x OFFSET 5 LIMIT 1)) / 2 AS min_between_5th_and_6th_smallest,
	   count(*) FILTER (WHERE x IN (SELECT x FROM pr_small)) < 50000 * 0.01 AS few_real_values
FROM synth_generate(NULL::pr_small, 50000, seed => 1);
SELECT synth_train('pr_small', 'tvae', '{"seed": 1, "epochs": 2}') > 0 AS trained;
SELECT max(x) <= (SELECT x FROM pr_small ORDER BY x DESC OFFSET 4 LIMIT 1) AS tvae_within_5th_largest
FROM synth_generate(NULL::pr_small, 20000, seed => 1);
SELECT synth_train('pr_small', 'copula', '{"seed": 1, "rare_category_k": 1}') > 0 AS trained;
SELECT max(x) = 1e6 AS outlier_emitted_at_k_1 FROM synth_generate(NULL::pr_small, 50000, seed => 1);
-- a table of 3 rows: every value is generated as the median (fewer than 2k + 1)
CREATE TABLE pr_tiny (x int);
INSERT INTO pr_tiny VALUES (1), (50), (1000000);
SELECT synth_train('pr_tiny', 'copula', '{"seed": 1}') > 0 AS trained;
SELECT min(x) = 50 AND max(x) = 50 AS median_only FROM synth_generate(NULL::pr_tiny, 1000, seed => 1);

-- fresh keys of a table whose largest key is 60 start at 10^2 + 1; those of
-- an int2 key past 9,999 at the largest plus one (10^5 is out of its range)
CREATE TABLE pr_keys (id int PRIMARY KEY, v int);
INSERT INTO pr_keys SELECT g, g % 7 FROM generate_series(1, 60) g;
SELECT synth_train('pr_keys', 'copula', '{"seed": 1}') > 0 AS trained;
SELECT min(id), max(id) FROM synth_generate(NULL::pr_keys, 10, seed => 1);
CREATE TABLE pr_keys2 (id int2 PRIMARY KEY, v int);
INSERT INTO pr_keys2 SELECT g, g % 7 FROM generate_series(10000, 10100) g;
SELECT synth_train('pr_keys2', 'copula', '{"seed": 1}') > 0 AS trained;
SELECT min(id), max(id) FROM synth_generate(NULL::pr_keys2, 10, seed => 1);

DROP TABLE pr_people, pr_synth, pr_small, pr_tiny, pr_keys, pr_keys2;
DROP EXTENSION synth CASCADE;
