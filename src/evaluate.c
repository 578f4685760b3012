/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  synth_evaluate(real, synthetic): SDMetrics-style fidelity of a
 *	  synthetic table against a real one.
 *
 * Columns are matched by name.  Each matched column gets a shape score
 * (KSComplement for continuous columns, TVComplement for categorical ones,
 * plus MissingValueSimilarity where a continuous column has NULLs) and each
 * pair of columns a trend score (CorrelationSimilarity for two continuous
 * columns, ContingencySimilarity otherwise).  The summary rows follow
 * SDMetrics' QualityReport: the mean of the shape scores, the mean of the
 * pair scores and the mean of those two.  exact_copy_rate is the share of
 * synthetic rows equal to some real row, a first look at privacy.
 *
 * Both tables are read once each by the reader: category counts and NULL
 * counts are exact, while the KS statistics, correlations and contingency
 * tables come from the reader's uniform samples, which together fit in
 * synth.train_memory.  The exact-copy check sees every row of both tables
 * through the reader's row callback and keeps only 64-bit row hashes.
 *
 * A score that is undefined (a constant column has no correlation, a column
 * that is NULL in every row has no distribution) is returned as NULL and left
 * out of the means, as SDMetrics leaves out NaN.
 *
 * detection_auc goes beyond pairs: a gradient-boosted classifier
 * (quality.c) is trained to tell real rows from synthetic ones and scored by
 * cross-validated ROC AUC, 0.5 when it cannot tell them apart.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "quality.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/tuplestore.h"

/* Pairs are computed among the first this many compared columns. */
#define SYNTH_EVAL_MAX_PAIR_COLUMNS		50

/* Equal-width bins of a continuous column in a contingency table. */
#define SYNTH_EVAL_BINS					10

/* Distinct real rows remembered for the exact-copy check. */
#define SYNTH_EVAL_MAX_ROW_HASHES		10000000

/* Contingency tables up to this many cells are counted in arrays. */
#define SYNTH_EVAL_DENSE_CELLS			65536

/* Samples are drawn with fixed seeds so that a result can be repeated. */
#define SYNTH_EVAL_SEED_REAL			UINT64CONST(0x5EED0001)
#define SYNTH_EVAL_SEED_SYNTHETIC		UINT64CONST(0x5EED0002)

/* Per-column hashes of NULL, and the seed of a row's hash. */
#define SYNTH_EVAL_NULL_HASH			UINT64CONST(0x6A09E667F3BCC908)
#define SYNTH_EVAL_ROW_SEED				UINT64CONST(0xBB67AE8584CAA73B)

PG_FUNCTION_INFO_V1(synth_evaluate);

/* State of the row callback: hash real rows in, then probe synthetic rows. */
typedef struct CopyCheck
{
	int			ncols;
	SynthColumn *cols;			/* the columns of the table being read */
	Oid		   *typoutputs;
	SynthHashSet set;
	bool		probing;
	int64		copies;
} CopyCheck;

/* The output rows (none without a store), and the scores that go into the summary means. */
typedef struct EvalOutput
{
	Tuplestorestate *store;
	TupleDesc	desc;
	double		shape_sum;
	int			shape_count;
	double		pair_sum;
	int			pair_count;
	double		shapes;			/* the summary, NaN where undefined */
	double		trends;
	double		quality;
} EvalOutput;

/*
 * One table's columns coded for contingency tables: categories by their index
 * in the real table's dictionary, continuous values by bin, NULL last.
 */
typedef struct CodedColumn
{
	int			ncodes;			/* codes are 0 .. ncodes - 1 */
	int32	   *real;			/* per real sample row */
	int32	   *synthetic;		/* per synthetic sample row */
} CodedColumn;

/* Ensure the caller may read the relation. */
static inline void
CheckSelectPrivilege(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			userid = GetUserId();

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel)),
				 errhint("synth_evaluate reads every row of both tables: ask the table's owner for SELECT on it.")));
}

/* Ensure the relation holds rows that can be read. */
static inline void
CheckRelationKind(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("synth_evaluate compares tables, views, materialized views and foreign tables.")));
}

/* Ensure the relation has at least one row. */
static inline void
CheckNotEmpty(Relation rel)
{
	char	   *query;
	bool		isnull;
	bool		exists;

	query = psprintf("SELECT EXISTS (SELECT 1 FROM %s)",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute(query, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "synth: could not run \"%s\"", query);
	exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										1, &isnull));
	SPI_finish();

	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" is empty", RelationGetRelationName(rel)),
				 errhint("synth_evaluate compares two tables that both have rows.")));
}

/*
 * Fill col's type fields for an attribute; false when synth_evaluate cannot
 * compare the type.  bool, text-like types and enums are categorical; numbers
 * and datetimes are continuous.
 */
