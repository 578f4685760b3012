/*-------------------------------------------------------------------------
 *
 * multitable_materialize.c
 *	  synth_materialize(source_schema, target_schema, scale, seed,
 *	  conditions, gates): a synthetic copy of a schema from its latest model
 *	  set, optionally with per-table conditions (a predicate, category
 *	  shares, a row count).
 *
 * The plan is computed again from the source schema's catalog and the set's
 * options, and must match what the set was trained on (the same tables in
 * the same order, each model's columns the plan's view columns): a schema
 * that changed since is refused with a hint to train again.  Then the target
 * schema is created with the source's DDL (multitable_ddl.c) and filled
 * parents first (multitable_fill.c), all in the caller's transaction and as
 * the caller, so a failure leaves nothing behind.  Conditions are parsed and
 * checked against the source tables and their models before anything is
 * created.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"

#include <math.h>

#include "access/relation.h"
#include "access/sysattr.h"
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

/* ---- conditions ---- */

typedef struct ConditionContext
{
	const char *table;
} ConditionContext;

static void
condition_error_context(void *arg)
{
	ConditionContext *cc = arg;

	errcontext("condition of table \"%s\" in synth_materialize", cc->table);
}

/* Ensure the predicate reads only columns that the table's model generates. */
static void
CheckConditionColumns(SynthMtPlan *plan, int t, SynthMtCond *mc)
{
	SynthMtTable *pt = &plan->tables[t];
	int			m = -1;

	while ((m = bms_next_member(mc->cond->attrs, m)) >= 0)
	{
		AttrNumber	attnum = m + FirstLowInvalidHeapAttributeNumber;
		const char *why = NULL;
		const char *hint = NULL;
		char	   *name;

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the condition of table \"%s\" must name columns, not the whole row", pt->name),
					 errhint("Write it over the table's own columns, e.g. 'amount > 100'.")));
		if (mc->att_encoder[attnum - 1] >= 0 && !pt->cols[mc->att_encoder[attnum - 1]].key)
			continue;
		name = get_attname(pt->relid, attnum, false);
		for (int f = 0; f < plan->nfks && why == NULL; f++)
			for (int k = 0; k < plan->fks[f].nkeys; k++)
				if (plan->fks[f].child == t && plan->fks[f].child_att[k] == attnum)
				{
					why = psprintf("It is a column of foreign key \"%s\", which points at synthetic rows of table \"%s\".",
								   plan->fks[f].name, plan->tables[plan->fks[f].parent].name);
					hint = psprintf("Put the condition on table \"%s\": only its rows that satisfy it get children.",
									plan->tables[plan->fks[f].parent].name);
					break;
				}
		if (why == NULL && mc->att_encoder[attnum - 1] >= 0)
		{
			why = "It is a key: synth_materialize gives it fresh values.";
			hint = "Condition the table's other columns.";
		}
		if (why == NULL)
		{
			why = "The model set does not model it (excluded, or of a type filled by its default).";
			hint = "Condition a modelled column, or train the set with the column modelled.";
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the condition of table \"%s\" reads column \"%s\", which synth_materialize does not draw from the model",
						pt->name, name),
				 errdetail_internal("%s", why),
				 errhint("%s", hint)));
	}
}

/*
 * Parse synth_materialize's conditions: {"table": {"where": "predicate",
 * "rebalance": {"column": {"category": share, ...}}, "rows": n}, ...}; each
 * predicate and rebalancing is checked against the table and its model here,
 * before anything is created.
 */
