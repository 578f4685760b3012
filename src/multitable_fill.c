/*-------------------------------------------------------------------------
 *
 * multitable_fill.c
 *	  Fill the target schema of synth_materialize, parents first.
 *
 * A root table (no context parent) gets scale x its real row count of rows,
 * sampled unconditionally.  A table with a context parent gets, for each
 * synthetic parent row, as many rows as the parent's "#fk" column says,
 * sampled from the table's copula conditioned on the parent row's values
 * (each context dimension drawn inside the uniform-score interval of the
 * parent's value), plus scale x its real rows whose context foreign key was
 * NULL (conditioned on a NULL context).  Every other foreign key is filled
 * from the synthetic parents by their generated children counts: a shuffled
 * pool in which each parent appears as often as its count says (then more
 * such shuffles), so that the degree distribution is the learned one; a
 * nullable one is NULL as often as the model's "?fk" flag says.
 * Foreign keys that close a cycle or reference their own table are NULL when
 * rows go in and filled by UPDATE once every table is filled.
 *
 * Rows go in through SPI, as the caller, in batches (one INSERT ... SELECT
 * FROM unnest(arrays) per batch), so the database checks every constraint.
 * CHECK constraints are also evaluated here first and a row that fails one
 * is drawn again (the table stops with an error naming the constraint when
 * fewer than 1% of rows pass; a row still failing after SYNTH_MT_CHECK_TRIES
 * draws is left out, with a NOTICE); a UNIQUE key made of foreign keys is
 * kept by drawing the other parent again.
 *
 * A table with a condition (synth_materialize's conditions) is sampled from
 * its copula restricted by the predicate's one-column terms and, when
 * rebalancing, by each row's category, given the parent's context
 * (synth_copula_condition_restricted); each row is checked against the whole
 * predicate over the target table and drawn again when it misses.
 *
 * Memory does not grow with the rows: what later tables need of each
 * synthetic row (the key values children point at, its children counts, its
 * context values) goes, a batch at a time, into a temporary table per table
 * (dropped at the end), and is read back through cursors a batch at a time:
 * in order for the children of context parents, shuffled by a hash of the
 * seed (a sort the database spills to disk past work_mem) for the other
 * foreign keys.  Generated rows live one batch at a time.  What still grows
 * is the set of parent pairs already used by a UNIQUE key over several
 * foreign keys, kept only for tables that have one.
 *
 * SPI calls return in SPI's procedure context: functions here that call SPI
 * switch back to their caller's context, so that per-batch memory is never
 * left in it.
 *
 *-------------------------------------------------------------------------
 */
#include "multitable.h"

#include <math.h>

#include "access/genam.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define FILL_BATCH				SYNTH_GENERATE_BATCH
#define UPDATE_BATCH			10000
#define SYNTH_MT_CHECK_TRIES	1000	/* draws of one row before it is left out */
#define SYNTH_MT_MAX_UNIQUE_FKS	4		/* foreign keys in one UNIQUE key kept by redrawing */
#define U_EPS					1e-6

/* One column of an INSERT or UPDATE: values of a batch, passed as an array. */
typedef struct ParamCol
{
	Oid			typid;			/* the target column's type */
	int32		typmod;
	Oid			elemtype;		/* the array's element type: base type, or text */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	bool		as_text;		/* arrays and types without an array type go as text, cast */
	Oid			typoutput;
	Datum	   *buf;
	bool	   *bufnull;
	int			n;
} ParamCol;

/* A kept row of a table, read back by a later one: its kept columns. */
typedef struct ParentRow
{
	int64		idx;
	Datum	   *vals;
	bool	   *nulls;
} ParentRow;

/* A cursor over a table's kept rows, fetched a batch at a time. */
typedef struct KeptReader
{
	struct FillTable *ft;
	Portal		portal;			/* NULL: not open */
	SPITupleTable *chunk;
	uint64		pos;
	uint64		n;
} KeptReader;

/* Where an inserted column's value comes from. */
typedef struct InsertCol
{
	AttrNumber	attnum;			/* target attribute */
	int			viewcol;		/* own column: view column (= encoder), else -1 */
	int			fk;				/* foreign key column: plan fk, else -1 */
	int			keypos;			/* its position in the foreign key */
	bool		convert;		/* own column of another type (a copied enum): through text */
	Oid			src_output;
	Oid			typinput;
	Oid			typioparam;
	ParamCol	param;
} InsertCol;

/* Context of a child: one of its view's context columns. */
typedef struct ChildContext
{
	int			viewcol;		/* in the child's view */
	int			slot;			/* in the parent's kept context values */
	SynthColumnKind parent_kind;
	int		   *catmap;			/* categorical: parent category -> child category, or -1 */
} ChildContext;

/* A UNIQUE key made of foreign key columns only, spanning several foreign keys. */
typedef struct UniqueFks
{
	char	   *name;
	int			nfk;
	int			fks[SYNTH_MT_MAX_UNIQUE_FKS];
	HTAB	   *seen;
	int64		fails;
} UniqueFks;

typedef struct FillTable
{
	SynthMtTable *pt;
	SynthModel *model;			/* NULL: the source table was empty */
	int64		nrows;
	Relation	rel;			/* the target table */
	int			ninsert;
	InsertCol  *icols;
	SPIPlanPtr	insert_plan;

	/*
	 * Kept per synthetic row for later tables, in a temporary table (its
	 * columns k0, k1, ...): the row's index, its children count per foreign
	 * key whose parent this is, its context values (value, or category index:
	 * -1 NULL, -2 unknown), the key values children point at (refs), and per
	 * deferred foreign key whether it stays NULL.
	 */
	char	   *kept_name;		/* NULL: nothing is kept */
	int			nkept;
	ParamCol   *kept;			/* a batch's values, per column */
	int16	   *kept_len;
	bool	   *kept_byval;
	SPIPlanPtr	kept_plan;
	int		   *count_col;		/* per plan fk whose parent this is: its column, else -1 */
	int			ctx_col;		/* the first context column */
	int			ref_col;		/* the first ref column */
	int			nref;
	AttrNumber	ref_att[SYNTH_MT_MAX_FK_KEYS * 4];	/* target attnums */
	int			nctx;
	int		   *ctx_viewcol;	/* own view columns kept as children's context */

	/* CHECK constraints */
	int			nchecks;
	char	  **check_names;
	ExprState **checks;
	int64	   *check_fails;
	ExprContext *econtext;
	TupleTableSlot *slot;
	List	   *uniques;		/* UniqueFks */
} FillTable;

typedef struct FillFk
{
	SynthMtFk  *fk;
	int			ref_index[SYNTH_MT_MAX_FK_KEYS];	/* parent's kept refs */
	bool		convert[SYNTH_MT_MAX_FK_KEYS];
	Oid			parent_output[SYNTH_MT_MAX_FK_KEYS];
	Oid			child_input[SYNTH_MT_MAX_FK_KEYS];
	Oid			child_ioparam[SYNTH_MT_MAX_FK_KEYS];
	int32		child_typmod[SYNTH_MT_MAX_FK_KEYS];
	Oid			child_typid[SYNTH_MT_MAX_FK_KEYS];
	int			nullflag_col;	/* the child's "?fk" view column, or -1 */
	int			null_col;		/* deferred: the child's kept column "stays NULL" */

	/* drawing parents by their children counts: rounds of a shuffled pool */
	KeptReader	draws;
	int			round;
	int64		npool;			/* -1: not counted yet */
	bool		exhausted;		/* one-to-one: every parent taken */
} FillFk;

typedef struct Pending
{
	ParentRow  *parent;			/* context parent row, or NULL */
	int			tries;			/* draws that failed a constraint */
	int			ctries;			/* draws that failed the table's condition */
	int			stratum;		/* rebalancing: the row's category, else 0 */
} Pending;

typedef struct Fill
{
	SynthMtPlan *plan;
	SynthMtMember *members;
	SynthMtCond *conds;			/* per table, or NULL */
	const char *target;
	double		scale;
	uint64		seed;
	FillTable  *tables;
	FillFk	   *fks;
	MemoryContext cxt;			/* lives as long as the fill */
	Size		peak;			/* the most memory cxt held after a batch */
} Fill;

