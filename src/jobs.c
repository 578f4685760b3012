/*-------------------------------------------------------------------------
 *
 * jobs.c
 *	  SQL functions of the background jobs: synth_train_async,
 *	  synth_train_schema_async, synth_job_cancel, synth_job_wait and the live
 *	  progress that synth.jobs shows.
 *
 * A job is a row of synth.job_queue, written as the catalog's owner after the
 * caller's privileges on the table were checked; the row records the caller,
 * as whom the worker trains.  The launcher is told of new jobs, and running
 * jobs are interrupted for a cancel, when the caller's transaction commits:
 * a job queued or cancelled in a transaction that rolls back never was.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "worker.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc_tables.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(synth_train_async);
PG_FUNCTION_INFO_V1(synth_train_schema_async);
PG_FUNCTION_INFO_V1(synth_job_cancel);
PG_FUNCTION_INFO_V1(synth_job_wait);
PG_FUNCTION_INFO_V1(synth_job_progress);

#define SYNTH_WAIT_POLL_MS	100

/* ---------------------------------------------------------------- at commit */

/* A job queued or cancelled in the current transaction. */
typedef struct PendingJob
{
	int64		job_id;
	bool		cancel;			/* false: queued */
	int			nest_level;		/* subtransaction that did it */
} PendingJob;

static List *pending_jobs = NIL;	/* in TopMemoryContext */
static bool callbacks_registered = false;

static void
jobs_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;
	int			queued = 0;

	if (pending_jobs == NIL)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, pending_jobs)
		{
			PendingJob *job = lfirst(lc);

			if (job->cancel)
				(void) synth_job_signal_cancel(MyDatabaseId, job->job_id);
			else
				queued++;
		}
		if (queued > 0)
			synth_worker_hint(MyDatabaseId, Min(queued, SYNTH_MAX_JOB_WORKERS));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
	{
		list_free_deep(pending_jobs);
		pending_jobs = NIL;
	}
}

static void
jobs_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;
	int			level = GetCurrentTransactionNestLevel();

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending_jobs)
	{
		PendingJob *job = lfirst(lc);

		if (job->nest_level >= level)
		{
			pending_jobs = foreach_delete_current(pending_jobs, lc);
			pfree(job);
		}
	}
}

static void
remember_job(int64 job_id, bool cancel)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	PendingJob *job = palloc(sizeof(PendingJob));

	if (!callbacks_registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		RegisterSubXactCallback(jobs_subxact_callback, NULL);
		callbacks_registered = true;
	}
	job->job_id = job_id;
	job->cancel = cancel;
	job->nest_level = GetCurrentTransactionNestLevel();
	pending_jobs = lappend(pending_jobs, job);
	MemoryContextSwitchTo(oldcxt);
}

static bool
job_is_pending(int64 job_id)
{
	ListCell   *lc;

	foreach(lc, pending_jobs)
		if (((PendingJob *) lfirst(lc))->job_id == job_id)
			return true;
	return false;
}

/* ---------------------------------------------------------------- checks */

/* Ensure background workers run: synth must be in shared_preload_libraries. */
static inline void
CheckBackgroundJobsEnabled(void)
{
	if (synth_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("background training jobs need synth in shared_preload_libraries"),
				 errdetail("Without it no background worker runs the jobs."),
				 errhint("Add synth to shared_preload_libraries in postgresql.conf (or ALTER SYSTEM SET shared_preload_libraries = 'synth') and restart the server; synth_train() trains in this session meanwhile.")));
}

/* Ensure the relation is one synth trains on and the caller may read it all. */
static inline void
CheckJobSource(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	char		relkind = rel->rd_rel->relkind;
	AclResult	aclresult;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_VIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("synth_train_async reads tables, views and materialized views.")));

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclresult = pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ALL);
	if (aclresult != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to train on table \"%s\"", RelationGetRelationName(rel)),
				 errhint("Training reads every row: the table's owner can GRANT SELECT ON %s TO %s.",
						 quote_identifier(RelationGetRelationName(rel)),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	relation_close(rel, NoLock);
}

