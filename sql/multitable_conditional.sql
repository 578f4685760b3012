--
-- multitable_conditional: synth_materialize with per-table conditions
-- (predicates, category shares, row counts) and with quality gates.  The
-- database checks every constraint of the copy while rows go in; the
-- queries below check that every row satisfies its table's predicate and
-- that children follow their (conditioned) parents.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

-- churned customers place more orders, and larger ones
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
	id			serial PRIMARY KEY,
	age			int NOT NULL CHECK (age >= 18),
	segment		text NOT NULL,
	churned		bool NOT NULL
);
CREATE TABLE crm.orders (
	id			serial PRIMARY KEY,
	customer_id	int NOT NULL REFERENCES crm.customers,
	amount		numeric(10, 2) NOT NULL CHECK (amount > 0),
	status		text NOT NULL
);
CREATE TABLE crm.items (
	order_id	int NOT NULL REFERENCES crm.orders,
	line_no		int NOT NULL,
	qty			int NOT NULL CHECK (qty > 0),
	PRIMARY KEY (order_id, line_no)
);

SELECT setseed(0.5);
INSERT INTO crm.customers (age, segment, churned)
SELECT 18 + floor(random() * 60)::int, (ARRAY['basic', 'basic', 'basic', 'gold'])[1 + floor(random() * 4)::int],
	   random() < 0.3
FROM generate_series(1, 600);
INSERT INTO crm.orders (customer_id, amount, status)
SELECT c.id, round((20 + random() * 100 + CASE WHEN c.churned THEN 80 ELSE 0 END)::numeric, 2),
	   (ARRAY['open', 'done'])[1 + floor(random() * 2)::int]
FROM crm.customers c, generate_series(1, 6) g
WHERE g <= CASE WHEN c.churned THEN 5 ELSE 1 + c.id % 2 END;
INSERT INTO crm.items
SELECT o.id, g, 1 + floor(random() * 3)::int
FROM crm.orders o, generate_series(1, 3) g WHERE g <= 1 + o.id % 3;

SELECT synth_train_schema('crm') > 0 AS trained;

-- the old call shape still works: no conditions, no gates
SELECT table_name, rows > 0 AS filled FROM synth_materialize('crm', 'crm_plain', 0.5, 3) ORDER BY 1;

--
-- only churned customers, and their orders (and those orders' items)
--
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_churned', seed => 7,
					   conditions => '{"customers": {"where": "churned"}}') ORDER BY 1;
-- roots: scale x the real rows, every one satisfying the predicate
SELECT count(*) AS customers, count(*) FILTER (WHERE NOT churned) AS not_churned FROM crm_churned.customers;
-- every order's customer is a (churned) synthetic customer; churned customers
-- have more orders (5 each in the real rows, 1 or 2 for the others) and larger
-- ones, and so do the synthetic ones
SELECT count(*) FILTER (WHERE c.id IS NULL) AS orphan_orders FROM crm_churned.orders o
LEFT JOIN crm_churned.customers c ON c.id = o.customer_id;
SELECT (SELECT count(*) FROM crm_churned.orders)::float8 / (SELECT count(*) FROM crm_churned.customers) >
	   (SELECT count(*) FROM crm_plain.orders)::float8 / (SELECT count(*) FROM crm_plain.customers) + 0.5
	   AS more_orders_per_customer,
	   (SELECT avg(amount) FROM crm_churned.orders) > (SELECT avg(amount) FROM crm_plain.orders) + 20
	   AS larger_amounts;
SELECT count(*) FILTER (WHERE o.id IS NULL) AS orphan_items FROM crm_churned.items i
LEFT JOIN crm_churned.orders o ON o.id = i.order_id;

--
-- a predicate over two columns of the root, and one on a child table: every
-- row satisfies its own table's predicate
--
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_edge', scale => 0.5, seed => 8,
					   conditions => '{"customers": {"where": "age > 50 AND segment = ''gold''"},
									   "orders": {"where": "amount > 100 AND status = ''open''"}}') ORDER BY 1;
SELECT count(*) AS customers, count(*) FILTER (WHERE NOT (age > 50 AND segment = 'gold')) AS violating
FROM crm_edge.customers;
SELECT count(*) > 0 AS some_orders, count(*) FILTER (WHERE NOT (amount > 100 AND status = 'open')) AS violating
FROM crm_edge.orders;
-- a term over two columns is met by rejection
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_mixed', scale => 0.25, seed => 9,
					   conditions => '{"customers": {"where": "age + length(segment) > 60"}}')
WHERE table_name = 'customers';
SELECT count(*) AS customers, count(*) FILTER (WHERE age + length(segment) <= 60) AS violating
FROM crm_mixed.customers;

