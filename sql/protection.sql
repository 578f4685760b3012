--
-- protection: what a model trained without DP does not emit (doc/privacy.md,
-- "Protection without DP"): categories seen in fewer than rare_category_k
-- rows (default 5), values beyond the 0.05 % and 99.95 % quantiles of a
-- column of more than 1,000 values, real keys, real values of near-unique
-- text.  And the limit: a column of 1,000 values or fewer keeps its extremes.
--
CREATE EXTENSION synth;

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
	   min(id) = (SELECT max(id) + 1 FROM pr_people) AS keys_from_max_plus_1,
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

-- 1,000 values or fewer: the knots are the values, the extremes can come out
CREATE TABLE pr_small (x float8);
INSERT INTO pr_small SELECT CASE WHEN g = 1 THEN 1e6 ELSE g END FROM generate_series(1, 500) g;
SELECT synth_train('pr_small', 'copula', '{"seed": 1}') > 0 AS trained;
SELECT max(x) = 1e6 AS small_table_outlier_emitted FROM synth_generate(NULL::pr_small, 50000, seed => 1);

DROP TABLE pr_people, pr_synth, pr_small;
DROP EXTENSION synth CASCADE;