static SynthMtCond *
parse_conditions(SynthMtPlan *plan, SynthMtMember *members, Jsonb *conditions)
{
	SynthMtCond *conds = palloc0(sizeof(SynthMtCond) * Max(plan->ntables, 1));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *table = NULL;

	for (int t = 0; t < plan->ntables; t++)
		conds[t].rows = -1;
	if (!JB_ROOT_IS_OBJECT(conditions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conditions must be a jsonb object of tables"),
				 errhint("Write e.g. '{\"customers\": {\"where\": \"churned\"}, \"orders\": {\"where\": \"amount > 100\"}}'.")));

	it = JsonbIteratorInit(&conditions->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			t = -1;
		SynthMtCond *mc;
		SynthMtTable *pt;
		JsonbIterator *it2;
		JsonbValue	v2;
		JsonbIteratorToken tok2;
		char	   *key = NULL;

		if (tok == WJB_KEY)
		{
			table = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		for (int i = 0; i < plan->ntables; i++)
			if (strcmp(plan->tables[i].name, table) == 0)
				t = i;
		if (t < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("conditions name table \"%s\", which is not in the model set of schema \"%s\"",
							table, plan->schema),
					 errhint("Name the tables of the schema as synth_train_schema trained them.")));
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the conditions of table \"%s\" must be a jsonb object", table),
					 errhint("Write e.g. '{\"%s\": {\"where\": \"...\", \"rebalance\": {...}, \"rows\": 1000}}'.", table)));
		mc = &conds[t];
		pt = &plan->tables[t];

		it2 = JsonbIteratorInit(v.val.binary.data);
		while ((tok2 = JsonbIteratorNext(&it2, &v2, true)) != WJB_DONE)
		{
			if (tok2 == WJB_KEY)
			{
				key = pnstrdup(v2.val.string.val, v2.val.string.len);
				continue;
			}
			if (tok2 != WJB_VALUE)
				continue;
			if (strcmp(key, "where") == 0 && v2.type == jbvString)
				mc->where = pnstrdup(v2.val.string.val, v2.val.string.len);
			else if (strcmp(key, "rebalance") == 0 && v2.type == jbvBinary)
				mc->rebalance = JsonbValueToJsonb(&v2);
			else if (strcmp(key, "rows") == 0 && v2.type == jbvNumeric)
			{
				double		rows = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	  NumericGetDatum(v2.val.numeric)));

				if (!(rows >= 0 && rows <= (double) PG_INT64_MAX / 2) || rows != floor(rows))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rows of table \"%s\" must be a whole number of at least 0", table)));
				if (pt->context >= 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rows cannot be set for table \"%s\"", table),
							 errdetail("Its rows are the children of synthetic rows of table \"%s\", as many as the model draws for each.",
									   plan->tables[plan->fks[pt->context].parent].name),
							 errhint("Set rows of tables without a parent, or condition the parent table.")));
				mc->rows = (int64) rows;
			}
			else if (strcmp(key, "where") == 0 || strcmp(key, "rebalance") == 0 ||
					 strcmp(key, "rows") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("\"%s\" of table \"%s\" must be %s", key, table,
								strcmp(key, "where") == 0 ? "a string" :
								strcmp(key, "rows") == 0 ? "a number" : "a jsonb object"),
						 errhint("Write e.g. '{\"%s\": {\"where\": \"...\", \"rebalance\": {...}, \"rows\": 1000}}'.", table)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown condition \"%s\" of table \"%s\"", key, table),
						 errhint("A table's conditions are \"where\", \"rebalance\" and \"rows\".")));
		}

		/* the predicate's restrictions over the source table, which the model's types are */
		if ((mc->where || mc->rebalance) && members[t].model != NULL)
		{
			SynthModel *model = members[t].model;
			Relation	rel = relation_open(pt->relid, AccessShareLock);
			ErrorContextCallback errcallback;
			ConditionContext ctx;

			/* the encoders' output values, which the predicate's terms are evaluated on */
			for (int e = 0; e < model->natts; e++)
				synth_encoder_prepare_output(&model->encoders[e]);
			mc->src_desc = CreateTupleDescCopy(RelationGetDescr(rel));
			relation_close(rel, NoLock);
			mc->att_encoder = palloc(sizeof(int) * Max(mc->src_desc->natts, 1));
			for (int i = 0; i < mc->src_desc->natts; i++)
				mc->att_encoder[i] = -1;
			for (int c = 0; c < pt->ncols; c++)
				if (pt->cols[c].role == SYNTH_MT_OWN && pt->cols[c].attnum > 0 &&
					pt->cols[c].attnum <= mc->src_desc->natts)
					mc->att_encoder[pt->cols[c].attnum - 1] = c;

			ctx.table = pt->name;
			errcallback.callback = condition_error_context;
			errcallback.arg = &ctx;
			errcallback.previous = error_context_stack;
			error_context_stack = &errcallback;
			mc->cond = synth_condition_build(model, pt->relid, mc->src_desc, mc->att_encoder, mc->where);
			if (mc->where)
				CheckConditionColumns(plan, t, mc);
			if (mc->rebalance)
				(void) synth_rebalance_strata(model, mc->src_desc, mc->att_encoder, mc->rebalance, 0);
			error_context_stack = errcallback.previous;
		}
	}
	return conds;
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
	SynthMtCond *conds = NULL;
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
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		conds = parse_conditions(plan, loaded, PG_GETARG_JSONB_P(4));

	synth_mt_create_schema(plan, target);
	rows = synth_mt_fill(plan, loaded, conds, target, scale, seed);
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