/* Ensure options is a jsonb object (its keys are checked when the job runs). */
static inline void
CheckOptionsObject(Jsonb *options)
{
	if (options != NULL && !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object"),
				 errhint("Pass e.g. '{\"seed\": 42}', or '{}' for the defaults.")));
}

/* ---------------------------------------------------------------- the catalog */

/* Run the catalog statements that follow as the catalog's owner (model.h). */
typedef SynthOwnerAccess JobsAccess;

static void
jobs_access_begin(JobsAccess *access)
{
	synth_owner_access_begin(access);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
}

static void
jobs_access_end(JobsAccess *access)
{
	SPI_finish();
	synth_owner_access_end(access);
}

/*
 * The synth.* settings of this session that a user may set, as a jsonb
 * object: the worker trains with them.
 */
static char *
session_settings_json(void)
{
	struct config_generic **vars = get_guc_variables();
	int			nvars = GetNumConfigOptions();
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < nvars; i++)
	{
		struct config_generic *conf = vars[i];
		char	   *value;

		if (strncmp(conf->name, "synth.", 6) != 0 || conf->context != PGC_USERSET ||
			(conf->flags & GUC_CUSTOM_PLACEHOLDER))
			continue;
		value = GetConfigOptionByName(conf->name, NULL, false);
		if (value == NULL)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, conf->name);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, value);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Insert a queued job; returns its id.  The caller has checked the table. */
static int64
queue_job(Oid relid, const char *method, const char *options_json)
{
	JobsAccess	access;
	Oid			argtypes[7] = {OIDOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		args[7];
	NameData	schema_name;
	NameData	table_name;
	char	   *settings = session_settings_json();
	Oid			submitter = GetUserId();
	int64		id;
	bool		isnull;

	namestrcpy(&schema_name, get_namespace_name(get_rel_namespace(relid)));
	namestrcpy(&table_name, get_rel_name(relid));
	args[0] = ObjectIdGetDatum(relid);
	args[1] = NameGetDatum(&schema_name);
	args[2] = NameGetDatum(&table_name);
	args[3] = CStringGetTextDatum(method);
	args[4] = CStringGetTextDatum(options_json);
	args[5] = CStringGetTextDatum(settings);
	args[6] = ObjectIdGetDatum(submitter);

	jobs_access_begin(&access);
	if (SPI_execute_with_args("INSERT INTO synth.job_queue (source_relid, source_schema, source_table, "
							  "method, options, settings, submitted_by) "
							  "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::regrole) RETURNING id",
							  7, argtypes, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "synth: could not queue the job");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	jobs_access_end(&access);

	remember_job(id, false);
	return id;
}

static void
notice_if_no_workers(void)
{
	if (synth_max_workers == 0)
		ereport(NOTICE,
				(errmsg("synth.max_workers is 0: the job waits until it is raised"),
				 errhint("Set synth.max_workers in postgresql.conf and reload.")));
}

/* ---------------------------------------------------------------- SQL functions */

/*
 * synth_train_async(source regclass, method text, options jsonb, epsilon float8,
 * delta float8) RETURNS bigint:
 * queue a training of source; returns the job id at once.
 */
Datum
synth_train_async(PG_FUNCTION_ARGS)
{
	Oid			relid;
	const char *method;
	Jsonb	   *options = synth_options_with_named(fcinfo, 2, 3);
	int64		id;

	CheckBackgroundJobsEnabled();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source table must not be NULL"),
				 errhint("Call it as SELECT synth_train_async('schema.table').")));
	relid = PG_GETARG_OID(0);
	method = PG_ARGISNULL(1) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	CheckOptionsObject(options);
	CheckJobSource(relid);

	id = queue_job(relid, method,
				   options ? JsonbToCString(NULL, &options->root, VARSIZE(options)) : "{}");
	notice_if_no_workers();
	PG_RETURN_INT64(id);
}

/* A table of the schema and the tables it references (its FK parents). */
typedef struct SchemaTable
{
	Oid			relid;
	char	   *name;
	List	   *parents;		/* OIDs of referenced tables in the schema */
	bool		done;
} SchemaTable;

/*
 * The tables of a schema, parents before children along their foreign keys
 * (ties and cycles by name).
 */
