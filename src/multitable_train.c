/*-------------------------------------------------------------------------
 *
 * multitable_train.c
 *	  synth_train_schema() and synth_train_tables(): train one copula per
 *	  table of a schema, parents first, over a view that gives each table its
 *	  context parent's columns and its children counts, and record them as
 *	  one model set in synth.model_sets and synth.model_set_members.
 *
 * The views are temporary: each is created, trained on and dropped in the
 * caller's transaction, as the caller (so the caller's privileges on the
 * tables are what is checked).  A member's row in synth.models is renamed
 * to "<table> (set <id>)" so that it is never taken for a model of the table
 * itself by synth_generate.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"
#include "sharing.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(synth_train_schema);
PG_FUNCTION_INFO_V1(synth_train_tables);

/* Run one catalog statement as the catalog's owner; returns the first column of its row. */
static int64
catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	SynthOwnerAccess access;
	int64		result = 0;

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		int			ret;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0);
		if (ret < 0)
			elog(ERROR, "synth: could not write the model set catalog: %s", SPI_result_code_string(ret));
		if (SPI_tuptable != NULL && SPI_processed > 0)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				result = DatumGetInt64(d);
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	return result;
}

/* Run one statement as the caller; returns the first column of its first row as int8. */
static int64
caller_exec(const char *sql)
{
	int64		result = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "synth: could not run \"%s\"", sql);
	if (SPI_tuptable != NULL && SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetInt64(d);
	}
	SPI_finish();
	return result;
}

/* The options of one table's synth_train: its key columns and the passed-on settings. */
static Jsonb *
table_train_options(SynthMtTable *table, SynthMtOptions *opts)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"keys\": [");
	foreach(lc, table->key_names)
	{
		if (lc != list_head(table->key_names))
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, lfirst(lc));
	}
	appendStringInfo(&buf, "]%s}", opts->train_options);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* Ensure the caller may read every table of the set: training reads them all. */
static void
CheckCanTrain(SynthMtPlan *plan)
{
	for (int t = 0; t < plan->ntables; t++)
		if (!synth_can_read_relation(plan->tables[t].relid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to train on table \"%s\"", plan->tables[t].name),
					 errhint("Training a schema reads every table of it: the table's owner can GRANT SELECT ON %s TO %s (or SELECT on every column), or leave the table out with option \"tables\".",
							 quote_qualified_identifier(plan->schema, plan->tables[t].name),
							 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/* Errors while a table is trained name the table, and how options name its columns. */
static void
train_error_context(void *arg)
{
	const char *table = arg;

	errcontext("training table \"%s\" of a model set (options name its columns as \"%s.column\")",
			   table, table);
}

/*
 * Train every table of the plan and record the set; returns the set's id.
 * Everything is written in the caller's transaction.
 */
static int64
train_set(Oid nspid, Jsonb *options)
{
	SynthMtOptions opts;
	SynthMtPlan *plan;
	StringInfoData plan_json;
	int64		set_id;
	Oid			argtypes[10];
	Datum		args[10];
	NameData	schema_name;
	char	   *options_text;

	synth_mt_parse_options(options, &opts);
	plan = synth_mt_plan(nspid, &opts);
	CheckCanTrain(plan);

	initStringInfo(&plan_json);
	synth_mt_plan_json(plan, &plan_json);
	options_text = options ? DatumGetCString(DirectFunctionCall1(jsonb_out, JsonbPGetDatum(options))) : "{}";
	namestrcpy(&schema_name, plan->schema);
	argtypes[0] = NAMEOID;
	argtypes[1] = JSONBOID;
	argtypes[2] = JSONBOID;
	argtypes[3] = NAMEOID;
	args[0] = NameGetDatum(&schema_name);
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(options_text));
	args[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(plan_json.data));
	args[3] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	set_id = catalog_exec("INSERT INTO synth.model_sets (source_schema, options, plan, created_by) "
						  "VALUES ($1, $2, $3, $4) RETURNING id", 4, argtypes, args);

	for (int t = 0; t < plan->ntables; t++)
	{
		SynthMtTable *table = &plan->tables[t];
		const char *qualified = quote_qualified_identifier(plan->schema, table->name);
		int64		rows;
		int64		orphans = 0;
		int64		model_id = 0;
		StringInfoData columns;
		NameData	table_name;
		NameData	context_name;

		CHECK_FOR_INTERRUPTS();
		rows = caller_exec(psprintf("SELECT pg_catalog.count(*) FROM %s", qualified));
		if (table->context >= 0 && plan->fks[table->context].nullable)
		{
			SynthMtFk  *fk = &plan->fks[table->context];
			StringInfoData cond;

			initStringInfo(&cond);
			for (int i = 0; i < fk->nkeys; i++)
				appendStringInfo(&cond, "%s%s IS NULL", i > 0 ? " OR " : "",
								 quote_identifier(get_attname(table->relid, fk->child_att[i], false)));
			orphans = caller_exec(psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s", qualified, cond.data));
		}
		if (rows > 0)
		{
			char	   *view = psprintf("synth_set" INT64_FORMAT "_%d", set_id, t + 1);
			Oid			viewid;
			ErrorContextCallback errcallback;

			caller_exec(psprintf("CREATE TEMPORARY VIEW %s AS %s", quote_identifier(view),
								 table->view_sql));
			viewid = RelnameGetRelid(view);
			errcallback.callback = train_error_context;
			errcallback.arg = table->name;
			errcallback.previous = error_context_stack;
			error_context_stack = &errcallback;
			model_id = synth_train_relation(viewid, "copula", table_train_options(table, &opts));
			error_context_stack = errcallback.previous;
			caller_exec(psprintf("DROP VIEW pg_temp.%s", quote_identifier(view)));

			argtypes[0] = INT8OID;
			argtypes[1] = NAMEOID;
			argtypes[2] = NAMEOID;
			args[0] = Int64GetDatum(model_id);
			args[1] = NameGetDatum(&schema_name);
			args[2] = DirectFunctionCall1(namein,
										  CStringGetDatum(psprintf("%s (set " INT64_FORMAT ")",
																   table->name, set_id)));
			catalog_exec("UPDATE synth.models SET source_schema = $2, source_table = $3, "
						 "source_relid = 0 WHERE id = $1", 3, argtypes, args);
		}

		initStringInfo(&columns);
		synth_mt_columns_json(plan, table, &columns);
		namestrcpy(&table_name, table->name);
		if (table->context >= 0)
			namestrcpy(&context_name, plan->fks[table->context].name);
		argtypes[0] = INT8OID;
		argtypes[1] = INT4OID;
		argtypes[2] = NAMEOID;
		argtypes[3] = OIDOID;
		argtypes[4] = INT8OID;
		argtypes[5] = NAMEOID;
		argtypes[6] = NAMEOID;
		argtypes[7] = INT8OID;
		argtypes[8] = INT8OID;
		argtypes[9] = JSONBOID;
		args[0] = Int64GetDatum(set_id);
		args[1] = Int32GetDatum(t + 1);
		args[2] = NameGetDatum(&table_name);
		args[3] = ObjectIdGetDatum(table->relid);
		args[4] = Int64GetDatum(model_id);
		args[5] = NameGetDatum(&context_name);
		args[6] = table->context >= 0 ?
			DirectFunctionCall1(namein, CStringGetDatum(plan->tables[plan->fks[table->context].parent].name)) :
			(Datum) 0;
		args[7] = Int64GetDatum(rows);
		args[8] = Int64GetDatum(orphans);
		args[9] = DirectFunctionCall1(jsonb_in, CStringGetDatum(columns.data));
		catalog_exec(psprintf("INSERT INTO synth.model_set_members (set_id, position, source_table, "
							  "source_relid, model_id, context_fk, context_table, n_rows, n_orphans, columns) "
							  "VALUES ($1, $2, $3, $4, nullif($5, 0), %s, %s, $8, $9, $10)",
							  table->context >= 0 ? "$6" : "NULL::name",
							  table->context >= 0 ? "$7" : "NULL::name"),
					 10, argtypes, args);
	}
	return set_id;
}

Datum
synth_train_schema(PG_FUNCTION_ARGS)
{
	char	   *schema;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source schema must not be NULL"),
				 errhint("Call it as SELECT synth_train_schema('shop').")));
	schema = NameStr(*PG_GETARG_NAME(0));
	PG_RETURN_INT64(train_set(get_namespace_oid(schema, false),
							  PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1)));
}

