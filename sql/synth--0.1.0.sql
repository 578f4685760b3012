/* synth--0.1.0.sql: catalog and functions of the synth extension */

\echo Use "CREATE EXTENSION synth" to load this file. \quit

/*
 * The catalog lives in schema synth, owned by the extension's owner.  Users do
 * not write it directly: the C functions check the caller's privileges on the
 * source table and then write the catalog as its owner, so that a model row
 * and its weights are always written whole by synth itself.
 */
CREATE SCHEMA synth;

/*
 * Who may read what of the catalog (the row-level policies below, the
 * view synth.jobs).  These functions run as the querying role: they set
 * search_path, so that its own operators cannot change what they answer.
 *
 * The source table of a model: the table of the recorded oid if it still has
 * the recorded name, else the table of that schema and name (after pg_dump
 * and restore the oid differs), as synth_catalog_load finds it; NULL when
 * there is none.  Reads pg_class by name, so it checks no privilege.
 */
CREATE FUNCTION synth.source_oid(relid oid, schema_name name, table_name name)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid = $1 AND c.relname = $3),
		(SELECT c.oid FROM pg_catalog.pg_class c
		 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $2 AND c.relname = $3))
$$;

/* Can the current user read the table: SELECT on it, or on every column (as training asks)? */
CREATE FUNCTION synth.can_read_table(relid oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'synth_can_read_table'
LANGUAGE C STABLE STRICT;

CREATE TABLE synth.models (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source_schema	name NOT NULL,
	source_table	name NOT NULL,
	source_relid	oid NOT NULL,
	method			text NOT NULL,
	status			text NOT NULL DEFAULT 'ready'
		CHECK (status IN ('training', 'ready', 'failed')),
	created_at		timestamptz NOT NULL DEFAULT now(),
	created_by		name NOT NULL DEFAULT current_user,
	n_rows			bigint NOT NULL,
	spec			jsonb NOT NULL,
	weights			bytea NOT NULL,
	metrics			jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX models_source_idx ON synth.models (source_relid, id);

COMMENT ON TABLE synth.models IS 'trained synthetic-data models: one row per synth_train call';
COMMENT ON COLUMN synth.models.spec IS 'columns, types, encoders, method and options, as jsonb';
COMMENT ON COLUMN synth.models.weights IS 'model parameters in synth''s versioned binary format (magic SYNTHMDL)';

/*
 * Weights stay with the catalog owner.  A model's other columns are shown to
 * the roles that can read its source table, by row-level security (the
 * policy is at the end of this file, with the sharing of private models):
 * spec and metrics hold figures of the real rows.
 */
REVOKE ALL ON synth.models FROM PUBLIC;
GRANT USAGE ON SCHEMA synth TO PUBLIC;
GRANT SELECT (id, source_schema, source_table, source_relid, method, status,
			  created_at, created_by, n_rows, spec, metrics)
	ON synth.models TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('synth.models', '');
SELECT pg_catalog.pg_extension_config_dump('synth.models_id_seq', '');

CREATE FUNCTION synth_train(source regclass,
							method text DEFAULT 'auto',
							options jsonb DEFAULT '{}',
							epsilon float8 DEFAULT NULL,
							delta float8 DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'synth_train'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_train(regclass, text, jsonb, float8, float8) IS
	'train a generative model over a table; returns the model id (epsilon, delta: the options of that name)';

CREATE FUNCTION synth_generate(source anyelement,
							   n bigint,
							   seed bigint DEFAULT NULL,
							   condition text DEFAULT NULL,
							   rebalance jsonb DEFAULT NULL)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'synth_generate'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_generate(anyelement, bigint, bigint, text, jsonb) IS
	'generate n synthetic rows typed like the table from its latest ready model, optionally satisfying a condition or with given category shares';

CREATE FUNCTION synth_generate(model_id bigint,
							   source anyelement,
							   n bigint,
							   seed bigint DEFAULT NULL,
							   condition text DEFAULT NULL,
							   rebalance jsonb DEFAULT NULL)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'synth_generate_model'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_generate(bigint, anyelement, bigint, bigint, text, jsonb) IS
	'generate n synthetic rows typed like the table, from the given model';

CREATE FUNCTION synth_evaluate("real" regclass, synthetic regclass)
RETURNS TABLE (column_name text, metric text, score float8)
AS 'MODULE_PATHNAME', 'synth_evaluate'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_evaluate(regclass, regclass) IS
	'SDMetrics-style fidelity of a synthetic table against a real one';

CREATE FUNCTION synth_backend()
RETURNS text
AS 'MODULE_PATHNAME', 'synth_backend'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_backend() IS
	'the compute backend synth.device selects here: cpu, or gpu with the device name';

/* ---- multi-table (issue 4) ---- */

/*
 * A model set: one copula per table of a schema, trained together by
 * synth_train_schema, so that synth_materialize uses a consistent set.
 */
CREATE TABLE synth.model_sets (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source_schema	name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	created_by		name NOT NULL DEFAULT current_user,
	options			jsonb NOT NULL DEFAULT '{}',
	plan			jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX model_sets_source_idx ON synth.model_sets (source_schema, id);

CREATE TABLE synth.model_set_members (
	set_id			bigint NOT NULL REFERENCES synth.model_sets (id) ON DELETE CASCADE,
	position		int NOT NULL,
	source_table	name NOT NULL,
	source_relid	oid NOT NULL,
	model_id		bigint REFERENCES synth.models (id) ON DELETE CASCADE,
	context_fk		name,
	context_table	name,
	n_rows			bigint NOT NULL,
	n_orphans		bigint NOT NULL DEFAULT 0,
	columns			jsonb NOT NULL,
	PRIMARY KEY (set_id, position)
);

COMMENT ON TABLE synth.model_sets IS 'model sets: one row per synth_train_schema call';
COMMENT ON COLUMN synth.model_sets.plan IS 'generation order, and how each foreign key is filled (context, degree, second_pass)';
COMMENT ON TABLE synth.model_set_members IS 'the tables of a model set, parents first, with their models (NULL: the table was empty)';
COMMENT ON COLUMN synth.model_set_members.columns IS 'the columns the table''s model was trained on: own, context (parent''s), children (counts per foreign key), fk_is_null';

REVOKE ALL ON synth.model_sets, synth.model_set_members FROM PUBLIC;
GRANT SELECT ON synth.model_sets, synth.model_set_members TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('synth.model_sets', '');
SELECT pg_catalog.pg_extension_config_dump('synth.model_sets_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('synth.model_set_members', '');

CREATE FUNCTION synth_train_schema(source_schema name, options jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'synth_train_schema'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_train_schema(name, jsonb) IS
	'train every table of a schema along its foreign keys, parents first; returns the model set id';

CREATE FUNCTION synth_train_tables(tables regclass[], options jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'synth_train_tables'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_train_tables(regclass[], jsonb) IS
	'train the given tables of one schema along their foreign keys; returns the model set id';

CREATE FUNCTION synth_materialize(source_schema name,
								  target_schema name,
								  scale float8 DEFAULT 1.0,
								  seed bigint DEFAULT NULL,
								  conditions jsonb DEFAULT NULL,
								  gates jsonb DEFAULT NULL)
RETURNS TABLE (table_name name, rows bigint)
AS 'MODULE_PATHNAME', 'synth_materialize'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_materialize(name, name, float8, bigint, jsonb, jsonb) IS
	'create target_schema with the source schema''s tables and constraints and fill it with synthetic rows from its latest model set, optionally per-table conditions and quality gates';

CREATE FUNCTION synth_evaluate_schema("real" name, synthetic name)
RETURNS TABLE (table_name text, column_name text, metric text, score float8)
AS 'MODULE_PATHNAME', 'synth_evaluate_schema'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_evaluate_schema(name, name) IS
	'multi-table fidelity of a synthetic schema: per table as synth_evaluate, children per parent, parent-child trends';

/* ---- background jobs (issue 6) ---- */

/*
 * synth.job_queue holds every job, queued to ended; synth.jobs shows it with
 * the live progress of the running ones.  Rows are written by the functions
 * below (as the catalog's owner, after checking the caller) and by the job
 * workers; nobody writes them directly.
 */
CREATE TABLE synth.job_queue (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source_relid	oid NOT NULL,
	source_schema	name NOT NULL,
	source_table	name NOT NULL,
	method			text NOT NULL,
	options			jsonb NOT NULL DEFAULT '{}',
	settings		jsonb NOT NULL DEFAULT '{}',
	state			text NOT NULL DEFAULT 'queued'
		CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	phase			text,
	rows_read		bigint,
	epoch			integer,
	epochs			integer,
	losses			jsonb,
	submitted_by	regrole NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	started_at		timestamptz,
	finished_at		timestamptz,
	worker_pid		integer,
	attempts		integer NOT NULL DEFAULT 0,
	error			text,
	model_id		bigint,
	cancel_requested boolean NOT NULL DEFAULT false
);

CREATE INDEX job_queue_open_idx ON synth.job_queue (id) WHERE state IN ('queued', 'running');

COMMENT ON TABLE synth.job_queue IS 'background training jobs; read them through synth.jobs';
COMMENT ON COLUMN synth.job_queue.settings IS 'synth.* settings of the session that queued the job; the worker trains with them';

/* Checkpoints of running trainings with epochs: one row per job, deleted when it ends. */
CREATE TABLE synth.checkpoints (
	job_id			bigint PRIMARY KEY REFERENCES synth.job_queue (id) ON DELETE CASCADE,
	epoch			integer NOT NULL,
	state			bytea NOT NULL,
	attempt			integer NOT NULL DEFAULT 1,	-- the job's attempt that saved it
	created_at		timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE synth.checkpoints IS 'model, optimizer, epoch and RNG state of running background trainings';

-- network values do not compress: storing them as they are halves a checkpoint's time
ALTER TABLE synth.checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;

REVOKE ALL ON synth.job_queue, synth.checkpoints FROM PUBLIC;

CREATE FUNCTION synth_job_progress(OUT job_id bigint, OUT pid integer, OUT phase text,
								   OUT rows_read bigint, OUT epoch integer, OUT epochs integer,
								   OUT losses jsonb, OUT updated_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'synth_job_progress'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_job_progress() IS
	'live progress of the jobs that background workers run in this database';

CREATE VIEW synth.jobs AS
SELECT q.id, q.source_schema, q.source_table, q.source_relid, q.method, q.options, q.state,
	   coalesce(p.phase, q.phase) AS phase,
	   coalesce(p.rows_read, q.rows_read) AS rows_read,
	   coalesce(p.epoch, q.epoch) AS epoch,
	   coalesce(p.epochs, q.epochs) AS epochs,
	   coalesce(p.losses, q.losses) AS losses,
	   q.submitted_by, q.created_at, q.started_at, q.finished_at, q.worker_pid, q.attempts,
	   q.error, q.model_id, q.cancel_requested, q.settings
FROM synth.job_queue q
LEFT JOIN synth_job_progress() p ON p.job_id = q.id AND q.state = 'running'
-- a role sees the jobs it submitted (or a role it is a member of did) and
-- the jobs of the tables it can read
WHERE pg_catalog.pg_has_role(q.submitted_by, 'MEMBER')
   OR coalesce(synth.can_read_table(synth.source_oid(q.source_relid, q.source_schema,
													   q.source_table)), false);

COMMENT ON VIEW synth.jobs IS 'background training jobs: state, progress, losses, errors, resulting model';

GRANT SELECT ON synth.jobs TO PUBLIC;

CREATE FUNCTION synth_train_async(source regclass,
								  method text DEFAULT 'auto',
								  options jsonb DEFAULT '{}',
								  epsilon float8 DEFAULT NULL,
								  delta float8 DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'synth_train_async'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_train_async(regclass, text, jsonb, float8, float8) IS
	'queue a training of the table for a background worker; returns the job id';

CREATE FUNCTION synth_train_schema_async(source_schema name,
										 options jsonb DEFAULT '{}',
										 method text DEFAULT 'auto')
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'synth_train_schema_async'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_train_schema_async(name, jsonb, text) IS
	'queue a training of every table of the schema that has rows, parents before children; returns the job ids';

CREATE FUNCTION synth_job_cancel(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'synth_job_cancel'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION synth_job_cancel(bigint) IS
	'cancel a queued or running job; false if it had already ended';

CREATE FUNCTION synth_job_wait(id bigint, timeout interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'synth_job_wait'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_job_wait(bigint, interval) IS
	'wait until the job ends and return its state (after timeout, the state it is in)';

/* ---- quality reports and gates (issue 7) ---- */

CREATE FUNCTION synth_report(model_id bigint,
							 target text DEFAULT NULL,
							 options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'synth_report_model'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_report(bigint, text, jsonb) IS
	'fidelity, utility and privacy of freshly generated rows of a model against its training and holdout rows; stored in synth.models.metrics';

/*
 * Tables are named by text ('schema.table', as regclass reads it): with
 * regclass parameters, synth_report('t', 't_synth') would resolve to the
 * model form, and synth_report(3, 'income', '{}') would be ambiguous, since
 * integers cast to regclass implicitly.
 */
CREATE FUNCTION synth_report("real" text,
							 synthetic text,
							 target text DEFAULT NULL,
							 holdout text DEFAULT NULL,
							 options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'synth_report_tables'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_report(text, text, text, text, jsonb) IS
	'fidelity, utility and privacy of a synthetic table against the real rows it was made from (and real rows it never saw)';

/* The readable form: one line per figure, from a report computed now or stored. */
CREATE FUNCTION synth_report_table(report jsonb)
RETURNS TABLE (pillar text, metric text, value float8, threshold text, passed boolean)
LANGUAGE sql IMMUTABLE STRICT
AS $$
	SELECT c->>'pillar', c->>'metric', (c->>'value')::float8, c->>'threshold',
		   (c->>'passed')::boolean
	FROM jsonb_array_elements(report->'checks') WITH ORDINALITY AS t(c, n)
	ORDER BY n
$$;

COMMENT ON FUNCTION synth_report_table(jsonb) IS
	'a quality report as lines: pillar, metric, value, threshold, passed';

CREATE FUNCTION synth_report_table(model_id bigint,
								   target text DEFAULT NULL,
								   options jsonb DEFAULT '{}')
RETURNS TABLE (pillar text, metric text, value float8, threshold text, passed boolean)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM synth_report_table(synth_report(model_id, target, options)) $$;

COMMENT ON FUNCTION synth_report_table(bigint, text, jsonb) IS
	'synth_report of a model as lines: pillar, metric, value, threshold, passed';

CREATE FUNCTION synth_report_table("real" text,
								   synthetic text,
								   target text DEFAULT NULL,
								   holdout text DEFAULT NULL,
								   options jsonb DEFAULT '{}')
RETURNS TABLE (pillar text, metric text, value float8, threshold text, passed boolean)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM synth_report_table(synth_report("real", synthetic, target, holdout, options)) $$;

COMMENT ON FUNCTION synth_report_table(text, text, text, text, jsonb) IS
	'synth_report of two tables as lines: pillar, metric, value, threshold, passed';

CREATE FUNCTION synth_check_gates(model_id bigint, gates jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'synth_check_gates'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_check_gates(bigint, jsonb) IS
	'raise an error naming the failing figure unless the model''s stored quality report meets the gates (NULL: those of synth.gates)';

CREATE FUNCTION synth_check_gates(report jsonb, gates jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'synth_check_report_gates'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_check_gates(jsonb, jsonb) IS
	'raise an error naming the failing figure unless a report (as synth_report returns it) meets the gates (NULL: those of synth.gates)';

/* ---- differential privacy (issue 5) ---- */

/*
 * A table's privacy budget: the cap on the sum of the epsilons (and of the
 * deltas) of every private training of it, and what has been spent.  Set by
 * the table's owner with synth_set_budget; spent by trainings, in their own
 * transaction (src/ledger.c).
 */
CREATE TABLE synth.budgets (
	relid			oid PRIMARY KEY,
	source_schema	name NOT NULL,
	source_table	name NOT NULL,
	epsilon_cap		float8 NOT NULL CHECK (epsilon_cap > 0),
	delta			float8 NOT NULL CHECK (delta > 0 AND delta < 1),
	epsilon_spent	float8 NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
	delta_spent		float8 NOT NULL DEFAULT 0 CHECK (delta_spent >= 0),
	owner			name NOT NULL,
	set_at			timestamptz NOT NULL DEFAULT now()
);

/* Every spend: which model, which mechanism with which parameters, and its cost. */
CREATE TABLE synth.ledger (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id		bigint,
	relid			oid NOT NULL,
	source_schema	name NOT NULL,
	source_table	name NOT NULL,
	mechanism		text NOT NULL,
	parameters		jsonb NOT NULL,
	epsilon			float8 NOT NULL,
	delta			float8 NOT NULL,
	role			name NOT NULL,
	spent_at		timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ledger_relid_idx ON synth.ledger (relid, id);

COMMENT ON TABLE synth.budgets IS 'privacy budget of each table: epsilon and delta caps, and what private trainings spent (sequential composition)';
COMMENT ON TABLE synth.ledger IS 'every privacy spend: model, table, mechanism, parameters, epsilon, delta, role, time';
COMMENT ON COLUMN synth.ledger.parameters IS 'the accounting (rho, its epsilon) and each mechanism''s parameters';

/* Only the catalog's owner writes them; a role reads the rows of the tables it can read. */
REVOKE ALL ON synth.budgets, synth.ledger FROM PUBLIC;
GRANT SELECT ON synth.budgets, synth.ledger TO PUBLIC;
ALTER TABLE synth.budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE synth.ledger ENABLE ROW LEVEL SECURITY;
-- found by oid, or by name once pg_dump and restore changed the oid
CREATE POLICY budgets_readers ON synth.budgets FOR SELECT
	USING (coalesce(synth.can_read_table(synth.source_oid(relid, source_schema, source_table)), false));
CREATE POLICY ledger_readers ON synth.ledger FOR SELECT
	USING (coalesce(synth.can_read_table(synth.source_oid(relid, source_schema, source_table)), false));

SELECT pg_catalog.pg_extension_config_dump('synth.budgets', '');
SELECT pg_catalog.pg_extension_config_dump('synth.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('synth.ledger_id_seq', '');

CREATE FUNCTION synth_set_budget(source regclass,
								 epsilon float8,
								 delta float8 DEFAULT 1e-6)
RETURNS void
AS 'MODULE_PATHNAME', 'synth_set_budget'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_set_budget(regclass, float8, float8) IS
	'set the privacy budget of a table (its owner only): the total epsilon and delta its private trainings may spend';

CREATE FUNCTION synth_budget(source regclass)
RETURNS TABLE (epsilon_cap float8, delta float8, epsilon_spent float8, delta_spent float8,
			   epsilon_remaining float8)
AS 'MODULE_PATHNAME', 'synth_budget'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_budget(regclass) IS
	'the privacy budget of a table: caps, spent, remaining (no row: no budget set)';

/* ---- sharing private models, and who sees which model (issue 5) ---- */

/*
 * May the current user see a model's row: it can read the model's source
 * table; for a model of a schema's model set (trained over a view that joins
 * a parent's columns), every table of the set.
 */
CREATE FUNCTION synth.can_read_model(model_id bigint, relid oid, schema_name name, table_name name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN NOT EXISTS (SELECT 1 FROM synth.model_set_members mm WHERE mm.model_id = $1)
		THEN coalesce(synth.can_read_table(synth.source_oid($2, $3, $4)), false)
		ELSE NOT EXISTS (
			SELECT 1
			FROM synth.model_set_members mm
			JOIN synth.model_set_members o ON o.set_id = mm.set_id
			JOIN synth.model_sets s ON s.id = o.set_id
			WHERE mm.model_id = $1
			  AND NOT coalesce(synth.can_read_table(synth.source_oid(o.source_relid, s.source_schema,
																	  o.source_table)), false))
	END
$$;

/*
 * Row-level security on synth.models: a role sees the models of the tables
 * it can read.  synth's own C code reads and writes the catalog as its
 * owner, to which the policy does not apply.
 */
ALTER TABLE synth.models ENABLE ROW LEVEL SECURITY;
CREATE POLICY models_readers ON synth.models FOR SELECT
	USING (synth.can_read_model(id, source_relid, source_schema, source_table));

/*
 * Generate grants: a table's owner lets a role generate from a
 * differentially private model of the table, with no privilege on the table
 * (synth_grant_generate).  The role is recorded by oid and name, with the
 * system identifier of the cluster: see src/sharing.c for how a grant
 * survives pg_dump and restore.
 */
CREATE TABLE synth.model_grants (
	model_id		bigint NOT NULL REFERENCES synth.models (id) ON DELETE CASCADE,
	grantee			oid NOT NULL,
	grantee_name	name NOT NULL,
	cluster			bigint NOT NULL,
	granted_by		name NOT NULL,
	granted_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (model_id, grantee_name)
);

COMMENT ON TABLE synth.model_grants IS 'roles that may generate from a private model without reading its table; read them through synth.generate_grants';
COMMENT ON COLUMN synth.model_grants.cluster IS 'system identifier of the cluster the grant was made in: there it holds for the role of that oid and name, elsewhere (restored) for the role of that name';

REVOKE ALL ON synth.model_grants FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('synth.model_grants', '');

/* The role a grant holds for now, NULL when none (its role was dropped). */
CREATE FUNCTION synth.grant_role(grantee oid, grantee_name name, cluster bigint)
RETURNS regrole
AS 'MODULE_PATHNAME', 'synth_grant_role'
LANGUAGE C STABLE STRICT;

/* The grants a role may see: those of the tables it reads, and its own. */
CREATE VIEW synth.generate_grants AS
SELECT g.model_id, m.source_schema, m.source_table, m.method,
	   (m.spec->'privacy'->>'epsilon')::float8 AS epsilon,
	   (m.spec->'privacy'->>'delta')::float8 AS delta,
	   g.grantee_name AS grantee,
	   synth.grant_role(g.grantee, g.grantee_name, g.cluster) IS NOT NULL AS active,
	   g.granted_by, g.granted_at
FROM synth.model_grants g
JOIN synth.models m ON m.id = g.model_id
WHERE coalesce(synth.can_read_table(synth.source_oid(m.source_relid, m.source_schema, m.source_table)), false)
   OR coalesce(pg_catalog.pg_has_role(synth.grant_role(g.grantee, g.grantee_name, g.cluster), 'USAGE'), false);

COMMENT ON VIEW synth.generate_grants IS 'who may generate from which private model without reading its table (to the table''s readers, and to each grantee its own)';

GRANT SELECT ON synth.generate_grants TO PUBLIC;

CREATE FUNCTION synth_grant_generate(model bigint, role regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'synth_grant_generate'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_grant_generate(bigint, regrole) IS
	'let a role generate from a differentially private model without privileges on its table (the table''s owner only)';

CREATE FUNCTION synth_revoke_generate(model bigint, role regrole DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'synth_revoke_generate'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION synth_revoke_generate(bigint, regrole) IS
	'remove a role''s generate grant on a model (NULL: every grant of it; the table''s owner only); returns the grants removed';