static uint64
mix_seed(uint64 seed, uint64 salt)
{
	uint64		z = seed + salt * UINT64CONST(0x9E3779B97F4A7C15);

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The target attribute of a source attribute, by name. */
static AttrNumber
target_attnum(FillTable *ft, AttrNumber source_attnum)
{
	char	   *name = get_attname(ft->pt->relid, source_attnum, false);
	AttrNumber	a = get_attnum(RelationGetRelid(ft->rel), name);

	if (a == InvalidAttrNumber)
		elog(ERROR, "synth: column \"%s\" is missing from the target table", name);
	return a;
}

/* ---- parameters as arrays ---- */

static void
param_init(ParamCol *pc, Oid typid, int32 typmod, int capacity)
{
	Oid			base = getBaseType(typid);
	bool		varlena;

	pc->typid = typid;
	pc->typmod = typmod;
	pc->as_text = OidIsValid(get_element_type(base)) || !OidIsValid(get_array_type(base));
	pc->elemtype = pc->as_text ? TEXTOID : base;
	get_typlenbyvalalign(pc->elemtype, &pc->elemlen, &pc->elembyval, &pc->elemalign);
	getTypeOutputInfo(typid, &pc->typoutput, &varlena);
	pc->buf = palloc(sizeof(Datum) * capacity);
	pc->bufnull = palloc(sizeof(bool) * capacity);
	pc->n = 0;
}

/* Add a value of the target column's type (as text where the array is of text). */
static void
param_add(ParamCol *pc, Datum value, bool isnull)
{
	if (!isnull && pc->as_text)
		value = CStringGetTextDatum(OidOutputFunctionCall(pc->typoutput, value));
	pc->buf[pc->n] = value;
	pc->bufnull[pc->n] = isnull;
	pc->n++;
}

static Datum
param_array(ParamCol *pc)
{
	int			dims[1] = {pc->n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(pc->buf, pc->bufnull, 1, dims, lbs, pc->elemtype,
											  pc->elemlen, pc->elembyval, pc->elemalign));
}

/* "v.cN" or "v.cN::type" in a SELECT over unnest()ed parameters. */
static void
param_sql(StringInfo buf, ParamCol *pc, int n)
{
	appendStringInfo(buf, "v.c%d", n);
	if (pc->as_text)
		appendStringInfo(buf, "::%s", format_type_with_typemod(pc->typid, pc->typmod));
}

/* ---- values ---- */

/* A continuous value as the double its encoder works with. */
static double
value_to_double(SynthEncoder *enc, Datum value)
{
	switch (enc->basetypid)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		default:
			return synth_datum_to_double(value, enc->vtype, NULL);
	}
}

/* The position of a categorical value among the encoder's categories, or -2. */
static int
category_of(SynthEncoder *enc, Datum value)
{
	for (int i = 0; i < enc->ncats; i++)
		if (enc->cat_datums[i] == value)
			return i;
	return -2;
}

static double
draw_in(SynthRng *rng, double lo, double hi)
{
	double		u = lo + synth_rng_uniform(rng) * (hi - lo);

	return Min(Max(u, U_EPS), 1.0 - U_EPS);
}

/* ---- kept rows ---- */

/* Open a cursor over table ft's kept rows: "SELECT k.* FROM kept k" and from_order. */
static void
reader_open(KeptReader *r, FillTable *ft, const char *from_order)
{
	MemoryContext caller = CurrentMemoryContext;	/* SPI returns in its own */
	char	   *sql = psprintf("SELECT k.* FROM %s AS k%s", ft->kept_name, from_order ? from_order : "");
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);

	if (plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	r->ft = ft;
	r->portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	r->chunk = NULL;
	r->pos = r->n = 0;
	SPI_freeplan(plan);
	MemoryContextSwitchTo(caller);
}

static void
reader_close(KeptReader *r)
{
	MemoryContext caller = CurrentMemoryContext;	/* SPI returns in its own */

	if (r->chunk)
		SPI_freetuptable(r->chunk);
	if (r->portal)
		SPI_cursor_close(r->portal);
	r->portal = NULL;
	r->chunk = NULL;
	MemoryContextSwitchTo(caller);
}

/* The next kept row, copied into cxt; NULL at the end (the cursor closes). */
static ParentRow *
reader_next(KeptReader *r, MemoryContext cxt)
{
	FillTable  *ft = r->ft;
	HeapTuple	tup;
	ParentRow  *p;
	MemoryContext caller = CurrentMemoryContext;	/* SPI returns in its own */

	if (r->portal == NULL)
		return NULL;
	if (r->pos >= r->n)
	{
		if (r->chunk)
			SPI_freetuptable(r->chunk);
		r->chunk = NULL;
		SPI_cursor_fetch(r->portal, true, FILL_BATCH);
		r->chunk = SPI_tuptable;
		r->n = SPI_processed;
		r->pos = 0;
		MemoryContextSwitchTo(caller);
		if (r->n == 0)
		{
			reader_close(r);
			return NULL;
		}
	}
	tup = r->chunk->vals[r->pos++];
	MemoryContextSwitchTo(cxt);
	p = palloc(sizeof(ParentRow));
	p->vals = palloc(sizeof(Datum) * ft->nkept);
	p->nulls = palloc(sizeof(bool) * ft->nkept);
	heap_deform_tuple(tup, r->chunk->tupdesc, p->vals, p->nulls);
	for (int i = 0; i < ft->nkept; i++)
		if (!p->nulls[i] && !ft->kept_byval[i])
			p->vals[i] = datumCopy(p->vals[i], false, ft->kept_len[i]);
	p->idx = DatumGetInt64(p->vals[0]);
	MemoryContextSwitchTo(caller);
	return p;
}

/* A copy of a kept row in cxt. */
static ParentRow *
copy_row(FillTable *ft, const ParentRow *src, MemoryContext cxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	ParentRow  *p = palloc(sizeof(ParentRow));

	p->idx = src->idx;
	p->vals = palloc(sizeof(Datum) * ft->nkept);
	p->nulls = palloc(sizeof(bool) * ft->nkept);
	for (int i = 0; i < ft->nkept; i++)
	{
		p->nulls[i] = src->nulls[i];
		p->vals[i] = src->nulls[i] ? (Datum) 0 :
			datumCopy(src->vals[i], ft->kept_byval[i], ft->kept_len[i]);
	}
	MemoryContextSwitchTo(oldcxt);
	return p;
}

/* One number a query over the kept rows returns. */
static int64
kept_count(FillTable *ft, const char *expr)
{
	MemoryContext caller = CurrentMemoryContext;	/* SPI returns in its own */
	char	   *sql = psprintf("SELECT coalesce(%s, 0)::int8 FROM %s AS k", expr, ft->kept_name);
	bool		isnull;
	int64		n;

	if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "synth: could not read kept rows: \"%s\"", sql);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	MemoryContextSwitchTo(caller);
	return isnull ? 0 : n;
}

/* ---- drawing parents by their children counts ---- */

/*
 * A parent row for foreign key f, copied into cxt; NULL: none left.  Parents
 * come in rounds, each a shuffle (by a hash of the seed) of the pool in
 * which every parent appears as often as its children count says, read
 * through a cursor so that nothing grows with the parents: one round is the
 * learned degree distribution exactly, further rounds draw by the counts
 * again (each parent once per round when every count is 0).  A one-to-one
 * foreign key takes the pool's parents, then the others, each once.
 */
static ParentRow *
fk_draw(Fill *fill, int f, MemoryContext cxt)
{
	FillFk	   *ff = &fill->fks[f];
	FillTable  *parent = &fill->tables[ff->fk->parent];
	int			cc = parent->count_col ? parent->count_col[f] : -1;

	if (parent->nrows == 0 || parent->kept_name == NULL || ff->exhausted)
		return NULL;
	for (;;)
	{
		ParentRow  *p;

		if (ff->draws.portal == NULL)
		{
			int64		salt = (int64) mix_seed(fill->seed, 1000 + f + 7919 * ff->round);
			char	   *order;

			if (ff->npool < 0)
				ff->npool = cc < 0 ? 0 : kept_count(parent, psprintf("sum(k.k%d)", cc));
			if (ff->fk->unique)
				order = cc < 0 ?
					psprintf(" ORDER BY pg_catalog.hashint8extended(k.k0, " INT64_FORMAT ")", salt) :
					psprintf(" ORDER BY k.k%d = 0, pg_catalog.hashint8extended(k.k0, " INT64_FORMAT ")",
							 cc, salt);
			else if (ff->npool > 0)
				order = psprintf(", pg_catalog.generate_series(1, k.k%d) AS g"
								 " ORDER BY pg_catalog.hashint8extended(k.k0 * 65536 + g, " INT64_FORMAT ")",
								 cc, salt);
			else
				order = psprintf(" ORDER BY pg_catalog.hashint8extended(k.k0, " INT64_FORMAT ")", salt);
			reader_open(&ff->draws, parent, order);
			ff->round++;
		}
		p = reader_next(&ff->draws, cxt);
		if (p != NULL)
			return p;
		if (ff->fk->unique)
		{
			ff->exhausted = true;
			return NULL;
		}
	}
}

