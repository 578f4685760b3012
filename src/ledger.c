/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Privacy budgets and the ledger: synth_set_budget(), synth_budget(), and
 *	  the spend of a private training, checked against the table's budget
 *	  and recorded in the training's own transaction.
 *
 * A table's budget (synth.budgets) caps the sum of the epsilons and of the
 * deltas of every private training of that table: sequential composition,
 * which holds whatever the mechanisms are.  A training locks the budget row
 * before it reads a row of data, refuses to start if its spend would pass
 * the cap, and adds its spend to the row; the ledger row (synth.ledger) that
 * says what was spent on which model follows once the model is stored.  All
 * of it is in the caller's transaction: a training that fails or is
 * cancelled spends nothing, and a second training of the same table waits
 * for the first to commit or roll back, then sees its spend.  Updating the
 * row (not only locking it) makes a concurrent spend a serialization
 * failure under REPEATABLE READ and SERIALIZABLE too.
 *
 * Both tables are written as the catalog's owner after the caller has been
 * checked; users read them, through row-level security, for the tables they
 * may read.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "privacy.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(synth_set_budget);
PG_FUNCTION_INFO_V1(synth_budget);

/* Sums of float8 spends may round: a spend within this of the cap fits. */
#define BUDGET_TOLERANCE	1e-9

static void
ledger_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
}

/*
 * Budgets are keyed by the table's oid, which pg_dump and restore change:
 * a budget row whose oid no longer names its table, but whose schema and
 * table name do name relid (synth.source_oid), is relid's and takes its oid
 * again, its spends added to any budget set since.  So a restored table
 * keeps what was spent on it (a new table of the same name inherits the
 * spends: conservative, never the other way).  Needs an SPI connection, as
 * the catalog's owner.
 */
static void
budget_adopt(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};

	if (SPI_execute_with_args("WITH stale AS ("
							  " DELETE FROM synth.budgets b WHERE b.relid <> $1"
							  " AND synth.source_oid(b.relid, b.source_schema, b.source_table) = $1"
							  " RETURNING b.*) "
							  "INSERT INTO synth.budgets AS b (relid, source_schema, source_table,"
							  " epsilon_cap, delta, epsilon_spent, delta_spent, owner, set_at) "
							  "SELECT $1, source_schema, source_table, max(epsilon_cap), max(delta),"
							  " sum(epsilon_spent), sum(delta_spent), max(owner), max(set_at)"
							  " FROM stale GROUP BY source_schema, source_table "
							  "ON CONFLICT (relid) DO UPDATE SET"
							  " epsilon_spent = b.epsilon_spent + excluded.epsilon_spent,"
							  " delta_spent = b.delta_spent + excluded.delta_spent",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "synth: could not update synth.budgets");
}

/* Ensure epsilon and delta are a usable privacy parameter pair. */
static inline void
CheckPrivacyParameters(double epsilon, double delta)
{
	if (!(epsilon > 0.0) || isinf(epsilon))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon must be a positive number, not %g", epsilon),
				 errhint("Typical values lie between 0.1 and 10; smaller is more private.")));
	if (!(delta > 0.0 && delta < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must lie strictly between 0 and 1, not %g", delta),
				 errhint("Take delta well below one over the number of rows, e.g. 1e-6.")));
}

/* Ensure the caller owns the table: only its owner sets its budget. */
static inline void
CheckBudgetOwner(Oid relid)
{
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to set its privacy budget", get_rel_name(relid)),
				 errhint("Ask the table's owner to call synth_set_budget.")));
}

/* Ensure the caller may see the table's budget: its owner or a reader. */
static inline void
CheckBudgetReader(Oid relid)
{
	if (!pg_class_ownercheck(relid, GetUserId()) &&
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read the privacy budget of table %s", get_rel_name(relid)),
				 errhint("The owner of a table and the roles that can SELECT from it can see its budget.")));
}

static inline void
CheckRelation(Oid relid)
{
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
}

