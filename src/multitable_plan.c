/*-------------------------------------------------------------------------
 *
 * multitable_plan.c
 *	  The plan of a schema for multi-table synthesis, from the catalog alone:
 *	  its tables and foreign keys, an order that puts parents first (cycles
 *	  broken at a nullable foreign key, filled in a second pass), each
 *	  table's context parent, and the view each table's model is trained on.
 *
 * The plan is a pure function of the schema's catalog and the options, so
 * synth_materialize recomputes it and checks it against the model set that
 * synth_train_schema stored: a schema that changed in between is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

static const char *const known_options[] = {"tables", "exclude", "context", "seed",
"rare_category_k", "sample_rows", NULL};

static void
option_error(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" %s", key, what),
			 errhint("Options are a jsonb object, e.g. '{\"tables\": [\"customers\", \"orders\"], \"exclude\": [\"orders.notes\"]}'.")));
}

/* The strings of an array option, or NIL when it is absent. */
static List *
option_strings(Jsonb *options, const char *key)
{
	JsonbValue	v;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	if (!getKeyJsonValueFromContainer(&options->root, key, strlen(key), &v))
		return NIL;
	if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
		option_error(key, "must be an array of names");
	it = JsonbIteratorInit(v.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvString)
			option_error(key, "must be an array of names");
		result = lappend(result, pnstrdup(v.val.string.val, v.val.string.len));
	}
	return result;
}

/*
 * Ensure options is an object of known keys with values of the right kind;
 * the training options of each table's model (seed, rare_category_k,
 * sample_rows) are passed on as they are and checked by synth_train.
 */
void
synth_mt_parse_options(Jsonb *options, SynthMtOptions *opts)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData train;

	memset(opts, 0, sizeof(*opts));
	opts->train_options = "";
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object"),
				 errhint("Pass e.g. '{\"tables\": [\"customers\", \"orders\"]}', or '{}' for the defaults.")));

	initStringInfo(&train);
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (int i = 0; known_options[i]; i++)
			known |= strcmp(key, known_options[i]) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("The options of synth_train_schema are tables, exclude, context, seed, rare_category_k and sample_rows.")));
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "seed") == 0 || strcmp(key, "rare_category_k") == 0 ||
			strcmp(key, "sample_rows") == 0)
		{
			if (v.type != jbvNumeric)
				option_error(key, "must be a number");
			appendStringInfo(&train, ", \"%s\": %s", key,
							 DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(v.val.numeric))));
		}
		else if (strcmp(key, "context") == 0)
		{
			JsonbIterator *cit;
			JsonbValue	cv;
			JsonbIteratorToken ctok;

			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				option_error(key, "must be an object of table names and foreign key names");
			cit = JsonbIteratorInit(v.val.binary.data);
			while ((ctok = JsonbIteratorNext(&cit, &cv, true)) != WJB_DONE)
			{
				if (ctok == WJB_KEY)
					opts->context_tables = lappend(opts->context_tables,
												   pnstrdup(cv.val.string.val, cv.val.string.len));
				else if (ctok == WJB_VALUE)
				{
					if (cv.type != jbvString)
						option_error(key, "must be an object of table names and foreign key names");
					opts->context_fks = lappend(opts->context_fks,
												pnstrdup(cv.val.string.val, cv.val.string.len));
				}
			}
		}
	}
	opts->tables = option_strings(options, "tables");
	opts->exclude = option_strings(options, "exclude");
	opts->train_options = train.data;
}

static bool
list_has_string(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	return false;
}

/* The tables of the schema (ordinary and partitioned, not partitions), by name. */
static List *
schema_tables(Oid nspid)
{
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(nspid)};
	List	   *result = NIL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT c.oid FROM pg_catalog.pg_class c "
							  "WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p') "
							  "AND NOT c.relispartition ORDER BY c.relname",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not list the tables of a schema");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

		result = lappend_oid(result, relid);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	return result;
}

