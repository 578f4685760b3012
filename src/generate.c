/*-------------------------------------------------------------------------
 *
 * generate.c
 *	  synth_generate(): rows typed like the source table, sampled from its
 *	  model in batches.
 *
 * The function returns one row per call (value-per-call), sampling a batch
 * of SYNTH_GENERATE_BATCH rows whenever the previous one is used up; a batch's
 * memory is reset before the next, so memory does not grow with n.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "quality.h"
#include "sharing.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "parser/parse_type.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(synth_generate);
PG_FUNCTION_INFO_V1(synth_generate_model);

typedef struct GenerateState
{
	SynthGenerator *gen;
	TupleDesc	desc;			/* the row type; natts may include dropped */
	int		   *att_encoder;	/* per attribute: encoder index or -1 (dropped) */
	int64		n;
	int64		done;
	int			batch_len;
	int			batch_pos;
	Datum	   *values;			/* one row of the row type */
	bool	   *nulls;

	/* conditional generation */
	SynthCondition *cond;		/* predicate and its restrictions */
	List	   *strata;			/* rebalance: SynthStratum per category, or NIL */
	int			stratum;		/* the stratum being generated */
	int64		stratum_left;	/* rows still to accept in it */
	int64		attempts;		/* candidate rows drawn */
} GenerateState;

#define SYNTH_CONDITION_MIN_ATTEMPTS	100000
#define SYNTH_CONDITION_MIN_RATE		0.001

/*
 * A generator samples batches of rows of a model into per-encoder Datums.
 * synth_generate uses one; so can callers that condition on known scores.
 */
SynthGenerator *
synth_generator_create(SynthModel *model, uint64 seed, int capacity)
{
	SynthGenerator *gen = palloc0(sizeof(SynthGenerator));

	gen->model = model;
	gen->capacity = capacity;
	gen->next_index = 1;
	synth_rng_seed(&gen->rng, seed);
	gen->u = palloc(sizeof(double) * capacity * Max(model->dim, 1));
	gen->values = palloc(sizeof(Datum) * capacity * Max(model->natts, 1));
	gen->nulls = palloc(sizeof(bool) * capacity * Max(model->natts, 1));
	gen->defaults = palloc0(sizeof(ExprState *) * Max(model->natts, 1));
	gen->batchcxt = AllocSetContextCreate(CurrentMemoryContext, "synth generate batch",
										  ALLOCSET_DEFAULT_SIZES);
	gen->longcxt = CurrentMemoryContext;
	for (int e = 0; e < model->natts; e++)
		synth_encoder_prepare_output(&model->encoders[e]);
	return gen;
}

/*
 * Columns that are not modelled take their default, evaluated per row.
 * The model's encoders are the relation's non-dropped attributes, in order.
 */
void
synth_generator_set_defaults(SynthGenerator *gen, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			e = 0;

	for (int i = 0; i < desc->natts && e < gen->model->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (!gen->model->encoders[e].modelled && att->attgenerated == '\0')
		{
			Node	   *expr = build_column_default(rel, i + 1);

			if (expr != NULL)
				gen->defaults[e] = ExecInitExpr(expression_planner((Expr *) expr), NULL);
		}
		e++;
	}
	gen->econtext = CreateStandaloneExprContext();
}

/* Sample the dimensions not marked known from those marked known. */
void
synth_generator_condition(SynthGenerator *gen, const bool *known_dims)
{
	gen->cond = known_dims ? synth_copula_condition(gen->model, known_dims) : NULL;
}

/*
 * Sample rows (at most capacity) into gen->values/nulls, row-major over the
 * model's encoders.  With a condition, the caller has filled the known
 * dimensions of gen->u (rows x dim) first.  The previous batch's memory is
 * released.
 */
