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
#include "sharing.h"
#include "quality.h"

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

/* ---- gates ---- */

/* Figures of synth_evaluate_schema's overall lines that gates may name. */
static const char *const schema_figures[] = {"cardinality_shape", "parent_child_trends", "multi_table_score"};

#define N_SCHEMA_FIGURES lengthof(schema_figures)

/*
 * Figures of the report that need a target column or holdout rows, which a
 * materialized table has not: a gate on one could never pass.
 */
static const char *const unmeasured_figures[] = {
	"tstr", "trtr", "tstr_ratio", "dcr_holdout", "dcr_ratio", "dcr_closer_to_training",
	"holdout_copy_rate", "mia_auc", "mia_advantage", "singling_out_baseline", "singling_out_risk"
};

typedef struct MtGates
{
	Jsonb	   *table_gates;	/* the report's figures, checked per table, or NULL */
	double		min[N_SCHEMA_FIGURES];	/* the schema's figures; NaN: none */
	double		max[N_SCHEMA_FIGURES];
	const char *source;			/* "the gates" or "synth.gates" */
} MtGates;

static void
gates_error_context(void *arg)
{
	errcontext("gates of synth_materialize, which takes those of synth_report and cardinality_shape, parent_child_trends and multi_table_score (synth_evaluate_schema's), each with _min or _max");
}

/*
 * Split gates into the schema's figures and the report's (checked here, so
 * that a misspelt gate is refused before anything is created).
 */
static MtGates *
parse_mt_gates(Jsonb *gates, const char *source)
{
	MtGates    *g = palloc0(sizeof(MtGates));
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue *res;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	JsonbValue	keyval;
	ErrorContextCallback errcallback;

	g->source = source;
	for (int i = 0; i < N_SCHEMA_FIGURES; i++)
		g->min[i] = g->max[i] = NAN;
	if (!JB_ROOT_IS_OBJECT(gates))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gates must be a jsonb object"),
				 errhint("Pass e.g. '{\"detection_auc_max\": 0.75, \"cardinality_shape_min\": 0.8}'.")));

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&gates->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		schema_figure = false;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			keyval = v;
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		for (int i = 0; i < N_SCHEMA_FIGURES; i++)
		{
			size_t		len = strlen(schema_figures[i]);
			bool		is_max;

			if (strncmp(key, schema_figures[i], len) != 0 ||
				(strcmp(key + len, "_min") != 0 && strcmp(key + len, "_max") != 0))
				continue;
			schema_figure = true;
			is_max = strcmp(key + len, "_max") == 0;
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("gate \"%s\" must be a number", key)));
			(is_max ? g->max : g->min)[i] =
				DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
		}
		if (schema_figure)
			continue;
		for (int i = 0; i < lengthof(unmeasured_figures); i++)
		{
			size_t		len = strlen(unmeasured_figures[i]);

			if (v.type != jbvNull && strncmp(key, unmeasured_figures[i], len) == 0 &&
				(strcmp(key + len, "_min") == 0 || strcmp(key + len, "_max") == 0))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("synth_materialize cannot check gate \"%s\" of %s", key, source),
						 errdetail("It measures each table with synth_report without a target column or holdout rows, so the report has no %s.",
								   unmeasured_figures[i]),
						 errhint("Leave the gate out here (or null it), and check the table itself: SELECT synth_check_gates(synth_report('schema.table', 'target.table', target => 'column'), '{\"%s\": ...}').",
								 key)));
		}
		(void) pushJsonbValue(&state, WJB_KEY, &keyval);
		(void) pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	g->table_gates = JsonbValueToJsonb(res);
	errcallback.callback = gates_error_context;
	errcallback.arg = NULL;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	synth_gates_validate(g->table_gates);
	error_context_stack = errcallback.previous;
	if (synth_gates_empty(g->table_gates))
		g->table_gates = NULL;
	return g;
}

/*
 * The real rows a conditioned table's synthetic rows are measured against:
 * those that satisfy its predicate and whose context parent is among the
 * real rows its parent's are measured against (a child of only churned
 * customers against the real orders of churned customers).  NULL: every row.
 */