/* The table named in the option "tables": one of the schema's, not a partition. */
static Oid
named_table(Oid nspid, const char *schema, const char *name)
{
	Oid			relid = get_relname_relid(name, nspid);
	char		relkind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" named in option \"tables\" does not exist in schema \"%s\"",
						name, schema),
				 errhint("Name tables of the schema, as \\dt %s.* lists them.", quote_identifier(schema))));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" named in option \"tables\" is not a table", name),
				 errhint("synth_train_schema trains tables; train a view on its own with synth_train.")));
	if (get_rel_relispartition(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" named in option \"tables\" is a partition", name),
				 errhint("Name its partitioned table: its rows are modelled together and routed to the same partitions.")));
	return relid;
}

static int
table_index(SynthMtPlan *plan, Oid relid)
{
	for (int i = 0; i < plan->ntables; i++)
		if (plan->tables[i].relid == relid)
			return i;
	return -1;
}

/* A view column name: unique in the view and short enough for a name. */
static char *
unique_name(List *taken, const char *candidate)
{
	char	   *name = pstrdup(candidate);
	int			suffix = 1;

	for (;;)
	{
		int			len = strlen(name);

		if (len >= NAMEDATALEN)
		{
			len = pg_mbcliplen(name, len, NAMEDATALEN - 1);
			name[len] = '\0';
		}
		if (!list_has_string(taken, name))
			return name;
		suffix++;
		name = psprintf("%.*s~%d", NAMEDATALEN - 8, candidate, suffix);
	}
}

typedef struct NamedFk
{
	const char *name;
	ForeignKeyCacheInfo *info;
} NamedFk;

static int
cmp_named_fk(const void *a, const void *b)
{
	return strcmp(((const NamedFk *) a)->name, ((const NamedFk *) b)->name);
}

/*
 * Read the foreign keys among the plan's tables.  A foreign key that leaves
 * the set is an error: its parents would not be synthetic.
 */
