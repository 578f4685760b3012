/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The synth.models catalog: storing and loading models, and what the
 *	  system catalogs say about a source table's keys.
 *
 * The catalog is written as its owner (the owner of schema synth), after the
 * caller's privileges on the source table have been checked, so that users
 * need no rights on synth.models and cannot write half a model.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* Does the expression call nextval()?  (a serial column's default) */
static bool
calls_nextval_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == F_NEXTVAL)
		return true;
	return expression_tree_walker(node, calls_nextval_walker, context);
}

/*
 * Attnums of the columns whose values identify rows: columns of a primary
 * key or unique index, identity and serial columns, and uuid columns.
 */
Bitmapset *
synth_key_columns(Relation rel)
{
	Bitmapset  *keys = NULL;
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index index;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if ((index->indisunique || index->indisprimary) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
		{
			for (int i = 0; i < index->indnkeyatts; i++)
				if (index->indkey.values[i] > 0)
					keys = bms_add_member(keys, index->indkey.values[i]);
		}
		ReleaseSysCache(tup);
	}
	list_free(indexes);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (att->attidentity != '\0' || getBaseType(att->atttypid) == UUIDOID)
			keys = bms_add_member(keys, att->attnum);
		else if (att->atthasdef && desc->constr)
		{
			for (int d = 0; d < desc->constr->num_defval; d++)
			{
				AttrDefault *def = &desc->constr->defval[d];

				if (def->adnum == att->attnum &&
					calls_nextval_walker(stringToNode(def->adbin), NULL))
					keys = bms_add_member(keys, att->attnum);
			}
		}
	}
	return keys;
}

/* The role that owns the catalog: the owner of schema synth. */
Oid
synth_catalog_owner(void)
{
	Oid			nspid = get_namespace_oid("synth", true);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"synth\" does not exist"),
				 errhint("Run CREATE EXTENSION synth in this database.")));
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/* See model.h. */
void
synth_owner_access_begin(SynthOwnerAccess *access)
{
	GetUserIdAndSecContext(&access->saved_user, &access->saved_sec);
	SetUserIdAndSecContext(synth_catalog_owner(),
						   access->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	access->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
synth_owner_access_end(SynthOwnerAccess *access)
{
	AtEOXact_GUC(true, access->guc_level);
	SetUserIdAndSecContext(access->saved_user, access->saved_sec);
}

/*
 * Insert a ready model; returns its id.  Runs in the caller's transaction, so
 * a training that fails later leaves nothing behind.
 */
int64
synth_catalog_store(Relation rel, const char *method, int64 n_rows,
					const char *spec_json, bytea *weights, const char *metrics_json)
{
	SynthOwnerAccess access;
	Oid			argtypes[9] = {NAMEOID, NAMEOID, OIDOID, TEXTOID, INT8OID,
	JSONBOID, BYTEAOID, JSONBOID, NAMEOID};
	Datum		args[9];
	NameData	schema_name;
	NameData	table_name;
	NameData	user_name;
	int64		id;
	bool		isnull;
	int			ret;

	namestrcpy(&schema_name, get_namespace_name(RelationGetNamespace(rel)));
	namestrcpy(&table_name, RelationGetRelationName(rel));
	namestrcpy(&user_name, GetUserNameFromId(GetUserId(), false));
	args[0] = NameGetDatum(&schema_name);
	args[1] = NameGetDatum(&table_name);
	args[2] = ObjectIdGetDatum(RelationGetRelid(rel));
	args[3] = CStringGetTextDatum(method);
	args[4] = Int64GetDatum(n_rows);
	args[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(spec_json));
	args[6] = PointerGetDatum(weights);
	args[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics_json));
	args[8] = NameGetDatum(&user_name);

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		ret = SPI_execute_with_args("INSERT INTO synth.models "
									"(source_schema, source_table, source_relid, method, status, "
									" n_rows, spec, weights, metrics, created_by) "
									"VALUES ($1, $2, $3, $4, 'ready', $5, $6, $7, $8, $9) "
									"RETURNING id",
									9, argtypes, args, NULL, false, 1);
		if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "synth: could not store the model: %s", SPI_result_code_string(ret));
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	return id;
}

/*
 * The newest ready model of a table, or 0.  A model is the table's by its
 * oid, or by its schema and name (after pg_dump and restore the oid differs;
 * generation still checks that the columns are the same).
 */
int64
synth_catalog_latest_model(Oid relid)
{
	SynthOwnerAccess access;
	Oid			argtypes[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		args[3];
	NameData	schema_name;
	NameData	table_name;
	int64		id = 0;

	namestrcpy(&schema_name, get_namespace_name(get_rel_namespace(relid)));
	namestrcpy(&table_name, get_rel_name(relid));
	args[0] = ObjectIdGetDatum(relid);
	args[1] = NameGetDatum(&schema_name);
	args[2] = NameGetDatum(&table_name);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		if (SPI_execute_with_args("SELECT id FROM synth.models WHERE status = 'ready' "
								  "AND (source_relid = $1 OR (source_schema = $2 AND source_table = $3)) "
								  "ORDER BY id DESC LIMIT 1",
								  3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.models");
		if (SPI_processed == 1)
		{
			bool		isnull;

			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	return id;
}

/*
 * Load a model by id; *relid receives its source table: the recorded oid, or
 * the table of that schema and name when the oid is gone (after a restore).
 */
SynthModel *
synth_catalog_load(int64 model_id, Oid *relid)
{
	SynthOwnerAccess access;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	MemoryContext callercxt = CurrentMemoryContext;
	bytea	   *weights = NULL;
	char	   *status = NULL;
	bool		found = false;

	args[0] = Int64GetDatum(model_id);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		if (SPI_execute_with_args("SELECT coalesce((SELECT c.oid FROM pg_class c WHERE c.oid = m.source_relid "
								  "AND c.relname = m.source_table), to_regclass(format('%I.%I', "
								  "m.source_schema, m.source_table))::oid, m.source_relid), "
								  "status, weights FROM synth.models m WHERE id = $1",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.models");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			MemoryContext oldcxt;
			Datum		w;

			found = true;
			*relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
			oldcxt = MemoryContextSwitchTo(callercxt);
			status = SPI_getvalue(tup, desc, 2);
			w = SPI_getbinval(tup, desc, 3, &isnull);
			weights = isnull ? NULL : DatumGetByteaPCopy(w);
			MemoryContextSwitchTo(oldcxt);
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("synth model " INT64_FORMAT " does not exist", model_id),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	if (strcmp(status, "ready") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("synth model " INT64_FORMAT " is not ready (status \"%s\")", model_id, status),
				 errhint("Generate from a model whose status is 'ready'.")));
	if (weights == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("synth model " INT64_FORMAT " has no weights", model_id),
				 errhint("Train a new model with synth_train.")));
	return synth_model_deserialize(weights, model_id);
}