void
synth_generator_fill(SynthGenerator *gen, int rows)
{
	SynthModel *model = gen->model;
	int			natts = model->natts;
	MemoryContext oldcxt;

	Assert(rows <= gen->capacity);
	MemoryContextReset(gen->batchcxt);
	oldcxt = MemoryContextSwitchTo(gen->batchcxt);
	if (model->neural)
		synth_neural_sample(gen, rows);
	else if (model->mst)
		synth_mst_sample(gen, rows);
	else if (gen->cond)
		synth_copula_sample_given(model, gen->cond, rows, &gen->rng, gen->u);
	else if (gen->allowed)
		synth_copula_sample_restricted(model, gen->allowed, rows, &gen->rng, gen->u);
	else
		synth_copula_sample(model, rows, &gen->rng, gen->u);

	for (int r = 0; r < rows; r++)
	{
		Datum	   *values = gen->values + (int64) r * natts;
		bool	   *nulls = gen->nulls + (int64) r * natts;
		const double *u = gen->u + (int64) r * model->dim;
		int64		index = gen->next_index++;

		for (int e = 0; e < natts; e++)
		{
			SynthEncoder *enc = &model->encoders[e];

			nulls[e] = true;
			values[e] = (Datum) 0;
			if (!enc->modelled)
			{
				if (gen->defaults[e])
					values[e] = ExecEvalExpr(gen->defaults[e], gen->econtext, &nulls[e]);
				continue;
			}
			switch (enc->kind)
			{
				case SYNTH_KIND_KEY:
					values[e] = synth_encoder_key(enc, index, &gen->rng);
					nulls[e] = false;
					break;
				case SYNTH_KIND_FREETEXT:
					if (synth_rng_uniform(&gen->rng) < enc->null_rate)
						break;
					values[e] = synth_encoder_freetext(enc, &gen->rng);
					nulls[e] = false;
					break;
				default:
					if (enc->dim < 0)
						break;	/* a column that was NULL in every row */
					if (enc->null_dim >= 0 && u[enc->null_dim] < enc->null_rate)
						break;
					values[e] = synth_encoder_decode(enc, u[enc->dim], &gen->rng, &nulls[e]);
					break;
			}
			if (enc->typid != enc->basetypid)
				domain_check(values[e], nulls[e], enc->typid, &enc->domain_extra, gen->longcxt);
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/* Ensure the table still has exactly the columns the model was trained on. */
static void
CheckTableUnchanged(SynthModel *model, TupleDesc desc, int64 model_id,
					const char *relname, int *att_encoder)
{
	int			e = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		SynthEncoder *enc;

		att_encoder[i] = -1;
		if (att->attisdropped)
			continue;
		if (e >= model->natts)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" has changed since synth model " INT64_FORMAT " was trained", relname, model_id),
					 errdetail("Column \"%s\" is new.", NameStr(att->attname)),
					 errhint("Train a new model with SELECT synth_train('%s').", relname)));
		enc = &model->encoders[e];
		if (strcmp(enc->name, NameStr(att->attname)) != 0 || enc->typid != att->atttypid)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" has changed since synth model " INT64_FORMAT " was trained", relname, model_id),
					 errdetail("The model has column \"%s\" of type %s where the table has \"%s\" of type %s.",
							   enc->name, format_type_be(enc->typid),
							   NameStr(att->attname), format_type_be(att->atttypid)),
					 errhint("Train a new model with SELECT synth_train('%s').", relname)));
		att_encoder[i] = e++;
	}
	if (e != model->natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has changed since synth model " INT64_FORMAT " was trained", relname, model_id),
				 errdetail("Column \"%s\" is gone.", model->encoders[e].name),
				 errhint("Train a new model with SELECT synth_train('%s').", relname)));
}

/*
 * Ensure the caller may use the model: a reader of the source table may use
 * any model of it; another role only a private model its owner granted it.
 * model_id 0 asks for the table's newest model the caller may use.  Returns
 * the model's id.
 */
static int64
CheckCanGenerate(Oid relid, int64 model_id, bool *reader)
{
	const char *relname = get_rel_name(relid);

	*reader = synth_can_read_relation(relid);
	if (*reader)
	{
		if (model_id == 0)
			model_id = synth_catalog_latest_model(relid);
		if (model_id == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("table \"%s\" has no trained synth model", relname),
					 errhint("Train one first: SELECT synth_train('%s').", relname)));
		return model_id;
	}
	if (model_id == 0)
		model_id = synth_latest_granted_model(relid);
	else if (!synth_generate_granted(model_id))
		model_id = 0;
	if (model_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to generate from table \"%s\"", relname),
				 errhint("Generating needs SELECT on the source table, or a differentially private model of it that the table's owner granted you (synth_grant_generate).")));

	/* Ensure no gate asks for figures the caller may not see */
	if (synth_gates != NULL && synth_gates[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("synth.gates cannot be checked by a role that cannot read table \"%s\"", relname),
				 errdetail("The gates compare the model's stored quality report, whose figures are computed from real rows, with thresholds; neither the figures nor whether they pass are shown to roles with only a generate grant."),
				 errhint("Generate with synth.gates unset (SET synth.gates = ''); the table's owner can check the model with synth_check_gates before granting it.")));
	return model_id;
}