static void
read_foreign_keys(SynthMtPlan *plan)
{
	int			cap = 16;

	plan->fks = palloc0(sizeof(SynthMtFk) * cap);
	for (int t = 0; t < plan->ntables; t++)
	{
		Relation	rel = relation_open(plan->tables[t].relid, AccessShareLock);
		List	   *fkeys = RelationGetFKeyList(rel);
		List	   *indexes = RelationGetIndexList(rel);
		int			n = list_length(fkeys);
		NamedFk    *sorted = palloc(sizeof(NamedFk) * Max(n, 1));
		ListCell   *lc;
		int			k = 0;

		/* in constraint-name order, so that the plan does not depend on oids */
		foreach(lc, fkeys)
		{
			sorted[k].info = lfirst(lc);
			sorted[k].name = get_constraint_name(sorted[k].info->conoid);
			k++;
		}
		qsort(sorted, n, sizeof(NamedFk), cmp_named_fk);
		for (k = 0; k < n; k++)
		{
			ForeignKeyCacheInfo *info = sorted[k].info;
			const char *best = sorted[k].name;
			HeapTuple	tup;
			Form_pg_constraint con;
			SynthMtFk  *fk;
			int			parent;

			tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(info->conoid));
			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for constraint %u", info->conoid);
			con = (Form_pg_constraint) GETSTRUCT(tup);
			if (OidIsValid(con->conparentid))
			{
				/* a clone of a partitioned table's foreign key */
				ReleaseSysCache(tup);
				continue;
			}
			ReleaseSysCache(tup);

			parent = table_index(plan, info->confrelid);
			if (parent < 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("foreign key \"%s\" of table \"%s\" references table \"%s\", which is not in the set",
								best, plan->tables[t].name, get_rel_name(info->confrelid)),
						 errdetail("Synthetic rows may only point at synthetic parents."),
						 errhint("Train the referenced table with the others (it must be in schema \"%s\" and in option \"tables\" when that is given).",
								 plan->schema)));
			if (plan->nfks == cap)
			{
				cap *= 2;
				plan->fks = repalloc(plan->fks, sizeof(SynthMtFk) * cap);
			}
			fk = &plan->fks[plan->nfks++];
			memset(fk, 0, sizeof(SynthMtFk));
			fk->conoid = info->conoid;
			fk->name = pstrdup(best);
			fk->child = t;
			fk->parent = parent;
			fk->nkeys = info->nkeys;
			for (int i = 0; i < info->nkeys; i++)
			{
				Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), info->conkey[i] - 1);

				fk->child_att[i] = info->conkey[i];
				fk->parent_att[i] = info->confkey[i];
				if (!att->attnotnull)
					fk->nullable = true;
			}

			/* one-to-one: a unique index whose columns are all referencing columns */
			{
				ListCell   *ilc;

				foreach(ilc, indexes)
				{
					HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(ilc)));
					Form_pg_index index;
					bool		covered = true;

					if (!HeapTupleIsValid(itup))
						continue;
					index = (Form_pg_index) GETSTRUCT(itup);
					if (!index->indisunique || !heap_attisnull(itup, Anum_pg_index_indpred, NULL))
						covered = false;
					for (int i = 0; covered && i < index->indnkeyatts; i++)
					{
						bool		found = false;

						for (int j = 0; j < fk->nkeys; j++)
							found |= index->indkey.values[i] == fk->child_att[j];
						covered = found;
					}
					if (covered)
						fk->unique = true;
					ReleaseSysCache(itup);
				}
			}
		}
		relation_close(rel, NoLock);
	}

	/* Ensure no column belongs to two foreign keys: it could not point at both parents */
	for (int a = 0; a < plan->nfks; a++)
		for (int b = a + 1; b < plan->nfks; b++)
		{
			SynthMtFk  *fa = &plan->fks[a];
			SynthMtFk  *fb = &plan->fks[b];

			if (fa->child != fb->child)
				continue;
			for (int i = 0; i < fa->nkeys; i++)
				for (int j = 0; j < fb->nkeys; j++)
					if (fa->child_att[i] == fb->child_att[j])
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("column \"%s\" of table \"%s\" belongs to foreign keys \"%s\" and \"%s\"",
										get_attname(plan->tables[fa->child].relid, fa->child_att[i], false),
										plan->tables[fa->child].name, fa->name, fb->name),
								 errdetail("synth_materialize fills each foreign key from one synthetic parent; overlapping foreign keys could not both hold."),
								 errhint("Leave one of the tables out with option \"tables\".")));
		}
}

/* Ensure a cycle of foreign keys can be broken; returns the foreign key to defer. */
static int
break_cycle(SynthMtPlan *plan, const bool *placed)
{
	int		   *next = palloc(sizeof(int) * plan->ntables);
	int		   *via = palloc(sizeof(int) * plan->ntables);
	int		   *seen = palloc(sizeof(int) * plan->ntables);
	int			start = -1;
	int			t;
	int			step = 0;
	int			chosen = -1;
	StringInfoData tables;
	StringInfoData keys;

	/* follow, from the first unplaced table, a foreign key to an unplaced parent */
	for (int i = 0; i < plan->ntables; i++)
	{
		next[i] = via[i] = -1;
		seen[i] = -1;
		if (!placed[i] && start < 0)
			start = i;
		for (int f = 0; f < plan->nfks && !placed[i]; f++)
		{
			SynthMtFk  *fk = &plan->fks[f];

			if (fk->child == i && !fk->deferred && fk->parent != i && !placed[fk->parent])
			{
				next[i] = fk->parent;
				via[i] = f;
				break;
			}
		}
	}
	for (t = start; seen[t] < 0; t = next[t])
		seen[t] = step++;

	/* the cycle is t -> next[t] -> ... -> t; defer its first nullable foreign key */
	initStringInfo(&tables);
	initStringInfo(&keys);
	appendStringInfoString(&tables, quote_identifier(plan->tables[t].name));
	for (int c = t;;)
	{
		for (int f = 0; f < plan->nfks && chosen < 0; f++)
		{
			SynthMtFk  *fk = &plan->fks[f];

			if (fk->child == c && fk->parent == next[c] && !fk->deferred && fk->nullable)
				chosen = f;
		}
		appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "",
						 quote_identifier(plan->fks[via[c]].name));
		c = next[c];
		appendStringInfo(&tables, " -> %s", quote_identifier(plan->tables[c].name));
		if (c == t)
			break;
	}
	if (chosen < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign keys form a cycle with no nullable column: %s", tables.data),
				 errdetail("The cycle's foreign keys are %s; every row would need a parent that does not exist yet.",
						   keys.data),
				 errhint("Make one foreign key of the cycle nullable (it is then filled in a second pass), or leave a table out with option \"tables\".")));
	return chosen;
}