static bool
classify_column(SynthColumn *col, Oid typid, int32 typmod)
{
	bool		supported;

	col->typid = typid;
	col->typmod = typmod;
	col->basetypmod = typmod;
	col->basetypid = getBaseTypeAndTypmod(typid, &col->basetypmod);
	col->vtype = synth_value_type(col->basetypid, &supported);
	if (!supported)
		return false;

	switch (col->vtype)
	{
		case SYNTH_VT_INT:
		case SYNTH_VT_FLOAT:
		case SYNTH_VT_NUMERIC:
		case SYNTH_VT_DATE:
		case SYNTH_VT_TIMESTAMP:
		case SYNTH_VT_INTERVAL:
		case SYNTH_VT_TIME:
			col->kind = SYNTH_KIND_CONTINUOUS;
			return true;
		case SYNTH_VT_BOOL:
		case SYNTH_VT_TEXT:
		case SYNTH_VT_ENUM:
		case SYNTH_VT_OPAQUE:
			col->kind = SYNTH_KIND_CATEGORICAL;
			return true;
		case SYNTH_VT_UUID:
			return false;
	}
	return false;
}

/*
 * Continuous values are compared as numbers, so an integer column matches a
 * numeric one; dates, timestamps and numbers are in different units.
 */
static int
continuous_unit(SynthValueType vtype)
{
	switch (vtype)
	{
		case SYNTH_VT_DATE:
			return 1;
		case SYNTH_VT_TIMESTAMP:
			return 2;
		case SYNTH_VT_INTERVAL:
			return 3;
		case SYNTH_VT_TIME:
			return 4;
		default:
			return 0;
	}
}

static bool
columns_comparable(SynthColumn *a, SynthColumn *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == SYNTH_KIND_CONTINUOUS)
		return continuous_unit(a->vtype) == continuous_unit(b->vtype);
	return true;
}

/*
 * Key columns and the columns of foreign keys: identifiers of this table's
 * rows or of a parent's, which synthetic data gives fresh values (a
 * materialized schema's foreign keys point at fresh parent keys), so their
 * values are not compared; synth_evaluate_schema compares how children
 * attach to parents instead.
 */
static Bitmapset *
identifier_columns(Relation rel)
{
	Bitmapset  *ids = synth_key_columns(rel);
	ListCell   *lc;

	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);

		for (int i = 0; i < fk->nkeys; i++)
			ids = bms_add_member(ids, fk->conkey[i]);
	}
	return ids;
}

/*
 * Match the columns of real and synthetic by name: parallel arrays, in the
 * real table's column order.  Key and foreign key columns are skipped
 * silently (they are fresh values by design: identifier_columns); columns that cannot be compared are named in one
 * NOTICE that names the caller.  Returns the number of compared columns.
 */
int
synth_match_columns(Relation realrel, Relation synrel,
					SynthColumn **realcols_out, SynthColumn **syncols_out, const char *caller)
{
	TupleDesc	realdesc = RelationGetDescr(realrel);
	TupleDesc	syndesc = RelationGetDescr(synrel);
	Bitmapset  *realkeys = identifier_columns(realrel);
	Bitmapset  *synkeys = identifier_columns(synrel);
	SynthColumn *realcols = palloc0(sizeof(SynthColumn) * Max(realdesc->natts, 1));
	SynthColumn *syncols = palloc0(sizeof(SynthColumn) * Max(realdesc->natts, 1));
	StringInfoData skipped;
	int			ncommon = 0;
	int			ncols = 0;

	initStringInfo(&skipped);
	for (int i = 0; i < realdesc->natts; i++)
	{
		Form_pg_attribute ra = TupleDescAttr(realdesc, i);
		Form_pg_attribute sa = NULL;
		SynthColumn *rc = &realcols[ncols];
		SynthColumn *sc = &syncols[ncols];
		bool		rok;
		bool		sok;

		if (ra->attisdropped)
			continue;
		for (int j = 0; j < syndesc->natts; j++)
		{
			Form_pg_attribute cand = TupleDescAttr(syndesc, j);

			if (!cand->attisdropped && strcmp(NameStr(cand->attname), NameStr(ra->attname)) == 0)
			{
				sa = cand;
				break;
			}
		}
		if (sa == NULL)
			continue;
		ncommon++;

		if (bms_is_member(ra->attnum, realkeys) || bms_is_member(sa->attnum, synkeys))
			continue;

		rc->name = pstrdup(NameStr(ra->attname));
		rc->attnum = ra->attnum;
		rc->notnull = ra->attnotnull;
		sc->name = rc->name;
		sc->attnum = sa->attnum;
		sc->notnull = sa->attnotnull;
		rok = classify_column(rc, ra->atttypid, ra->atttypmod);
		sok = classify_column(sc, sa->atttypid, sa->atttypmod);

		/* uuid columns are identifiers: keys, whatever their constraints */
		if (rc->vtype == SYNTH_VT_UUID || sc->vtype == SYNTH_VT_UUID)
		{
			memset(rc, 0, sizeof(SynthColumn));
			memset(sc, 0, sizeof(SynthColumn));
			continue;
		}

		if (!rok || !sok || !columns_comparable(rc, sc))
		{
			if (skipped.len > 0)
				appendStringInfoString(&skipped, ", ");
			if (ra->atttypid == sa->atttypid)
				appendStringInfo(&skipped, "%s (%s)", quote_identifier(rc->name),
								 format_type_be(ra->atttypid));
			else
				appendStringInfo(&skipped, "%s (%s and %s)", quote_identifier(rc->name),
								 format_type_be(ra->atttypid), format_type_be(sa->atttypid));
			memset(rc, 0, sizeof(SynthColumn));
			memset(sc, 0, sizeof(SynthColumn));
			continue;
		}
		ncols++;
	}

	if (ncommon == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tables \"%s\" and \"%s\" have no column in common",
						RelationGetRelationName(realrel), RelationGetRelationName(synrel)),
				 errhint("Columns are matched by name: compare a table with rows generated from it, e.g. by synth_generate(NULL::%s, n).",
						 quote_identifier(RelationGetRelationName(realrel)))));

	if (skipped.len > 0)
		ereport(NOTICE,
				(errmsg("%s does not compare columns %s", caller, skipped.data),
				 errdetail("Numbers, dates and timestamps are compared as continuous values; bool, text and enum values as categories; other types, and columns whose types differ in kind, are skipped.")));

	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tables \"%s\" and \"%s\" have no column that can be compared",
						RelationGetRelationName(realrel), RelationGetRelationName(synrel)),
				 errdetail("Key columns (primary key, unique, identity, serial, uuid) and foreign key columns are not compared, nor columns of unsupported types."),
				 errhint("Compare tables that share at least one numeric, date, timestamp, bool, text or enum column.")));

	*realcols_out = realcols;
	*syncols_out = syncols;
	return ncols;
}