/* The value of key column k of foreign key f for parent row p, in the child's type. */
static Datum
fk_value(Fill *fill, int f, int k, ParentRow *p, bool *isnull)
{
	FillFk	   *ff = &fill->fks[f];
	FillTable  *parent = &fill->tables[ff->fk->parent];
	int			col = parent->ref_col + ff->ref_index[k];
	Datum		v;

	*isnull = p->nulls[col];
	v = p->vals[col];
	if (!*isnull && ff->convert[k])
		v = OidInputFunctionCall(ff->child_input[k],
								 OidOutputFunctionCall(ff->parent_output[k], v),
								 ff->child_ioparam[k], ff->child_typmod[k]);
	return v;
}

/* ---- setting up a table ---- */

static int
add_ref(FillTable *ft, AttrNumber target_att)
{
	for (int i = 0; i < ft->nref; i++)
		if (ft->ref_att[i] == target_att)
			return i;
	if (ft->nref >= lengthof(ft->ref_att))
		elog(ERROR, "synth: too many referenced columns in table \"%s\"", ft->pt->name);
	ft->ref_att[ft->nref] = target_att;
	return ft->nref++;
}

static void
prepare_checks(FillTable *ft)
{
	TupleDesc	desc = RelationGetDescr(ft->rel);
	TupleConstr *constr = desc->constr;

	ft->econtext = CreateStandaloneExprContext();
	ft->slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	if (constr == NULL || constr->num_check == 0)
		return;
	ft->nchecks = constr->num_check;
	ft->check_names = palloc(sizeof(char *) * ft->nchecks);
	ft->checks = palloc(sizeof(ExprState *) * ft->nchecks);
	ft->check_fails = palloc0(sizeof(int64) * ft->nchecks);
	for (int i = 0; i < ft->nchecks; i++)
	{
		Expr	   *expr = (Expr *) stringToNode(constr->check[i].ccbin);

		ft->check_names[i] = pstrdup(constr->check[i].ccname);
		ft->checks[i] = ExecInitExpr(expression_planner(expr), NULL);
	}
}

/* The first CHECK constraint the row fails, or -1. */
static int
failed_check(FillTable *ft, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = ft->slot;
	int			natts = RelationGetDescr(ft->rel)->natts;
	int			failed = -1;

	if (ft->nchecks == 0)
		return -1;
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	ft->econtext->ecxt_scantuple = slot;
	for (int i = 0; i < ft->nchecks && failed < 0; i++)
	{
		bool		isnull;
		Datum		ok = ExecEvalExprSwitchContext(ft->checks[i], ft->econtext, &isnull);

		if (!isnull && !DatumGetBool(ok))
		{
			ft->check_fails[i]++;
			failed = i;
		}
	}
	ResetExprContext(ft->econtext);
	return failed;
}

/* UNIQUE keys of the table made of two or more whole foreign keys. */
static void
prepare_uniques(Fill *fill, int t)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtPlan *plan = fill->plan;
	List	   *indexes = RelationGetIndexList(ft->rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index index = irel->rd_index;
		UniqueFks  *u;
		int			covered = 0;
		int			nfk = 0;
		int			fks[SYNTH_MT_MAX_UNIQUE_FKS];
		HASHCTL		ctl;

		if (index->indisunique && RelationGetIndexPredicate(irel) == NIL)
		{
			for (int f = 0; f < plan->nfks; f++)
			{
				SynthMtFk  *fk = &plan->fks[f];
				bool		all = true;

				if (fk->child != t)
					continue;
				for (int k = 0; k < fk->nkeys && all; k++)
				{
					AttrNumber	a = target_attnum(ft, fk->child_att[k]);
					bool		in = false;

					for (int i = 0; i < index->indnkeyatts; i++)
						in |= index->indkey.values[i] == a;
					all = in;
				}
				if (all && nfk < SYNTH_MT_MAX_UNIQUE_FKS)
				{
					fks[nfk++] = f;
					covered += fk->nkeys;
				}
			}
		}
		if (nfk >= 2 && covered == index->indnkeyatts)
		{
			u = palloc0(sizeof(UniqueFks));
			u->name = pstrdup(RelationGetRelationName(irel));
			u->nfk = nfk;
			memcpy(u->fks, fks, sizeof(int) * nfk);
			memset(&ctl, 0, sizeof(ctl));
			ctl.keysize = sizeof(int64) * nfk;
			ctl.entrysize = ctl.keysize;
			ctl.hcxt = CurrentMemoryContext;
			u->seen = hash_create("synth unique foreign keys", 1024, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			ft->uniques = lappend(ft->uniques, u);
		}
		index_close(irel, NoLock);
	}
}

/*
 * The temporary table of what later tables need of table t's rows (see
 * FillTable), and the INSERT that adds a batch of them.
 */