/* synth_set_budget(source regclass, epsilon float8, delta float8 DEFAULT 1e-6) */
Datum
synth_set_budget(PG_FUNCTION_ARGS)
{
	Oid			relid;
	double		epsilon;
	double		delta;
	SynthOwnerAccess access;
	Oid			argtypes[6] = {OIDOID, NAMEOID, NAMEOID, FLOAT8OID, FLOAT8OID, NAMEOID};
	Datum		args[6];
	NameData	schema_name;
	NameData	table_name;
	NameData	owner_name;
	double		spent = 0.0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source table and epsilon must not be NULL"),
				 errhint("Call it as SELECT synth_set_budget('schema.table', epsilon => 1.0).")));
	relid = PG_GETARG_OID(0);
	epsilon = PG_GETARG_FLOAT8(1);
	delta = PG_ARGISNULL(2) ? SYNTH_DEFAULT_DELTA : PG_GETARG_FLOAT8(2);
	CheckRelation(relid);
	CheckBudgetOwner(relid);
	CheckPrivacyParameters(epsilon, delta);

	namestrcpy(&schema_name, get_namespace_name(get_rel_namespace(relid)));
	namestrcpy(&table_name, get_rel_name(relid));
	namestrcpy(&owner_name, GetUserNameFromId(GetUserId(), false));
	args[0] = ObjectIdGetDatum(relid);
	args[1] = NameGetDatum(&schema_name);
	args[2] = NameGetDatum(&table_name);
	args[3] = Float8GetDatum(epsilon);
	args[4] = Float8GetDatum(delta);
	args[5] = NameGetDatum(&owner_name);

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		bool		isnull;

		ledger_connect();
		budget_adopt(relid);
		if (SPI_execute_with_args("INSERT INTO synth.budgets AS b "
								  "(relid, source_schema, source_table, epsilon_cap, delta, owner) "
								  "VALUES ($1, $2, $3, $4, $5, $6) "
								  "ON CONFLICT (relid) DO UPDATE SET source_schema = $2, "
								  "source_table = $3, epsilon_cap = $4, delta = $5, owner = $6, "
								  "set_at = now() "
								  "RETURNING b.epsilon_spent",
								  6, argtypes, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "synth: could not write synth.budgets");
		spent = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();

	if (spent > epsilon * (1 + BUDGET_TOLERANCE))
		ereport(NOTICE,
				(errmsg("table %s has already spent epsilon %g, more than the new cap %g",
						get_rel_name(relid), spent, epsilon),
				 errdetail("Spends are never refunded; private trainings of the table are refused until the cap exceeds what was spent.")));
	PG_RETURN_VOID();
}