static GenerateState *
generate_begin(FunctionCallInfo fcinfo, int64 model_id, int srcarg, int64 n, bool have_seed,
			   int64 seed, const char *predicate, Jsonb *rebalance)
{
	Oid			rowtype = get_fn_expr_argtype(fcinfo->flinfo, srcarg);
	Oid			relid = OidIsValid(rowtype) ? typeidTypeRelid(rowtype) : InvalidOid;
	Oid			model_relid;
	GenerateState *state;
	SynthModel *model;
	Relation	rel;
	char	   *relname;
	bool		reader;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("synth_generate needs the row type of a table, not %s",
						OidIsValid(rowtype) ? format_type_be(rowtype) : "an unknown type"),
				 errhint("Call it as SELECT * FROM synth_generate(NULL::tablename, 1000).")));
	relname = get_rel_name(relid);
	model_id = CheckCanGenerate(relid, model_id, &reader);

	state = palloc0(sizeof(GenerateState));
	model = synth_catalog_load(model_id, &model_relid);
	if (model_relid != relid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("synth model " INT64_FORMAT " was not trained on table \"%s\"", model_id, relname),
				 errhint("Pass the row type of the model's own table (see synth.models.source_table).")));

	/* Ensure the model meets the quality gates that synth.gates asks for */
	if (reader)
		synth_gates_enforce(model_id);

	state->desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(rowtype, -1));
	state->att_encoder = palloc(sizeof(int) * Max(state->desc->natts, 1));
	CheckTableUnchanged(model, state->desc, model_id, relname, state->att_encoder);

	if (!have_seed)
	{
		if (!pg_strong_random(&seed, sizeof(seed)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random seed")));
	}
	state->gen = synth_generator_create(model, (uint64) seed, SYNTH_GENERATE_BATCH);
	rel = relation_open(relid, AccessShareLock);
	synth_generator_set_defaults(state->gen, rel);
	relation_close(rel, NoLock);
	state->n = n;
	state->values = palloc(sizeof(Datum) * Max(state->desc->natts, 1));
	state->nulls = palloc(sizeof(bool) * Max(state->desc->natts, 1));

	if (predicate != NULL || rebalance != NULL)
	{
		state->cond = synth_condition_build(model, relid, state->desc, state->att_encoder, predicate);
		if (rebalance != NULL)
			state->strata = synth_rebalance_strata(model, state->desc, state->att_encoder,
												   rebalance, n);
	}
	state->stratum = -1;
	return state;
}

/*
 * Move to the next stratum (the whole request when not rebalancing): set the
 * generator's restrictions to the predicate's and the stratum's.  False when
 * every stratum is done.
 */
static bool
next_stratum(GenerateState *state)
{
	SynthModel *model = state->gen->model;
	SynthStratum *stratum;

	state->stratum++;
	state->batch_len = state->batch_pos = 0;
	if (state->strata == NIL)
	{
		if (state->stratum > 0)
			return false;
		state->stratum_left = state->n;
		state->gen->allowed = state->cond ? state->cond->allowed : NULL;
		return true;
	}
	if (state->stratum >= list_length(state->strata))
		return false;
	stratum = list_nth(state->strata, state->stratum);
	state->stratum_left = stratum->rows;
	state->gen->allowed = palloc(sizeof(SynthAllowedSet *) * Max(model->dim, 1));
	memcpy(state->gen->allowed, state->cond->allowed, sizeof(SynthAllowedSet *) * Max(model->dim, 1));
	state->gen->allowed[stratum->dim] = NULL;
	if (state->cond->allowed[stratum->dim])
	{
		state->gen->allowed[stratum->dim] = palloc(sizeof(SynthAllowedSet));
		*state->gen->allowed[stratum->dim] = *state->cond->allowed[stratum->dim];
	}
	synth_restrict_dim(state->gen->allowed, stratum->dim, &stratum->set);
	if (state->gen->allowed[stratum->dim]->n == 0 && stratum->rows > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no row of a rebalanced category satisfies the condition \"%s\"",
						state->cond->text ? state->cond->text : ""),
				 errhint("Give that category a share of 0, or loosen the condition.")));
	return true;
}

