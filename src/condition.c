/*-------------------------------------------------------------------------
 *
 * condition.c
 *	  Conditional generation: a SQL predicate over the row type, and
 *	  category shares (rebalancing), turned into restrictions of the copula.
 *
 * The predicate is parsed and type-checked against the table's row type like
 * a CHECK constraint.  Each top-level AND term that reads one modelled column
 * becomes an exact restriction of that column's copula dimension: the set of
 * uniform scores whose decoded values satisfy the term (categories one by
 * one; continuous columns cell by cell on a fine grid, kept when any point of
 * the cell satisfies it).  Rows are then drawn from the copula restricted to
 * those sets, and every row is checked against the whole predicate before it
 * is returned (terms over several columns, and the edges of grid cells, are
 * met by this rejection).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"

#include <math.h>

#include "access/relation.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#define CONDITION_GRID	1024	/* cells of a continuous column's score range */

/* Parse the predicate into a boolean expression over the relation's columns. */
static Node *
parse_predicate(Relation rel, const char *predicate)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	List	   *raw;
	RawStmt    *stmt;
	SelectStmt *select;
	ResTarget  *target;
	Node	   *expr;
	char	   *sql = psprintf("SELECT %s", predicate);

	pstate->p_sourcetext = NULL;	/* positions would point into the caller's query */
	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	stmt = linitial_node(RawStmt, raw);
	select = (SelectStmt *) stmt->stmt;
	if (list_length(raw) != 1 || !IsA(select, SelectStmt) ||
		list_length(select->targetList) != 1 || select->fromClause != NIL ||
		select->whereClause != NULL || select->groupClause != NIL ||
		select->havingClause != NULL || select->sortClause != NIL ||
		select->limitCount != NULL || select->withClause != NULL ||
		select->distinctClause != NIL || select->op != SETOP_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("the condition must be one boolean expression over the table's columns"),
				 errhint("Write it as a WHERE clause without WHERE, e.g. 'age > 65 AND income > 200000'.")));
	target = linitial_node(ResTarget, select->targetList);

	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, true);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	expr = transformExpr(pstate, target->val, EXPR_KIND_WHERE);
	expr = coerce_to_boolean(pstate, expr, "condition");
	assign_expr_collations(pstate, expr);
	if (contain_subplans(expr) || checkExprHasSubLink(expr))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the condition must not contain subqueries"),
				 errhint("Use an expression over the row's own columns.")));
	return expr;
}

/* Evaluate an expression on a row given in tuple-descriptor order. */
static bool
eval_on_row(SynthCondition *cond, ExprState *state, const Datum *values, const bool *nulls)
{
	TupleTableSlot *slot = cond->slot;
	bool		isnull;
	Datum		result;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * slot->tts_tupleDescriptor->natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	ExecStoreVirtualTuple(slot);
	cond->econtext->ecxt_scantuple = slot;
	result = ExecEvalExprSwitchContext(state, cond->econtext, &isnull);
	ResetExprContext(cond->econtext);
	return !isnull && DatumGetBool(result);
}

/* Evaluate a one-column term with that column = value (or NULL). */
static bool
eval_term(SynthCondition *cond, ExprState *term, int attno, Datum value, bool isnull)
{
	int			natts = cond->slot->tts_tupleDescriptor->natts;

	for (int i = 0; i < natts; i++)
	{
		cond->scratch_values[i] = (Datum) 0;
		cond->scratch_nulls[i] = true;
	}
	cond->scratch_values[attno] = value;
	cond->scratch_nulls[attno] = isnull;
	return eval_on_row(cond, term, cond->scratch_values, cond->scratch_nulls);
}

/* Add [lo, hi] to a set, merging with the last interval when they touch. */
static bool
set_add(SynthAllowedSet *set, double lo, double hi)
{
	if (hi < lo)
		return true;
	if (set->n > 0 && lo <= set->hi[set->n - 1] + 1e-15)
	{
		set->hi[set->n - 1] = Max(set->hi[set->n - 1], hi);
		return true;
	}
	if (set->n == SYNTH_MAX_INTERVALS)
		return false;
	set->lo[set->n] = lo;
	set->hi[set->n] = hi;
	set->n++;
	return true;
}

/* The intersection of two sorted unions of intervals (a becomes it). */
static void
set_intersect(SynthAllowedSet *a, const SynthAllowedSet *b)
{
	SynthAllowedSet out;

	out.n = 0;
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
		{
			double		lo = Max(a->lo[i], b->lo[j]);
			double		hi = Min(a->hi[i], b->hi[j]);

			if (lo <= hi && out.n < SYNTH_MAX_INTERVALS)
			{
				out.lo[out.n] = lo;
				out.hi[out.n] = hi;
				out.n++;
			}
		}
	*a = out;
}