/*
 * Order the tables parents first.  Self-references and, in each cycle, one
 * nullable foreign key are deferred: NULL when rows go in, filled after.
 */
static void
order_tables(SynthMtPlan *plan)
{
	bool	   *placed = palloc0(sizeof(bool) * plan->ntables);
	int		   *order = palloc(sizeof(int) * plan->ntables);
	int			nplaced = 0;
	SynthMtTable *tables;

	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];

		if (fk->child != fk->parent)
			continue;
		if (!fk->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("foreign keys form a cycle with no nullable column: %s -> %s",
							quote_identifier(plan->tables[fk->child].name),
							quote_identifier(plan->tables[fk->child].name)),
					 errdetail("Foreign key \"%s\" references its own table and is NOT NULL, so the first row would need a parent that does not exist yet.",
							   fk->name),
					 errhint("Make the foreign key's column nullable (it is then filled in a second pass), or leave the table out with option \"tables\".")));
		fk->deferred = true;
	}

	while (nplaced < plan->ntables)
	{
		bool		progress = false;

		/* tables are in name order: the first ready one goes next */
		for (int t = 0; t < plan->ntables; t++)
		{
			bool		ready = !placed[t];

			for (int f = 0; f < plan->nfks && ready; f++)
			{
				SynthMtFk  *fk = &plan->fks[f];

				if (fk->child == t && fk->parent != t && !fk->deferred && !placed[fk->parent])
					ready = false;
			}
			if (ready)
			{
				placed[t] = true;
				order[nplaced++] = t;
				progress = true;
				break;
			}
		}
		if (!progress)
			plan->fks[break_cycle(plan, placed)].deferred = true;
	}

	/* renumber: tables in generation order, foreign keys pointing at them */
	tables = palloc(sizeof(SynthMtTable) * Max(plan->ntables, 1));
	for (int i = 0; i < plan->ntables; i++)
		tables[i] = plan->tables[order[i]];
	for (int f = 0; f < plan->nfks; f++)
		for (int i = 0; i < plan->ntables; i++)
		{
			if (order[i] == plan->fks[f].child)
				plan->fks[f].child = -1 - i;
			if (order[i] == plan->fks[f].parent)
				plan->fks[f].parent = -1 - i;
		}
	for (int f = 0; f < plan->nfks; f++)
	{
		plan->fks[f].child = -1 - plan->fks[f].child;
		plan->fks[f].parent = -1 - plan->fks[f].parent;
	}
	plan->tables = tables;
}