/* Ensure a condition that rejects nearly every row ends with an error, not a hang. */
static void
CheckAcceptanceRate(GenerateState *state)
{
	double		rate = (double) state->done / (double) state->attempts;

	if (state->attempts >= SYNTH_CONDITION_MIN_ATTEMPTS && rate < SYNTH_CONDITION_MIN_RATE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the condition \"%s\" is too rare for the model", state->cond->text),
				 errdetail("It held in " INT64_FORMAT " of " INT64_FORMAT " rows sampled (%.2g); below %g synth stops.",
						   state->done, state->attempts, rate, SYNTH_CONDITION_MIN_RATE),
				 errhint("Loosen the condition, or train on data that has more such rows.")));
}

static Datum
generate_common(FunctionCallInfo fcinfo, int64 model_id, int srcarg)
{
	FuncCallContext *funcctx;
	GenerateState *state;
	int			narg = srcarg + 1;
	int			seedarg = srcarg + 2;
	int			condarg = srcarg + 3;
	int			rebalancearg = srcarg + 4;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcxt;
		int64		n;

		funcctx = SRF_FIRSTCALL_INIT();
		if (PG_ARGISNULL(narg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the number of rows must not be NULL"),
					 errhint("Call it as SELECT * FROM synth_generate(NULL::tablename, 1000).")));
		n = PG_GETARG_INT64(narg);
		if (n < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the number of rows must not be negative: " INT64_FORMAT, n),
					 errhint("Ask for 0 or more rows.")));
		oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		state = generate_begin(fcinfo, model_id, srcarg, n, !PG_ARGISNULL(seedarg),
							   PG_ARGISNULL(seedarg) ? 0 : PG_GETARG_INT64(seedarg),
							   PG_NARGS() > condarg && !PG_ARGISNULL(condarg) ?
							   text_to_cstring(PG_GETARG_TEXT_PP(condarg)) : NULL,
							   PG_NARGS() > rebalancearg && !PG_ARGISNULL(rebalancearg) ?
							   PG_GETARG_JSONB_P(rebalancearg) : NULL);
		funcctx->user_fctx = state;
		funcctx->tuple_desc = state->desc;
		MemoryContextSwitchTo(oldcxt);
	}

	funcctx = SRF_PERCALL_SETUP();
	state = funcctx->user_fctx;
	while (state->done < state->n)
	{
		int			natts = state->desc->natts;
		int			enatts = state->gen->model->natts;
		const Datum *values;
		const bool *nulls;

		CHECK_FOR_INTERRUPTS();
		if (state->stratum < 0 || state->stratum_left == 0)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
			bool		more = next_stratum(state);

			MemoryContextSwitchTo(oldcxt);
			if (!more)
				break;
			continue;
		}
		if (state->batch_pos >= state->batch_len)
		{
			/* without a predicate: exactly the rows asked for; else a full batch */
			bool		rejecting = state->cond && state->cond->predicate;

			state->batch_len = rejecting ? SYNTH_GENERATE_BATCH :
				(int) Min((int64) SYNTH_GENERATE_BATCH, state->stratum_left);
			if (rejecting)
				CheckAcceptanceRate(state);
			synth_generator_fill(state->gen, state->batch_len);
			state->attempts += state->batch_len;
			state->batch_pos = 0;
		}
		values = state->gen->values + (int64) state->batch_pos * enatts;
		nulls = state->gen->nulls + (int64) state->batch_pos * enatts;
		state->batch_pos++;
		for (int i = 0; i < natts; i++)
		{
			int			e = state->att_encoder[i];

			state->values[i] = e >= 0 ? values[e] : (Datum) 0;
			state->nulls[i] = e >= 0 ? nulls[e] : true;
		}
		if (state->cond && !synth_condition_check(state->cond, state->values, state->nulls))
			continue;
		state->done++;
		state->stratum_left--;
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(state->desc, state->values,
																	 state->nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/* synth_generate(source anyelement, n bigint, seed bigint, condition text, rebalance jsonb) */
Datum
synth_generate(PG_FUNCTION_ARGS)
{
	return generate_common(fcinfo, 0, 0);
}

/* synth_generate(model_id bigint, source anyelement, n bigint, seed, condition, rebalance) */
Datum
synth_generate_model(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model id must not be NULL"),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	return generate_common(fcinfo, PG_GETARG_INT64(0), 1);
}