/* ---- exact copies ---- */

/*
 * A set of 64-bit row hashes: open addressing, linear probing, 0 marks an
 * empty slot (a hash of 0 is stored as 1).  It holds at most
 * SYNTH_EVAL_MAX_ROW_HASHES hashes; past that, full is set.
 */
void
synth_hashset_init(SynthHashSet *set, MemoryContext cxt)
{
	set->cxt = cxt;
	set->nslots = 1024;
	set->count = 0;
	set->full = false;
	set->slots = MemoryContextAllocZero(cxt, sizeof(uint64) * set->nslots);
}

bool
synth_hashset_contains(SynthHashSet *set, uint64 hash)
{
	uint64		mask = set->nslots - 1;
	uint64		pos = hash & mask;

	for (;;)
	{
		if (set->slots[pos] == hash)
			return true;
		if (set->slots[pos] == 0)
			return false;
		pos = (pos + 1) & mask;
	}
}

static void
hashset_grow(SynthHashSet *set)
{
	uint64		nslots = set->nslots * 2;
	uint64		mask = nslots - 1;
	uint64	   *slots = MemoryContextAllocHuge(set->cxt, sizeof(uint64) * nslots);

	memset(slots, 0, sizeof(uint64) * nslots);
	for (uint64 i = 0; i < set->nslots; i++)
	{
		uint64		hash = set->slots[i];
		uint64		pos;

		if (hash == 0)
			continue;
		pos = hash & mask;
		while (slots[pos] != 0)
			pos = (pos + 1) & mask;
		slots[pos] = hash;
	}
	pfree(set->slots);
	set->slots = slots;
	set->nslots = nslots;
}

void
synth_hashset_add(SynthHashSet *set, uint64 hash)
{
	uint64		mask = set->nslots - 1;
	uint64		pos = hash & mask;

	for (;;)
	{
		if (set->slots[pos] == hash)
			return;
		if (set->slots[pos] == 0)
			break;
		pos = (pos + 1) & mask;
	}
	if (set->count >= SYNTH_EVAL_MAX_ROW_HASHES)
	{
		set->full = true;
		return;
	}
	set->slots[pos] = hash;
	set->count++;
	/* keep the load under 0.7: 2^24 slots hold the largest set */
	if ((uint64) set->count * 10 > set->nslots * 7)
		hashset_grow(set);
}

/*
 * A column's value as a double for hashing: equal numbers hash alike
 * whatever their type (an integer 2 and a numeric 2.00).
 */
static double
continuous_value(SynthColumn *col, Datum value)
{
	switch (col->basetypid)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		default:
			return synth_datum_to_double(value, col->vtype, NULL);
	}
}

/*
 * The hash of one value of the column_index-th compared column, for row
 * hashes: numbers by value, categories by their text, NULL as a value of its
 * own.  The quality report hashes rows the same way.
 */