/* Choose each table's context parent: the option's, else a NOT NULL foreign key first. */
static void
choose_contexts(SynthMtPlan *plan, SynthMtOptions *opts)
{
	for (int t = 0; t < plan->ntables; t++)
	{
		SynthMtTable *table = &plan->tables[t];
		const char *wanted = NULL;
		int			best = -1;

		for (int i = 0; i < list_length(opts->context_tables); i++)
			if (strcmp(list_nth(opts->context_tables, i), table->name) == 0)
				wanted = list_nth(opts->context_fks, i);

		table->context = -1;
		for (int f = 0; f < plan->nfks; f++)
		{
			SynthMtFk  *fk = &plan->fks[f];

			if (fk->child != t)
				continue;
			if (wanted != NULL)
			{
				if (strcmp(fk->name, wanted) != 0)
					continue;
				if (fk->deferred || fk->parent == t)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("foreign key \"%s\" cannot give table \"%s\" its context", wanted, table->name),
							 errdetail("It references its own table or closes a cycle, so its parent rows are filled in after the table's rows."),
							 errhint("Name another foreign key of the table in option \"context\".")));
				best = f;
				break;
			}
			if (fk->deferred || fk->parent == t)
				continue;
			if (best < 0 || (plan->fks[best].nullable && !fk->nullable))
				best = f;
		}
		if (wanted != NULL && best < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("table \"%s\" has no foreign key \"%s\" named in option \"context\"",
							table->name, wanted),
					 errhint("Name one of the table's foreign keys (\\d %s lists them).",
							 quote_identifier(table->name))));
		if (best >= 0)
		{
			table->context = best;
			plan->fks[best].context = true;
		}
	}
	for (int i = 0; i < list_length(opts->context_tables); i++)
	{
		bool		found = false;

		for (int t = 0; t < plan->ntables; t++)
			found |= strcmp(plan->tables[t].name, list_nth(opts->context_tables, i)) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"%s\" named in option \"context\" is not in the set",
							(char *) list_nth(opts->context_tables, i)),
					 errhint("Name tables that are trained.")));
	}
}

static bool
is_fk_column(SynthMtPlan *plan, int t, AttrNumber attnum)
{
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].child == t)
			for (int i = 0; i < plan->fks[f].nkeys; i++)
				if (plan->fks[f].child_att[i] == attnum)
					return true;
	return false;
}

static bool
has_default(Relation rel, Form_pg_attribute att)
{
	return att->atthasdef && rel->rd_att->constr != NULL;
}

/*
 * The table's own columns in its view: every column but generated ones,
 * foreign key columns and those the option "exclude" names.
 */
static void
own_columns(SynthMtPlan *plan, int t, SynthMtOptions *opts, List **names)
{
	SynthMtTable *table = &plan->tables[t];
	Relation	rel = relation_open(table->relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *keys = synth_key_columns(rel);

	table->cols = palloc0(sizeof(SynthMtColumn) * (desc->natts + plan->nfks * 2 + 64));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		char	   *name = NameStr(att->attname);
		char	   *qualified;
		SynthMtColumn *col;
		bool		supported;
		SynthValueType vtype;

		if (att->attisdropped || att->attgenerated != '\0')
			continue;
		if (is_fk_column(plan, t, att->attnum))
		{
			table->fk_attnums = lappend_int(table->fk_attnums, att->attnum);
			continue;
		}
		qualified = psprintf("%s.%s", table->name, name);
		if (list_has_string(opts->exclude, qualified))
		{
			/* Ensure an excluded NOT NULL column can still be filled */
			if (att->attnotnull && !has_default(rel, att) && att->attidentity == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is NOT NULL and has no default, so it cannot be left out of the model",
								qualified),
						 errhint("Model the column, or give it a DEFAULT.")));
			continue;
		}
		vtype = synth_value_type(getBaseType(att->atttypid), &supported);
		if (!supported)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" has type %s, which synth cannot model",
							qualified, format_type_be(att->atttypid)),
					 errhint("Leave it out with options => '{\"exclude\": [\"%s\"]}'; it is then filled with its default or NULL.",
							 qualified)));
		if (bms_is_member(att->attnum, keys) &&
			(vtype == SYNTH_VT_INTERVAL || vtype == SYNTH_VT_TIME || vtype == SYNTH_VT_OPAQUE))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" is a key of type %s, for which synth cannot make fresh values",
							qualified, format_type_be(att->atttypid)),
					 errhint("Leave it out with options => '{\"exclude\": [\"%s\"]}'; it is then filled with its default or NULL.",
							 qualified)));
		col = &table->cols[table->ncols++];
		col->name = pstrdup(name);
		col->role = SYNTH_MT_OWN;
		col->attnum = att->attnum;
		col->fk = -1;
		col->key = (bms_is_member(att->attnum, keys) && vtype != SYNTH_VT_BOOL &&
					vtype != SYNTH_VT_ENUM) || vtype == SYNTH_VT_UUID;
		if (col->key)
			table->key_names = lappend(table->key_names, col->name);
		*names = lappend(*names, col->name);
	}

	/* the columns that find a row again: the primary key, else a unique NOT NULL key */
	{
		List	   *indexes = RelationGetIndexList(rel);
		ListCell   *lc;
		int			best_primary = 0;

		foreach(lc, indexes)
		{
			HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
			Form_pg_index index;
			bool		usable = true;

			if (!HeapTupleIsValid(itup))
				continue;
			index = (Form_pg_index) GETSTRUCT(itup);
			if (!index->indisunique || !heap_attisnull(itup, Anum_pg_index_indpred, NULL) ||
				index->indnkeyatts > SYNTH_MT_MAX_FK_KEYS)
				usable = false;
			for (int i = 0; usable && i < index->indnkeyatts; i++)
			{
				AttrNumber	a = index->indkey.values[i];

				usable = a > 0 && TupleDescAttr(desc, a - 1)->attnotnull &&
					!is_fk_column(plan, t, a);
			}
			if (usable && (table->nident == 0 || (index->indisprimary && !best_primary)))
			{
				table->nident = index->indnkeyatts;
				for (int i = 0; i < index->indnkeyatts; i++)
					table->ident[i] = index->indkey.values[i];
				best_primary = index->indisprimary;
			}
			ReleaseSysCache(itup);
		}
	}
	relation_close(rel, NoLock);
}