/* synth_budget(source regclass) RETURNS TABLE (epsilon_cap, delta, epsilon_spent, delta_spent, epsilon_remaining) */
Datum
synth_budget(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	SynthOwnerAccess access;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	bool		found = false;
	double		row[4];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source table must not be NULL"),
				 errhint("Call it as SELECT * FROM synth_budget('schema.table').")));
	relid = PG_GETARG_OID(0);
	CheckRelation(relid);
	CheckBudgetReader(relid);
	InitMaterializedSRF(fcinfo, 0);

	args[0] = ObjectIdGetDatum(relid);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		ledger_connect();
		budget_adopt(relid);
		if (SPI_execute_with_args("SELECT epsilon_cap, delta, epsilon_spent, delta_spent "
								  "FROM synth.budgets WHERE relid = $1",
								  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.budgets");
		if (SPI_processed == 1)
		{
			found = true;
			for (int i = 0; i < 4; i++)
			{
				bool		isnull;

				row[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, i + 1, &isnull));
			}
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();

	if (found)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		for (int i = 0; i < 4; i++)
			values[i] = Float8GetDatum(row[i]);
		values[4] = Float8GetDatum(Max(row[0] - row[2], 0.0));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Spend (epsilon, delta) of table relid's budget, before the training reads
 * data: lock the budget row, refuse a spend that passes the cap, add it.
 * delta < 0 asks for the default share of what remains of the budget's
 * delta, in proportion to the epsilon spent out of what remains of it, so
 * that spending the rest of the epsilon spends exactly the rest of the
 * delta.  Returns the delta spent.
 */
double
synth_budget_spend(Oid relid, double epsilon, double delta)
{
	SynthOwnerAccess access;
	Oid			argtypes[3] = {OIDOID, FLOAT8OID, FLOAT8OID};
	Datum		args[3];
	bool		found = false;
	double		cap = 0,
				cap_delta = 0,
				spent = 0,
				spent_delta = 0;
	char	   *relname = get_rel_name(relid);

	args[0] = ObjectIdGetDatum(relid);
	synth_owner_access_begin(&access);
	PG_TRY();
	{
		ledger_connect();
		budget_adopt(relid);
		if (SPI_execute_with_args("SELECT epsilon_cap, delta, epsilon_spent, delta_spent "
								  "FROM synth.budgets WHERE relid = $1 FOR UPDATE",
								  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not read synth.budgets");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			found = true;
			cap = DatumGetFloat8(SPI_getbinval(tup, desc, 1, &isnull));
			cap_delta = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
			spent = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			spent_delta = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		}
		if (found)
		{
			bool		default_delta = delta < 0;

			if (default_delta && cap - spent > 0)
				delta = Min((cap_delta - spent_delta) * epsilon / (cap - spent), cap_delta - spent_delta);
			if (!(spent + epsilon > cap * (1 + BUDGET_TOLERANCE)) && default_delta && !(delta > 0))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the delta of the privacy budget of table \"%s\" is spent", relname),
						 errdetail("The budget's delta is %g and %g is spent.", cap_delta, spent_delta),
						 errhint("Ask the table's owner to raise the budget's delta with synth_set_budget.")));
			if (!default_delta)
				CheckPrivacyParameters(epsilon, delta);
			if (spent + epsilon > cap * (1 + BUDGET_TOLERANCE))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("training with epsilon %g would exceed the privacy budget of table \"%s\"",
								epsilon, relname),
						 errdetail("The budget is epsilon %g; %g is spent and %g remains.",
								   cap, spent, Max(cap - spent, 0.0)),
						 cap - spent > 0 ?
						 errhint("Train with an epsilon of at most %g, or ask the table's owner to raise the budget with synth_set_budget.",
								 cap - spent) :
						 errhint("The budget is spent: only the table's owner can raise it, with synth_set_budget.")));
			if (spent_delta + delta > cap_delta * (1 + BUDGET_TOLERANCE))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("training with delta %g would exceed the privacy budget of table \"%s\"",
								delta, relname),
						 errdetail("The budget's delta is %g; %g is spent and %g remains.",
								   cap_delta, spent_delta, Max(cap_delta - spent_delta, 0.0)),
						 errhint("Leave \"delta\" out of the options to spend the default share, or ask the table's owner to raise the budget.")));
			args[1] = Float8GetDatum(epsilon);
			args[2] = Float8GetDatum(delta);
			if (SPI_execute_with_args("UPDATE synth.budgets SET epsilon_spent = epsilon_spent + $2, "
									  "delta_spent = delta_spent + $3 WHERE relid = $1",
									  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE ||
				SPI_processed != 1)
				elog(ERROR, "synth: could not update synth.budgets");
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
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no privacy budget", relname),
				 errdetail("A training with epsilon spends from the table's budget, and none is set."),
				 errhint("The table's owner sets one: SELECT synth_set_budget('%s', epsilon => 3.0);",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname))));
	return delta;
}

/*
 * Record a spend in synth.ledger: which model, what mechanism with which
 * parameters (a JSON object), and the (epsilon, delta) it cost.
 */
void
synth_ledger_record(Oid relid, int64 model_id, const char *mechanism, const char *params_json,
					double epsilon, double delta)
{
	SynthOwnerAccess access;
	Oid			argtypes[9] = {INT8OID, OIDOID, NAMEOID, NAMEOID, TEXTOID, JSONBOID,
	FLOAT8OID, FLOAT8OID, NAMEOID};
	Datum		args[9];
	NameData	schema_name;
	NameData	table_name;
	NameData	role_name;

	namestrcpy(&schema_name, get_namespace_name(get_rel_namespace(relid)));
	namestrcpy(&table_name, get_rel_name(relid));
	namestrcpy(&role_name, GetUserNameFromId(GetUserId(), false));
	args[0] = Int64GetDatum(model_id);
	args[1] = ObjectIdGetDatum(relid);
	args[2] = NameGetDatum(&schema_name);
	args[3] = NameGetDatum(&table_name);
	args[4] = CStringGetTextDatum(mechanism);
	args[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params_json));
	args[6] = Float8GetDatum(epsilon);
	args[7] = Float8GetDatum(delta);
	args[8] = NameGetDatum(&role_name);

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		ledger_connect();
		if (SPI_execute_with_args("INSERT INTO synth.ledger (model_id, relid, source_schema, "
								  "source_table, mechanism, parameters, epsilon, delta, role) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
								  9, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "synth: could not write synth.ledger");
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
}