static List *
schema_tables_in_fk_order(Oid nspid, const char *schema)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	SchemaTable *tables;
	int			ntables;
	List	   *ordered = NIL;
	MemoryContext callercxt = CurrentMemoryContext;

	args[0] = ObjectIdGetDatum(nspid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT c.oid, c.relname::text FROM pg_catalog.pg_class c "
							  "WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'm') "
							  "AND NOT c.relispartition ORDER BY c.relname",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not list the tables of schema \"%s\"", schema);
	ntables = (int) SPI_processed;
	tables = MemoryContextAllocZero(callercxt, sizeof(SchemaTable) * Max(ntables, 1));
	for (int i = 0; i < ntables; i++)
	{
		bool		isnull;

		tables[i].relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		tables[i].name = MemoryContextStrdup(callercxt,
											 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}

	if (SPI_execute_with_args("SELECT con.conrelid, con.confrelid FROM pg_catalog.pg_constraint con "
							  "JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
							  "JOIN pg_catalog.pg_class p ON p.oid = con.confrelid "
							  "WHERE con.contype = 'f' AND con.conrelid <> con.confrelid "
							  "AND c.relnamespace = $1 AND p.relnamespace = $1",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read the foreign keys of schema \"%s\"", schema);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Oid			child = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		Oid			parent = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));

		for (int i = 0; i < ntables; i++)
			if (tables[i].relid == child)
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

				tables[i].parents = list_append_unique_oid(tables[i].parents, parent);
				MemoryContextSwitchTo(oldcxt);
			}
	}
	SPI_finish();

	/* Kahn's algorithm; the first ready table by name each time */
	while (list_length(ordered) < ntables)
	{
		int			pick = -1;

		for (int i = 0; i < ntables && pick < 0; i++)
		{
			bool		ready = !tables[i].done;
			ListCell   *lc;

			foreach(lc, tables[i].parents)
				for (int j = 0; j < ntables && ready; j++)
					if (tables[j].relid == lfirst_oid(lc) && !tables[j].done)
						ready = false;
			if (ready)
				pick = i;
		}
		if (pick < 0)
		{
			/* a cycle of foreign keys: break it at the first table by name */
			for (int i = 0; i < ntables && pick < 0; i++)
				if (!tables[i].done)
					pick = i;
			ereport(NOTICE,
					(errmsg("the foreign keys of schema \"%s\" form a cycle; \"%s\" is queued before some of its parents",
							schema, tables[pick].name)));
		}
		tables[pick].done = true;
		ordered = lappend_oid(ordered, tables[pick].relid);
	}
	return ordered;
}

/* Does the table have a row?  Read as the caller, who may read it. */
static bool
table_has_rows(Oid relid)
{
	char	   *query = psprintf("SELECT EXISTS (SELECT 1 FROM %s)",
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															get_rel_name(relid)));
	bool		isnull;
	bool		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute(query, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "synth: could not read \"%s\"", query);
	result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return result;
}

/*
 * synth_train_schema_async(source_schema name, options jsonb, method text)
 * RETURNS SETOF bigint: one job per table of the schema that has rows,
 * parents before children; returns the job ids in that order.
 */