static char *
real_rows_sql(SynthMtPlan *plan, SynthMtCond *conds, int t)
{
	SynthMtTable *pt = &plan->tables[t];
	char	   *parent_sql = NULL;
	StringInfoData sql;

	if (pt->context >= 0)
		parent_sql = real_rows_sql(plan, conds, plan->fks[pt->context].parent);
	if (parent_sql == NULL && (conds == NULL || conds[t].where == NULL))
		return NULL;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM %s WHERE true",
					 quote_qualified_identifier(plan->schema, pt->name));
	if (conds != NULL && conds[t].where != NULL)
		appendStringInfo(&sql, " AND (%s\n)", conds[t].where);
	if (parent_sql != NULL)
	{
		SynthMtFk  *fk = &plan->fks[pt->context];
		SynthMtTable *parent = &plan->tables[fk->parent];

		appendStringInfoString(&sql, " AND ((");
		for (int k = 0; k < fk->nkeys; k++)
			appendStringInfo(&sql, "%s%s", k > 0 ? ", " : "",
							 quote_identifier(get_attname(pt->relid, fk->child_att[k], false)));
		appendStringInfoString(&sql, ") IN (SELECT ");
		for (int k = 0; k < fk->nkeys; k++)
			appendStringInfo(&sql, "%s%s", k > 0 ? ", " : "",
							 quote_identifier(get_attname(parent->relid, fk->parent_att[k], false)));
		appendStringInfo(&sql, " FROM (%s) AS p) OR %s IS NULL)", parent_sql,
						 quote_identifier(get_attname(pt->relid, fk->child_att[0], false)));
	}
	return sql.data;
}