uint64
synth_value_hash(SynthColumn *col, int column_index, bool isnull, Datum value, Oid typoutput)
{
	if (isnull)
		return SYNTH_EVAL_NULL_HASH;
	if (col->kind == SYNTH_KIND_CONTINUOUS)
	{
		double		v = continuous_value(col, value);

		if (v == 0.0)
			v = 0.0;			/* -0 equals 0 */
		else if (isnan(v))
			v = NAN;
		return hash_bytes_extended((const unsigned char *) &v, sizeof(v), column_index);
	}
	else
	{
		char	   *s = OidOutputFunctionCall(typoutput, value);

		return hash_bytes_extended((const unsigned char *) s, strlen(s), column_index);
	}
}

/* The hash of one row over the compared columns. */
static uint64
row_hash(CopyCheck *check, HeapTuple tuple, TupleDesc desc)
{
	uint64		hash = SYNTH_EVAL_ROW_SEED;

	for (int c = 0; c < check->ncols; c++)
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, c + 1, desc, &isnull);

		hash = hash_combine64(hash, synth_value_hash(&check->cols[c], c, isnull, value,
													 check->typoutputs[c]));
	}
	return hash == 0 ? 1 : hash;
}

/* The reader's row callback: runs in its per-batch memory context. */
static bool
copy_check_row(void *arg, HeapTuple tuple, TupleDesc desc)
{
	CopyCheck  *check = (CopyCheck *) arg;
	uint64		hash = row_hash(check, tuple, desc);

	if (check->probing)
	{
		if (synth_hashset_contains(&check->set, hash))
			check->copies++;
	}
	else
		synth_hashset_add(&check->set, hash);
	return true;
}

static void
copy_check_columns(CopyCheck *check, SynthColumn *cols, int ncols)
{
	check->ncols = ncols;
	check->cols = cols;
	check->typoutputs = palloc(sizeof(Oid) * ncols);
	for (int c = 0; c < ncols; c++)
	{
		bool		varlena;

		getTypeOutputInfo(cols[c].typid, &check->typoutputs[c], &varlena);
	}
}

/* ---- output ---- */

static void
emit(EvalOutput *out, const char *column_name, const char *metric, double score,
	 bool score_null)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (!score_null && !isfinite(score))
		score_null = true;
	if (out->store == NULL)
		return;
	if (column_name)
		values[0] = CStringGetTextDatum(column_name);
	else
		nulls[0] = true;
	values[1] = CStringGetTextDatum(metric);
	values[2] = Float8GetDatum(score);
	nulls[2] = score_null;
	tuplestore_putvalues(out->store, out->desc, values, nulls);
}

static void
emit_shape(EvalOutput *out, const char *column_name, const char *metric, double score,
		   bool defined)
{
	emit(out, column_name, metric, score, !defined);
	if (defined && isfinite(score))
	{
		out->shape_sum += score;
		out->shape_count++;
	}
}

static void
emit_pair(EvalOutput *out, const char *column_name, const char *metric, double score,
		  bool defined)
{
	emit(out, column_name, metric, score, !defined);
	if (defined && isfinite(score))
	{
		out->pair_sum += score;
		out->pair_count++;
	}
}

/* ---- column shapes ---- */

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The non-NULL values of sample column c, sorted; *n receives their count. */
static double *
sorted_values(SynthSample *sample, int c, int64 *n)
{
	const double *column = sample->values + c * sample->capacity;
	double	   *values = MemoryContextAllocHuge(CurrentMemoryContext,
												sizeof(double) * Max(sample->nrows, 1));
	int64		count = 0;

	for (int64 r = 0; r < sample->nrows; r++)
		if (!isnan(column[r]))
			values[count++] = column[r];
	qsort(values, count, sizeof(double), compare_double);
	*n = count;
	return values;
}

/*
 * Two-sample Kolmogorov-Smirnov statistic: the largest distance between the
 * two empirical CDFs, evaluated after each distinct value.
 */
static double
ks_statistic(const double *a, int64 na, const double *b, int64 nb)
{
	int64		i = 0;
	int64		j = 0;
	double		d = 0.0;

	while (i < na && j < nb)
	{
		double		x = Min(a[i], b[j]);
		double		gap;

		while (i < na && a[i] <= x)
			i++;
		while (j < nb && b[j] <= x)
			j++;
		gap = fabs((double) i / na - (double) j / nb);
		if (gap > d)
			d = gap;
	}
	return d;
}

/* KSComplement on non-NULL values; false when both columns are all NULL. */
static bool
ks_complement(SynthSample *real, SynthSample *syn, int c, double *score)
{
	int64		na;
	int64		nb;
	double	   *a = sorted_values(real, c, &na);
	double	   *b = sorted_values(syn, c, &nb);

	if (na == 0 && nb == 0)
		return false;
	*score = (na == 0 || nb == 0) ? 0.0 : 1.0 - ks_statistic(a, na, b, nb);
	pfree(a);
	pfree(b);
	return true;
}

