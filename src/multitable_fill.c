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
 * pool in which each parent appears as often as its count says (then draws
 * weighted by the counts), so that the degree distribution is the learned
 * one; a nullable one is NULL as often as the model's "?fk" flag says.
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
 * Memory: per synthetic row, what later tables need of it (the key values
 * children point at, the children counts and the context values); generated
 * rows themselves live one batch at a time.
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

	/* kept per synthetic row for later tables */
	MemoryContext keepcxt;
	int			nref;
	AttrNumber	ref_att[SYNTH_MT_MAX_FK_KEYS * 4];	/* target attnums */
	int16		ref_len[SYNTH_MT_MAX_FK_KEYS * 4];
	bool		ref_byval[SYNTH_MT_MAX_FK_KEYS * 4];
	Datum	   *refs;			/* nrows x nref */
	bool	   *refnull;
	int32	  **counts;			/* per plan fk whose parent this is: nrows */
	int			nctx;
	int		   *ctx_viewcol;	/* own view columns kept as children's context */
	double	   *ctx;			/* nrows x nctx: value, or category index (-1 NULL, -2 unknown) */

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

	/* drawing parents by their children counts */
	bool		ready;
	SynthRng	rng;
	int64	   *pool;
	int64		npool;
	int64		pool_pos;
	double	   *cum;			/* cumulative counts, for draws past the pool */
	bool	   *used;			/* one-to-one: parents taken */
	int64	   *perm;			/* one-to-one: parents in random order, past the pool */
	int64		perm_pos;

	bool	   *deferred_null;	/* deferred: per child row, is it NULL */
} FillFk;