static void
prepare_kept(Fill *fill, int t)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtPlan *plan = fill->plan;
	TupleDesc	desc = RelationGetDescr(ft->rel);
	Oid		   *types = palloc(sizeof(Oid) * (2 + plan->nfks * 2 + ft->nctx + ft->nref));
	int32	   *typmods = palloc(sizeof(int32) * (2 + plan->nfks * 2 + ft->nctx + ft->nref));
	Oid		   *argtypes;
	int			n = 0;
	bool		any = false;
	StringInfoData sql;
	StringInfoData sel;

	ft->count_col = palloc(sizeof(int) * Max(plan->nfks, 1));
	types[n] = INT8OID;
	typmods[n++] = -1;			/* k0: the row's index */
	for (int f = 0; f < plan->nfks; f++)
	{
		ft->count_col[f] = -1;
		if (plan->fks[f].parent == t)
		{
			ft->count_col[f] = n;
			types[n] = INT4OID;
			typmods[n++] = -1;
			any = true;
		}
	}
	ft->ctx_col = n;
	for (int i = 0; i < ft->nctx; i++)
	{
		types[n] = FLOAT8OID;
		typmods[n++] = -1;
		any = true;
	}
	ft->ref_col = n;
	for (int i = 0; i < ft->nref; i++)
	{
		types[n] = TupleDescAttr(desc, ft->ref_att[i] - 1)->atttypid;
		typmods[n++] = TupleDescAttr(desc, ft->ref_att[i] - 1)->atttypmod;
		any = true;
	}
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].child == t && plan->fks[f].deferred)
		{
			fill->fks[f].null_col = n;
			types[n] = BOOLOID;
			typmods[n++] = -1;
			any = true;
		}
	if (!any)
		return;

	ft->nkept = n;
	ft->kept = palloc0(sizeof(ParamCol) * n);
	ft->kept_len = palloc(sizeof(int16) * n);
	ft->kept_byval = palloc(sizeof(bool) * n);
	ft->kept_name = psprintf("pg_temp.synth_materialize_kept_%d", t);
	argtypes = palloc(sizeof(Oid) * n);
	initStringInfo(&sql);
	initStringInfo(&sel);
	appendStringInfo(&sql, "CREATE TEMPORARY TABLE %s (", ft->kept_name);
	for (int i = 0; i < n; i++)
	{
		param_init(&ft->kept[i], types[i], typmods[i], FILL_BATCH);
		get_typlenbyval(types[i], &ft->kept_len[i], &ft->kept_byval[i]);
		argtypes[i] = get_array_type(ft->kept[i].elemtype);
		appendStringInfo(&sql, "%sk%d %s", i > 0 ? ", " : "", i,
						 format_type_with_typemod(types[i], typmods[i]));
		if (i > 0)
			appendStringInfoString(&sel, ", ");
		param_sql(&sel, &ft->kept[i], i + 1);
	}
	appendStringInfoString(&sql, ") ON COMMIT DROP");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "synth: could not create \"%s\"", ft->kept_name);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s SELECT %s FROM ROWS FROM (", ft->kept_name, sel.data);
	for (int i = 0; i < n; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") AS v(");
	for (int i = 0; i < n; i++)
		appendStringInfo(&sql, "%sc%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	ft->kept_plan = SPI_prepare(sql.data, n, argtypes);
	if (ft->kept_plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
}

static void
prepare_table(Fill *fill, int t)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtTable *pt = &fill->plan->tables[t];
	SynthMtPlan *plan = fill->plan;
	TupleDesc	desc;
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData sel;
	StringInfoData unnest;
	Oid		   *argtypes;
	bool		overriding = false;
	Oid			relid;

	ft->pt = pt;
	ft->model = fill->members[t].model;
	relid = get_relname_relid(pt->name, get_namespace_oid(fill->target, false));
	ft->rel = relation_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(ft->rel);
	ft->icols = palloc0(sizeof(InsertCol) * Max(desc->natts, 1));

	/* the inserted columns: own modelled ones and foreign key columns */
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	src = get_attnum(pt->relid, NameStr(att->attname));
		InsertCol  *ic = &ft->icols[ft->ninsert];

		if (att->attisdropped || att->attgenerated != '\0')
			continue;
		ic->attnum = att->attnum;
		ic->viewcol = ic->fk = -1;
		for (int c = 0; c < pt->ncols; c++)
			if (pt->cols[c].role == SYNTH_MT_OWN && pt->cols[c].attnum == src)
				ic->viewcol = c;
		for (int f = 0; f < plan->nfks && ic->viewcol < 0; f++)
			if (plan->fks[f].child == t)
				for (int k = 0; k < plan->fks[f].nkeys; k++)
					if (plan->fks[f].child_att[k] == src)
					{
						ic->fk = f;
						ic->keypos = k;
					}
		if (ic->viewcol < 0 && ic->fk < 0)
			continue;			/* excluded: its default or NULL */
		if (ic->viewcol >= 0 && ft->model == NULL)
			continue;
		if (ic->viewcol >= 0)
		{
			SynthEncoder *enc = &ft->model->encoders[ic->viewcol];

			ic->convert = enc->typid != att->atttypid &&
				getBaseType(enc->typid) != getBaseType(att->atttypid);
			if (ic->convert)
			{
				bool		varlena;

				getTypeOutputInfo(enc->typid, &ic->src_output, &varlena);
				getTypeInputInfo(att->atttypid, &ic->typinput, &ic->typioparam);
			}
		}
		if (att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			overriding = true;
		param_init(&ic->param, att->atttypid, att->atttypmod, FILL_BATCH);
		ft->ninsert++;
	}

	/* INSERT INTO t (cols) SELECT v.c1, ... FROM ROWS FROM (unnest($1), ...) v(c1, ...) */
	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&sel);
	initStringInfo(&unnest);
	argtypes = palloc(sizeof(Oid) * Max(ft->ninsert, 1));
	for (int i = 0; i < ft->ninsert; i++)
	{
		InsertCol  *ic = &ft->icols[i];

		appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(desc, ic->attnum - 1)->attname)));
		if (i > 0)
			appendStringInfoString(&sel, ", ");
		param_sql(&sel, &ic->param, i + 1);
		appendStringInfo(&unnest, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
		argtypes[i] = get_array_type(ic->param.elemtype);
	}
	if (ft->ninsert > 0)
		appendStringInfo(&sql, "INSERT INTO %s (%s)%s SELECT %s FROM ROWS FROM (%s) AS v(",
						 quote_qualified_identifier(fill->target, pt->name), cols.data,
						 overriding ? " OVERRIDING SYSTEM VALUE" : "", sel.data, unnest.data);
	else
		appendStringInfo(&sql, "INSERT INTO %s SELECT FROM pg_catalog.generate_series(1, $1",
						 quote_qualified_identifier(fill->target, pt->name));
	for (int i = 0; i < ft->ninsert; i++)
		appendStringInfo(&sql, "%sc%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	if (ft->ninsert == 0)
		argtypes[0] = INT4OID;
	ft->insert_plan = SPI_prepare(sql.data, Max(ft->ninsert, 1), argtypes);
	if (ft->insert_plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));

	/* kept values: columns that foreign keys reference, and those that find rows again */
	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];

		if (fk->parent == t)
			for (int k = 0; k < fk->nkeys; k++)
				fill->fks[f].ref_index[k] = add_ref(ft, target_attnum(ft, fk->parent_att[k]));
		if (fk->child == t && fk->deferred)
			for (int k = 0; k < pt->nident; k++)
				(void) add_ref(ft, target_attnum(ft, pt->ident[k]));
	}

	/* context values: own modelled non-key columns, when a child takes its context here */
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].parent == t && plan->fks[f].context && ft->ctx_viewcol == NULL)
		{
			ft->ctx_viewcol = palloc(sizeof(int) * Max(pt->ncols, 1));
			for (int c = 0; c < pt->ncols; c++)
				if (pt->cols[c].role == SYNTH_MT_OWN && !pt->cols[c].key)
					ft->ctx_viewcol[ft->nctx++] = c;
		}

	prepare_kept(fill, t);
	prepare_checks(ft);
	prepare_uniques(fill, t);
}

/* How foreign key f's values reach the child: parent's kept columns, conversion. */
static void
prepare_fk(Fill *fill, int f)
{
	FillFk	   *ff = &fill->fks[f];
	SynthMtFk  *fk = &fill->plan->fks[f];
	FillTable  *child = &fill->tables[fk->child];
	FillTable  *parent = &fill->tables[fk->parent];

	ff->fk = fk;
	ff->nullflag_col = -1;
	ff->npool = -1;
	for (int c = 0; c < child->pt->ncols; c++)
		if (child->pt->cols[c].role == SYNTH_MT_NULLFLAG && child->pt->cols[c].fk == f)
			ff->nullflag_col = c;
	for (int k = 0; k < fk->nkeys; k++)
	{
		Form_pg_attribute ca = TupleDescAttr(RelationGetDescr(child->rel),
											 target_attnum(child, fk->child_att[k]) - 1);
		Form_pg_attribute pa = TupleDescAttr(RelationGetDescr(parent->rel),
											 target_attnum(parent, fk->parent_att[k]) - 1);
		bool		varlena;

		ff->child_typid[k] = ca->atttypid;
		ff->child_typmod[k] = ca->atttypmod;
		ff->convert[k] = getBaseType(ca->atttypid) != getBaseType(pa->atttypid);
		getTypeOutputInfo(pa->atttypid, &ff->parent_output[k], &varlena);
		getTypeInputInfo(ca->atttypid, &ff->child_input[k], &ff->child_ioparam[k]);
	}
}

/* ---- generating a table ---- */

static void
flush_insert(FillTable *ft, int nrows)
{
	MemoryContext caller = CurrentMemoryContext;	/* SPI returns in its own */
	Datum	   *args = palloc(sizeof(Datum) * Max(ft->ninsert, 1));
	int			ret;

	if (nrows == 0)
		return;
	for (int i = 0; i < ft->ninsert; i++)
		args[i] = param_array(&ft->icols[i].param);
	if (ft->ninsert == 0)
		args[0] = Int32GetDatum(nrows);
	ret = SPI_execute_plan(ft->insert_plan, args, NULL, false, 0);
	MemoryContextSwitchTo(caller);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "synth: could not insert into \"%s\": %s", ft->pt->name,
			 SPI_result_code_string(ret));
	for (int i = 0; i < ft->ninsert; i++)
		ft->icols[i].param.n = 0;

	/* and what later tables need of the rows */
	if (ft->kept_name != NULL)
	{
		args = palloc(sizeof(Datum) * ft->nkept);
		for (int i = 0; i < ft->nkept; i++)
			args[i] = param_array(&ft->kept[i]);
		ret = SPI_execute_plan(ft->kept_plan, args, NULL, false, 0);
		MemoryContextSwitchTo(caller);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "synth: could not keep rows of \"%s\": %s", ft->pt->name,
				 SPI_result_code_string(ret));
		for (int i = 0; i < ft->nkept; i++)
			ft->kept[i].n = 0;
	}
}

