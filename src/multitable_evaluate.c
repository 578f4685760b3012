/*-------------------------------------------------------------------------
 *
 * multitable_evaluate.c
 *	  synth_evaluate_schema(real, synthetic): multi-table fidelity of a
 *	  synthetic schema against the real one.
 *
 * Tables are matched by name.  For each table: synth_evaluate's figures
 * over the columns that are neither keys nor foreign keys (keys are fresh and
 * foreign keys point at other rows by design).  For each foreign key of the
 * real schema:
 *
 *	- CardinalityShapeSimilarity: 1 - the Kolmogorov-Smirnov distance between
 *	  the distributions of children per parent row (parents without children
 *	  count as 0), as SDMetrics names it;
 *	- ParentChildTrend, per numeric parent column and child aggregate (the
 *	  number of children, the mean of each numeric child column):
 *	  1 - |Pearson real - Pearson synthetic| / 2, the CorrelationSimilarity of
 *	  a parent attribute with what its children look like ("customers who are
 *	  older have more orders, and larger ones").
 *
 * Summary rows (table_name NULL): the mean per-table quality_score, the mean
 * cardinality_shape, the mean parent_child_trends, and multi_table_score,
 * the mean of those three.  A score that is undefined (a constant column has
 * no correlation) is NULL and left out of the means.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(synth_evaluate_schema);

/* Numeric columns of a parent or child compared in trends, at most. */
#define SYNTH_EVAL_MAX_TREND_COLUMNS	10

typedef struct Output
{
	ReturnSetInfo *rsinfo;
	double		quality_sum;
	int			quality_n;
	double		cardinality_sum;
	int			cardinality_n;
	double		trend_sum;
	int			trend_n;
} Output;

static void
emit(Output *out, const char *table, const char *column, const char *metric, double score,
	 bool isnull)
{
	Datum		values[4];
	bool		nulls[4] = {table == NULL, column == NULL, false, isnull || isnan(score)};

	values[0] = table ? CStringGetTextDatum(table) : (Datum) 0;
	values[1] = column ? CStringGetTextDatum(column) : (Datum) 0;
	values[2] = CStringGetTextDatum(metric);
	values[3] = Float8GetDatum(score);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
}

/* Run a query as the caller; the result stays in SPI_tuptable. */
static void
query(const char *sql)
{
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "synth: could not run \"%s\"", sql);
}

static int64
query_count(const char *sql)
{
	bool		isnull;

	query(sql);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* A table's columns: skip (key or foreign key column), numeric, datetime. */
static const char *const key_columns_sql =
"SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), "
"  (EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisunique"
"     AND i.indpred IS NULL AND a.attnum = ANY (i.indkey))"
"   OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'"
"     AND a.attnum = ANY (k.conkey))"
"   OR a.attidentity <> '' OR pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname) IS NOT NULL"
"   OR t.oid = 'pg_catalog.uuid'::pg_catalog.regtype) AS skip, "
"  t.typcategory = 'N' AS numeric, t.typcategory = 'D' AS datetime "
"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
"JOIN pg_catalog.pg_type t ON t.oid = coalesce(nullif(("
"  SELECT typbasetype FROM pg_catalog.pg_type WHERE oid = a.atttypid), 0), a.atttypid) "
"WHERE c.oid = %u AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum";

typedef struct Col
{
	char	   *name;
	bool		skip;			/* key or foreign key column */
	bool		numeric;
	bool		datetime;
} Col;

static List *
table_columns(Oid relid)
{
	List	   *cols = NIL;

	query(psprintf(key_columns_sql, relid));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Col		   *c = palloc0(sizeof(Col));
		bool		isnull;

		c->name = pstrdup(SPI_getvalue(tup, desc, 1));
		c->skip = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		c->numeric = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		c->datetime = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		cols = lappend(cols, c);
	}
	return cols;
}

/* A numeric or datetime column as float8 in SQL. */
static char *
as_float(const char *alias, Col *c)
{
	if (c->datetime)
		return psprintf("extract(epoch FROM %s.%s)::float8", alias, quote_identifier(c->name));
	return psprintf("%s.%s::float8", alias, quote_identifier(c->name));
}