/* Run a statement as the caller; the first column of its one row, or 0. */
static Datum
run_sql(const char *sql, int expected, bool *isnull)
{
	int			ret = SPI_execute(sql, false, 0);
	Datum		d = (Datum) 0;

	*isnull = true;
	if (ret != expected)
		elog(ERROR, "synth: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	return d;
}

/*
 * Ensure the synthetic schema meets the gates before it is published: each
 * table's synthetic rows against its real rows (those its conditions select),
 * over the columns its model generates, by synth_report; the schema's
 * foreign-key figures by synth_evaluate_schema (both in extschema, where
 * synth_materialize is).  A failure is an error, and
 * the caller's transaction takes the target schema away with it.
 */
static void
CheckMaterializeGates(SynthMtPlan *plan, SynthMtMember *members, SynthMtCond *conds,
					  const int64 *rows, const char *target, MtGates *g, Oid extschema)
{
	const char *ext = quote_identifier(get_namespace_name(extschema));
	MemoryContext callercxt = CurrentMemoryContext;
	bool		schema_gates = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	for (int t = 0; t < plan->ntables && g->table_gates != NULL; t++)
	{
		SynthMtTable *pt = &plan->tables[t];
		Oid			tgtid = get_relname_relid(pt->name, get_namespace_oid(target, false));
		StringInfoData cols;
		StringInfoData sql;
		char	   *real_sql;
		Jsonb	   *report;
		bool		isnull;
		int			ncols = 0;
		MemoryContext oldcxt;

		if (members[t].model == NULL || rows[t] == 0)
			continue;
		/* the columns the model generates; a copied type compared as its base type or text */
		initStringInfo(&cols);
		for (int c = 0; c < pt->ncols; c++)
		{
			char	   *name;
			Oid			srctype;
			Oid			tgttype;
			const char *cast = "";

			if (pt->cols[c].role != SYNTH_MT_OWN || pt->cols[c].key)
				continue;
			name = get_attname(pt->relid, pt->cols[c].attnum, false);
			srctype = get_atttype(pt->relid, pt->cols[c].attnum);
			tgttype = get_atttype(tgtid, get_attnum(tgtid, name));
			if (srctype != tgttype)
				cast = getBaseType(srctype) == getBaseType(tgttype) ?
					psprintf("::%s", format_type_be(getBaseType(srctype))) : "::text";
			appendStringInfo(&cols, "%s%s%s AS %s", ncols > 0 ? ", " : "", quote_identifier(name),
							 cast, quote_identifier(name));
			ncols++;
		}
		if (ncols == 0)
			continue;
		real_sql = real_rows_sql(plan, conds, t);
		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TEMPORARY VIEW synth_gate_real AS SELECT %s FROM %s AS r",
						 cols.data, real_sql ? psprintf("(%s)", real_sql) :
						 quote_qualified_identifier(plan->schema, pt->name));
		run_sql(sql.data, SPI_OK_UTILITY, &isnull);
		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TEMPORARY VIEW synth_gate_synthetic AS SELECT %s FROM %s",
						 cols.data, quote_qualified_identifier(target, pt->name));
		run_sql(sql.data, SPI_OK_UTILITY, &isnull);
		resetStringInfo(&sql);
		appendStringInfo(&sql, "SELECT %s.synth_report('pg_temp.synth_gate_real', 'pg_temp.synth_gate_synthetic')",
						 ext);
		report = DatumGetJsonbP(run_sql(sql.data, SPI_OK_SELECT, &isnull));
		oldcxt = MemoryContextSwitchTo(callercxt);
		report = DatumGetJsonbPCopy(JsonbPGetDatum(report));
		MemoryContextSwitchTo(oldcxt);
		run_sql("DROP VIEW pg_temp.synth_gate_real, pg_temp.synth_gate_synthetic", SPI_OK_UTILITY, &isnull);

		synth_gates_check_report(report, g->table_gates,
								 psprintf("table \"%s\" of synthetic schema \"%s\"", pt->name, target),
								 psprintf("Nothing was created. The figures are those of synth_report on the table's synthetic rows against its real ones%s; improve the model set, or relax %s.",
										  real_sql ? " (those its conditions select)" : "", g->source));
	}

	for (int i = 0; i < N_SCHEMA_FIGURES; i++)
		schema_gates |= !isnan(g->min[i]) || !isnan(g->max[i]);
	if (schema_gates)
	{
		Oid			argtypes[2] = {NAMEOID, NAMEOID};
		Datum		args[2];
		double		value[N_SCHEMA_FIGURES];
		char	   *sql = psprintf("SELECT metric, score FROM %s.synth_evaluate_schema($1, $2) "
								   "WHERE table_name IS NULL", ext);

		args[0] = DirectFunctionCall1(namein, CStringGetDatum(plan->schema));
		args[1] = DirectFunctionCall1(namein, CStringGetDatum(target));
		if (SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not evaluate schema \"%s\"", target);
		for (int i = 0; i < N_SCHEMA_FIGURES; i++)
			value[i] = NAN;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			char	   *metric = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);

			for (int i = 0; i < N_SCHEMA_FIGURES; i++)
				if (metric != NULL && !isnull && strcmp(metric, schema_figures[i]) == 0)
					value[i] = DatumGetFloat8(d);
		}
		for (int i = 0; i < N_SCHEMA_FIGURES; i++)
			for (int bound = 0; bound < 2; bound++)
			{
				double		limit = bound ? g->max[i] : g->min[i];

				if (isnan(limit))
					continue;
				if (isnan(value[i]))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("synthetic schema \"%s\" fails quality gate %s_%s: synth_evaluate_schema has no %s",
									target, schema_figures[i], bound ? "max" : "min", schema_figures[i]),
							 errdetail("The schema has no foreign key the figure is measured on."),
							 errhint("Nothing was created. Remove the gate for this schema.")));
				if (bound ? value[i] > limit : value[i] < limit)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("synthetic schema \"%s\" fails quality gate %s_%s: %s is %.4g, %s %g",
									target, schema_figures[i], bound ? "max" : "min", schema_figures[i],
									value[i], bound ? "above" : "below", limit),
							 errhint("Nothing was created. The figure is synth_evaluate_schema's of the synthetic schema against the real one; improve the model set, or relax %s.",
									 g->source)));
			}
	}
	SPI_finish();
}

/* Ensure the caller may read every source table: synthetic rows come from them. */
static void
CheckCanMaterialize(SynthMtPlan *plan)
{
	for (int t = 0; t < plan->ntables; t++)
		if (!synth_can_read_relation(plan->tables[t].relid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to generate from table \"%s\"", plan->tables[t].name),
					 errhint("Materializing needs SELECT on every source table (or on every column of it), as training does.")));
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
	MtGates    *gates = NULL;
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
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		gates = parse_mt_gates(PG_GETARG_JSONB_P(5), "the gates");
	else if (synth_gates != NULL && synth_gates[0] != '\0')
		gates = parse_mt_gates(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(synth_gates))),
							   "synth.gates");

	synth_mt_create_schema(plan, target);
	rows = synth_mt_fill(plan, loaded, conds, target, scale, seed);
	synth_mt_reset_sequences(plan, target);
	if (gates != NULL)
		CheckMaterializeGates(plan, loaded, conds, rows, target, gates,
							  get_func_namespace(fcinfo->flinfo->fn_oid));

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