/* The constraint (CHECK or UNIQUE over foreign keys) the table's rows failed most. */
static const char *
worst_constraint(FillTable *ft)
{
	const char *name = "?";
	int64		worst = 0;
	ListCell   *lc;

	for (int i = 0; i < ft->nchecks; i++)
		if (ft->check_fails[i] > worst)
		{
			worst = ft->check_fails[i];
			name = ft->check_names[i];
		}
	foreach(lc, ft->uniques)
	{
		UniqueFks  *u = lfirst(lc);

		if (u->fails > worst)
		{
			worst = u->fails;
			name = u->name;
		}
	}
	return name;
}

/* Ensure a table whose rows keep failing a constraint ends with an error, not a hang. */
static void
CheckAcceptance(FillTable *ft, int64 attempts, int64 accepted)
{
	if (attempts < SYNTH_MT_CHECK_MIN_TRIES || accepted >= attempts * SYNTH_MT_CHECK_MIN_RATE)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("synthetic rows of table \"%s\" keep failing constraint \"%s\"",
					ft->pt->name, worst_constraint(ft)),
			 errdetail(INT64_FORMAT " of " INT64_FORMAT " rows drawn passed; below %g%% synth stops.",
					   accepted, attempts, 100.0 * SYNTH_MT_CHECK_MIN_RATE),
			 errhint("The model rarely generates rows that satisfy it: train with the constraint's columns modelled, or relax the constraint.")));
}

/* Children contexts of table t: how each context column maps from the parent. */
static ChildContext *
prepare_context(Fill *fill, int t, int *nctx, bool **known)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtTable *pt = ft->pt;
	SynthMtFk  *fk = &fill->plan->fks[pt->context];
	FillTable  *parent = &fill->tables[fk->parent];
	ChildContext *cc = palloc0(sizeof(ChildContext) * Max(pt->ncols, 1));
	SynthModel *model = ft->model;

	*nctx = 0;
	*known = palloc0(sizeof(bool) * Max(model->dim, 1));
	for (int c = 0; c < pt->ncols; c++)
	{
		SynthEncoder *ce = &model->encoders[c];
		ChildContext *x;

		if (pt->cols[c].role != SYNTH_MT_CONTEXT || ce->dim < 0)
			continue;
		x = &cc[(*nctx)++];
		x->viewcol = c;
		x->slot = -1;
		x->parent_kind = SYNTH_KIND_FREETEXT;
		for (int s = 0; s < parent->nctx; s++)
			if (parent->pt->cols[parent->ctx_viewcol[s]].attnum == pt->cols[c].attnum)
			{
				x->slot = s;
				if (parent->model)
				{
					SynthEncoder *pe = &parent->model->encoders[parent->ctx_viewcol[s]];

					x->parent_kind = pe->kind;
					if (pe->kind == SYNTH_KIND_CATEGORICAL)
					{
						x->catmap = palloc(sizeof(int) * Max(pe->ncats, 1));
						for (int i = 0; i < pe->ncats; i++)
							x->catmap[i] = synth_encoder_category_index(ce, pe->cats[i]);
					}
				}
			}
		(*known)[ce->dim] = true;
		if (ce->null_dim >= 0)
			(*known)[ce->null_dim] = true;
	}
	return cc;
}

/* Fill the known (context) dimensions of one row of uniform scores. */
static void
condition_row(Fill *fill, FillTable *ft, ChildContext *cc, int nctx, ParentRow *parent,
			  double *u, SynthRng *rng)
{
	FillTable  *pt = &fill->tables[fill->plan->fks[ft->pt->context].parent];

	for (int i = 0; i < nctx; i++)
	{
		SynthEncoder *ce = &ft->model->encoders[cc[i].viewcol];
		double		x = NAN;
		double		lo = 0.0,
					hi = 1.0;
		bool		isnull;

		/* an orphan's context is NULL; an unknown value leaves the score free */
		if (parent == NULL)
			isnull = true;
		else if (cc[i].slot < 0)
		{
			u[ce->dim] = draw_in(rng, 0.0, 1.0);
			if (ce->null_dim >= 0)
				u[ce->null_dim] = draw_in(rng, 0.0, 1.0);
			continue;
		}
		else
		{
			x = DatumGetFloat8(parent->vals[pt->ctx_col + cc[i].slot]);
			isnull = (cc[i].parent_kind == SYNTH_KIND_CATEGORICAL) ? (x == -1.0) : isnan(x);
		}

		if (ce->kind == SYNTH_KIND_CONTINUOUS)
		{
			if (ce->null_dim >= 0)
				u[ce->null_dim] = isnull ? draw_in(rng, 0.0, ce->null_rate) :
					draw_in(rng, ce->null_rate, 1.0);
			if (!isnull && cc[i].parent_kind == SYNTH_KIND_CONTINUOUS)
				synth_encoder_continuous_interval(ce, x, &lo, &hi);
			u[ce->dim] = draw_in(rng, lo, hi);
			continue;
		}

		/* categorical */
		if (isnull)
		{
			synth_encoder_category_interval(ce, -1, &lo, &hi);
			if (hi <= lo)
				lo = 0.0, hi = 1.0;
		}
		else if (cc[i].parent_kind == SYNTH_KIND_CATEGORICAL && x >= 0)
		{
			int			j = cc[i].catmap[(int) x];

			if (j >= 0)
				synth_encoder_category_interval(ce, j, &lo, &hi);
			else if (ce->ncats > 0 && ce->cat_cum[ce->ncats - 1] < 1.0)
				lo = ce->cat_cum[ce->ncats - 1];	/* a category rare among the children */
		}
		u[ce->dim] = draw_in(rng, lo, hi);
	}
}

/* Parent rows for each foreign key of the row; false if a UNIQUE key could not be kept. */
static bool
choose_parents(Fill *fill, int t, ParentRow *context_parent, const Datum *values, const bool *nulls,
			   ParentRow **chosen, UniqueFks **failed)
{
	SynthMtPlan *plan = fill->plan;
	FillTable  *ft = &fill->tables[t];
	ListCell   *lc;

	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];
		FillFk	   *ff = &fill->fks[f];

		chosen[f] = NULL;
		if (fk->child != t || fk->deferred)
			continue;
		if (fk->context)
		{
			chosen[f] = context_parent;
			continue;
		}
		if (ff->nullflag_col >= 0 && !nulls[ff->nullflag_col] &&
			DatumGetBool(values[ff->nullflag_col]))
			continue;
		chosen[f] = fk_draw(fill, f, CurrentMemoryContext);
		if (chosen[f] == NULL && !fk->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("no synthetic row of table \"%s\" is left for foreign key \"%s\" of table \"%s\"",
							plan->tables[fk->parent].name, fk->name, ft->pt->name),
					 errdetail(fk->unique ? "The foreign key is unique: each parent row takes at most one row." :
							   "The parent table has no synthetic rows."),
					 errhint("Materialize with a larger scale, or train on data where the parent table has rows.")));
	}

	foreach(lc, ft->uniques)
	{
		UniqueFks  *u = lfirst(lc);
		int64		key[SYNTH_MT_MAX_UNIQUE_FKS];
		bool		found = true;
		bool		any_null = false;

		for (int tries = 0; found && tries < SYNTH_MT_UNIQUE_TRIES; tries++)
		{
			for (int i = 0; i < u->nfk; i++)
			{
				key[i] = chosen[u->fks[i]] ? chosen[u->fks[i]]->idx : -1;
				any_null |= key[i] < 0;
			}
			if (any_null)
				break;
			(void) hash_search(u->seen, key, HASH_FIND, &found);
			if (!found)
				break;
			for (int i = 0; i < u->nfk; i++)
				if (!plan->fks[u->fks[i]].context && !plan->fks[u->fks[i]].deferred)
					chosen[u->fks[i]] = fk_draw(fill, u->fks[i], CurrentMemoryContext);
		}
		if (found && !any_null)
		{
			u->fails++;
			*failed = u;
			return false;
		}
	}
	return true;
}

static void
remember_uniques(FillTable *ft, ParentRow *const *chosen)
{
	ListCell   *lc;

	foreach(lc, ft->uniques)
	{
		UniqueFks  *u = lfirst(lc);
		int64		key[SYNTH_MT_MAX_UNIQUE_FKS];
		bool		found;
		bool		any_null = false;

		for (int i = 0; i < u->nfk; i++)
		{
			key[i] = chosen[u->fks[i]] ? chosen[u->fks[i]]->idx : -1;
			any_null |= key[i] < 0;
		}
		if (!any_null)
			(void) hash_search(u->seen, key, HASH_ENTER, &found);
	}
}

