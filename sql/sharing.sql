--
-- sharing: who may use and see a model.  The readers of a model's source
-- table may use it and see its catalog row; nobody else sees its row, its
-- spec or its metrics, and nobody reads its weights.  The table's owner may
-- grant a differentially private model to a role, which then generates from
-- it without any privilege on the table; a model trained without an epsilon
-- cannot be granted.
--
CREATE EXTENSION synth;

CREATE ROLE regress_share_owner;
CREATE ROLE regress_share_grantee;
CREATE ROLE regress_share_outsider;
CREATE ROLE regress_share_member;
GRANT regress_share_grantee TO regress_share_member;
CREATE SCHEMA share AUTHORIZATION regress_share_owner;
GRANT USAGE ON SCHEMA share TO regress_share_grantee, regress_share_outsider;

SET ROLE regress_share_owner;
CREATE TABLE share.people (
	id		serial PRIMARY KEY,
	age		int NOT NULL CHECK (age BETWEEN 18 AND 90),
	sex		text NOT NULL,
	city	text,
	income	numeric(10, 2)
);
SELECT setseed(0.25);
INSERT INTO share.people (age, sex, city, income)
SELECT a, CASE WHEN random() < 0.6 THEN 'f' ELSE 'm' END,
	   CASE WHEN a < 40 THEN 'Lyon' WHEN random() < 0.7 THEN 'Paris' ELSE 'Nice' END,
	   round((a * 150 + random() * 3000)::numeric, 2)
FROM (SELECT 18 + (random() * random() * 72)::int AS a FROM generate_series(1, 2000)) s;
RESET ROLE;

-- the owner trains a model without DP and a private one (the owner sets the budget)
SET ROLE regress_share_owner;
SELECT synth_train('share.people', 'copula', '{"seed": 1}') AS plain \gset
SELECT synth_set_budget('share.people', 2);
SELECT synth_train('share.people', 'mst', '{"epsilon": 1, "bounds": {"income": [0, 20000]},
	"domains": {"sex": ["f", "m"], "city": ["Lyon", "Paris", "Nice"]}}') AS private \gset
SELECT count(*) AS rows FROM synth_generate(NULL::share.people, 10, seed => 1);
SELECT count(*) AS models_seen, bool_and(spec IS NOT NULL) AS specs_seen FROM synth.models;
RESET ROLE;

-- ---------------------------------------------------------------- the outsider

SET ROLE regress_share_outsider;
SELECT * FROM synth_generate(NULL::share.people, 5);
SELECT * FROM synth_generate(:plain, NULL::share.people, 5);
SELECT * FROM synth_generate(:private, NULL::share.people, 5);
SELECT synth_report(:plain);
SELECT synth_check_gates(:plain, '{"detection_auc_max": 1}');
-- the catalog shows it no model of the table: no row, so no spec or metrics
SELECT count(*) AS models_seen FROM synth.models;
SELECT spec FROM synth.models WHERE id = :plain;
SELECT metrics FROM synth.models WHERE id = :private;
SELECT weights FROM synth.models WHERE id = :plain;
-- and cannot grant, or write the grants
SELECT synth_grant_generate(:private, 'regress_share_outsider');
INSERT INTO synth.model_grants VALUES (:private, 1, 'regress_share_outsider', 1, 'x');
SELECT count(*) AS grants_seen FROM synth.generate_grants;
RESET ROLE;

-- ---------------------------------------------------------------- granting

-- a model without DP is refused, with the way to share it
SET ROLE regress_share_owner;
SELECT synth_grant_generate(:plain, 'regress_share_grantee');
-- a private one is granted; granting twice keeps one grant
SELECT synth_grant_generate(:private, 'regress_share_grantee');
SELECT synth_grant_generate(:private, 'regress_share_grantee');
SELECT model_id = :private AS the_model, source_table, method, epsilon, grantee, active,
	   granted_by