/*
 * synth_train_tables(tables regclass[], options): the tables of one schema
 * that the array names, as synth_train_schema with option "tables".
 */
Datum
synth_train_tables(PG_FUNCTION_ARGS)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Oid			nspid = InvalidOid;
	StringInfoData buf;
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tables must not be NULL"),
				 errhint("Call it as SELECT synth_train_tables(ARRAY['shop.customers', 'shop.orders']::regclass[]).")));
	array = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(array, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tables must name at least one table"),
				 errhint("Call it as SELECT synth_train_tables(ARRAY['shop.customers', 'shop.orders']::regclass[]).")));
	if (options != NULL && !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object"),
				 errhint("Pass e.g. '{\"seed\": 42}', or '{}' for the defaults.")));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"tables\": [");
	for (int i = 0; i < n; i++)
	{
		Oid			relid = DatumGetObjectId(elems[i]);

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tables must not contain NULL"),
					 errhint("Name each table once.")));
		if (i == 0)
			nspid = get_rel_namespace(relid);
		else if (get_rel_namespace(relid) != nspid)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tables \"%s\" and \"%s\" are in different schemas",
							get_rel_name(DatumGetObjectId(elems[0])), get_rel_name(relid)),
					 errdetail("A model set is materialized as a copy of one schema."),
					 errhint("Name tables of one schema.")));
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, get_rel_name(relid));
	}
	appendStringInfoChar(&buf, ']');
	if (options != NULL)
	{
		char	   *text = DatumGetCString(DirectFunctionCall1(jsonb_out, JsonbPGetDatum(options)));

		/* the given options follow, after their opening brace */
		if (strcmp(text, "{}") != 0)
		{
			JsonbValue	v;

			if (getKeyJsonValueFromContainer(&options->root, "tables", 6, &v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"tables\" cannot be given to synth_train_tables"),
						 errhint("Name the tables in the array.")));
			appendStringInfo(&buf, ", %s", text + 1);
		}
		else
			appendStringInfoChar(&buf, '}');
	}
	else
		appendStringInfoChar(&buf, '}');
	PG_RETURN_INT64(train_set(nspid, DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																		CStringGetDatum(buf.data)))));
}