/* Append the context, count and NULL-flag columns of table t and its view's SQL. */
static void
view_columns(SynthMtPlan *plan, int t, List **names)
{
	SynthMtTable *table = &plan->tables[t];
	StringInfoData sql;
	StringInfoData from;
	const char *schema = quote_identifier(plan->schema);

	initStringInfo(&sql);
	initStringInfo(&from);
	appendStringInfo(&from, " FROM %s.%s t", schema, quote_identifier(table->name));

	if (table->context >= 0)
	{
		SynthMtFk  *fk = &plan->fks[table->context];
		SynthMtTable *parent = &plan->tables[fk->parent];

		appendStringInfo(&from, " LEFT JOIN %s.%s p ON ", schema, quote_identifier(parent->name));
		for (int i = 0; i < fk->nkeys; i++)
			appendStringInfo(&from, "%sp.%s = t.%s", i > 0 ? " AND " : "",
							 quote_identifier(get_attname(parent->relid, fk->parent_att[i], false)),
							 quote_identifier(get_attname(table->relid, fk->child_att[i], false)));
		for (int c = 0; c < parent->ncols; c++)
		{
			SynthMtColumn *pc = &parent->cols[c];
			SynthMtColumn *col;

			if (pc->role != SYNTH_MT_OWN || pc->key)
				continue;
			col = &table->cols[table->ncols++];
			col->name = unique_name(*names, psprintf("%s.%s", parent->name, pc->name));
			col->role = SYNTH_MT_CONTEXT;
			col->attnum = pc->attnum;
			col->fk = table->context;
			*names = lappend(*names, col->name);
		}
	}

	/* children per row, through every foreign key that references this table */
	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];
		SynthMtTable *child = &plan->tables[fk->child];
		SynthMtColumn *col;
		StringInfoData cols;
		char	   *alias = psprintf("k%d", f);

		if (fk->parent != t)
			continue;
		col = &table->cols[table->ncols++];
		col->name = fk->count_col = unique_name(*names, psprintf("#%s", fk->name));
		col->role = SYNTH_MT_COUNT;
		col->fk = f;
		*names = lappend(*names, col->name);

		initStringInfo(&cols);
		for (int i = 0; i < fk->nkeys; i++)
			appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(get_attname(child->relid, fk->child_att[i], false)));
		appendStringInfo(&from, " LEFT JOIN (SELECT %s, pg_catalog.count(*) AS n FROM %s.%s GROUP BY %s) %s ON ",
						 cols.data, schema, quote_identifier(child->name), cols.data, alias);
		for (int i = 0; i < fk->nkeys; i++)
			appendStringInfo(&from, "%s%s.%s = t.%s", i > 0 ? " AND " : "", alias,
							 quote_identifier(get_attname(child->relid, fk->child_att[i], false)),
							 quote_identifier(get_attname(table->relid, fk->parent_att[i], false)));
	}

	/* is a nullable foreign key (other than the context's) NULL */
	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];
		SynthMtColumn *col;

		if (fk->child != t || fk->context || !fk->nullable)
			continue;
		col = &table->cols[table->ncols++];
		col->name = fk->null_col = unique_name(*names, psprintf("?%s", fk->name));
		col->role = SYNTH_MT_NULLFLAG;
		col->fk = f;
		*names = lappend(*names, col->name);
	}

	/* the SELECT list, in column order */
	appendStringInfoString(&sql, "SELECT ");
	for (int c = 0; c < table->ncols; c++)
	{
		SynthMtColumn *col = &table->cols[c];

		if (c > 0)
			appendStringInfoString(&sql, ", ");
		switch (col->role)
		{
			case SYNTH_MT_OWN:
				appendStringInfo(&sql, "t.%s", quote_identifier(col->name));
				break;
			case SYNTH_MT_CONTEXT:
				appendStringInfo(&sql, "p.%s AS %s",
								 quote_identifier(get_attname(plan->tables[plan->fks[col->fk].parent].relid,
															  col->attnum, false)),
								 quote_identifier(col->name));
				break;
			case SYNTH_MT_COUNT:
				appendStringInfo(&sql, "coalesce(k%d.n, 0) AS %s", col->fk,
								 quote_identifier(col->name));
				break;
			case SYNTH_MT_NULLFLAG:
				{
					SynthMtFk  *fk = &plan->fks[col->fk];

					appendStringInfoChar(&sql, '(');
					for (int i = 0; i < fk->nkeys; i++)
						appendStringInfo(&sql, "%st.%s IS NULL", i > 0 ? " OR " : "",
										 quote_identifier(get_attname(table->relid, fk->child_att[i], false)));
					appendStringInfo(&sql, ") AS %s", quote_identifier(col->name));
					break;
				}
		}
	}
	appendStringInfoString(&sql, from.data);
	table->view_sql = sql.data;
}

