--
-- multitable: train a schema along its foreign keys and materialize a
-- synthetic copy; the database checks every constraint while rows go in.
--
CREATE EXTENSION synth;
SET synth.device = 'cpu';

-- one parent, one child: customers and their orders
CREATE SCHEMA shop;
CREATE TYPE shop.status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE shop.customers (
	id			serial PRIMARY KEY,
	age			int NOT NULL CHECK (age >= 18),
	city		text NOT NULL
);
CREATE TABLE shop.orders (
	id			serial PRIMARY KEY,
	customer_id	int NOT NULL REFERENCES shop.customers,
	amount		numeric(10, 2) NOT NULL CHECK (amount > 0),
	status		shop.status NOT NULL
);
SELECT setseed(0.5);
INSERT INTO shop.customers (age, city)
SELECT 18 + floor(random() * 60)::int, (ARRAY['Paris', 'Lyon', 'Nice'])[1 + floor(random() * 3)::int]
FROM generate_series(1, 300);
-- older customers have more orders, and larger ones
INSERT INTO shop.orders (customer_id, amount, status)
SELECT c.id, round((c.age * 2 + random() * 50)::numeric, 2) + 1,
	   (ARRAY['new', 'paid', 'shipped'])[1 + floor(random() * 3)::int]::shop.status
FROM shop.customers c, generate_series(1, 10) g WHERE g <= c.age / 10;

SELECT synth_train_schema('shop') > 0 AS trained;
SELECT position, source_table, context_fk, context_table, n_rows, n_orphans,
	   (SELECT string_agg(c->>'name' || ':' || (c->>'role'), ', ') FROM jsonb_array_elements(columns) c) AS columns
FROM synth.model_set_members m JOIN synth.model_sets s ON s.id = m.set_id
WHERE s.source_schema = 'shop' ORDER BY position;
SELECT plan FROM synth.model_sets WHERE source_schema = 'shop';
-- the members' models are not taken for the tables' own
SELECT source_schema, source_table FROM synth.models ORDER BY id;

-- roots get scale x their rows; children as many as their parents' counts say
SELECT table_name, CASE WHEN table_name = 'customers' THEN rows::text
						ELSE (rows BETWEEN 1200 AND 1500)::text END AS rows
FROM synth_materialize('shop', 'shop_synth', seed => 1) ORDER BY table_name;

-- the same DDL: types, constraints, foreign keys, sequences of the copy
SELECT c.relname, pg_get_constraintdef(k.oid) AS constraint_def
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = 'shop_synth'::regnamespace ORDER BY 1, 2;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'shop_synth.orders'::regclass AND attname = 'status';
SELECT pg_get_serial_sequence('shop_synth.orders', 'id') AS sequence,
	   nextval(pg_get_serial_sequence('shop_synth.orders', 'id')) > (SELECT max(id) FROM shop_synth.orders) AS past_keys;

-- every foreign key points at a synthetic parent; keys are fresh
SELECT count(*) AS orphans FROM shop_synth.orders o
WHERE NOT EXISTS (SELECT 1 FROM shop_synth.customers c WHERE c.id = o.customer_id);
SELECT min(id) > (SELECT max(id) FROM shop.customers) AS fresh_keys FROM shop_synth.customers;
-- children per parent and the parent-child trends survive
SELECT corr(age, n) > 0.8 AS older_more_orders
FROM (SELECT c.age, count(o.id) AS n FROM shop_synth.customers c
	  LEFT JOIN shop_synth.orders o ON o.customer_id = c.id GROUP BY c.id, c.age) s;
SELECT corr(c.age, o.amount) > 0.7 AS older_larger_orders
FROM shop_synth.customers c JOIN shop_synth.orders o ON o.customer_id = c.id;

-- the same seed gives the same copy
SELECT count(*) FROM synth_materialize('shop', 'shop_synth2', seed => 1);
SELECT count(*) AS differ FROM (
	(SELECT * FROM shop_synth.orders EXCEPT SELECT id, customer_id, amount, status::text::shop_synth.status FROM shop_synth2.orders)
) d;

DROP SCHEMA shop, shop_synth, shop_synth2 CASCADE;
DROP EXTENSION synth CASCADE;