/* Restrict dimension dim to set (intersecting with what is there already). */
void
synth_restrict_dim(SynthAllowedSet **allowed, int dim, const SynthAllowedSet *set)
{
	if (allowed[dim] == NULL)
	{
		allowed[dim] = palloc(sizeof(SynthAllowedSet));
		*allowed[dim] = *set;
	}
	else
		set_intersect(allowed[dim], set);
}

static void
impossible(const char *predicate, const char *column)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("no row the model can generate satisfies the condition \"%s\"", predicate),
			 errdetail("Column \"%s\" takes no value that the condition allows.", column),
			 errhint("The model only generates values of the ranges and categories it learned.")));
}

/* Turn a one-column term over a modelled column into restrictions. */
static void
restrict_by_term(SynthCondition *cond, SynthEncoder *enc, int attno, Expr *term,
				 const char *predicate)
{
	ExprState  *state = ExecInitExpr(term, NULL);
	bool		null_ok = eval_term(cond, state, attno, (Datum) 0, true);
	SynthAllowedSet set;
	SynthRng	rng;
	bool		fits = true;

	set.n = 0;
	synth_rng_seed(&rng, 1);
	if (enc->kind == SYNTH_KIND_CATEGORICAL)
	{
		/* NULL first, then the emitted categories; rare scores are left out */
		if (null_ok && enc->null_rate > 0)
			fits &= set_add(&set, 0.0, enc->null_rate);
		for (int i = 0; i < enc->ncats && fits; i++)
			if (eval_term(cond, state, attno, enc->cat_datums[i], false))
			{
				double		lo,
							hi;

				synth_encoder_category_interval(enc, i, &lo, &hi);
				fits &= set_add(&set, lo, hi);
			}
		if (fits && set.n == 0)
			impossible(predicate, enc->name);
		if (fits)
			synth_restrict_dim(cond->allowed, enc->dim, &set);
		return;
	}

	/* continuous: cells of the value's score range where the term can hold */
	for (int k = 0; k < CONDITION_GRID && fits; k++)
	{
		double		lo = (double) k / CONDITION_GRID;
		double		hi = (double) (k + 1) / CONDITION_GRID;
		double		points[3] = {Max(lo, 1e-12), (lo + hi) / 2, Min(hi, 1.0 - 1e-12)};
		bool		ok = false;

		for (int p = 0; p < 3 && !ok; p++)
		{
			bool		isnull;
			Datum		v = synth_encoder_decode(enc, points[p], &rng, &isnull);

			ok = eval_term(cond, state, attno, v, false);
		}
		if (ok)
			fits &= set_add(&set, lo, hi);
	}
	if (!null_ok)
	{
		SynthAllowedSet notnull;

		if (fits && set.n == 0)
			impossible(predicate, enc->name);
		if (enc->null_dim >= 0)
		{
			notnull.n = 1;
			notnull.lo[0] = enc->null_rate;
			notnull.hi[0] = 1.0;
			synth_restrict_dim(cond->allowed, enc->null_dim, &notnull);
		}
		if (fits)
			synth_restrict_dim(cond->allowed, enc->dim, &set);
	}
	else if (set.n == 0 && enc->null_dim >= 0)
	{
		/* only NULL satisfies the term: the column must be NULL */
		SynthAllowedSet isnull;

		isnull.n = 1;
		isnull.lo[0] = 0.0;
		isnull.hi[0] = enc->null_rate;
		synth_restrict_dim(cond->allowed, enc->null_dim, &isnull);
	}
	else if (set.n == 0)
		impossible(predicate, enc->name);
}

/*
 * Build the restrictions of a predicate (may be NULL) for a model whose
 * encoders map to the attributes of desc through att_encoder.
 */
SynthCondition *
synth_condition_build(SynthModel *model, Oid relid, TupleDesc desc, const int *att_encoder,
					  const char *predicate)
{
	SynthCondition *cond = palloc0(sizeof(SynthCondition));
	Relation	rel;
	Node	   *expr;
	List	   *terms;
	ListCell   *lc;

	cond->allowed = palloc0(sizeof(SynthAllowedSet *) * Max(model->dim, 1));
	cond->slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	cond->econtext = CreateStandaloneExprContext();
	cond->scratch_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	cond->scratch_nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	if (predicate == NULL)
		return cond;

	cond->text = pstrdup(predicate);
	rel = relation_open(relid, AccessShareLock);
	expr = parse_predicate(rel, predicate);
	relation_close(rel, NoLock);
	expr = (Node *) expression_planner((Expr *) expr);
	cond->predicate = ExecInitExpr((Expr *) expr, NULL);
	pull_varattnos(expr, 1, &cond->attrs);

	terms = make_ands_implicit((Expr *) expr);
	foreach(lc, terms)
	{
		Expr	   *term = lfirst(lc);
		Bitmapset  *attrs = NULL;
		int			attno;
		int			e;
		SynthEncoder *enc;

		pull_varattnos((Node *) term, 1, &attrs);
		if (bms_num_members(attrs) != 1 || contain_volatile_functions((Node *) term))
			continue;
		attno = bms_singleton_member(attrs) + FirstLowInvalidHeapAttributeNumber - 1;
		if (attno < 0 || attno >= desc->natts)
			continue;
		e = att_encoder[attno];
		if (e < 0)
			continue;
		enc = &model->encoders[e];
		if (!enc->modelled || enc->dim < 0 ||
			(enc->kind != SYNTH_KIND_CONTINUOUS && enc->kind != SYNTH_KIND_CATEGORICAL))
			continue;
		restrict_by_term(cond, enc, attno, term, predicate);
		if ((cond->allowed[enc->dim] && cond->allowed[enc->dim]->n == 0) ||
			(enc->null_dim >= 0 && cond->allowed[enc->null_dim] &&
			 cond->allowed[enc->null_dim]->n == 0))
			impossible(predicate, enc->name);
	}
	return cond;
}

