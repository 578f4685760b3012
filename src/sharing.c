/*-------------------------------------------------------------------------
 *
 * sharing.c
 *	  Who may use a model: synth_grant_generate() and synth_revoke_generate(),
 *	  and the checks synth_generate and the catalog's row-level security make.
 *
 * A model's weights, spec and metrics come from the rows of its source table,
 * so by default only the roles that can read that table may use or see the
 * model.  A differentially private model (trained with an epsilon, its spend
 * in synth.ledger) releases nothing more than its epsilon allows, whoever
 * sees its rows: the table's owner may let other roles generate from it
 * without any privilege on the table.  Grants live in synth.model_grants,
 * written here as the catalog's owner after the caller has been checked.
 *
 * A grant names its role by oid and by name, with the system identifier of
 * the cluster it was made in.  In that cluster it holds for the role of that
 * oid while the role keeps that name: a role dropped and created again under
 * the same name does not inherit it.  Restored into another cluster by
 * pg_dump, where role oids differ, it holds for the role of that name, as
 * GRANTs restored by pg_dump do.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "sharing.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(synth_grant_generate);
PG_FUNCTION_INFO_V1(synth_revoke_generate);
PG_FUNCTION_INFO_V1(synth_can_read_table);
PG_FUNCTION_INFO_V1(synth_grant_role);

/*
 * A model is private when its spec records the privacy of its training and
 * the ledger the spend: both are written only by a training with an epsilon
 * (mst, or DP-SGD), in the transaction that stores the model.
 */
#define PRIVATE_MODEL_SQL \
	"(coalesce((m.spec->'privacy'->>'epsilon')::float8 > 0, false) AND " \
	"EXISTS (SELECT 1 FROM synth.ledger l WHERE l.model_id = m.id AND l.epsilon > 0))"

static void
sharing_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
}

bool
synth_can_read_relation(Oid relid)
{
	Oid			userid = GetUserId();

	if (!OidIsValid(relid) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return false;
	return pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK;
}

/*
 * The role a grant holds for now, or InvalidOid: the granted role while it
 * keeps its name; after a restore into another cluster, the role of that name.
 */
static Oid
grant_role(Oid grantee, const char *grantee_name, int64 cluster)
{
	Oid			role = get_role_oid(grantee_name, true);

	if (!OidIsValid(role))
		return InvalidOid;
	if (role == grantee || (uint64) cluster != GetSystemIdentifier())
		return role;
	return InvalidOid;
}

/* Does one of the grants (grantee, grantee_name, cluster; from column 'first' on) hold for userid? */
static bool
grant_row_holds(HeapTuple tup, TupleDesc desc, int first, Oid userid)
{
	bool		isnull;
	Oid			grantee = DatumGetObjectId(SPI_getbinval(tup, desc, first, &isnull));
	char	   *name = SPI_getvalue(tup, desc, first + 1);
	int64		cluster = DatumGetInt64(SPI_getbinval(tup, desc, first + 2, &isnull));
	Oid			role = grant_role(grantee, name, cluster);

	return OidIsValid(role) && has_privs_of_role(userid, role);
}

bool
synth_generate_granted(int64 model_id)
{
	SynthOwnerAccess access;
	Oid			userid = GetUserId();
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(model_id)};
	bool		granted = false;

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		sharing_connect();
		if (SPI_execute_with_args("SELECT g.grantee, g.grantee_name, g.cluster "
								  "FROM synth.model_grants g JOIN synth.models m ON m.id = g.model_id "
								  "WHERE g.model_id = $1 AND m.status = 'ready' AND " PRIVATE_MODEL_SQL,
								  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.model_grants");
		for (uint64 i = 0; i < SPI_processed && !granted; i++)
			granted = grant_row_holds(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, userid);
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	return granted;
}

int64
synth_latest_granted_model(Oid relid)
{
	SynthOwnerAccess access;
	Oid			userid = GetUserId();
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
		sharing_connect();
		/* the models of the table as synth_catalog_latest_model finds them */
		if (SPI_execute_with_args("SELECT m.id, g.grantee, g.grantee_name, g.cluster "
								  "FROM synth.models m JOIN synth.model_grants g ON g.model_id = m.id "
								  "WHERE m.status = 'ready' AND (m.source_relid = $1 OR "
								  "(m.source_schema = $2 AND m.source_table = $3)) AND " PRIVATE_MODEL_SQL
								  " ORDER BY m.id DESC",
								  3, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.model_grants");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;

			if (grant_row_holds(tup, SPI_tuptable->tupdesc, 2, userid))
			{
				id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
				break;
			}
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

/* What a grant or revoke needs to know of a model. */
typedef struct ModelFacts
{
	Oid			relid;			/* its source table, InvalidOid when gone */
	char	   *method;
	bool		private;
} ModelFacts;

static void
model_facts(int64 model_id, ModelFacts *facts)
{
	SynthOwnerAccess access;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(model_id)};
	MemoryContext callercxt = CurrentMemoryContext;
	bool		found = false;

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		sharing_connect();
		if (SPI_execute_with_args("SELECT synth.source_oid(m.source_relid, m.source_schema, m.source_table), "
								  "m.method, " PRIVATE_MODEL_SQL " FROM synth.models m WHERE m.id = $1",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.models");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		relid = SPI_getbinval(tup, desc, 1, &isnull);
			MemoryContext oldcxt;

			found = true;
			facts->relid = isnull ? InvalidOid : DatumGetObjectId(relid);
			facts->private = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			oldcxt = MemoryContextSwitchTo(callercxt);
			facts->method = SPI_getvalue(tup, desc, 2);
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
				 errhint("SELECT id, source_table FROM synth.models lists the models of the tables you can read.")));
	if (!OidIsValid(facts->relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("synth model " INT64_FORMAT " has no source table", model_id),
				 errdetail("Its table is gone, or it is a member of a schema's model set."),
				 errhint("Grant a model of an existing table: SELECT id, source_table FROM synth.models.")));
}

/* Ensure the model id is given. */
static inline int64
CheckModelArgument(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model id must not be NULL"),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	return PG_GETARG_INT64(0);
}

/* Ensure the caller owns the model's table (or is a superuser): only the owner shares. */
static inline void
CheckSharingOwner(Oid relid, const char *action)
{
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to %s its models", get_rel_name(relid), action),
				 errhint("Ask the table's owner to call synth_%s_generate.", action)));
}

/* Ensure the role exists; returns its name. */
static inline char *
CheckRole(Oid role)
{
	char	   *name = OidIsValid(role) ? GetUserNameFromId(role, true) : NULL;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role),
				 errhint("Name an existing role, e.g. synth_grant_generate(12, 'analysts').")));
	return name;
}