/* Rows of a column that the dictionary does not name (after an overflow). */
static int64
dict_remainder(SynthColumn *col)
{
	int64		named = 0;

	for (int k = 0; k < synth_dict_count(col->dict); k++)
		named += synth_dict_frequency(col->dict, k);
	return col->nnonnull - named;
}

/*
 * TVComplement over all rows (the reader's counts are exact): categories are
 * matched by their text, NULL is a category.  When a dictionary overflowed,
 * the values it could not hold are pooled into one category.
 */
static double
tv_complement(SynthColumn *rc, SynthColumn *sc, int64 nreal, int64 nsyn)
{
	double		tv = 0.0;

	for (int k = 0; k < synth_dict_count(rc->dict); k++)
	{
		int			sk = synth_dict_lookup(sc->dict, synth_dict_value(rc->dict, k));
		double		p = (double) synth_dict_frequency(rc->dict, k) / nreal;
		double		q = sk >= 0 ? (double) synth_dict_frequency(sc->dict, sk) / nsyn : 0.0;

		tv += fabs(p - q);
	}
	for (int k = 0; k < synth_dict_count(sc->dict); k++)
	{
		if (synth_dict_lookup(rc->dict, synth_dict_value(sc->dict, k)) < 0)
			tv += (double) synth_dict_frequency(sc->dict, k) / nsyn;
	}
	tv += fabs((double) rc->nnull / nreal - (double) sc->nnull / nsyn);
	tv += fabs((double) dict_remainder(rc) / nreal - (double) dict_remainder(sc) / nsyn);
	return 1.0 - tv / 2.0;
}

static void
evaluate_shapes(EvalOutput *out, SynthColumn *realcols, SynthColumn *syncols, int ncols,
				SynthSample *real, SynthSample *syn)
{
	int64		nreal = real->nrows_total;
	int64		nsyn = syn->nrows_total;

	for (int c = 0; c < ncols; c++)
	{
		SynthColumn *rc = &realcols[c];
		SynthColumn *sc = &syncols[c];

		CHECK_FOR_INTERRUPTS();
		if (rc->kind == SYNTH_KIND_CONTINUOUS)
		{
			double		score = 0.0;
			bool		defined = ks_complement(real, syn, c, &score);

			emit_shape(out, rc->name, "KSComplement", score, defined);
			if (rc->nnull > 0 || sc->nnull > 0)
				emit(out, rc->name, "MissingValueSimilarity",
					 1.0 - fabs((double) rc->nnull / nreal - (double) sc->nnull / nsyn),
					 false);
		}
		else
		{
			if (rc->overflow || sc->overflow)
				ereport(NOTICE,
						(errmsg("column %s has more distinct values than synth_evaluate counts one by one",
								quote_identifier(rc->name)),
						 errdetail("TVComplement pools the values beyond the first %d distinct ones into one category.",
								   SYNTH_MAX_CATEGORIES)));
			emit_shape(out, rc->name, "TVComplement",
					   tv_complement(rc, sc, nreal, nsyn), true);
		}
	}
}

/* ---- column pair trends ---- */

/*
 * Pearson correlation of two sample columns over the rows where both are
 * non-NULL, by two passes for accuracy with large values (timestamps in
 * microseconds); false when it is undefined.
 */
static bool
pearson(SynthSample *sample, int a, int b, double *rho)
{
	const double *x = sample->values + a * sample->capacity;
	const double *y = sample->values + b * sample->capacity;
	double		sx = 0.0;
	double		sy = 0.0;
	double		sxx = 0.0;
	double		syy = 0.0;
	double		sxy = 0.0;
	double		mx;
	double		my;
	int64		n = 0;

	for (int64 r = 0; r < sample->nrows; r++)
	{
		if (isnan(x[r]) || isnan(y[r]))
			continue;
		sx += x[r];
		sy += y[r];
		n++;
	}
	if (n < 2)
		return false;
	mx = sx / n;
	my = sy / n;
	for (int64 r = 0; r < sample->nrows; r++)
	{
		double		dx;
		double		dy;

		if (isnan(x[r]) || isnan(y[r]))
			continue;
		dx = x[r] - mx;
		dy = y[r] - my;
		sxx += dx * dx;
		syy += dy * dy;
		sxy += dx * dy;
	}
	if (sxx <= 0.0 || syy <= 0.0)
		return false;
	*rho = sxy / sqrt(sxx * syy);
	if (*rho > 1.0)
		*rho = 1.0;
	else if (*rho < -1.0)
		*rho = -1.0;
	return true;
}

/* The equal-width bin of v over [lo, hi]; values outside go to the end bins. */
static int32
bin_of(double v, double lo, double hi)
{
	int			bin;

	if (!(hi > lo) || v <= lo)
		return 0;
	if (v >= hi)
		return SYNTH_EVAL_BINS - 1;
	bin = (int) ((v - lo) / (hi - lo) * SYNTH_EVAL_BINS);
	return Min(bin, SYNTH_EVAL_BINS - 1);
}