/*
 * Keep what later tables need of accepted row idx: added to the batch of
 * kept rows that goes in with the table's batch (in the rows' memory).
 */
static void
keep_row(Fill *fill, int t, int64 idx, const Datum *row, const bool *rownull,
		 const Datum *values, const bool *nulls)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtPlan *plan = fill->plan;

	if (ft->kept_name == NULL)
		return;
	param_add(&ft->kept[0], Int64GetDatum(idx), false);
	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];

		if (fk->parent == t)
		{
			int32		n = 0;

			for (int c = 0; c < ft->pt->ncols; c++)
				if (ft->pt->cols[c].role == SYNTH_MT_COUNT && ft->pt->cols[c].fk == f &&
					!nulls[c])
					n = (int32) Min(Max(DatumGetInt64(values[c]), 0), PG_INT32_MAX);
			if (fk->unique)
				n = Min(n, 1);
			param_add(&ft->kept[ft->count_col[f]], Int32GetDatum(n), false);
		}
	}
	for (int s = 0; s < ft->nctx; s++)
	{
		int			c = ft->ctx_viewcol[s];
		SynthEncoder *enc = &ft->model->encoders[c];
		double		x;

		if (enc->kind == SYNTH_KIND_CONTINUOUS)
			x = nulls[c] ? NAN : value_to_double(enc, values[c]);
		else if (enc->kind == SYNTH_KIND_CATEGORICAL)
			x = nulls[c] ? -1.0 : (double) category_of(enc, values[c]);
		else
			x = -2.0;
		param_add(&ft->kept[ft->ctx_col + s], Float8GetDatum(x), false);
	}
	for (int i = 0; i < ft->nref; i++)
	{
		int			a = ft->ref_att[i] - 1;

		param_add(&ft->kept[ft->ref_col + i], row[a], rownull[a]);
	}
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].child == t && plan->fks[f].deferred)
		{
			int			c = fill->fks[f].nullflag_col;

			param_add(&ft->kept[fill->fks[f].null_col],
					  BoolGetDatum(c >= 0 && !nulls[c] && DatumGetBool(values[c])), false);
		}
}

/* Ensure a table whose condition rejects nearly every row ends with an error, not a hang. */
static void
CheckConditionRate(FillTable *ft, const char *where, int64 tries, int64 misses)
{
	double		rate;

	if (tries < SYNTH_MT_CONDITION_MIN_TRIES)
		return;
	rate = (double) (tries - misses) / (double) tries;
	if (rate >= SYNTH_MT_CONDITION_MIN_RATE)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the condition \"%s\" of table \"%s\" is too rare for the model", where, ft->pt->name),
			 errdetail("It held in " INT64_FORMAT " of " INT64_FORMAT " rows sampled (%.2g); below %g synth stops.",
					   tries - misses, tries, rate, SYNTH_MT_CONDITION_MIN_RATE),
			 errhint("Loosen the condition, or train on data that has more such rows.")));
}

/*
 * The conditioned sampling of table t: for each stratum (one when not
 * rebalancing) the copula restricted by the table's condition and the
 * stratum's category, given the context dimensions (known, or NULL);
 * *left: rows of each stratum.  NULL when the table has no condition.
 */
static SynthCopulaCondition **
prepare_conditioned(Fill *fill, int t, int64 total, const bool *known, int *nstrata, int64 **left,
					SynthCondition **check)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtCond *mc = fill->conds ? &fill->conds[t] : NULL;
	SynthModel *model = ft->model;
	SynthCopulaCondition **sconds;
	List	   *strata = NIL;
	bool	   *known0;
	int		   *none;

	*check = NULL;
	*nstrata = 1;
	if (mc == NULL || (mc->where == NULL && mc->rebalance == NULL))
		return NULL;

	/* the predicate once more over the target table, to check each row as it goes in */
	if (mc->where)
	{
		TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(ft->rel));

		none = palloc(sizeof(int) * Max(desc->natts, 1));
		for (int i = 0; i < desc->natts; i++)
			none[i] = -1;
		*check = synth_condition_build(model, RelationGetRelid(ft->rel), desc, none, mc->where);
	}
	if (mc->rebalance)
	{
		strata = synth_rebalance_strata(model, mc->src_desc, mc->att_encoder, mc->rebalance, total);
		*nstrata = list_length(strata);
	}
	known0 = palloc0(sizeof(bool) * Max(model->dim, 1));
	if (known == NULL)
		known = known0;
	sconds = palloc(sizeof(SynthCopulaCondition *) * Max(*nstrata, 1));
	*left = palloc(sizeof(int64) * Max(*nstrata, 1));
	for (int i = 0; i < *nstrata; i++)
	{
		SynthAllowedSet **allowed = palloc0(sizeof(SynthAllowedSet *) * Max(model->dim, 1));

		for (int j = 0; j < model->dim; j++)
			if (mc->cond->allowed[j])
			{
				allowed[j] = palloc(sizeof(SynthAllowedSet));
				*allowed[j] = *mc->cond->allowed[j];
			}
		(*left)[i] = total;
		if (strata != NIL)
		{
			SynthStratum *stratum = list_nth(strata, i);

			synth_restrict_dim(allowed, stratum->dim, &stratum->set);
			(*left)[i] = stratum->rows;
			if (allowed[stratum->dim]->n == 0 && stratum->rows > 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("no row of a rebalanced category of table \"%s\" satisfies its condition \"%s\"",
								ft->pt->name, mc->where ? mc->where : ""),
						 errhint("Give that category a share of 0, or loosen the condition.")));
		}
		sconds[i] = synth_copula_condition_restricted(model, known, allowed);
	}
	return sconds;
}

/* The stratum of a new row: drawn without replacement from the strata's rows left. */
static int
next_stratum(SynthRng *rng, int nstrata, int64 *left)
{
	int64		total = 0;
	int64		x;

	if (left == NULL || nstrata <= 1)
	{
		if (left)
			left[0]--;
		return 0;
	}
	for (int i = 0; i < nstrata; i++)
		total += left[i];
	if (total <= 0)
		return 0;
	x = (int64) synth_rng_below(rng, (uint64) total);
	for (int i = 0; i < nstrata; i++)
	{
		if (x < left[i])
		{
			left[i]--;
			return i;
		}
		x -= left[i];
	}
	return 0;
}