/* synth_grant_generate(model bigint, role regrole) RETURNS void */
Datum
synth_grant_generate(PG_FUNCTION_ARGS)
{
	int64		model_id = CheckModelArgument(fcinfo);
	Oid			role;
	char	   *role_name;
	ModelFacts	facts;
	SynthOwnerAccess access;
	Oid			argtypes[5] = {INT8OID, OIDOID, NAMEOID, INT8OID, NAMEOID};
	Datum		args[5];
	NameData	grantee_name;
	NameData	grantor_name;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be NULL"),
				 errhint("Call it as SELECT synth_grant_generate(model_id, 'rolename').")));
	role = PG_GETARG_OID(1);
	role_name = CheckRole(role);
	model_facts(model_id, &facts);
	CheckSharingOwner(facts.relid, "grant");

	/* Ensure the model is differentially private: the others reveal their rows */
	if (!facts.private)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("synth model " INT64_FORMAT " is not differentially private", model_id),
				 errdetail("It was trained by method %s without an epsilon: its rows, spec and metrics can reveal rows of table \"%s\", so only roles that can read the table may use it.",
						   facts.method, get_rel_name(facts.relid)),
				 errhint("Grant SELECT on table %s to %s instead, or train a private model (SELECT synth_train('%s', 'mst', '{\"epsilon\": 1}')) and grant that one.",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(facts.relid)),
													get_rel_name(facts.relid)),
						 quote_identifier(role_name),
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(facts.relid)),
													get_rel_name(facts.relid)))));

	namestrcpy(&grantee_name, role_name);
	namestrcpy(&grantor_name, GetUserNameFromId(GetUserId(), false));
	args[0] = Int64GetDatum(model_id);
	args[1] = ObjectIdGetDatum(role);
	args[2] = NameGetDatum(&grantee_name);
	args[3] = Int64GetDatum((int64) GetSystemIdentifier());
	args[4] = NameGetDatum(&grantor_name);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		sharing_connect();
		if (SPI_execute_with_args("INSERT INTO synth.model_grants "
								  "(model_id, grantee, grantee_name, cluster, granted_by) "
								  "VALUES ($1, $2, $3, $4, $5) "
								  "ON CONFLICT (model_id, grantee_name) DO UPDATE SET "
								  "grantee = $2, cluster = $4, granted_by = $5, granted_at = now()",
								  5, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "synth: could not write synth.model_grants");
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

/*
 * synth_revoke_generate(model bigint, role regrole DEFAULT NULL) RETURNS integer:
 * the grants removed (NULL role: every grant of the model).
 */
Datum
synth_revoke_generate(PG_FUNCTION_ARGS)
{
	int64		model_id = CheckModelArgument(fcinfo);
	ModelFacts	facts;
	SynthOwnerAccess access;
	Oid			argtypes[2] = {INT8OID, NAMEOID};
	Datum		args[2];
	NameData	grantee_name;
	bool		all = PG_ARGISNULL(1);
	uint64		removed = 0;

	if (!all)
		namestrcpy(&grantee_name, CheckRole(PG_GETARG_OID(1)));
	model_facts(model_id, &facts);
	CheckSharingOwner(facts.relid, "revoke");

	args[0] = Int64GetDatum(model_id);
	args[1] = NameGetDatum(&grantee_name);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		sharing_connect();
		if (SPI_execute_with_args(all ? "DELETE FROM synth.model_grants WHERE model_id = $1" :
								  "DELETE FROM synth.model_grants WHERE model_id = $1 AND grantee_name = $2",
								  all ? 1 : 2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "synth: could not write synth.model_grants");
		removed = SPI_processed;
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
	PG_RETURN_INT32((int32) removed);
}

/* synth.can_read_table(relid oid) RETURNS boolean: for the catalog's row-level security */
Datum
synth_can_read_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(synth_can_read_relation(PG_GETARG_OID(0)));
}

/* synth.grant_role(grantee oid, grantee_name name, cluster bigint) RETURNS regrole */
Datum
synth_grant_role(PG_FUNCTION_ARGS)
{
	Oid			role = grant_role(PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(1)), PG_GETARG_INT64(2));

	if (!OidIsValid(role))
		PG_RETURN_NULL();
	PG_RETURN_OID(role);
}