/*
 * Code one column of both samples for contingency tables.  Continuous:
 * SYNTH_EVAL_BINS bins over the real sample's range, then NULL.  Categorical:
 * the real dictionary's categories, the synthetic table's unseen ones, the
 * pooled overflow, then NULL.
 */
static void
code_column(CodedColumn *coded, SynthColumn *rc, SynthColumn *sc, int c,
			SynthSample *real, SynthSample *syn)
{
	const double *rv = real->values + c * real->capacity;
	const double *sv = syn->values + c * syn->capacity;

	coded->real = MemoryContextAllocHuge(CurrentMemoryContext,
										 sizeof(int32) * Max(real->nrows, 1));
	coded->synthetic = MemoryContextAllocHuge(CurrentMemoryContext,
											  sizeof(int32) * Max(syn->nrows, 1));

	if (rc->kind == SYNTH_KIND_CONTINUOUS)
	{
		double		lo = INFINITY;
		double		hi = -INFINITY;
		int32		nullcode = SYNTH_EVAL_BINS;

		for (int64 r = 0; r < real->nrows; r++)
		{
			if (isnan(rv[r]))
				continue;
			lo = Min(lo, rv[r]);
			hi = Max(hi, rv[r]);
		}
		for (int64 r = 0; r < real->nrows; r++)
			coded->real[r] = isnan(rv[r]) ? nullcode : bin_of(rv[r], lo, hi);
		for (int64 r = 0; r < syn->nrows; r++)
			coded->synthetic[r] = isnan(sv[r]) ? nullcode : bin_of(sv[r], lo, hi);
		coded->ncodes = SYNTH_EVAL_BINS + 1;
	}
	else
	{
		int			nreal = synth_dict_count(rc->dict);
		int			nsyn = synth_dict_count(sc->dict);
		int32	   *synmap = palloc(sizeof(int32) * Max(nsyn, 1));
		int32		next = nreal;
		int32		othercode;
		int32		nullcode;

		for (int k = 0; k < nsyn; k++)
		{
			int			rk = synth_dict_lookup(rc->dict, synth_dict_value(sc->dict, k));

			synmap[k] = rk >= 0 ? rk : next++;
		}
		othercode = next;
		nullcode = next + 1;
		for (int64 r = 0; r < real->nrows; r++)
			coded->real[r] = isnan(rv[r]) ? nullcode :
				rv[r] < 0 ? othercode : (int32) rv[r];
		for (int64 r = 0; r < syn->nrows; r++)
			coded->synthetic[r] = isnan(sv[r]) ? nullcode :
				sv[r] < 0 ? othercode : synmap[(int) sv[r]];
		coded->ncodes = nullcode + 1;
		pfree(synmap);
	}
}

/* Sorted cell keys a * nb + b of one sample's rows. */
static int64 *
sorted_cells(const int32 *a, const int32 *b, int64 n, int64 nb)
{
	int64	   *keys = MemoryContextAllocHuge(CurrentMemoryContext,
											  sizeof(int64) * Max(n, 1));

	for (int64 r = 0; r < n; r++)
		keys[r] = (int64) a[r] * nb + b[r];
	qsort(keys, n, sizeof(int64), compare_int64);
	return keys;
}

/*
 * ContingencySimilarity: 1 - 1/2 sum |p_ab - q_ab| over the cells of the two
 * columns' joint table, in arrays when the table is small, else by merging
 * the sorted cell keys of both samples.
 */
static double
contingency_similarity(CodedColumn *a, CodedColumn *b, int64 nreal, int64 nsyn)
{
	int64		cells = (int64) a->ncodes * b->ncodes;
	double		tv = 0.0;

	if (cells <= SYNTH_EVAL_DENSE_CELLS)
	{
		int64	   *rcount = palloc0(sizeof(int64) * cells);
		int64	   *scount = palloc0(sizeof(int64) * cells);

		for (int64 r = 0; r < nreal; r++)
			rcount[(int64) a->real[r] * b->ncodes + b->real[r]]++;
		for (int64 r = 0; r < nsyn; r++)
			scount[(int64) a->synthetic[r] * b->ncodes + b->synthetic[r]]++;
		for (int64 k = 0; k < cells; k++)
			tv += fabs((double) rcount[k] / nreal - (double) scount[k] / nsyn);
		pfree(rcount);
		pfree(scount);
	}
	else
	{
		int64	   *rkeys = sorted_cells(a->real, b->real, nreal, b->ncodes);
		int64	   *skeys = sorted_cells(a->synthetic, b->synthetic, nsyn, b->ncodes);
		int64		i = 0;
		int64		j = 0;

		while (i < nreal || j < nsyn)
		{
			int64		key;
			int64		cr = 0;
			int64		cs = 0;

			if (j >= nsyn || (i < nreal && rkeys[i] <= skeys[j]))
				key = rkeys[i];
			else
				key = skeys[j];
			while (i < nreal && rkeys[i] == key)
			{
				cr++;
				i++;
			}
			while (j < nsyn && skeys[j] == key)
			{
				cs++;
				j++;
			}
			tv += fabs((double) cr / nreal - (double) cs / nsyn);
		}
		pfree(rkeys);
		pfree(skeys);
	}
	return 1.0 - tv / 2.0;
}