/* Does the row (in tuple-descriptor order) satisfy the predicate? */
bool
synth_condition_check(SynthCondition *cond, const Datum *values, const bool *nulls)
{
	if (cond->predicate == NULL)
		return true;
	return eval_on_row(cond, cond->predicate, values, nulls);
}

/*
 * Parse rebalance shares, {"column": {"category": share, ...}}, into strata:
 * one restriction of the column's dimension and a row count per category.
 */
List *
synth_rebalance_strata(SynthModel *model, TupleDesc desc, const int *att_encoder,
					   Jsonb *shares, int64 n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	SynthEncoder *enc = NULL;
	List	   *strata = NIL;
	int			depth = 0;
	char	   *label = NULL;
	double		total = 0.0;
	int64		assigned = 0;
	ListCell   *lc;

	if (!JB_ROOT_IS_OBJECT(shares) || JB_ROOT_COUNT(shares) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rebalance must name one column and its category shares"),
				 errhint("Write e.g. '{\"income\": {\"<=50K\": 0.5, \">50K\": 0.5}}'.")));

	it = JsonbIteratorInit(&shares->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT)
			depth++;
		else if (tok == WJB_END_OBJECT)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
		{
			char	   *column = pnstrdup(v.val.string.val, v.val.string.len);

			for (int i = 0; i < desc->natts; i++)
				if (att_encoder[i] >= 0 &&
					strcmp(model->encoders[att_encoder[i]].name, column) == 0)
					enc = &model->encoders[att_encoder[i]];
			if (enc == NULL || !enc->modelled || enc->kind != SYNTH_KIND_CATEGORICAL || enc->dim < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" cannot be rebalanced", column),
						 errhint("Rebalance a categorical column the model learned (text, enum, bool).")));
		}
		else if (tok == WJB_KEY && depth == 2)
		{
			/* the label as the type writes it ('true' -> 't') */
			Oid			typoutput;
			bool		varlena;

			label = pnstrdup(v.val.string.val, v.val.string.len);
			getTypeOutputInfo(enc->typid, &typoutput, &varlena);
			label = OidOutputFunctionCall(typoutput,
										  OidInputFunctionCall(enc->typinput, label,
															   enc->typioparam, enc->typmod));
		}
		else if (tok == WJB_VALUE && depth == 2)
		{
			int			idx = synth_encoder_category_index(enc, label);
			double		share;
			SynthStratum *stratum;

			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the share of category \"%s\" must be a number", label)));
			share = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
			if (idx < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" has no category \"%s\" the model can generate", enc->name, label),
						 errhint("Categories seen fewer than rare_category_k times are not generated.")));
			if (!(share >= 0.0 && share <= 1.0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the share of category \"%s\" must be between 0 and 1", label)));
			stratum = palloc0(sizeof(SynthStratum));
			stratum->dim = enc->dim;
			stratum->share = share;
			stratum->set.n = 1;
			synth_encoder_category_interval(enc, idx, &stratum->set.lo[0], &stratum->set.hi[0]);
			strata = lappend(strata, stratum);
			total += share;
		}
		else if (tok == WJB_VALUE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rebalance must map the column to an object of category shares")));
	}
	if (fabs(total - 1.0) > 1e-6)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the rebalance shares add up to %g, not 1", total),
				 errhint("Give every category to generate a share; the shares must sum to 1.")));

	/* row counts: floors, then the remainder to the largest fractions */
	foreach(lc, strata)
	{
		SynthStratum *s = lfirst(lc);

		s->rows = (int64) floor(s->share * n);
		assigned += s->rows;
	}
	while (assigned < n)
	{
		SynthStratum *best = NULL;
		double		best_frac = -1.0;

		foreach(lc, strata)
		{
			SynthStratum *s = lfirst(lc);
			double		frac = s->share * n - s->rows;

			if (frac > best_frac)
			{
				best_frac = frac;
				best = s;
			}
		}
		best->rows++;
		assigned++;
	}
	return strata;
}