--
-- shares and row counts: rows sets a table's size (tables without a parent)
--
SELECT table_name, rows FROM synth_materialize('crm', 'crm_balanced', seed => 10,
	conditions => '{"customers": {"rebalance": {"segment": {"basic": 0.4, "gold": 0.6}}, "rows": 1000}}')
WHERE table_name = 'customers';
SELECT segment, abs(count(*) / 1000.0 - CASE segment WHEN 'gold' THEN 0.6 ELSE 0.4 END) < 0.03 AS share_kept
FROM crm_balanced.customers GROUP BY segment ORDER BY segment;
-- shares together with a predicate, on a child table
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_mix2', scale => 0.5, seed => 12,
					   conditions => '{"orders": {"where": "amount > 50", "rebalance": {"status": {"open": 0.9, "done": 0.1}}}}')
ORDER BY 1;
SELECT abs(count(*) FILTER (WHERE status = 'open') / count(*)::float8 - 0.9) < 0.03 AS open_share_kept,
	   count(*) FILTER (WHERE amount <= 50) AS violating
FROM crm_mix2.orders;
-- each order still follows its parent: churned customers' orders stay larger
SELECT avg(o.amount) FILTER (WHERE c.churned) > avg(o.amount) FILTER (WHERE NOT c.churned) + 40
	   AS parent_trend_kept
FROM crm_mix2.orders o JOIN crm_mix2.customers c ON c.id = o.customer_id;

--
-- errors: each before anything is created, naming what is wrong
--
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"orders": {"where": "amout > 1"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"orders": {"where": "customer_id = 3"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customers": {"where": "id < 10"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customers": {"where": "age > 1000"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customer": {"where": "churned"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customers": {"wher": "churned"}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"orders": {"rows": 10}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customers": {"rebalance": {"segment": {"gold": 0.5, "silver": 0.5}}}}');
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '["customers"]');
-- a condition over two columns that no row meets: rejection stops, with the rate it measured
SELECT * FROM synth_materialize('crm', 'crm_bad', conditions => '{"customers": {"where": "age + length(segment) > 500"}}');
SELECT count(*) AS left_behind FROM pg_namespace WHERE nspname = 'crm_bad';

--
-- gates: each table's synthetic rows against its real ones (those its
-- conditions select) by synth_report, the schema by synth_evaluate_schema;
-- a failure publishes nothing
--
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_gated', seed => 7,
					   gates => '{"detection_auc_max": 0.75, "quality_score_min": 0.8, "cardinality_shape_min": 0.8}')
ORDER BY 1;
-- the churned copy is measured against the real churned customers and their orders
SELECT table_name, rows > 0 AS filled
FROM synth_materialize('crm', 'crm_gated_churned', seed => 7, conditions => '{"customers": {"where": "churned"}}',
					   gates => '{"detection_auc_max": 0.75, "quality_score_min": 0.8}')
ORDER BY 1;
-- (against every real customer, the churned ones would not pass)
CREATE TEMP VIEW real_customers AS SELECT age, segment, churned FROM crm.customers;
CREATE TEMP VIEW churned_customers AS SELECT age, segment, churned FROM crm_gated_churned.customers;
SELECT (synth_report('real_customers', 'churned_customers')->'checks'->0->>'value')::float8 < 0.8 AS fails_against_all;
SELECT * FROM synth_materialize('crm', 'crm_refused', seed => 7, gates => '{"quality_score_min": 0.99}');
SELECT * FROM synth_materialize('crm', 'crm_refused', seed => 7, gates => '{"exact_copy_rate_max": 0.5}');
SELECT * FROM synth_materialize('crm', 'crm_refused', seed => 7, gates => '{"cardinality_shape_min": 0.999}');
SET synth.gates = '{"quality_score_min": 0.99}';
SELECT * FROM synth_materialize('crm', 'crm_refused', seed => 7);
-- the argument wins over the setting
SELECT count(*) AS tables FROM synth_materialize('crm', 'crm_gated2', seed => 7, gates => '{"quality_score_min": 0.5}');
RESET synth.gates;
SELECT * FROM synth_materialize('crm', 'crm_refused', gates => '{"detection_auc_mx": 0.75}');
SELECT * FROM synth_materialize('crm', 'crm_refused', gates => '{"tstr_ratio_min": 0.9}');
SELECT * FROM synth_materialize('crm', 'crm_refused', gates => '{"cardinality_shape_min": "high"}');
SELECT count(*) AS left_behind FROM pg_namespace WHERE nspname = 'crm_refused';

SET client_min_messages = warning;
DROP SCHEMA crm_gated, crm_gated_churned, crm_gated2 CASCADE;
DROP SCHEMA crm, crm_plain, crm_churned, crm_edge, crm_mixed, crm_balanced, crm_mix2 CASCADE;
DROP EXTENSION synth CASCADE;