static void
evaluate_pairs(EvalOutput *out, SynthColumn *realcols, SynthColumn *syncols, int ncols,
			   SynthSample *real, SynthSample *syn)
{
	int			npair = Min(ncols, SYNTH_EVAL_MAX_PAIR_COLUMNS);
	CodedColumn *coded = palloc0(sizeof(CodedColumn) * Max(npair, 1));
	bool	   *is_coded = palloc0(sizeof(bool) * Max(npair, 1));

	if (ncols > SYNTH_EVAL_MAX_PAIR_COLUMNS)
		ereport(NOTICE,
				(errmsg("synth_evaluate compares pairs among the first %d of %d columns",
						SYNTH_EVAL_MAX_PAIR_COLUMNS, ncols),
				 errdetail("Column shapes are compared for every column.")));

	for (int a = 0; a < npair; a++)
	{
		for (int b = a + 1; b < npair; b++)
		{
			SynthColumn *ra = &realcols[a];
			SynthColumn *rb = &realcols[b];
			char	   *name = psprintf("%s, %s", ra->name, rb->name);

			CHECK_FOR_INTERRUPTS();
			if (ra->kind == SYNTH_KIND_CONTINUOUS && rb->kind == SYNTH_KIND_CONTINUOUS)
			{
				double		rho_real = 0.0;
				double		rho_syn = 0.0;
				bool		defined = pearson(real, a, b, &rho_real) &&
					pearson(syn, a, b, &rho_syn);

				emit_pair(out, name, "CorrelationSimilarity",
						  1.0 - fabs(rho_real - rho_syn) / 2.0, defined);
			}
			else
			{
				if (!is_coded[a])
					code_column(&coded[a], ra, &syncols[a], a, real, syn);
				if (!is_coded[b])
					code_column(&coded[b], rb, &syncols[b], b, real, syn);
				is_coded[a] = is_coded[b] = true;
				emit_pair(out, name, "ContingencySimilarity",
						  contingency_similarity(&coded[a], &coded[b],
												 real->nrows, syn->nrows),
						  true);
			}
			pfree(name);
		}
	}
}

/* ---- detection ---- */

/*
 * detection_auc over the two samples, categories coded in the real table's
 * dictionary; near-unique text (names, notes) is left out, since any
 * generator that does not copy it is told apart by it alone.
 */
static double
evaluate_detection(SynthColumn *realcols, SynthColumn *syncols, int ncols,
				   SynthSample *real, SynthSample *syn)
{
	SynthQualitySettings settings;
	SynthQualityColumn *qcols = palloc(sizeof(SynthQualityColumn) * ncols);
	int		   *cmp = palloc(sizeof(int) * ncols);
	int			ncmp = 0;
	SynthQualityRows *realrows;
	SynthQualityRows *synrows;
	SynthRng	rng;

	for (int c = 0; c < ncols; c++)
	{
		if (realcols[c].kind == SYNTH_KIND_CATEGORICAL && synth_quality_near_unique(&realcols[c]))
			continue;
		qcols[ncmp].name = realcols[c].name;
		qcols[ncmp].categorical = realcols[c].kind == SYNTH_KIND_CATEGORICAL;
		cmp[ncmp++] = c;
	}
	if (ncmp == 0 || real->nrows == 0 || syn->nrows == 0)
		return NAN;
	synth_quality_default_settings(&settings);
	synth_rng_seed(&rng, settings.seed);
	realrows = synth_quality_rows(real, realcols, realcols, cmp, ncmp, 0,
								  settings.sample_rows, &rng);
	synrows = synth_quality_rows(syn, syncols, realcols, cmp, ncmp, 2,
								 settings.sample_rows, &rng);
	return synth_quality_detection(qcols, ncmp, realrows, synrows, &settings, NULL);
}

/* ---- both tables ---- */

/* Shapes, pairs and the summary means of two samples, into out. */
static void
evaluate_samples(EvalOutput *out, SynthColumn *realcols, SynthColumn *syncols, int ncols,
				 SynthSample *real, SynthSample *syn)
{
	evaluate_shapes(out, realcols, syncols, ncols, real, syn);
	evaluate_pairs(out, realcols, syncols, ncols, real, syn);
	out->shapes = out->shape_count > 0 ? out->shape_sum / out->shape_count : NAN;
	out->trends = out->pair_count > 0 ? out->pair_sum / out->pair_count : NAN;
	if (out->shape_count > 0 && out->pair_count > 0)
		out->quality = (out->shapes + out->trends) / 2.0;
	else
		out->quality = out->shape_count > 0 ? out->shapes : out->trends;
}