/* Generate and insert every row of table t. */
static int64
fill_table(Fill *fill, int t)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtTable *pt = ft->pt;
	SynthMtPlan *plan = fill->plan;
	SynthMtMember *member = &fill->members[t];
	TupleDesc	desc = RelationGetDescr(ft->rel);
	int			natts = desc->natts;
	SynthGenerator *gen;
	ChildContext *cc = NULL;
	int			nctx = 0;
	bool	   *known = NULL;
	FillTable  *cparent = NULL;
	int			ccount_col = -1;
	KeptReader	parents;		/* the context parents' kept rows, in order */
	bool		parents_done = true;
	ParentRow  *cursor = NULL;	/* the context parent row whose children start */
	int64		cursor_left = 0;	/* its children still to start */
	MemoryContext pcxt[2];		/* parent rows of this batch, of the last one */
	int			cur = 0;
	int64		total = 0;
	int64		orphans;
	int64		free_left;		/* roots or orphans still to start */
	Pending    *retry;
	int			nretry = 0;
	Pending    *batch;
	Pending    *sorted = NULL;
	int64		accepted = 0;
	int64		attempts = 0;
	int64		left_out = 0;
	int64		left_out_cond = 0;
	SynthMtCond *mc = fill->conds ? &fill->conds[t] : NULL;
	SynthCopulaCondition **sconds = NULL;
	SynthCondition *check = NULL;
	int			nstrata = 1;
	int64	   *strata_left = NULL;
	SynthRng	srng;
	int64		ctries = 0;		/* rows checked against the condition */
	int64		cmisses = 0;	/* ... that failed it */
	Datum	   *row = palloc(sizeof(Datum) * Max(natts, 1));
	bool	   *rownull = palloc(sizeof(bool) * Max(natts, 1));
	ParentRow **chosen = palloc(sizeof(ParentRow *) * Max(plan->nfks, 1));
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "synth materialize rows",
												 ALLOCSET_DEFAULT_SIZES);

	/* how many rows: scale x the real ones, or the context parents' children counts */
	orphans = (int64) rint(fill->scale * (double) member->orphans);
	if (pt->context >= 0)
	{
		cparent = &fill->tables[plan->fks[pt->context].parent];
		ccount_col = cparent->count_col[pt->context];
		if (cparent->nrows > 0)
			total += kept_count(cparent, psprintf("sum(k.k%d)", ccount_col));
		free_left = orphans;
	}
	else if (mc != NULL && mc->rows >= 0)
		free_left = mc->rows;
	else
		free_left = (int64) rint(fill->scale * (double) member->rows);
	total += free_left;
	if (ft->model == NULL)
		total = 0;				/* the real table was empty */
	ft->nrows = total;
	if (total == 0)
		return 0;
	if (cparent != NULL && cparent->nrows > 0)
	{
		reader_open(&parents, cparent, NULL);
		parents_done = false;
	}
	pcxt[0] = AllocSetContextCreate(CurrentMemoryContext, "synth materialize parents",
									ALLOCSET_DEFAULT_SIZES);
	pcxt[1] = AllocSetContextCreate(CurrentMemoryContext, "synth materialize parents",
									ALLOCSET_DEFAULT_SIZES);

	gen = synth_generator_create(ft->model, mix_seed(fill->seed, t + 1), FILL_BATCH);
	if (pt->context >= 0)
	{
		cc = prepare_context(fill, t, &nctx, &known);
		if (nctx > 0)
			synth_generator_condition(gen, known);
	}
	sconds = prepare_conditioned(fill, t, total, nctx > 0 ? known : NULL, &nstrata, &strata_left,
								 &check);
	synth_rng_seed(&srng, mix_seed(fill->seed, 5000 + t));
	retry = palloc(sizeof(Pending) * FILL_BATCH);
	batch = palloc(sizeof(Pending) * FILL_BATCH);
	if (nstrata > 1)
		sorted = palloc(sizeof(Pending) * FILL_BATCH);

	while (accepted < total)
	{
		int			nb = 0;
		int			nret = nretry;
		int			inserted = 0;

		CHECK_FOR_INTERRUPTS();

		/*
		 * The batch's parent rows live in pcxt[cur]; those of the rows drawn
		 * again, and the parent whose children go on, are copied there from
		 * the last batch's.
		 */
		cur = 1 - cur;
		MemoryContextReset(pcxt[cur]);
		if (cursor != NULL && cursor_left > 0)
			cursor = copy_row(cparent, cursor, pcxt[cur]);

		/* rows drawn again first, then new ones: children of the next parents, then free rows */
		for (int i = 0; i < nret; i++)
		{
			batch[nb] = retry[i];
			if (batch[nb].parent != NULL)
				batch[nb].parent = copy_row(cparent, batch[nb].parent, pcxt[cur]);
			nb++;
		}
		nretry = 0;
		while (nb < FILL_BATCH)
		{
			if (!parents_done && cursor_left == 0)
			{
				cursor = reader_next(&parents, pcxt[cur]);
				if (cursor == NULL)
					parents_done = true;
				else
					cursor_left = DatumGetInt32(cursor->vals[ccount_col]);
				continue;
			}
			if (cursor_left > 0)
			{
				batch[nb].parent = cursor;
				batch[nb].tries = batch[nb].ctries = 0;
				batch[nb++].stratum = next_stratum(&srng, nstrata, strata_left);
				cursor_left--;
				continue;
			}
			if (free_left == 0)
				break;
			batch[nb].parent = NULL;
			batch[nb].tries = batch[nb].ctries = 0;
			batch[nb++].stratum = next_stratum(&srng, nstrata, strata_left);
			free_left--;
		}
		if (nb == 0)
			break;

		/* rebalancing: the rows of one stratum after another */
		if (nstrata > 1)
		{
			int			k = 0;

			for (int s = 0; s < nstrata; s++)
				for (int r = 0; r < nb; r++)
					if (batch[r].stratum == s)
						sorted[k++] = batch[r];
			memcpy(batch, sorted, sizeof(Pending) * nb);
		}
		for (int g0 = 0, g1 = 0; g0 < nb; g0 = g1)
		{
			Pending    *grp = batch + g0;
			int			ng;

			inserted = 0;
			while (g1 < nb && batch[g1].stratum == batch[g0].stratum)
				g1++;
			ng = g1 - g0;
			if (sconds)
				gen->cond = sconds[grp[0].stratum];
			if (nctx > 0)
				for (int r = 0; r < ng; r++)
					condition_row(fill, ft, cc, nctx, grp[r].parent,
								  gen->u + (int64) r * ft->model->dim, &gen->rng);
			synth_generator_fill(gen, ng);
			MemoryContextReset(rowcxt);

			for (int r = 0; r < ng; r++)
			{
				const Datum *values = gen->values + (int64) r * ft->model->natts;
				const bool *nulls = gen->nulls + (int64) r * ft->model->natts;
				UniqueFks  *ufailed = NULL;
				int			cfailed = -1;
				bool		missed = false;
				MemoryContext oldcxt;

				attempts++;
				oldcxt = MemoryContextSwitchTo(rowcxt);
				memset(rownull, true, sizeof(bool) * natts);
				if (choose_parents(fill, t, grp[r].parent, values, nulls, chosen, &ufailed))
				{
					for (int i = 0; i < ft->ninsert; i++)
					{
						InsertCol  *ic = &ft->icols[i];
						int			a = ic->attnum - 1;

						if (ic->viewcol >= 0)
						{
							rownull[a] = nulls[ic->viewcol];
							row[a] = values[ic->viewcol];
							if (!rownull[a] && ic->convert)
								row[a] = OidInputFunctionCall(ic->typinput,
															  OidOutputFunctionCall(ic->src_output, row[a]),
															  ic->typioparam,
															  TupleDescAttr(desc, a)->atttypmod);
						}
						else if (chosen[ic->fk] != NULL)
							row[a] = fk_value(fill, ic->fk, ic->keypos, chosen[ic->fk], &rownull[a]);
					}
					if (check != NULL)
					{
						ctries++;
						missed = !synth_condition_check(check, row, rownull);
						cmisses += missed;
					}
					if (!missed)
						cfailed = failed_check(ft, row, rownull);
				}
				MemoryContextSwitchTo(oldcxt);

				if (missed)
				{
					if (++grp[r].ctries < SYNTH_MT_CONDITION_TRIES)
						retry[nretry++] = grp[r];
					else
					{
						/* a parent among whose children the condition (nearly) never holds */
						total--;
						left_out_cond++;
					}
					continue;
				}
				if (ufailed != NULL || cfailed >= 0)
				{
					if (++grp[r].tries < SYNTH_MT_CHECK_TRIES)
						retry[nretry++] = grp[r];
					else
					{
						/* one row whose parent admits no valid child: leave it out */
						total--;
						left_out++;
					}
					continue;
				}

				remember_uniques(ft, chosen);
				oldcxt = MemoryContextSwitchTo(rowcxt);
				for (int i = 0; i < ft->ninsert; i++)
				{
					InsertCol  *ic = &ft->icols[i];

					param_add(&ic->param, row[ic->attnum - 1], rownull[ic->attnum - 1]);
				}
				keep_row(fill, t, accepted, row, rownull, values, nulls);
				MemoryContextSwitchTo(oldcxt);
				accepted++;
				inserted++;
			}
			/* the group's arrays go with the rows' memory */
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);

				flush_insert(ft, inserted);
				MemoryContextSwitchTo(oldcxt);
			}
		}
		if (check != NULL)
			CheckConditionRate(ft, mc->where, ctries, cmisses);
		CheckAcceptance(ft, attempts - cmisses, accepted);
		fill->peak = Max(fill->peak, MemoryContextMemAllocated(fill->cxt, true));
	}
	if (!parents_done)
		reader_close(&parents);
	MemoryContextDelete(pcxt[0]);
	MemoryContextDelete(pcxt[1]);
	MemoryContextDelete(rowcxt);
	if (left_out_cond > 0)
		ereport(NOTICE,
				(errmsg("synth_materialize left out " INT64_FORMAT " rows of table \"%s\" that did not satisfy its condition after %d draws each",
						left_out_cond, pt->name, SYNTH_MT_CONDITION_TRIES),
				 errhint("Among the children of some parent rows the condition (nearly) never holds.")));
	if (left_out > 0)
		ereport(NOTICE,
				(errmsg("synth_materialize left out " INT64_FORMAT " rows of table \"%s\" that still failed constraint \"%s\" after %d draws each",
						left_out, pt->name, worst_constraint(ft), SYNTH_MT_CHECK_TRIES),
				 errhint("Their parent rows have fewer children than the model drew for them.")));
	ft->nrows = accepted;
	return accepted;
}