FROM synth.generate_grants;
-- bad arguments
SELECT synth_grant_generate(NULL, 'regress_share_grantee');
SELECT synth_grant_generate(:private, NULL);
SELECT synth_grant_generate(999999, 'regress_share_grantee');
SELECT synth_grant_generate(:private, 'regress_share_nobody');
RESET ROLE;

-- ---------------------------------------------------------------- the grantee

SET ROLE regress_share_grantee;
-- generates from the granted model, by id and as the table's newest it may use,
-- without any privilege on the table
SELECT has_table_privilege('share.people', 'SELECT') AS can_select;
SELECT * FROM share.people LIMIT 1;
SELECT count(*) AS rows, count(*) FILTER (WHERE sex NOT IN ('f', 'm')) AS bad_sex,
	   count(*) FILTER (WHERE income < 0 OR income > 20000) AS bad_income
FROM synth_generate(:private, NULL::share.people, 500, seed => 2);
SELECT count(*) AS differing FROM (
	SELECT * FROM synth_generate(NULL::share.people, 200, seed => 3)
	EXCEPT ALL
	SELECT * FROM synth_generate(:private, NULL::share.people, 200, seed => 3)) d;
SELECT count(*) AS rows FROM synth_generate(:private, NULL::share.people, 50,
	seed => 4, condition => 'age > 50');
-- but not from the model without DP, nor a report (it reads real rows)
SELECT * FROM synth_generate(:plain, NULL::share.people, 5);
SELECT synth_report(:private);
-- sees its grant, not the catalog rows (the metrics of even a private model
-- may hold figures of real rows: stored quality reports)
SELECT model_id = :private AS the_model, grantee, active FROM synth.generate_grants;
SELECT count(*) AS models_seen FROM synth.models;
-- quality gates would show whether real-row figures pass: refused
SET synth.gates = '{"detection_auc_max": 1}';
SELECT * FROM synth_generate(:private, NULL::share.people, 5);
RESET synth.gates;
-- cannot pass the grant on, nor revoke it
SELECT synth_grant_generate(:private, 'regress_share_outsider');
SELECT synth_revoke_generate(:private, 'regress_share_grantee');
RESET ROLE;

-- a member of the granted role inherits the grant
SET ROLE regress_share_member;
SELECT count(*) AS rows FROM synth_generate(:private, NULL::share.people, 20, seed => 5);
RESET ROLE;

-- ---------------------------------------------------------------- revoking

SET ROLE regress_share_owner;
SELECT synth_revoke_generate(:private, 'regress_share_grantee') AS revoked;
SELECT synth_revoke_generate(:private, 'regress_share_grantee') AS revoked_again;
RESET ROLE;
SET ROLE regress_share_grantee;
SELECT * FROM synth_generate(:private, NULL::share.people, 5);
SELECT count(*) AS grants_seen FROM synth.generate_grants;
RESET ROLE;

-- a reader of the table uses every model and sees its row, spec and metrics,
-- never the weights
GRANT SELECT ON share.people TO regress_share_outsider;
SET ROLE regress_share_outsider;
SELECT count(*) AS rows FROM synth_generate(:plain, NULL::share.people, 10, seed => 1);
SELECT count(*) AS models_seen, bool_and(spec ? 'columns') AS specs_seen,
	   bool_and(metrics IS NOT NULL) AS metrics_seen FROM synth.models;
SELECT weights FROM synth.models WHERE id = :plain;
RESET ROLE;

-- synth reads and writes its catalog as the catalog's owner: a caller's own
-- operators, first on its search_path, are not used there (they would run
-- with the owner's rights)
CREATE SCHEMA regress_share_ops AUTHORIZATION regress_share_outsider;
SET ROLE regress_share_outsider;
CREATE FUNCTION regress_share_ops.eq(a int8, b int8) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		RAISE NOTICE 'operator ran as the superuser %', current_user;
	END IF;
	RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE FUNCTION regress_share_ops.eq(a oid, b oid) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		RAISE NOTICE 'operator ran as the superuser %', current_user;
	END IF;
	RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR regress_share_ops.= (LEFTARG = int8, RIGHTARG = int8, FUNCTION = regress_share_ops.eq);
CREATE OPERATOR regress_share_ops.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = regress_share_ops.eq);
SET search_path = regress_share_ops, public, pg_catalog;
SELECT count(*) AS rows FROM synth_generate(NULL::share.people, 10, seed => 1);
SELECT synth_train('share.people', 'mst', '{"epsilon": 0.5, "bounds": {"income": [0, 20000]},
	"domains": {"sex": ["f", "m"], "city": ["Lyon", "Paris", "Nice"]}}') > 0 AS trained_privately;