/* The plan of the schema's tables (or those the options name). */
SynthMtPlan *
synth_mt_plan(Oid nspid, SynthMtOptions *opts)
{
	SynthMtPlan *plan = palloc0(sizeof(SynthMtPlan));
	List	   *relids = NIL;
	List	  **names;
	ListCell   *lc;
	int			t;

	plan->nspid = nspid;
	plan->schema = get_namespace_name(nspid);
	if (opts->tables != NIL)
	{
		foreach(lc, opts->tables)
		{
			Oid			relid = named_table(nspid, plan->schema, lfirst(lc));

			if (!list_member_oid(relids, relid))
				relids = lappend_oid(relids, relid);
		}
		/* name order, as for a whole schema */
		relids = NIL;
		foreach(lc, schema_tables(nspid))
			if (list_has_string(opts->tables, get_rel_name(lfirst_oid(lc))))
				relids = lappend_oid(relids, lfirst_oid(lc));
	}
	else
		relids = schema_tables(nspid);
	if (relids == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("schema \"%s\" has no tables", plan->schema),
				 errhint("synth_train_schema trains the ordinary and partitioned tables of a schema.")));

	plan->ntables = list_length(relids);
	plan->tables = palloc0(sizeof(SynthMtTable) * plan->ntables);
	t = 0;
	foreach(lc, relids)
	{
		SynthMtTable *table = &plan->tables[t++];

		table->relid = lfirst_oid(lc);
		table->name = get_rel_name(table->relid);
		table->relkind = get_rel_relkind(table->relid);
		table->context = -1;
	}
	/* Ensure every excluded column names a table of the set and one of its columns */
	foreach(lc, opts->exclude)
	{
		char	   *name = lfirst(lc);
		char	   *dot = strchr(name, '.');
		int			found = -1;

		if (dot != NULL)
		{
			*dot = '\0';
			for (int i = 0; i < plan->ntables; i++)
				if (strcmp(plan->tables[i].name, name) == 0)
					found = i;
			*dot = '.';
		}
		if (found < 0 || get_attnum(plan->tables[found].relid, dot + 1) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" named in option \"exclude\" does not exist in the set", name),
					 errhint("Name columns as \"table.column\".")));
	}

	read_foreign_keys(plan);
	order_tables(plan);
	choose_contexts(plan, opts);

	names = palloc0(sizeof(List *) * plan->ntables);
	for (t = 0; t < plan->ntables; t++)
		own_columns(plan, t, opts, &names[t]);
	for (t = 0; t < plan->ntables; t++)
		view_columns(plan, t, &names[t]);

	/* Ensure a table whose foreign key is filled in a second pass can be found again */
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].deferred && plan->tables[plan->fks[f].child].nident == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("table \"%s\" needs a primary key for its foreign key \"%s\" to be filled in a second pass",
							plan->tables[plan->fks[f].child].name, plan->fks[f].name),
					 errdetail("The foreign key references its own table or closes a cycle; its rows are updated after every table is filled."),
					 errhint("Give the table a primary key, or a unique key of NOT NULL columns that are not foreign keys.")));
	return plan;
}