/* Run the second pass's UPDATE over the rows gathered in params; batchcxt is reset. */
static void
flush_update(SPIPlanPtr plan, ParamCol *params, int nparams, Datum *args,
			 MemoryContext batchcxt, const char *table)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batchcxt);
	int			ret;

	for (int i = 0; i < nparams; i++)
		args[i] = param_array(&params[i]);
	ret = SPI_execute_plan(plan, args, NULL, false, 0);
	MemoryContextSwitchTo(oldcxt);	/* SPI returns in its own */
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "synth: could not update \"%s\": %s", table, SPI_result_code_string(ret));
	for (int i = 0; i < nparams; i++)
		params[i].n = 0;
	MemoryContextReset(batchcxt);
}

/* Fill the deferred foreign key f (a cycle's or a self-reference) by UPDATE. */
static void
fill_deferred(Fill *fill, int f)
{
	SynthMtFk  *fk = &fill->plan->fks[f];
	FillFk	   *ff = &fill->fks[f];
	FillTable  *child = &fill->tables[fk->child];
	SynthMtTable *pt = child->pt;
	TupleDesc	desc = RelationGetDescr(child->rel);
	int			nparams = pt->nident + fk->nkeys;
	ParamCol   *params = palloc0(sizeof(ParamCol) * nparams);
	int		   *ident_ref = palloc(sizeof(int) * Max(pt->nident, 1));
	Oid		   *argtypes = palloc(sizeof(Oid) * nparams);
	Datum	   *args = palloc(sizeof(Datum) * nparams);
	StringInfoData sql;
	StringInfoData unnest;
	SPIPlanPtr	plan;
	MemoryContext batchcxt = AllocSetContextCreate(CurrentMemoryContext, "synth second pass",
												   ALLOCSET_DEFAULT_SIZES);
	int64		pending = 0;
	bool		self = fk->child == fk->parent;
	KeptReader	rows;

	if (child->nrows == 0)
		return;

	/* UPDATE t SET f = v.cK, ... FROM ROWS FROM (unnest($1), ...) v(c1, ...) WHERE t.id = v.c1 */
	initStringInfo(&sql);
	initStringInfo(&unnest);
	appendStringInfo(&sql, "UPDATE %s AS t SET ", quote_qualified_identifier(fill->target, pt->name));
	for (int k = 0; k < fk->nkeys; k++)
	{
		AttrNumber	a = target_attnum(child, fk->child_att[k]);
		ParamCol   *pc = &params[pt->nident + k];

		param_init(pc, TupleDescAttr(desc, a - 1)->atttypid, TupleDescAttr(desc, a - 1)->atttypmod,
				   UPDATE_BATCH);
		appendStringInfo(&sql, "%s%s = ", k > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(desc, a - 1)->attname)));
		param_sql(&sql, pc, pt->nident + k + 1);
	}
	for (int i = 0; i < nparams; i++)
		appendStringInfo(&unnest, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
	for (int k = 0; k < pt->nident; k++)
	{
		AttrNumber	a = target_attnum(child, pt->ident[k]);

		param_init(&params[k], TupleDescAttr(desc, a - 1)->atttypid,
				   TupleDescAttr(desc, a - 1)->atttypmod, UPDATE_BATCH);
		for (int i = 0; i < child->nref; i++)
			if (child->ref_att[i] == a)
				ident_ref[k] = i;
	}
	appendStringInfo(&sql, " FROM ROWS FROM (%s) AS v(", unnest.data);
	for (int i = 0; i < nparams; i++)
		appendStringInfo(&sql, "%sc%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") WHERE ");
	for (int k = 0; k < pt->nident; k++)
	{
		AttrNumber	a = target_attnum(child, pt->ident[k]);

		appendStringInfo(&sql, "%st.%s = ", k > 0 ? " AND " : "",
						 quote_identifier(NameStr(TupleDescAttr(desc, a - 1)->attname)));
		param_sql(&sql, &params[k], k + 1);
	}
	for (int i = 0; i < nparams; i++)
		argtypes[i] = get_array_type(params[i].elemtype);
	plan = SPI_prepare(sql.data, nparams, argtypes);
	if (plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));

	/* the child's kept rows in order (which stay NULL, what finds them), parents drawn for each */
	reader_open(&rows, child, NULL);
	for (;;)
	{
		MemoryContext oldcxt;
		ParentRow  *r;
		ParentRow  *p;

		if (pending == UPDATE_BATCH)
		{
			flush_update(plan, params, nparams, args, batchcxt, pt->name);
			pending = 0;
		}
		r = reader_next(&rows, batchcxt);
		if (r == NULL)
			break;
		CHECK_FOR_INTERRUPTS();
		if (DatumGetBool(r->vals[ff->null_col]))
			continue;
		p = fk_draw(fill, f, batchcxt);
		/* nobody is their own parent */
		for (int tries = 0; self && p != NULL && p->idx == r->idx && tries < 10; tries++)
			p = fk_draw(fill, f, batchcxt);
		if (p == NULL || (self && p->idx == r->idx))
			continue;

		oldcxt = MemoryContextSwitchTo(batchcxt);
		for (int k = 0; k < pt->nident; k++)
			param_add(&params[k], r->vals[child->ref_col + ident_ref[k]],
					  r->nulls[child->ref_col + ident_ref[k]]);
		for (int k = 0; k < fk->nkeys; k++)
		{
			bool		isnull;
			Datum		v = fk_value(fill, f, k, p, &isnull);

			param_add(&params[pt->nident + k], v, isnull);
		}
		MemoryContextSwitchTo(oldcxt);
		pending++;
	}
	if (pending > 0)
		flush_update(plan, params, nparams, args, batchcxt, pt->name);
	MemoryContextDelete(batchcxt);
}

/*
 * Fill the target schema (already created) from the members' models; returns
 * the rows inserted per table, in plan order.
 */
int64 *
synth_mt_fill(SynthMtPlan *plan, SynthMtMember *members, SynthMtCond *conds,
			  const char *target, double scale, uint64 seed)
{
	int64	   *rows = palloc0(sizeof(int64) * Max(plan->ntables, 1));
	Fill		fill;

	memset(&fill, 0, sizeof(fill));
	fill.plan = plan;
	fill.members = members;
	fill.conds = conds;
	fill.target = target;
	fill.scale = scale;
	fill.seed = seed;
	fill.tables = palloc0(sizeof(FillTable) * Max(plan->ntables, 1));
	fill.fks = palloc0(sizeof(FillFk) * Max(plan->nfks, 1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	fill.cxt = CurrentMemoryContext;
	for (int t = 0; t < plan->ntables; t++)
		prepare_table(&fill, t);
	for (int f = 0; f < plan->nfks; f++)
		prepare_fk(&fill, f);
	for (int t = 0; t < plan->ntables; t++)
		rows[t] = fill_table(&fill, t);
	for (int f = 0; f < plan->nfks; f++)
		if (plan->fks[f].deferred)
			fill_deferred(&fill, f);
	{
		int64		total = 0;

		for (int t = 0; t < plan->ntables; t++)
			total += rows[t];
		elog(DEBUG1, "synth_materialize: " INT64_FORMAT " rows, %zu bytes of memory held at the end, %zu at most",
			 total, MemoryContextMemAllocated(fill.cxt, true),
			 Max(fill.peak, MemoryContextMemAllocated(fill.cxt, true)));
	}
	for (int f = 0; f < plan->nfks; f++)
		reader_close(&fill.fks[f].draws);
	for (int t = 0; t < plan->ntables; t++)
		if (fill.tables[t].kept_name != NULL &&
			SPI_execute(psprintf("DROP TABLE %s", fill.tables[t].kept_name), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "synth: could not drop \"%s\"", fill.tables[t].kept_name);
	for (int t = 0; t < plan->ntables; t++)
	{
		ExecDropSingleTupleTableSlot(fill.tables[t].slot);
		relation_close(fill.tables[t].rel, NoLock);
	}
	SPI_finish();
	return rows;
}
