-- demo.sql: the first session of synth (run by scripts/demo.sh in database
-- synth_demo): a made-up customers table, a model trained on it, synthetic
-- rows, and how close they come to the real ones.

\set ON_ERROR_STOP on
\pset pager off

CREATE EXTENSION synth;

\echo
\echo '== demo.customers: 20,000 made-up customers (income depends on age, segment on income)'

CREATE SCHEMA demo;

CREATE TABLE demo.customers (
	id		serial PRIMARY KEY,
	email	text NOT NULL UNIQUE,
	age		int NOT NULL CHECK (age BETWEEN 18 AND 90),
	income	numeric(10,2) CHECK (income > 0),
	segment	text NOT NULL,
	signup	date NOT NULL,
	active	bool NOT NULL
);

-- Every random draw is made in one place, in row order, after setseed: the
-- table is the same on every run.  The rest is arithmetic on the draws.
SELECT setseed(0.42) \g /dev/null

WITH draws AS MATERIALIZED (
	SELECT g,
		   1 - random() AS u_age, random() AS v_age,
		   1 - random() AS u_income, random() AS v_income,
		   1 - random() AS u_segment, random() AS v_segment,
		   random() AS u_signup, random() AS u_active, random() AS u_null
	FROM generate_series(1, 20000) AS g
), normals AS (
	-- Box-Muller: two uniforms make one standard normal
	SELECT g, u_signup, u_active, u_null,
		   sqrt(-2 * ln(u_age)) * cos(2 * pi() * v_age) AS z_age,
		   sqrt(-2 * ln(u_income)) * cos(2 * pi() * v_income) AS z_income,
		   sqrt(-2 * ln(u_segment)) * cos(2 * pi() * v_segment) AS z_segment
	FROM draws
), people AS (
	SELECT g, z_income, z_segment, u_signup, u_active, u_null,
		   least(90, greatest(18, round(42 + 13 * z_age)))::int AS age
	FROM normals
), earners AS (
	-- log income rises with age until the mid fifties, then falls
	SELECT g, age, z_segment, u_signup, u_active, u_null,
		   10.0 + 0.04 * (age - 18) - 0.0005 * (age - 18) ^ 2 + 0.4 * z_income AS log_income
	FROM people
)
INSERT INTO demo.customers (email, age, income, segment, signup, active)
SELECT format('customer%s@example.com', g),
	   age,
	   CASE WHEN u_null < 0.02 THEN NULL ELSE round(exp(log_income)::numeric, 2) END,
	   CASE
		   WHEN log_income + 0.25 * z_segment < 9.9 THEN 'basic'
		   WHEN log_income + 0.25 * z_segment < 10.3 THEN 'standard'
		   WHEN log_income + 0.25 * z_segment < 10.7 THEN 'plus'
		   WHEN log_income + 0.25 * z_segment < 11.1 THEN 'premium'
		   ELSE 'elite'
	   END,
	   date '2019-01-01' + floor(u_signup * 2191)::int,
	   u_active < 0.35 + 0.5 * u_signup		-- recent customers are more often active
FROM earners
ORDER BY g;

ANALYZE demo.customers;

SELECT * FROM demo.customers ORDER BY id LIMIT 5;

\echo
\echo '== train a model (the method is chosen for the data)'
\timing on
SELECT synth_train('demo.customers') AS model_id;
\timing off

SELECT id, method, n_rows, created_at FROM synth.models;

\echo
\echo '== 10 synthetic rows, typed exactly like demo.customers'
SELECT * FROM synth_generate(NULL::demo.customers, 10);

\echo
\echo '== 20,000 synthetic rows into demo.customers_synth'
\timing on
CREATE TABLE demo.customers_synth AS
	SELECT * FROM synth_generate(NULL::demo.customers, 20000, seed => 1);
\timing off

\echo
\echo '== real and synthetic side by side'
SELECT 'real' AS rows, count(*), round(avg(age), 1) AS avg_age,
	   round(avg(income)) AS avg_income, round(corr(age, income)::numeric, 3) AS corr_age_income,
	   round(avg(active::int), 3) AS share_active
FROM demo.customers
UNION ALL
SELECT 'synthetic', count(*), round(avg(age), 1), round(avg(income)),
	   round(corr(age, income)::numeric, 3), round(avg(active::int), 3)
FROM demo.customers_synth;

SELECT segment,
	   count(*) FILTER (WHERE src = 'real') AS real_rows,
	   count(*) FILTER (WHERE src = 'synthetic') AS synthetic_rows,
	   round(avg(income) FILTER (WHERE src = 'real')) AS real_avg_income,
	   round(avg(income) FILTER (WHERE src = 'synthetic')) AS synthetic_avg_income
FROM (SELECT 'real' AS src, segment, income FROM demo.customers
	  UNION ALL
	  SELECT 'synthetic', segment, income FROM demo.customers_synth) AS t
GROUP BY segment
ORDER BY real_avg_income;

\echo
\echo '== how close the synthetic table is to the real one'
SELECT * FROM synth_evaluate('demo.customers', 'demo.customers_synth');