Datum
synth_train_schema_async(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	List	   *ids;

	if (SRF_IS_FIRSTCALL())
	{
		const char *schema;
		const char *method;
		Jsonb	   *options;
		char	   *options_json;
		Oid			nspid;
		List	   *tables;
		ListCell   *lc;
		MemoryContext oldcxt;

		funcctx = SRF_FIRSTCALL_INIT();
		CheckBackgroundJobsEnabled();
		if (PG_ARGISNULL(0))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("source schema must not be NULL"),
					 errhint("Call it as SELECT synth_train_schema_async('schema').")));
		schema = NameStr(*PG_GETARG_NAME(0));
		options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
		method = PG_ARGISNULL(2) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(2));
		CheckOptionsObject(options);
		options_json = options ? JsonbToCString(NULL, &options->root, VARSIZE(options)) : "{}";

		nspid = get_namespace_oid(schema, false);
		if (strcmp(schema, "synth") == 0 || IsCatalogNamespace(nspid) || isAnyTempNamespace(nspid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_SCHEMA_NAME),
					 errmsg("synth does not train on the tables of schema \"%s\"", schema),
					 errhint("Name a schema of your own tables.")));
		if (pg_namespace_aclcheck(nspid, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for schema %s", schema),
					 errhint("The schema's owner can GRANT USAGE ON SCHEMA %s TO %s.",
							 quote_identifier(schema),
							 quote_identifier(GetUserNameFromId(GetUserId(), false)))));

		tables = schema_tables_in_fk_order(nspid, schema);
		foreach(lc, tables)
			CheckJobSource(lfirst_oid(lc));

		ids = NIL;
		foreach(lc, tables)
		{
			Oid			relid = lfirst_oid(lc);
			int64	   *id;

			if (!table_has_rows(relid))
			{
				ereport(NOTICE,
						(errmsg("table \"%s.%s\" is empty and is skipped", schema, get_rel_name(relid))));
				continue;
			}
			oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
			id = palloc(sizeof(int64));
			MemoryContextSwitchTo(oldcxt);
			*id = queue_job(relid, method, options_json);
			oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
			ids = lappend(ids, id);
			MemoryContextSwitchTo(oldcxt);
		}
		if (tables == NIL)
			ereport(NOTICE, (errmsg("schema \"%s\" has no tables", schema)));
		else
			notice_if_no_workers();
		funcctx->user_fctx = ids;
	}

	funcctx = SRF_PERCALL_SETUP();
	ids = funcctx->user_fctx;
	if (funcctx->call_cntr < (uint64) list_length(ids))
	{
		/* SRF_RETURN_NEXT counts the call before it evaluates its result */
		Datum		id = Int64GetDatum(*(int64 *) list_nth(ids, (int) funcctx->call_cntr));

		SRF_RETURN_NEXT(funcctx, id);
	}
	SRF_RETURN_DONE(funcctx);
}

/* Ensure the caller may cancel a job queued by submitter. */
static inline void
CheckMayCancel(Oid caller, Oid submitter, int64 job_id)
{
	if (superuser_arg(caller) || has_privs_of_role(caller, submitter) ||
		has_privs_of_role(caller, synth_catalog_owner()))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to cancel synth job " INT64_FORMAT, job_id),
			 errhint("The role that queued the job, its members, the owner of schema synth and superusers can cancel it.")));
}

static void
job_not_found(int64 job_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("synth job " INT64_FORMAT " does not exist", job_id),
			 errhint("SELECT id, state, source_table FROM synth.jobs lists the jobs.")));
}

/*
 * synth_job_cancel(id bigint) RETURNS boolean: a queued job is cancelled at
 * once; a running one is interrupted when this transaction commits and ends
 * cancelled within moments, without a model.  False if the job had ended.
 */
