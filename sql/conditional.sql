--
-- conditional: rows that satisfy a SQL predicate, drawn from the model's
-- conditional distribution; category shares (rebalancing); clear errors for
-- bad, impossible and too rare conditions.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TYPE tier AS ENUM ('bronze', 'silver', 'gold');
CREATE TABLE clients (
	id		int PRIMARY KEY,
	age		int NOT NULL,
	income	numeric(10, 2),
	sex		text NOT NULL,
	level	tier NOT NULL,
	churned	bool NOT NULL
);
SELECT setseed(0.5);
INSERT INTO clients
SELECT g, a,
	   CASE WHEN random() < 0.1 THEN NULL ELSE round((a * 800 + random() * 20000)::numeric, 2) END,
	   CASE WHEN random() < 0.45 THEN 'F' ELSE 'M' END,
	   (CASE WHEN a > 55 THEN 'gold' WHEN a > 35 THEN 'silver' ELSE 'bronze' END)::tier,
	   random() < 0.2
FROM (SELECT g, (18 + random() * 62)::int AS a FROM generate_series(1, 5000) g) s;

SELECT synth_train('clients', 'copula', '{"seed": 3}') > 0 AS trained;

-- every row satisfies the predicate
-- (key columns left out of the copies, so that synth_evaluate compares the rest)
CREATE TABLE old_rich AS
SELECT age, income, sex, level, churned
FROM synth_generate(NULL::clients, 2000, 1, condition => 'age > 60 AND income > 50000');
SELECT count(*) AS n, count(*) FILTER (WHERE NOT (age > 60 AND income > 50000)) AS violations
FROM old_rich;
-- and follows the real conditional distribution of the other columns
CREATE TABLE real_old_rich AS
SELECT age, income, sex, level, churned FROM clients WHERE age > 60 AND income > 50000;
SELECT score >= 0.85 AS shapes_follow_real
FROM synth_evaluate('real_old_rich', 'old_rich') WHERE metric = 'column_shapes';
-- it is the model's own conditional: unconditional rows filtered agree with it
CREATE TABLE filtered AS
SELECT age, income, sex, level, churned
FROM synth_generate(NULL::clients, 20000, 7) WHERE age > 60 AND income > 50000;
SELECT score >= 0.95 AS shapes_match_filtered
FROM synth_evaluate('filtered', 'old_rich') WHERE metric = 'column_shapes';
SELECT avg((level = 'gold')::int) > 0.7 AS correlated_column_follows FROM old_rich;

-- equality and IN on categories condition exactly; the same seed gives the same rows
CREATE TABLE women_gold AS
SELECT * FROM synth_generate(NULL::clients, 1000, 2, condition => $$sex = 'F' AND level IN ('gold')$$);
SELECT count(*) AS n, bool_and(sex = 'F' AND level = 'gold') AS all_match,
	   avg(age) > 55 AS ages_follow
FROM women_gold;
SELECT count(*) AS differ FROM (
	SELECT * FROM women_gold
	EXCEPT ALL
	SELECT * FROM synth_generate(NULL::clients, 1000, 2, condition => $$sex = 'F' AND level IN ('gold')$$)) d;

-- NULL can be asked for, and expressions over several columns are met by rejection
SELECT count(*) AS n, bool_and(income IS NULL) AS all_null
FROM synth_generate(NULL::clients, 100, 3, condition => 'income IS NULL');
SELECT count(*) AS n, bool_and(income / age > 1500) AS all_match
FROM synth_generate(NULL::clients, 200, 4, condition => 'income / age > 1500');

-- rebalancing: the shares asked for, the other columns conditional on them
CREATE TABLE balanced AS
SELECT * FROM synth_generate(NULL::clients, 1000, 5, rebalance => '{"churned": {"true": 0.5, "false": 0.5}}');
SELECT churned, count(*) FROM balanced GROUP BY 1 ORDER BY 1;
SELECT level, count(*) FROM synth_generate(NULL::clients, 900, 6,
	condition => 'age > 30', rebalance => '{"level": {"bronze": 0.2, "silver": 0.3, "gold": 0.5}}')
GROUP BY 1 ORDER BY 1;

-- errors: impossible (quickly), too rare, not a predicate over the row, bad shares
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'age > 1000');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => $$level = 'platinum'$$);
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'age * 1000 + income::int % 997 = 7');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'nosuch > 1');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => $$age > 'x'$$);
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'age');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => '1; DROP TABLE clients');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'age > (SELECT 1)');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, condition => 'true FROM pg_authid');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, rebalance => '{"churned": {"true": 0.7, "false": 0.7}}');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, rebalance => '{"age": {"30": 1}}');
SELECT count(*) FROM synth_generate(NULL::clients, 10, 1, rebalance => '{"sex": {"X": 1}}');

DROP TABLE clients, old_rich, real_old_rich, filtered, women_gold, balanced;
DROP TYPE tier;
DROP EXTENSION synth CASCADE;