/* synth_evaluate over the table pair, without key and foreign key columns. */
static void
evaluate_table(Output *out, const char *real_schema, const char *syn_schema, Oid relid,
			   const char *table)
{
	List	   *cols = table_columns(relid);
	StringInfoData list;
	ListCell   *lc;
	char	   *qreal = quote_qualified_identifier(real_schema, table);
	char	   *qsyn = quote_qualified_identifier(syn_schema, table);
	int64		nreal = query_count(psprintf("SELECT count(*) FROM %s", qreal));
	int64		nsyn = query_count(psprintf("SELECT count(*) FROM %s", qsyn));
	int			n = 0;

	emit(out, table, NULL, "real_rows", (double) nreal, false);
	emit(out, table, NULL, "synthetic_rows", (double) nsyn, false);
	initStringInfo(&list);
	foreach(lc, cols)
	{
		Col		   *c = lfirst(lc);
		bool		supported;

		if (c->skip)
			continue;
		(void) synth_value_type(getBaseType(get_atttype(relid, get_attnum(relid, c->name))), &supported);
		if (!supported)
			continue;
		appendStringInfo(&list, "%s%s", n++ > 0 ? ", " : "", quote_identifier(c->name));
	}
	if (n == 0 || nreal == 0 || nsyn == 0)
		return;

	query(psprintf("CREATE TEMPORARY VIEW synth_eval_real AS SELECT %s FROM %s", list.data, qreal));
	query(psprintf("CREATE TEMPORARY VIEW synth_eval_synthetic AS SELECT %s FROM %s", list.data, qsyn));
	query("SELECT column_name, metric, score FROM synth_evaluate('pg_temp.synth_eval_real', 'pg_temp.synth_eval_synthetic')");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *column = SPI_getvalue(tup, desc, 1);
		char	   *metric = SPI_getvalue(tup, desc, 2);
		bool		isnull;
		double		score = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));

		if (strcmp(metric, "real_rows") == 0 || strcmp(metric, "synthetic_rows") == 0)
			continue;
		emit(out, table, column, metric, score, isnull);
		if (column == NULL && strcmp(metric, "quality_score") == 0 && !isnull)
		{
			out->quality_sum += score;
			out->quality_n++;
		}
	}
	query("DROP VIEW pg_temp.synth_eval_real, pg_temp.synth_eval_synthetic");
}

/* A histogram of children per parent: sorted values and their frequencies. */
typedef struct Histogram
{
	int			n;
	double	   *value;
	double	   *share;
} Histogram;

static Histogram
children_histogram(const char *sql)
{
	Histogram	h;
	double		total = 0.0;

	query(sql);
	h.n = (int) SPI_processed;
	h.value = palloc(sizeof(double) * Max(h.n, 1));
	h.share = palloc(sizeof(double) * Max(h.n, 1));
	for (int i = 0; i < h.n; i++)
	{
		bool		isnull;

		h.value[i] = (double) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		h.share[i] = (double) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		total += h.share[i];
	}
	for (int i = 0; i < h.n; i++)
		h.share[i] /= Max(total, 1.0);
	return h;
}

/* 1 - the KS distance of two discrete distributions; NaN if one is empty. */
static double
ks_complement(Histogram a, Histogram b)
{
	int			i = 0,
				j = 0;
	double		fa = 0.0,
				fb = 0.0,
				d = 0.0;

	if (a.n == 0 || b.n == 0)
		return NAN;
	while (i < a.n || j < b.n)
	{
		double		x = (j >= b.n || (i < a.n && a.value[i] <= b.value[j])) ? a.value[i] : b.value[j];

		while (i < a.n && a.value[i] == x)
			fa += a.share[i++];
		while (j < b.n && b.value[j] == x)
			fb += b.share[j++];
		d = Max(d, fabs(fa - fb));
	}
	return 1.0 - d;
}

/* The SELECT of per-parent aggregates of one foreign key in one schema. */
static char *
per_parent_sql(const char *schema, const char *parent, const char *child, List *pkeys,
			   List *ckeys, List *pcols, List *ccols, const char *select)
{
	StringInfoData buf;
	StringInfoData group;
	ListCell   *lc,
			   *lc2;
	int			k = 0;

	initStringInfo(&group);
	foreach(lc, ckeys)
		appendStringInfo(&group, "%s%s", k++ > 0 ? ", " : "", quote_identifier(lfirst(lc)));
	initStringInfo(&buf);
	appendStringInfo(&buf, "WITH k AS (SELECT %s, count(*) AS n", group.data);
	k = 0;
	foreach(lc, ccols)
		appendStringInfo(&buf, ", avg(%s) AS m%d", as_float("c", lfirst(lc)), k++);
	appendStringInfo(&buf, " FROM %s c GROUP BY %s), s AS (SELECT coalesce(k.n, 0) AS n",
					 quote_qualified_identifier(schema, child), group.data);
	k = 0;
	foreach(lc, pcols)
		appendStringInfo(&buf, ", %s AS a%d", as_float("p", lfirst(lc)), k++);
	for (int i = 0; i < list_length(ccols); i++)
		appendStringInfo(&buf, ", k.m%d", i);
	appendStringInfo(&buf, " FROM %s p LEFT JOIN k ON ", quote_qualified_identifier(schema, parent));
	k = 0;
	forboth(lc, pkeys, lc2, ckeys)
		appendStringInfo(&buf, "%sk.%s = p.%s", k++ > 0 ? " AND " : "",
						 quote_identifier(lfirst(lc2)), quote_identifier(lfirst(lc)));
	appendStringInfo(&buf, ") %s", select);
	return buf.data;
}