static const char *
role_name(SynthMtRole role)
{
	switch (role)
	{
		case SYNTH_MT_OWN:
			return "own";
		case SYNTH_MT_CONTEXT:
			return "context";
		case SYNTH_MT_COUNT:
			return "children";
		case SYNTH_MT_NULLFLAG:
			return "fk_is_null";
	}
	return "unknown";
}

/* The view columns of a table as jsonb text, for synth.model_set_members.columns. */
void
synth_mt_columns_json(SynthMtPlan *plan, SynthMtTable *t, StringInfo buf)
{
	appendStringInfoChar(buf, '[');
	for (int c = 0; c < t->ncols; c++)
	{
		SynthMtColumn *col = &t->cols[c];

		appendStringInfoString(buf, c > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(buf, col->name);
		appendStringInfo(buf, ", \"role\": \"%s\"", role_name(col->role));
		if (col->role == SYNTH_MT_OWN && col->key)
			appendStringInfoString(buf, ", \"key\": true");
		if (col->fk >= 0)
		{
			appendStringInfoString(buf, ", \"foreign_key\": ");
			escape_json(buf, plan->fks[col->fk].name);
		}
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

/* The plan as jsonb text, for synth.model_sets.plan: order, contexts, deferred keys. */
void
synth_mt_plan_json(SynthMtPlan *plan, StringInfo buf)
{
	appendStringInfoString(buf, "{\"order\": [");
	for (int t = 0; t < plan->ntables; t++)
	{
		if (t > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, plan->tables[t].name);
	}
	appendStringInfoString(buf, "], \"foreign_keys\": [");
	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];

		appendStringInfoString(buf, f > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(buf, fk->name);
		appendStringInfoString(buf, ", \"child\": ");
		escape_json(buf, plan->tables[fk->child].name);
		appendStringInfoString(buf, ", \"parent\": ");
		escape_json(buf, plan->tables[fk->parent].name);
		appendStringInfo(buf, ", \"fill\": \"%s\", \"nullable\": %s, \"unique\": %s}",
						 fk->context ? "context" : fk->deferred ? "second_pass" : "degree",
						 fk->nullable ? "true" : "false", fk->unique ? "true" : "false");
	}
	appendStringInfoString(buf, "]}");
}
