--
-- dp_domains: columns without public bounds or values get them discovered
-- under differential privacy, with a share of the training's epsilon and
-- delta ("domain_share", default 0.3): noisy histograms over a fixed grid
-- give number and date bounds, thresholded noisy counts give a text
-- column's frequent values.  The noise is secure, so only facts that hold
-- whatever it draws (or fail with a chance far below 1e-6) are printed;
-- the NOTICE that lists the noisy bounds is silenced.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

CREATE TABLE dd_people (
	id			serial PRIMARY KEY,
	age			int NOT NULL,
	income		numeric,
	score		float8,
	born		date,
	seen		timestamptz,
	city		text,
	note		text
);
INSERT INTO dd_people (age, income, score, born, seen, city, note)
SELECT 18 + (g * 7919) % 70,
	   round(((g * 104729) % 100000)::numeric / 3, 2),
	   ((g * 31) % 1000) / 10.0 - 20,
	   date '1950-01-01' + (g * 37) % 20000,
	   timestamptz '2020-01-01 00:00+00' + ((g * 13) % 1000) * interval '1 day',
	   -- four frequent cities, and 40 rows with a city of their own
	   CASE WHEN g % 500 = 0 THEN 'Hamlet ' || g ELSE (ARRAY['Lyon', 'Paris', 'Nice', 'Lille'])[1 + g % 4] END,
	   'note ' || g
FROM generate_series(1, 20000) g;
SELECT synth_set_budget('dd_people', 20, 1e-5);

-- with "domain_share": 0 every domain must be public, as before
SELECT synth_train('dd_people', 'mst', '{"epsilon": 1, "exclude": ["note"], "domain_share": 0}');
SELECT synth_train('dd_people', 'mst', '{"epsilon": 1, "domain_share": -1}');

-- mst: six columns discovered with 0.3 of epsilon and delta, the rest to the model
SET client_min_messages = warning;
SELECT synth_train('dd_people', 'mst', '{"epsilon": 1, "exclude": ["note"]}') AS m1 \gset
RESET client_min_messages;
SELECT mechanism, epsilon, delta,
	   (parameters->>'epsilon_domains')::float8 AS epsilon_domains,
	   (parameters->>'delta_domains')::float8 AS delta_domains,
	   (parameters->>'epsilon_of_rho')::float8 <= 0.7 + 1e-9 AS model_within_rest,
	   parameters->'mechanisms'->4->>'measures' AS discovery,
	   (parameters->'mechanisms'->4->>'count')::int AS histograms,
	   (parameters->'mechanisms'->4->>'labels_released')::int AS labels,
	   parameters->'mechanisms'->4->'labels_per_column' AS labels_per_column,
	   (parameters->'mechanisms'->4->>'text_threshold')::float8 > 100 AS threshold_far_above_one
FROM synth.ledger WHERE model_id = :m1;
SELECT epsilon_spent, delta_spent FROM synth_budget('dd_people');

-- the bounds cover the data (every grid cell inside holds thousands of rows)
SELECT (b->'age'->>0)::float8 <= 18 AND (b->'age'->>1)::float8 >= 87 AS age_covered,
	   (b->'income'->>0)::float8 <= 1000 AND (b->'income'->>1)::float8 >= 32000 AS income_covered,
	   (b->'score'->>0)::float8 <= -16 AND (b->'score'->>1)::float8 >= 64 AS score_covered,
	   (b->'born'->>0)::float8 <= (date '1956-01-01' - date '2000-01-01') AND
	   (b->'born'->>1)::float8 >= (date '2000-01-01' - date '2000-01-01') AS born_mostly_covered,
	   (b->'seen'->>0)::float8 <= 631238400e6 AND (b->'seen'->>1)::float8 >= 725846399e6 AS seen_covered
FROM (SELECT parameters->'mechanisms'->4->'bounds' AS b FROM synth.ledger WHERE model_id = :m1) s;

-- generated rows stay inside the discovered bounds, with the discovered
-- scale; only the four frequent cities come out as themselves, never a
-- city of one row
WITH b AS (SELECT parameters->'mechanisms'->4->'bounds' AS b FROM synth.ledger WHERE model_id = :m1),
	 g AS (SELECT * FROM synth_generate(NULL::dd_people, 3000, seed => 1))
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE age < (b->'age'->>0)::float8 OR age > (b->'age'->>1)::float8) AS age_outside,
	   count(*) FILTER (WHERE income < (b->'income'->>0)::float8 OR income > (b->'income'->>1)::float8) AS income_outside,
	   count(*) FILTER (WHERE born - date '2000-01-01' < (b->'born'->>0)::float8 OR
							  born - date '2000-01-01' > (b->'born'->>1)::float8) AS born_outside,
	   max(scale(income)) >= 2 AS income_has_cents,
	   count(DISTINCT city) FILTER (WHERE city IN ('Lyon', 'Paris', 'Nice', 'Lille')) AS frequent_cities,
	   count(*) FILTER (WHERE city LIKE 'Hamlet%') AS rare_cities,
	   count(*) FILTER (WHERE note IS NOT NULL) AS notes
FROM g, b GROUP BY b.b;

-- a column whose every value is unique has nothing to release: an error
-- after reading, which rolls the spend back
SELECT synth_train('dd_people', 'mst', '{"epsilon": 1}');
SELECT epsilon_spent FROM synth_budget('dd_people');

-- a larger share: the same mechanism, recorded
SET client_min_messages = warning;
SELECT synth_train('dd_people', 'mst', '{"epsilon": 2, "domain_share": 0.25, "exclude": ["note", "seen"]}') AS m2 \gset
RESET client_min_messages;
SELECT (parameters->>'epsilon_domains')::float8 AS epsilon_domains,
	   (parameters->'mechanisms'->4->>'count')::int AS histograms
FROM synth.ledger WHERE model_id = :m2;

-- tvae (DP-SGD) discovers the same way, before its row count
SET client_min_messages = warning;
SELECT synth_train('dd_people', 'tvae', '{"epsilon": 1, "exclude": ["note"], "epochs": 2, "seed": 3}') AS m3 \gset
RESET client_min_messages;
SELECT mechanism, epsilon,
	   (parameters->>'epsilon_domains')::float8 AS epsilon_domains,
	   abs((parameters->>'epsilon_count')::float8 - 0.007) < 1e-12 AS count_from_the_rest,
	   parameters->'mechanisms'->4->'labels_per_column' AS labels_per_column
FROM synth.ledger WHERE model_id = :m3;
SELECT count(*) FILTER (WHERE city LIKE 'Hamlet%') AS rare_cities
FROM synth_generate(NULL::dd_people, 1000, seed => 1);

-- public domains leave the whole budget to the model: no discovery
SELECT synth_train('dd_people', 'mst', '{"epsilon": 1, "exclude": ["note", "seen", "born", "score"],
	"bounds": {"age": [0, 120], "income": [0, 40000]}, "domains": {"city": ["Lyon", "Paris"]}}') AS m4 \gset
SELECT parameters ? 'epsilon_domains' AS discovered, jsonb_array_length(parameters->'mechanisms') AS mechanisms
FROM synth.ledger WHERE model_id = :m4;

DROP TABLE dd_people;
DROP EXTENSION synth CASCADE;