static List *
trend_columns(List *cols)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, cols)
	{
		Col		   *c = lfirst(lc);

		if (!c->skip && (c->numeric || c->datetime) &&
			list_length(result) < SYNTH_EVAL_MAX_TREND_COLUMNS)
			result = lappend(result, c);
	}
	return result;
}

/* Cardinality and parent-child trends of one foreign key. */
static void
evaluate_fk(Output *out, const char *real_schema, const char *syn_schema, const char *fkname,
			Oid child_relid, Oid parent_relid, List *ckeys, List *pkeys)
{
	const char *child = get_rel_name(child_relid);
	const char *parent = get_rel_name(parent_relid);
	List	   *pcols = trend_columns(table_columns(parent_relid));
	List	   *ccols = trend_columns(table_columns(child_relid));
	Histogram	hreal;
	Histogram	hsyn;
	double		score;
	StringInfoData corr;
	double	   *rho[2];
	bool	   *rnull[2];
	int			npairs = list_length(pcols) * (1 + list_length(ccols));
	double		sum = 0.0;
	int			nsum = 0;
	ListCell   *lc;
	int			a;

	hreal = children_histogram(per_parent_sql(real_schema, parent, child, pkeys, ckeys, NIL, NIL,
											  "SELECT n, count(*) FROM s GROUP BY n ORDER BY n"));
	hsyn = children_histogram(per_parent_sql(syn_schema, parent, child, pkeys, ckeys, NIL, NIL,
											 "SELECT n, count(*) FROM s GROUP BY n ORDER BY n"));
	score = ks_complement(hreal, hsyn);
	emit(out, child, fkname, "CardinalityShapeSimilarity", score, false);
	if (!isnan(score))
	{
		out->cardinality_sum += score;
		out->cardinality_n++;
	}
	if (npairs == 0)
		return;

	/* Pearson of each parent column with the children count and each child mean */
	initStringInfo(&corr);
	appendStringInfoString(&corr, "SELECT ");
	for (int i = 0; i < list_length(pcols); i++)
	{
		appendStringInfo(&corr, "%scorr(a%d, n)", i > 0 ? ", " : "", i);
		for (int j = 0; j < list_length(ccols); j++)
			appendStringInfo(&corr, ", corr(a%d, m%d)", i, j);
	}
	appendStringInfoString(&corr, " FROM s");
	for (int w = 0; w < 2; w++)
	{
		query(per_parent_sql(w == 0 ? real_schema : syn_schema, parent, child, pkeys, ckeys,
							 pcols, ccols, corr.data));
		rho[w] = palloc(sizeof(double) * npairs);
		rnull[w] = palloc(sizeof(bool) * npairs);
		for (int i = 0; i < npairs; i++)
			rho[w][i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													 i + 1, &rnull[w][i]));
	}
	a = 0;
	foreach(lc, pcols)
	{
		Col		   *pc = lfirst(lc);

		for (int j = -1; j < list_length(ccols); j++, a++)
		{
			char	   *what = j < 0 ? psprintf("%s.%s ~ count(%s)", parent, pc->name, child) :
				psprintf("%s.%s ~ avg(%s.%s)", parent, pc->name, child,
						 ((Col *) list_nth(ccols, j))->name);
			bool		undefined = rnull[0][a] || rnull[1][a];
			double		s = undefined ? NAN : 1.0 - fabs(rho[0][a] - rho[1][a]) / 2.0;

			emit(out, child, what, "ParentChildTrend", s, undefined);
			if (!undefined)
			{
				sum += s;
				nsum++;
			}
		}
	}
	if (nsum > 0)
	{
		out->trend_sum += sum / nsum;
		out->trend_n++;
	}
}

