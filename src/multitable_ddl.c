/*-------------------------------------------------------------------------
 *
 * multitable_ddl.c
 *	  Create the target schema of synth_materialize with the source's DDL:
 *	  enum and domain types, serial sequences, tables with their column
 *	  types, defaults, identity and generated columns, partitioning and
 *	  partitions, NOT NULL, PRIMARY KEY, UNIQUE, CHECK and EXCLUDE
 *	  constraints, other indexes and foreign keys.
 *
 * Every definition is deparsed by PostgreSQL itself (format_type,
 * pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_partkeydef)
 * with search_path set to the source schema alone, so that the source's own
 * objects are written unqualified; the statements then run with search_path
 * set to the target schema first, so that those names resolve to the
 * copies: a foreign key's "REFERENCES customers(id)" and a column's enum
 * type both land in the target.  Everything runs as the caller, in the
 * caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/* The set's tables as an oid[] Datum, for queries over the catalog. */
static Datum
table_oids(SynthMtPlan *plan)
{
	Datum	   *elems = palloc(sizeof(Datum) * plan->ntables);

	for (int t = 0; t < plan->ntables; t++)
		elems[t] = ObjectIdGetDatum(plan->tables[t].relid);
	return PointerGetDatum(construct_array(elems, plan->ntables, OIDOID, sizeof(Oid), true,
										   TYPALIGN_INT));
}