typedef struct Pending
{
	int64		parent;			/* context parent row, or -1 */
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

/* ---- drawing parents by their children counts ---- */

static void
fk_prepare_draws(Fill *fill, int f)
{
	FillFk	   *ff = &fill->fks[f];
	FillTable  *parent = &fill->tables[ff->fk->parent];
	int64		n = parent->nrows;
	int32	   *counts = parent->counts[f];
	int64		k = 0;
	double		total = 0.0;
	MemoryContext oldcxt;

	if (ff->ready)
		return;
	ff->ready = true;
	oldcxt = MemoryContextSwitchTo(fill->cxt);
	synth_rng_seed(&ff->rng, mix_seed(fill->seed, 1000 + f));
	ff->npool = 0;
	for (int64 i = 0; i < n; i++)
		ff->npool += counts[i];
	ff->pool = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(ff->npool, 1));
	ff->cum = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		for (int32 c = 0; c < counts[i]; c++)
			ff->pool[k++] = i;
		total += counts[i];
		ff->cum[i] = total;
	}
	/* Fisher-Yates */
	for (int64 i = ff->npool - 1; i > 0; i--)
	{
		int64		j = (int64) synth_rng_below(&ff->rng, (uint64) i + 1);
		int64		t = ff->pool[i];

		ff->pool[i] = ff->pool[j];
		ff->pool[j] = t;
	}
	if (ff->fk->unique)
	{
		ff->used = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(n, 1));
		memset(ff->used, 0, sizeof(bool) * Max(n, 1));
		ff->perm = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(n, 1));
		for (int64 i = 0; i < n; i++)
			ff->perm[i] = i;
		for (int64 i = n - 1; i > 0; i--)
		{
			int64		j = (int64) synth_rng_below(&ff->rng, (uint64) i + 1);
			int64		t = ff->perm[i];

			ff->perm[i] = ff->perm[j];
			ff->perm[j] = t;
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/* A parent row for foreign key f: from the pool, then weighted by counts; -1: none left. */
static int64
fk_draw(Fill *fill, int f)
{
	FillFk	   *ff = &fill->fks[f];
	int64		n = fill->tables[ff->fk->parent].nrows;

	fk_prepare_draws(fill, f);
	if (n == 0)
		return -1;
	if (ff->fk->unique)
	{
		while (ff->pool_pos < ff->npool)
		{
			int64		p = ff->pool[ff->pool_pos++];

			if (!ff->used[p])
			{
				ff->used[p] = true;
				return p;
			}
		}
		while (ff->perm_pos < n)
		{
			int64		p = ff->perm[ff->perm_pos++];

			if (!ff->used[p])
			{
				ff->used[p] = true;
				return p;
			}
		}
		return -1;
	}
	if (ff->pool_pos < ff->npool)
		return ff->pool[ff->pool_pos++];
	if (ff->cum[n - 1] <= 0.0)
		return (int64) synth_rng_below(&ff->rng, (uint64) n);
	{
		double		x = synth_rng_uniform(&ff->rng) * ff->cum[n - 1];
		int64		lo = 0,
					hi = n - 1;

		while (lo < hi)
		{
			int64		mid = (lo + hi) / 2;

			if (ff->cum[mid] <= x)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo;
	}
}

/* The value of key column k of foreign key f for parent row p, in the child's type. */
static Datum
fk_value(Fill *fill, int f, int k, int64 p, bool *isnull)
{
	FillFk	   *ff = &fill->fks[f];
	FillTable  *parent = &fill->tables[ff->fk->parent];
	int64		pos = p * parent->nref + ff->ref_index[k];
	Datum		v;

	*isnull = parent->refnull[pos];
	v = parent->refs[pos];
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
	get_typlenbyval(TupleDescAttr(RelationGetDescr(ft->rel), target_att - 1)->atttypid,
					&ft->ref_len[ft->nref], &ft->ref_byval[ft->nref]);
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
	ft->keepcxt = AllocSetContextCreate(CurrentMemoryContext, "synth materialize kept values",
										ALLOCSET_DEFAULT_SIZES);

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
	Datum	   *args = palloc(sizeof(Datum) * Max(ft->ninsert, 1));
	int			ret;

	if (nrows == 0)
		return;
	for (int i = 0; i < ft->ninsert; i++)
		args[i] = param_array(&ft->icols[i].param);
	if (ft->ninsert == 0)
		args[0] = Int32GetDatum(nrows);
	ret = SPI_execute_plan(ft->insert_plan, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "synth: could not insert into \"%s\": %s", ft->pt->name,
			 SPI_result_code_string(ret));
	for (int i = 0; i < ft->ninsert; i++)
		ft->icols[i].param.n = 0;
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
condition_row(Fill *fill, FillTable *ft, ChildContext *cc, int nctx, int64 parent,
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
		if (parent < 0)
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
			x = pt->ctx[parent * pt->nctx + cc[i].slot];
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
choose_parents(Fill *fill, int t, int64 context_parent, const Datum *values, const bool *nulls,
			   int64 *chosen, UniqueFks **failed)
{
	SynthMtPlan *plan = fill->plan;
	FillTable  *ft = &fill->tables[t];
	ListCell   *lc;

	for (int f = 0; f < plan->nfks; f++)
	{
		SynthMtFk  *fk = &plan->fks[f];
		FillFk	   *ff = &fill->fks[f];

		chosen[f] = -1;
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
		chosen[f] = fk_draw(fill, f);
		if (chosen[f] < 0 && !fk->nullable)
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
				key[i] = chosen[u->fks[i]];
				any_null |= key[i] < 0;
			}
			if (any_null)
				break;
			(void) hash_search(u->seen, key, HASH_FIND, &found);
			if (!found)
				break;
			for (int i = 0; i < u->nfk; i++)
				if (!plan->fks[u->fks[i]].context && !plan->fks[u->fks[i]].deferred)
					chosen[u->fks[i]] = fk_draw(fill, u->fks[i]);
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
remember_uniques(FillTable *ft, const int64 *chosen)
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
			key[i] = chosen[u->fks[i]];
			any_null |= key[i] < 0;
		}
		if (!any_null)
			(void) hash_search(u->seen, key, HASH_ENTER, &found);
	}
}

/* Keep what later tables need of accepted row r (index idx). */
static void
keep_row(Fill *fill, int t, int64 idx, const Datum *row, const bool *rownull,
		 const Datum *values, const bool *nulls)
{
	FillTable  *ft = &fill->tables[t];
	SynthMtPlan *plan = fill->plan;
	MemoryContext oldcxt = MemoryContextSwitchTo(ft->keepcxt);

	for (int i = 0; i < ft->nref; i++)
	{
		int			a = ft->ref_att[i] - 1;

		ft->refnull[idx * ft->nref + i] = rownull[a];
		ft->refs[idx * ft->nref + i] = rownull[a] ? (Datum) 0 :
			datumCopy(row[a], ft->ref_byval[i], ft->ref_len[i]);
	}
	MemoryContextSwitchTo(oldcxt);

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
			ft->counts[f][idx] = n;
		}
		if (fk->child == t && fk->deferred)
		{
			int			c = fill->fks[f].nullflag_col;

			fill->fks[f].deferred_null[idx] = c >= 0 && !nulls[c] && DatumGetBool(values[c]);
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
		ft->ctx[idx * ft->nctx + s] = x;
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
	int32	   *ccounts = NULL;
	int64		total = 0;
	int64		orphans;
	int64		cursor = 0;		/* next context parent row */
	int64		cursor_left = 0;	/* its children still to start */
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
	int64	   *chosen = palloc(sizeof(int64) * Max(plan->nfks, 1));
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "synth materialize rows",
												 ALLOCSET_DEFAULT_SIZES);

	/* how many rows: scale x the real ones, or the context parents' children counts */
	orphans = (int64) rint(fill->scale * (double) member->orphans);
	if (pt->context >= 0)
	{
		cparent = &fill->tables[plan->fks[pt->context].parent];
		ccounts = cparent->counts[pt->context];
		for (int64 i = 0; i < cparent->nrows; i++)
			total += ccounts[i];
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

	ft->refs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(Datum) * Max(total * ft->nref, 1));
	ft->refnull = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(total * ft->nref, 1));
	ft->counts = palloc0(sizeof(int32 *) * Max(plan->nfks, 1));
	for (int f = 0; f < plan->nfks; f++)
	{
		if (plan->fks[f].parent == t)
			ft->counts[f] = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(total, 1));
		if (plan->fks[f].child == t && plan->fks[f].deferred)
			fill->fks[f].deferred_null = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(total, 1));
	}
	ft->ctx = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(total * ft->nctx, 1));
	if (total == 0)
		return 0;

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

		/* rows drawn again first, then new ones: children of the next parents, then free rows */
		for (int i = 0; i < nret; i++)
			batch[nb++] = retry[i];
		nretry = 0;
		while (nb < FILL_BATCH)
		{
			if (cparent != NULL && cursor_left == 0 && cursor < cparent->nrows)
			{
				cursor_left = ccounts[cursor++];
				continue;
			}
			if (cursor_left > 0)
			{
				batch[nb].parent = cursor - 1;
				batch[nb].tries = batch[nb].ctries = 0;
				batch[nb++].stratum = next_stratum(&srng, nstrata, strata_left);
				cursor_left--;
				continue;
			}
			if (cparent != NULL && cursor < cparent->nrows)
				continue;
			if (free_left == 0)
				break;
			batch[nb].parent = -1;
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
						else if (chosen[ic->fk] >= 0)
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
				MemoryContextSwitchTo(oldcxt);
				keep_row(fill, t, accepted, row, rownull, values, nulls);
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
	}
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

	for (int64 r = 0; r <= child->nrows; r++)
	{
		MemoryContext oldcxt;
		int64		p;

		if (pending == UPDATE_BATCH || (r == child->nrows && pending > 0))
		{
			int			ret;

			oldcxt = MemoryContextSwitchTo(batchcxt);
			for (int i = 0; i < nparams; i++)
				args[i] = param_array(&params[i]);
			MemoryContextSwitchTo(oldcxt);
			ret = SPI_execute_plan(plan, args, NULL, false, 0);
			if (ret != SPI_OK_UPDATE)
				elog(ERROR, "synth: could not update \"%s\": %s", pt->name, SPI_result_code_string(ret));
			for (int i = 0; i < nparams; i++)
				params[i].n = 0;
			pending = 0;
			MemoryContextReset(batchcxt);
		}
		if (r == child->nrows)
			break;
		CHECK_FOR_INTERRUPTS();
		if (ff->deferred_null[r])
			continue;
		p = fk_draw(fill, f);
		/* nobody is their own parent */
		for (int tries = 0; self && p == r && tries < 10; tries++)
			p = fk_draw(fill, f);
		if (self && p == r)
			p = child->nrows > 1 ? (r + 1) % child->nrows : -1;
		if (p < 0)
			continue;

		oldcxt = MemoryContextSwitchTo(batchcxt);
		for (int k = 0; k < pt->nident; k++)
			param_add(&params[k], child->refs[r * child->nref + ident_ref[k]],
					  child->refnull[r * child->nref + ident_ref[k]]);
		for (int k = 0; k < fk->nkeys; k++)
		{
			bool		isnull;
			Datum		v = fk_value(fill, f, k, p, &isnull);

			param_add(&params[pt->nident + k], v, isnull);
		}
		MemoryContextSwitchTo(oldcxt);
		pending++;
	}
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
		elog(DEBUG1, "synth_materialize: " INT64_FORMAT " rows, %zu bytes of memory held at the end",
			 total, MemoryContextMemAllocated(fill.cxt, true));
	}
	for (int t = 0; t < plan->ntables; t++)
	{
		ExecDropSingleTupleTableSlot(fill.tables[t].slot);
		relation_close(fill.tables[t].rel, NoLock);
	}
	SPI_finish();
	return rows;
}