Datum
synth_evaluate_schema(PG_FUNCTION_ARGS)
{
	Output		out;
	char	   *real_schema;
	char	   *syn_schema;
	Oid			real_nsp;
	Oid			syn_nsp;
	List	   *tables = NIL;
	List	   *fks = NIL;
	ListCell   *lc;
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		args[2];
	MemoryContext callercxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schemas must not be NULL"),
				 errhint("Call it as SELECT * FROM synth_evaluate_schema('shop', 'shop_synth').")));
	real_schema = pstrdup(NameStr(*PG_GETARG_NAME(0)));
	syn_schema = pstrdup(NameStr(*PG_GETARG_NAME(1)));
	real_nsp = get_namespace_oid(real_schema, false);
	syn_nsp = get_namespace_oid(syn_schema, false);

	InitMaterializedSRF(fcinfo, 0);
	memset(&out, 0, sizeof(out));
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");

	/* tables of both schemas, by name */
	args[0] = ObjectIdGetDatum(real_nsp);
	args[1] = ObjectIdGetDatum(syn_nsp);
	if (SPI_execute_with_args("SELECT r.oid FROM pg_catalog.pg_class r JOIN pg_catalog.pg_class s "
							  "ON s.relname = r.relname AND s.relnamespace = $2 AND s.relkind IN ('r', 'p') "
							  "WHERE r.relnamespace = $1 AND r.relkind IN ('r', 'p') AND NOT r.relispartition "
							  "ORDER BY r.relname", 2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not list the tables of schema \"%s\"", real_schema);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

		tables = lappend_oid(tables, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)));
		MemoryContextSwitchTo(oldcxt);
	}
	if (tables == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("schemas \"%s\" and \"%s\" have no table in common", real_schema, syn_schema),
				 errhint("Compare a schema with its copy by synth_materialize: tables are matched by name.")));

	foreach(lc, tables)
	{
		CHECK_FOR_INTERRUPTS();
		evaluate_table(&out, real_schema, syn_schema, lfirst_oid(lc), get_rel_name(lfirst_oid(lc)));
	}

	/* foreign keys between tables present in both */
	if (SPI_execute_with_args("SELECT k.conname::text, k.conrelid, k.confrelid, "
							  "  (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.conkey) WITH ORDINALITY u(n, i) "
							  "   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n), "
							  "  (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.confkey) WITH ORDINALITY u(n, i) "
							  "   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n) "
							  "FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
							  "WHERE k.contype = 'f' AND k.conparentid = 0 AND c.relnamespace = $1 "
							  "AND EXISTS (SELECT 1 FROM pg_catalog.pg_class s WHERE s.relnamespace = $2 AND s.relname = c.relname) "
							  "AND EXISTS (SELECT 1 FROM pg_catalog.pg_class s JOIN pg_catalog.pg_class p ON p.relname = s.relname "
							  "  WHERE s.relnamespace = $2 AND p.oid = k.confrelid AND p.relnamespace = $1) "
							  "ORDER BY c.relname, k.conname", 2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not list the foreign keys of schema \"%s\"", real_schema);
	{
		SPITupleTable *tuptable = SPI_tuptable;
		uint64		nfk = SPI_processed;

		for (uint64 i = 0; i < nfk; i++)
		{
			HeapTuple	tup = tuptable->vals[i];
			TupleDesc	desc = tuptable->tupdesc;
			bool		isnull;
			char	   *name = SPI_getvalue(tup, desc, 1);
			Oid			child = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
			Oid			parent = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			List	   *ckeys = NIL;
			List	   *pkeys = NIL;
			Datum	   *elems;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull)), TEXTOID, -1,
							  false, TYPALIGN_INT, &elems, NULL, &n);
			for (int k = 0; k < n; k++)
				ckeys = lappend(ckeys, TextDatumGetCString(elems[k]));
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 5, &isnull)), TEXTOID, -1,
							  false, TYPALIGN_INT, &elems, NULL, &n);
			for (int k = 0; k < n; k++)
				pkeys = lappend(pkeys, TextDatumGetCString(elems[k]));
			fks = lappend(fks, list_make4(name, list_make2_oid(child, parent), ckeys, pkeys));
		}
	}
	foreach(lc, fks)
	{
		List	   *fk = lfirst(lc);
		List	   *rels = lsecond(fk);

		CHECK_FOR_INTERRUPTS();
		evaluate_fk(&out, real_schema, syn_schema, linitial(fk), linitial_oid(rels),
					lsecond_oid(rels), lthird(fk), lfourth(fk));
	}
	SPI_finish();

	{
		double		q = out.quality_n ? out.quality_sum / out.quality_n : NAN;
		double		c = out.cardinality_n ? out.cardinality_sum / out.cardinality_n : NAN;
		double		t = out.trend_n ? out.trend_sum / out.trend_n : NAN;
		double		sum = 0.0;
		int			n = 0;

		emit(&out, NULL, NULL, "quality_score", q, false);
		emit(&out, NULL, NULL, "cardinality_shape", c, false);
		emit(&out, NULL, NULL, "parent_child_trends", t, false);
		if (!isnan(q))
			sum += q, n++;
		if (!isnan(c))
			sum += c, n++;
		if (!isnan(t))
			sum += t, n++;
		emit(&out, NULL, NULL, "multi_table_score", n ? sum / n : NAN, false);
	}
	return (Datum) 0;
}
