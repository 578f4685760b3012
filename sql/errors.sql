--
-- errors: bad input is refused with a clear message and hint, and leaves
-- nothing behind (no model row is written by a failed training).
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';
\set VERBOSITY default

CREATE TABLE t (id int PRIMARY KEY, x float8 NOT NULL, c text);
INSERT INTO t SELECT g, g * 0.5, (g % 3)::text FROM generate_series(1, 200) g;
CREATE TABLE empty_t (a int, b text);

-- nonexistent, empty, NULL table
SELECT synth_train('no_such_table');
SELECT synth_train('empty_t');
SELECT synth_train(NULL);

-- unknown method and options
SELECT synth_train('t', 'magic');
SELECT synth_train('t', 'mst');
SELECT synth_train('t', 'copula', '{"epohcs": 10}');
SELECT synth_train('t', 'copula', '{"seed": "abc"}');
SELECT synth_train('t', 'copula', '{"rare_category_k": 0}');
SELECT synth_train('t', 'copula', '{"exclude": "c"}');
SELECT synth_train('t', 'copula', '{"exclude": ["nope"]}');
SELECT synth_train('t', 'copula', '[1, 2]');

-- an unsupported type names the column and the option that excludes it
CREATE TABLE shapes (id int, p point, v int NOT NULL);
INSERT INTO shapes SELECT g, point(g, g), g FROM generate_series(1, 50) g;
SELECT synth_train('shapes');
SELECT synth_train('shapes', 'copula', '{"exclude": ["p"]}') > 0 AS excluded_ok;
SELECT count(*) FILTER (WHERE p IS NULL) AS p_null FROM synth_generate(NULL::shapes, 10, 1);
-- a NOT NULL column without default cannot be left out
SELECT synth_train('shapes', 'copula', '{"exclude": ["p", "v"]}');

-- generation: no model, not a table, bad n
SELECT * FROM synth_generate(NULL::t, 10);
SELECT * FROM synth_generate(NULL::int, 10);
SELECT synth_train('t', 'copula', '{"seed": 5}') > 0 AS trained;
SELECT * FROM synth_generate(NULL::t, -1);
SELECT * FROM synth_generate(NULL::t, NULL);
SELECT * FROM synth_generate(999999, NULL::t, 10);
SELECT * FROM synth_generate((SELECT min(id) FROM synth.models WHERE source_table = 'shapes'), NULL::t, 10);

-- a role without SELECT on the table can neither train nor generate
CREATE ROLE synth_nobody;
GRANT USAGE ON SCHEMA public TO synth_nobody;
SET ROLE synth_nobody;
SELECT synth_train('t');
SELECT * FROM synth_generate(NULL::t, 5);
-- and cannot read or write the weights, nor see the models of t
SELECT weights FROM synth.models LIMIT 1;
DELETE FROM synth.models;
SELECT count(*) > 0 AS sees_models FROM synth.models;
RESET ROLE;

-- a corrupt or truncated weights blob is refused
CREATE TABLE t2 AS SELECT * FROM t;
SELECT synth_train('t2') AS m2 \gset
UPDATE synth.models SET weights = substring(weights FROM 1 FOR 40) WHERE id = :m2;
SELECT * FROM synth_generate(NULL::t2, 5);
SELECT synth_train('t2') AS m2 \gset
UPDATE synth.models SET weights = overlay(weights PLACING '\xff'::bytea FROM 60) WHERE id = :m2;
SELECT * FROM synth_generate(NULL::t2, 5);
SELECT synth_train('t2') AS m2 \gset
UPDATE synth.models SET weights = '\x00010203'::bytea WHERE id = :m2;
SELECT * FROM synth_generate(NULL::t2, 5);

-- a table whose columns changed since training is refused
SELECT count(*) AS ok_before FROM synth_generate(NULL::t, 5, 1);
ALTER TABLE t ADD COLUMN extra int;
SELECT * FROM synth_generate(NULL::t, 5);
ALTER TABLE t DROP COLUMN extra;
SELECT count(*) AS ok_after_drop FROM synth_generate(NULL::t, 5, 1);
ALTER TABLE t ALTER COLUMN c TYPE varchar(10);
SELECT * FROM synth_generate(NULL::t, 5);

-- failed trainings left no model behind
SELECT source_table, count(*) FROM synth.models GROUP BY 1 ORDER BY 1;

DROP TABLE t, t2, empty_t, shapes;
DROP EXTENSION synth CASCADE;
DROP OWNED BY synth_nobody;
DROP ROLE synth_nobody;