SELECT synth_report(:plain, options => '{"sample_rows": 500}') ? 'checks' AS reported;
-- a schema's training (model sets) too (the jobs' queue, which needs synth
-- preloaded, writes its catalog the same way: test/t)
CREATE TABLE regress_share_ops.t (id int8 PRIMARY KEY, v int);
INSERT INTO regress_share_ops.t SELECT g, g % 3 FROM generate_series(1, 50) g;
SELECT synth_train_schema('regress_share_ops', '{"seed": 1}') > 0 AS schema_trained;
RESET search_path;
RESET ROLE;
DROP SCHEMA regress_share_ops CASCADE;
REVOKE SELECT ON share.people FROM regress_share_outsider;

-- a role dropped and created again under the same name does not inherit a grant
SELECT synth_grant_generate(:private, 'regress_share_outsider');
REVOKE USAGE ON SCHEMA share FROM regress_share_outsider;
DROP ROLE regress_share_outsider;
SELECT grantee, active FROM synth.generate_grants;
CREATE ROLE regress_share_outsider;
GRANT USAGE ON SCHEMA share TO regress_share_outsider;
SELECT grantee, active FROM synth.generate_grants;
SET ROLE regress_share_outsider;
SELECT * FROM synth_generate(:private, NULL::share.people, 5);
RESET ROLE;
-- granted again, it holds
SELECT synth_grant_generate(:private, 'regress_share_outsider');
SELECT grantee, active FROM synth.generate_grants;
SET ROLE regress_share_outsider;
SELECT count(*) AS rows FROM synth_generate(:private, NULL::share.people, 5, seed => 6);
RESET ROLE;
-- restored by pg_dump into another cluster, where the role's oid differs
-- (here: another oid and another cluster's identifier), it holds for the
-- role of that name
UPDATE synth.model_grants SET grantee = 1, cluster = 0;
SELECT grantee, active FROM synth.generate_grants;
SET ROLE regress_share_outsider;
SELECT count(*) AS rows FROM synth_generate(:private, NULL::share.people, 5, seed => 6);
RESET ROLE;
-- in the cluster it was made in, another oid is another role
UPDATE synth.model_grants SET cluster = (SELECT system_identifier FROM pg_control_system());
SELECT grantee, active FROM synth.generate_grants;

-- the models of a model set: seen by the roles that read every table of the set
SET ROLE regress_share_owner;
CREATE TABLE share.visits (id serial PRIMARY KEY, person int REFERENCES share.people,
						   minutes int NOT NULL);
INSERT INTO share.visits (person, minutes)
SELECT 1 + (g * 7) % 2000, 10 + g % 50 FROM generate_series(1, 3000) g;
SELECT synth_train_schema('share') > 0 AS trained_set;
GRANT SELECT ON share.people TO regress_share_grantee;
RESET ROLE;
SET ROLE regress_share_grantee;
SELECT source_table FROM synth.models ORDER BY id;
RESET ROLE;
GRANT SELECT ON share.visits TO regress_share_grantee;
SET ROLE regress_share_grantee;
SELECT source_table FROM synth.models ORDER BY id;
RESET ROLE;

-- grants go with their model
DELETE FROM synth.models WHERE id = :private;
SELECT count(*) AS grants_left FROM synth.model_grants;

DROP SCHEMA share CASCADE;
DROP EXTENSION synth CASCADE;
DROP ROLE regress_share_owner;
DROP ROLE regress_share_member;
DROP ROLE regress_share_grantee;
DROP ROLE regress_share_outsider;