Datum
synth_job_cancel(PG_FUNCTION_ARGS)
{
	int64		job_id = PG_GETARG_INT64(0);
	Oid			caller = GetUserId();
	JobsAccess	access;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	char	   *state;
	Oid			submitter;
	bool		isnull;
	bool		cancelled = true;

	args[0] = Int64GetDatum(job_id);
	jobs_access_begin(&access);
	if (SPI_execute_with_args("SELECT state, submitted_by::oid FROM synth.job_queue WHERE id = $1 FOR UPDATE",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.job_queue");
	if (SPI_processed != 1)
		job_not_found(job_id);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	submitter = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	CheckMayCancel(caller, submitter, job_id);

	if (strcmp(state, "running") == 0 && synth_job_is_live(MyDatabaseId, job_id))
	{
		if (SPI_execute_with_args("UPDATE synth.job_queue SET cancel_requested = true WHERE id = $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "synth: could not cancel job " INT64_FORMAT, job_id);
		remember_job(job_id, true);
	}
	else if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0)
	{
		/* no worker holds it: it ends here */
		args[1] = CStringGetTextDatum(strcmp(state, "queued") == 0 ?
									  "cancelled by synth_job_cancel before it started" :
									  "cancelled by synth_job_cancel while its worker was gone");
		if (SPI_execute_with_args("UPDATE synth.job_queue SET state = 'cancelled', cancel_requested = true, "
								  "finished_at = clock_timestamp(), error = $2 WHERE id = $1",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "synth: could not cancel job " INT64_FORMAT, job_id);
		Async_Notify(SYNTH_JOBS_CHANNEL, psprintf(INT64_FORMAT " cancelled", job_id));
		remember_job(job_id, true);
	}
	else
	{
		ereport(NOTICE,
				(errmsg("synth job " INT64_FORMAT " has already ended: %s", job_id, state)));
		cancelled = false;
	}
	jobs_access_end(&access);
	PG_RETURN_BOOL(cancelled);
}

static bool
state_is_final(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
		strcmp(state, "cancelled") == 0;
}

/* The job's state now (a new snapshot each time), or NULL when it does not exist. */
static char *
read_job_state(int64 job_id)
{
	JobsAccess	access;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	char	   *state = NULL;
	MemoryContext callercxt = CurrentMemoryContext;

	args[0] = Int64GetDatum(job_id);
	jobs_access_begin(&access);
	if (SPI_execute_with_args("SELECT state FROM synth.job_queue WHERE id = $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.job_queue");
	if (SPI_processed == 1)
		state = MemoryContextStrdup(callercxt,
									SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	jobs_access_end(&access);
	return state;
}

/*
 * synth_job_wait(id bigint, timeout interval) RETURNS text: wait until the
 * job ends and return its final state; after timeout (NULL: no limit) return
 * the state it is in.
 */
Datum
synth_job_wait(PG_FUNCTION_ARGS)
{
	int64		job_id;
	TimestampTz deadline = 0;
	char	   *state;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job id must not be NULL"),
				 errhint("Pass the id synth_train_async returned.")));
	job_id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
	{
		Interval   *timeout = PG_GETARG_INTERVAL_P(1);
		int64		usecs = timeout->time + (int64) timeout->day * USECS_PER_DAY +
			(int64) timeout->month * DAYS_PER_MONTH * USECS_PER_DAY;

		if (usecs < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not be negative"),
					 errhint("Pass e.g. '10 minutes', or NULL to wait as long as it takes.")));
		deadline = GetCurrentTimestamp() + usecs;
	}
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("synth_job_wait cannot see a job end in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errhint("Call it in a READ COMMITTED transaction, or outside a transaction block.")));
	if (job_is_pending(job_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("synth job " INT64_FORMAT " was queued or cancelled in this transaction", job_id),
				 errhint("Commit first: workers see the job, and the cancel reaches them, only then.")));

	for (;;)
	{
		state = read_job_state(job_id);
		if (state == NULL)
			job_not_found(job_id);
		if (state_is_final(state))
			break;
		if (synth_shared == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("synth job " INT64_FORMAT " is %s but no background worker runs here", job_id, state),
					 errhint("Add synth to shared_preload_libraries and restart the server, or cancel the job with synth_job_cancel.")));
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
			break;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SYNTH_WAIT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/*
 * synth_job_progress() RETURNS TABLE (job_id, pid, phase, rows_read, epoch,
 * epochs, losses, updated_at): the live progress of the jobs that workers
 * run in this database, for synth.jobs.
 */
Datum
synth_job_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SynthWorkerSlot *slots = palloc(sizeof(SynthWorkerSlot) * SYNTH_MAX_JOB_WORKERS);
	int			nslots;

	InitMaterializedSRF(fcinfo, 0);
	nslots = synth_job_slots_copy(MyDatabaseId, slots);
	for (int i = 0; i < nslots; i++)
	{
		Datum		values[8];
		bool		nulls[8] = {false};

		values[0] = Int64GetDatum(slots[i].job_id);
		values[1] = Int32GetDatum(slots[i].pid);
		values[2] = CStringGetTextDatum(slots[i].phase);
		values[3] = Int64GetDatum(slots[i].rows_read);
		values[4] = Int32GetDatum(slots[i].epoch);
		values[5] = Int32GetDatum(slots[i].epochs);
		nulls[4] = nulls[5] = slots[i].epoch < 0;
		if (slots[i].losses[0] != '\0')
			values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(slots[i].losses));
		else
			nulls[6] = true;
		values[7] = TimestampTzGetDatum(slots[i].updated_at);
		nulls[7] = slots[i].updated_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
