/*-------------------------------------------------------------------------
 *
 * multitable_materialize.c
 *	  synth_materialize(source_schema, target_schema, scale, seed): a
 *	  synthetic copy of a schema from its latest model set.
 *
 * The plan is computed again from the source schema's catalog and the set's
 * options, and must match what the set was trained on (the same tables in
 * the same order, each model's columns the plan's view columns): a schema
 * that changed since is refused with a hint to train again.  Then the target
 * schema is created with the source's DDL (multitable_ddl.c) and filled
 * parents first (multitable_fill.c), all in the caller's transaction and as
 * the caller, so a failure leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(synth_materialize);

typedef struct SetMember
{
	char	   *table;
	int64		model_id;
	int64		rows;
	int64		orphans;
} SetMember;

/* The latest model set of a schema: its id, options and members in order. */
static int64
latest_set(const char *schema, Jsonb **options, SetMember **members, int *nmembers)
{
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			argtypes[1] = {NAMEOID};
	Datum		args[1];
	int64		set_id = 0;

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT id, options FROM synth.model_sets WHERE source_schema = $1 "
							  "ORDER BY id DESC LIMIT 1", 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.model_sets");
	if (SPI_processed == 1)
	{
		bool		isnull;
		MemoryContext oldcxt;
		Datum		d;

		set_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		oldcxt = MemoryContextSwitchTo(callercxt);
		*options = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(oldcxt);

		argtypes[0] = INT8OID;
		args[0] = Int64GetDatum(set_id);
		if (SPI_execute_with_args("SELECT source_table::text, coalesce(model_id, 0), n_rows, n_orphans "
								  "FROM synth.model_set_members WHERE set_id = $1 ORDER BY position",
								  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.model_set_members");
		oldcxt = MemoryContextSwitchTo(callercxt);
		*nmembers = (int) SPI_processed;
		*members = palloc0(sizeof(SetMember) * Max(*nmembers, 1));
		for (int i = 0; i < *nmembers; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			(*members)[i].table = SPI_getvalue(tup, desc, 1);
			(*members)[i].model_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			(*members)[i].rows = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
			(*members)[i].orphans = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		}
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	return set_id;
}

/* Ensure the schema still has the tables and columns the set was trained on. */
static void
CheckSetMatchesPlan(SynthMtPlan *plan, int64 set_id, SetMember *members, int nmembers,
					SynthMtMember *loaded)
{
	for (int t = 0; t < Max(plan->ntables, nmembers); t++)
	{
		const char *detail = NULL;

		if (t >= plan->ntables)
			detail = psprintf("Table \"%s\" is gone.", members[t].table);
		else if (t >= nmembers)
			detail = psprintf("Table \"%s\" is new.", plan->tables[t].name);
		else if (strcmp(members[t].table, plan->tables[t].name) != 0)
			detail = psprintf("The set has table \"%s\" where the schema now has \"%s\" (tables are trained parents first).",
							  members[t].table, plan->tables[t].name);
		else if (loaded[t].model != NULL)
		{
			SynthModel *model = loaded[t].model;
			SynthMtTable *pt = &plan->tables[t];

			if (model->natts != pt->ncols)
				detail = psprintf("Table \"%s\" has %d modelled columns where its model has %d.",
								  pt->name, pt->ncols, model->natts);
			for (int c = 0; c < pt->ncols && detail == NULL; c++)
				if (strcmp(model->encoders[c].name, pt->cols[c].name) != 0)
					detail = psprintf("Table \"%s\": the model has column \"%s\" where the plan has \"%s\".",
									  pt->name, model->encoders[c].name, pt->cols[c].name);
		}
		if (detail != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema \"%s\" has changed since synth model set " INT64_FORMAT " was trained",
							plan->schema, set_id),
					 errdetail_internal("%s", detail),
					 errhint("Train a new set with SELECT synth_train_schema('%s').", plan->schema)));
	}
}

/* Ensure the caller may read every source table: synthetic rows come from them. */
static void
CheckCanMaterialize(SynthMtPlan *plan)
{
	for (int t = 0; t < plan->ntables; t++)
		if (pg_class_aclcheck(plan->tables[t].relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to generate from table \"%s\"", plan->tables[t].name),
					 errhint("Materializing needs SELECT on every source table, as training does.")));
}

Datum
synth_materialize(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *source;
	char	   *target;
	double		scale;
	uint64		seed;
	Jsonb	   *options = NULL;
	SetMember  *members = NULL;
	int			nmembers = 0;
	int64		set_id;
	SynthMtOptions opts;
	SynthMtPlan *plan;
	SynthMtMember *loaded;
	int64	   *rows;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source and target schema must not be NULL"),
				 errhint("Call it as SELECT * FROM synth_materialize('shop', 'shop_synth').")));
	source = pstrdup(NameStr(*PG_GETARG_NAME(0)));
	target = pstrdup(NameStr(*PG_GETARG_NAME(1)));
	scale = PG_ARGISNULL(2) ? 1.0 : PG_GETARG_FLOAT8(2);
	if (!(scale >= 0.0) || isinf(scale))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale must be a finite number of at least 0"),
				 errhint("scale multiplies the real row counts of tables without a parent: 1.0 for as many rows, 0.1 for a tenth.")));
	if (PG_ARGISNULL(3))
	{
		if (!pg_strong_random(&seed, sizeof(seed)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random seed")));
	}
	else
		seed = (uint64) PG_GETARG_INT64(3);

	set_id = latest_set(source, &options, &members, &nmembers);
	if (set_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("schema \"%s\" has no trained synth model set", source),
				 errhint("Train one first: SELECT synth_train_schema('%s').", source)));

	synth_mt_parse_options(options, &opts);
	plan = synth_mt_plan(get_namespace_oid(source, false), &opts);
	CheckCanMaterialize(plan);

	loaded = palloc0(sizeof(SynthMtMember) * Max(Max(plan->ntables, nmembers), 1));
	for (int t = 0; t < nmembers; t++)
	{
		Oid			relid;

		loaded[t].model_id = members[t].model_id;
		loaded[t].rows = members[t].rows;
		loaded[t].orphans = members[t].orphans;
		if (members[t].model_id != 0)
			loaded[t].model = synth_catalog_load(members[t].model_id, &relid);
	}
	CheckSetMatchesPlan(plan, set_id, members, nmembers, loaded);

	synth_mt_create_schema(plan, target);
	rows = synth_mt_fill(plan, loaded, target, scale, seed);
	synth_mt_reset_sequences(plan, target);

	InitMaterializedSRF(fcinfo, 0);
	for (int t = 0; t < plan->ntables; t++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = DirectFunctionCall1(namein, CStringGetDatum(plan->tables[t].name));
		values[1] = Int64GetDatum(rows[t]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