/* Run a catalog query; append column 1 of every row (text) to *out. */
static void
collect(List **out, const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	MemoryContext callercxt = CurrentMemoryContext;

	if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read the catalog: %s", sql);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt;

		if (s == NULL)
			continue;
		oldcxt = MemoryContextSwitchTo(callercxt);
		*out = lappend(*out, pstrdup(s));
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * The statements that recreate the set's tables, in the order they must run.
 * Called with search_path = the source schema.
 */
static List *
deparse_schema(SynthMtPlan *plan)
{
	List	   *stmts = NIL;
	List	   *after = NIL;
	Oid			argtypes[2] = {OIDARRAYOID, OIDOID};
	Datum		args[2];

	args[0] = table_oids(plan);
	args[1] = ObjectIdGetDatum(plan->nspid);

	/* enums of the source schema that the tables use, directly or in arrays and domains */
	collect(&stmts,
			"WITH RECURSIVE used(t) AS ("
			"  SELECT a.atttypid FROM pg_catalog.pg_attribute a"
			"  WHERE a.attrelid = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped"
			"  UNION SELECT x FROM used u JOIN pg_catalog.pg_type ty ON ty.oid = u.t,"
			"  LATERAL (VALUES (ty.typelem), (ty.typbasetype)) v(x) WHERE x <> 0)"
			"SELECT format('CREATE TYPE %I AS ENUM (%s)', ty.typname,"
			"  (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)"
			"   FROM pg_catalog.pg_enum e WHERE e.enumtypid = ty.oid))"
			"FROM used u JOIN pg_catalog.pg_type ty ON ty.oid = u.t "
			"WHERE ty.typnamespace = $2 AND ty.typtype = 'e' ORDER BY ty.typname",
			2, argtypes, args);

	/* domains of the source schema, in creation order (a domain's base type is older) */
	collect(&stmts,
			"WITH RECURSIVE used(t) AS ("
			"  SELECT a.atttypid FROM pg_catalog.pg_attribute a"
			"  WHERE a.attrelid = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped"
			"  UNION SELECT x FROM used u JOIN pg_catalog.pg_type ty ON ty.oid = u.t,"
			"  LATERAL (VALUES (ty.typelem), (ty.typbasetype)) v(x) WHERE x <> 0)"
			"SELECT format('CREATE DOMAIN %I AS %s%s%s%s', ty.typname,"
			"  pg_catalog.format_type(ty.typbasetype, ty.typtypmod),"
			"  CASE WHEN ty.typcollation <> bt.typcollation THEN ' COLLATE ' || ty.typcollation::regcollation::text ELSE '' END,"
			"  CASE WHEN ty.typdefault IS NOT NULL THEN ' DEFAULT ' || ty.typdefault ELSE '' END,"
			"  CASE WHEN ty.typnotnull THEN ' NOT NULL' ELSE '' END)"
			"  || coalesce((SELECT string_agg(format(' CONSTRAINT %I %s', c.conname, pg_catalog.pg_get_constraintdef(c.oid)), '' ORDER BY c.conname)"
			"     FROM pg_catalog.pg_constraint c WHERE c.contypid = ty.oid AND c.contype = 'c'), '')"
			"FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_type bt ON bt.oid = ty.typbasetype "
			"WHERE ty.oid IN (SELECT t FROM used) AND ty.typnamespace = $2 AND ty.typtype = 'd' "
			"ORDER BY ty.oid",
			2, argtypes, args);

	/* sequences of serial columns, in the target too */
	collect(&stmts,
			"SELECT format('CREATE SEQUENCE %I AS %s', s.relname, pg_catalog.format_type(q.seqtypid, NULL)) "
			"FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
			"JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid "
			"WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass "
			"AND d.deptype = 'a' AND d.refobjid = ANY ($1) AND s.relnamespace = $2 ORDER BY s.relname",
			2, argtypes, args);
	collect(&after,
			"SELECT format('ALTER SEQUENCE %I OWNED BY %I.%I', s.relname, c.relname, a.attname) "
			"FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
			"JOIN pg_catalog.pg_class c ON c.oid = d.refobjid "
			"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid "
			"WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass "
			"AND d.deptype = 'a' AND d.refobjid = ANY ($1) AND s.relnamespace = $2 ORDER BY s.relname",
			2, argtypes, args);

	/* tables: columns with types, collations, defaults, identity, generation, NOT NULL */
	collect(&stmts,
			"SELECT format('CREATE TABLE %I (%s)%s', c.relname,"
			"  (SELECT string_agg(format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod))"
			"     || CASE WHEN a.attcollation <> ty.typcollation AND a.attcollation <> 0"
			"             THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END"
			"     || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) || ') STORED'"
			"             WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) ELSE '' END"
			"     || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'"
			"             WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END"
			"     || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY a.attnum)"
			"   FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid"
			"   LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
			"   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
			"  CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END) "
			"FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1) ORDER BY c.relname",
			1, argtypes, args);

	/* partitions, level by level, in the target schema */
	collect(&stmts,
			"SELECT format('CREATE TABLE %I PARTITION OF %I %s%s', c.relname, pc.relname,"
			"  pg_catalog.pg_get_expr(c.relpartbound, c.oid),"
			"  CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END) "
			"FROM pg_catalog.pg_class r, LATERAL pg_catalog.pg_partition_tree(r.oid) p "
			"JOIN pg_catalog.pg_class c ON c.oid = p.relid "
			"JOIN pg_catalog.pg_class pc ON pc.oid = p.parentrelid "
			"WHERE r.oid = ANY ($1) AND r.relkind = 'p' AND p.level > 0 ORDER BY p.level, c.relname",
			1, argtypes, args);

	/* PRIMARY KEY, UNIQUE, CHECK, EXCLUDE; then the indexes no constraint made */
	collect(&stmts,
			"SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', r.relname, c.conname,"
			"  pg_catalog.pg_get_constraintdef(c.oid)) "
			"FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class r ON r.oid = c.conrelid "
			"WHERE c.conrelid = ANY ($1) AND c.contype IN ('p', 'u', 'c', 'x') AND c.conparentid = 0 "
			"AND c.conislocal ORDER BY r.relname, c.contype <> 'p', c.conname",
			1, argtypes, args);
	collect(&stmts,
			"SELECT replace(pg_catalog.pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') "
			"FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid "
			"WHERE i.indrelid = ANY ($1) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c "
			"  WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY x.relname",
			1, argtypes, args);

	/* foreign keys last: their parents and unique keys exist by then */
	collect(&stmts,
			"SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', r.relname, c.conname,"
			"  pg_catalog.pg_get_constraintdef(c.oid)) "
			"FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class r ON r.oid = c.conrelid "
			"WHERE c.conrelid = ANY ($1) AND c.contype = 'f' AND c.conparentid = 0 "
			"ORDER BY r.relname, c.conname",
			1, argtypes, args);
	return list_concat(stmts, after);
}

/* Set search_path for what follows in this transaction (undone by AtEOXact_GUC). */
static void
set_search_path(const char *path)
{
	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Create the target schema and the set's tables in it, as in the source.
 * The target must not exist: a synthetic copy is never mixed into other
 * objects.
 */
void
synth_mt_create_schema(SynthMtPlan *plan, const char *target)
{
	int			nest;
	List	   *stmts;
	ListCell   *lc;

	if (OidIsValid(get_namespace_oid(target, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_SCHEMA),
				 errmsg("schema \"%s\" already exists", target),
				 errhint("synth_materialize creates the target schema: drop it first (DROP SCHEMA %s CASCADE), or name another.",
						 quote_identifier(target))));
	if (strcmp(target, plan->schema) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the target schema must differ from the source schema"),
				 errhint("Name a new schema, e.g. '%s_synth'.", plan->schema)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute(psprintf("CREATE SCHEMA %s", quote_identifier(target)), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "synth: could not create schema \"%s\"", target);

	nest = NewGUCNestLevel();
	set_search_path(quote_identifier(plan->schema));
	stmts = deparse_schema(plan);
	set_search_path(psprintf("%s, %s", quote_identifier(target), quote_identifier(plan->schema)));
	foreach(lc, stmts)
	{
		CHECK_FOR_INTERRUPTS();
		if (SPI_execute((char *) lfirst(lc), false, 0) < 0)
			elog(ERROR, "synth: could not run \"%s\"", (char *) lfirst(lc));
	}
	AtEOXact_GUC(true, nest);
	SPI_finish();
}

/*
 * Move the target's identity and serial sequences past the synthetic keys,
 * so that rows inserted later get new values.
 */
void
synth_mt_reset_sequences(SynthMtPlan *plan, const char *target)
{
	Oid			argtypes[1] = {NAMEOID};
	Datum		args[1];
	List	   *stmts = NIL;
	ListCell   *lc;

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(target));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	collect(&stmts,
			"SELECT format('SELECT pg_catalog.setval(%L, m) FROM (SELECT max(%I) AS m FROM %I.%I) s WHERE m IS NOT NULL',"
			"  pg_catalog.pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname), a.attname, n.nspname, c.relname) "
			"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
			"WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
			"AND pg_catalog.pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) IS NOT NULL "
			"ORDER BY c.relname, a.attnum",
			1, argtypes, args);
	foreach(lc, stmts)
		if (SPI_execute((char *) lfirst(lc), false, 0) < 0)
			elog(ERROR, "synth: could not run \"%s\"", (char *) lfirst(lc));
	SPI_finish();
	(void) plan;
}