/*
 * Score synrel against realrel into out: its rows when out->store is set,
 * and the summary.  detection adds detection_auc.  The caller has checked
 * the relations' kinds and the privileges.
 */
static void
evaluate_tables(Relation realrel, Relation synrel, EvalOutput *out, bool detection)
{
	MemoryContext workcxt = CurrentMemoryContext;
	SynthColumn *realcols;
	SynthColumn *syncols;
	SynthSample *real;
	SynthSample *syn;
	CopyCheck	check;
	int			ncols;
	int64		max_rows;

	ncols = synth_match_columns(realrel, synrel, &realcols, &syncols, "synth_evaluate");
	CheckNotEmpty(realrel);
	CheckNotEmpty(synrel);

	/* both samples together stay within synth.train_memory */
	max_rows = synth_sample_capacity(2 * ncols);

	memset(&check, 0, sizeof(check));
	synth_hashset_init(&check.set, workcxt);
	copy_check_columns(&check, realcols, ncols);
	real = synth_read_relation(RelationGetRelid(realrel), realcols, ncols, max_rows,
							   SYNTH_EVAL_SEED_REAL, copy_check_row, &check);
	if (check.set.full)
		ereport(NOTICE,
				(errmsg("exact_copy_rate compares synthetic rows with the first %d distinct rows of \"%s\"",
						SYNTH_EVAL_MAX_ROW_HASHES, RelationGetRelationName(realrel)),
				 errdetail("Copies of the real rows beyond those are not counted.")));

	check.probing = true;
	copy_check_columns(&check, syncols, ncols);
	syn = synth_read_relation(RelationGetRelid(synrel), syncols, ncols, max_rows,
							  SYNTH_EVAL_SEED_SYNTHETIC, copy_check_row, &check);

	/* rows may have gone between the emptiness check and the read */
	if (real->nrows_total == 0 || syn->nrows_total == 0)
		CheckNotEmpty(real->nrows_total == 0 ? realrel : synrel);

	evaluate_samples(out, realcols, syncols, ncols, real, syn);
	emit(out, NULL, "column_shapes", out->shapes, false);
	emit(out, NULL, "column_pair_trends", out->trends, false);
	emit(out, NULL, "quality_score", out->quality, false);
	if (detection)
		emit(out, NULL, "detection_auc",
			 evaluate_detection(realcols, syncols, ncols, real, syn), false);
	emit(out, NULL, "exact_copy_rate", (double) check.copies / syn->nrows_total, false);
	emit(out, NULL, "real_rows", (double) real->nrows_total, false);
	emit(out, NULL, "synthetic_rows", (double) syn->nrows_total, false);
}

/* Open a relation synth_evaluate reads, and check it. */
static Relation
open_evaluated(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);

	CheckRelationKind(rel);
	CheckSelectPrivilege(rel);
	return rel;
}

/*
 * The summary scores of two samples of parallel columns as the reader left
 * them (exact counts and dictionaries, uniform samples): column shapes,
 * column pair trends and the quality score, NaN where undefined.  The
 * quality report calls this on the rows it has read already.
 */
void
synth_evaluate_samples(SynthColumn *realcols, SynthColumn *syncols, int ncols,
					   SynthSample *real, SynthSample *syn, double *column_shapes,
					   double *column_pair_trends, double *quality_score)
{
	EvalOutput	out;

	memset(&out, 0, sizeof(out));
	evaluate_samples(&out, realcols, syncols, ncols, real, syn);
	*column_shapes = out.shapes;
	*column_pair_trends = out.trends;
	*quality_score = out.quality;
}

/* ---- the SQL function ---- */

/*
 * synth_evaluate(real regclass, synthetic regclass)
 *		RETURNS TABLE (column_name text, metric text, score float8)
 */
Datum
synth_evaluate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext workcxt;
	MemoryContext oldcxt;
	Relation	realrel;
	Relation	synrel;
	EvalOutput	out;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("real and synthetic tables must not be NULL"),
				 errhint("Call synth_evaluate('real_table', 'synthetic_table').")));

	InitMaterializedSRF(fcinfo, 0);
	memset(&out, 0, sizeof(out));
	out.store = rsinfo->setResult;
	out.desc = rsinfo->setDesc;

	workcxt = AllocSetContextCreate(CurrentMemoryContext, "synth_evaluate",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(workcxt);

	realrel = open_evaluated(PG_GETARG_OID(0));
	synrel = open_evaluated(PG_GETARG_OID(1));
	evaluate_tables(realrel, synrel, &out, true);

	relation_close(synrel, NoLock);
	relation_close(realrel, NoLock);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(workcxt);

	return (Datum) 0;
}
