/*-------------------------------------------------------------------------
 *
 * train.c
 *	  synth_train(): plan a training over a table, read it, fit the model,
 *	  and store it in synth.models.
 *
 * Planning decides, from the catalog alone, which columns are modelled and
 * how (continuous, categorical, key) and refuses bad input before a row is
 * read; everything is written in the caller's transaction, so a failed
 * training leaves no model row behind.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "privacy.h"
#include "quality.h"
#include "worker.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(synth_train);

#define SYNTH_DEFAULT_SEED	UINT64CONST(20261122)

/* What the options jsonb asked for. */
typedef struct TrainOptions
{
	List	   *columns;		/* names to model, NIL: all */
	List	   *exclude;		/* names not to model */
	List	   *keys;			/* names to treat as keys besides the catalog's (views have none) */
	uint64		seed;
	int			rare_k;
	int64		sample_rows;	/* 0: as many as synth.train_memory allows */
	double		holdout;		/* fraction of rows held out, 0: none */
	SynthNeuralOptions neural;	/* tvae, ctgan */
	SynthPrivacyOptions privacy;	/* epsilon, delta; mst's bounds, bins, domains */
} TrainOptions;

static const char *const known_options[] = {"columns", "exclude", "keys", "seed", "rare_category_k",
"sample_rows", "holdout", NULL};
static const char *const neural_options[] = {"epochs", "batch_size", "device", "progress_every",
"embedding_dim", "learning_rate", "pac", "discriminator_steps", "max_modes", NULL};

static void
option_error(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" %s", key, what),
			 errhint("Options are a jsonb object, e.g. '{\"exclude\": [\"notes\"], \"seed\": 42}'.")));
}

static double
option_number(const char *key, JsonbValue *v, double min, double max)
{
	double		d;

	if (v->type != jbvNumeric)
		option_error(key, "must be a number");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (d < min || d > max || d != floor(d))
		option_error(key, psprintf("must be an integer between %.0f and %.0f", min, max));
	return d;
}

/* Ensure options is an object of known keys with values of the right kind. */
static void
parse_options(Jsonb *options, TrainOptions *opts)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			depth = 0;
	List	  **array_target = NULL;
	bool		privacy_key = false;	/* under a key that privacy options parse */

	memset(opts, 0, sizeof(*opts));
	opts->seed = SYNTH_DEFAULT_SEED;
	opts->rare_k = SYNTH_DEFAULT_RARE_K;
	synth_neural_options_init(&opts->neural);
	synth_privacy_parse_options(options, &opts->privacy);

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object"),
				 errhint("Pass e.g. '{\"seed\": 42}', or '{}' for the defaults.")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				depth++;
				if (privacy_key)
					break;
				if (depth == 2 && tok == WJB_BEGIN_ARRAY &&
					(strcmp(key, "columns") == 0 || strcmp(key, "exclude") == 0 ||
					 strcmp(key, "keys") == 0))
					array_target = strcmp(key, "columns") == 0 ? &opts->columns :
						strcmp(key, "keys") == 0 ? &opts->keys : &opts->exclude;
				else if (depth >= 2)
					option_error(key, "has a value of the wrong kind");
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				array_target = NULL;
				break;
			case WJB_KEY:
				{
					bool		known = false;

					if (depth > 1 && privacy_key)
						break;
					key = pnstrdup(v.val.string.val, v.val.string.len);
					privacy_key = known = synth_privacy_option_name(key);
					for (int i = 0; known_options[i]; i++)
						known |= strcmp(key, known_options[i]) == 0;
					for (int i = 0; neural_options[i]; i++)
						known |= strcmp(key, neural_options[i]) == 0;
					if (!known)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("unknown option \"%s\"", key),
								 errhint("The options of method copula are columns, exclude, keys, seed, rare_category_k, sample_rows and holdout; "
										 "tvae and ctgan also take epochs, batch_size, device, progress_every, embedding_dim, "
										 "learning_rate and max_modes, and ctgan pac and discriminator_steps; "
										 "mst takes epsilon, delta, bins, bounds, domains and domain_share; tvae and ctgan with an epsilon also max_grad_norm and marginal_share.")));
					break;
				}
			case WJB_ELEM:
				if (privacy_key)
					break;
				if (array_target == NULL || v.type != jbvString)
					option_error(key, "must be an array of column names");
				*array_target = lappend(*array_target, pnstrdup(v.val.string.val, v.val.string.len));
				break;
			case WJB_VALUE:
				if (privacy_key)
					;
				else if (strcmp(key, "seed") == 0)
					opts->seed = (uint64) (int64) option_number(key, &v, -9.0e15, 9.0e15);
				else if (strcmp(key, "rare_category_k") == 0)
					opts->rare_k = (int) option_number(key, &v, 1, 1000000);
				else if (strcmp(key, "sample_rows") == 0)
					opts->sample_rows = (int64) option_number(key, &v, 1000, 1.0e12);
				else if (strcmp(key, "holdout") == 0)
					opts->holdout = synth_holdout_fraction_option(key, &v);
				else if (synth_neural_option(&opts->neural, key, &v))
					;
				else
					option_error(key, "must be an array of column names");
				break;
			default:
				break;
		}
	}
}

static bool
list_has_name(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/* Ensure every column the options name exists in the table. */
static void
CheckNamedColumns(Relation rel, List *names, const char *option)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

		if (attnum == InvalidAttrNumber || attnum < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" named in option \"%s\" does not exist in table \"%s\"",
							name, option, RelationGetRelationName(rel)),
					 errhint("Name columns of the table, as \\d %s lists them.",
							 RelationGetRelationName(rel))));
	}
}

/* Ensure the relation is something synth can read rows of, and may. */
static void
CheckSource(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;
	AclResult	aclresult;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_VIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("synth_train reads tables, views and materialized views.")));

	aclresult = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclresult = pg_attribute_aclcheck_all(RelationGetRelid(rel), GetUserId(),
											  ACL_SELECT, ACLMASK_ALL);
	if (aclresult != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to train on table \"%s\"", RelationGetRelationName(rel)),
				 errhint("Training reads every row: the table's owner can GRANT SELECT ON %s TO %s.",
						 quote_identifier(RelationGetRelationName(rel)),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

static SynthMethod
resolve_method(const char *method, bool private, const char **reason)
{
	if (strcmp(method, "auto") == 0 && private)
	{
		*reason = "auto: epsilon given, so mst, the method for differential privacy";
		return SYNTH_METHOD_MST;
	}
	if (strcmp(method, "auto") == 0)
	{
		*reason = "auto: copula, the method of this version (fast, robust baseline for any size)";
		return SYNTH_METHOD_COPULA;
	}
	if (strcmp(method, "copula") == 0)
	{
		*reason = "requested";
		return SYNTH_METHOD_COPULA;
	}
	if (strcmp(method, "tvae") == 0)
	{
		*reason = "requested";
		return SYNTH_METHOD_TVAE;
	}
	if (strcmp(method, "ctgan") == 0)
	{
		*reason = "requested";
		return SYNTH_METHOD_CTGAN;
	}
	if (strcmp(method, "mst") == 0)
	{
		*reason = "requested";
		return SYNTH_METHOD_MST;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown method \"%s\"", method),
			 errhint("Methods are 'auto', 'copula', 'mst', 'tvae' and 'ctgan'.")));
	return SYNTH_METHOD_COPULA;	/* keep compiler quiet */
}

/*
 * Ensure a private training is one this version can make private: mst,
 * tvae or ctgan with an epsilon, and none of the options that read the
 * data freely.
 */
static inline void
CheckPrivacyOptions(SynthMethod method, TrainOptions *opts)
{
	bool		private = opts->privacy.epsilon > 0;

	if (private && method == SYNTH_METHOD_COPULA)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("method %s cannot train under differential privacy", synth_method_name(method)),
				 errdetail("The copula's quantiles and correlations are computed from the data without noise."),
				 errhint("Use method 'mst' (or 'auto'), 'tvae' or 'ctgan' with an epsilon.")));
	if (method == SYNTH_METHOD_MST && !private)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method mst needs an epsilon"),
				 errdetail("mst is a differentially private method: every training spends privacy budget."),
				 errhint("Pass options => '{\"epsilon\": 1.0}' once the table has a budget (synth_set_budget).")));
	if (!private && (opts->privacy.delta >= 0 || opts->privacy.bins > 0 ||
					 opts->privacy.bounds != NIL || opts->privacy.domains != NIL ||
					 opts->privacy.max_grad_norm > 0 || opts->privacy.marginal_share > 0 ||
					 opts->privacy.domain_share >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options delta, bins, bounds, domains, domain_share, max_grad_norm and marginal_share apply only with an epsilon"),
				 errhint("Add \"epsilon\" to the options to train under differential privacy.")));
	if (method == SYNTH_METHOD_MST &&
		(opts->privacy.max_grad_norm > 0 || opts->privacy.marginal_share > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" does not apply to method mst",
						opts->privacy.max_grad_norm > 0 ? "max_grad_norm" : "marginal_share"),
				 errhint("It is an option of tvae and ctgan under differential privacy (DP-SGD).")));
	if (private && (opts->rare_k != SYNTH_DEFAULT_RARE_K || opts->sample_rows != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" does not apply under differential privacy",
						opts->sample_rows != 0 ? "sample_rows" : "rare_category_k"),
				 errhint("A private training reads every row, and its categories are public: differential privacy protects rare ones.")));
}

/* Ensure the options of the neural methods are given only to them. */
static void
CheckMethodOptions(SynthMethod method, TrainOptions *opts)
{
	if (opts->neural.given && !synth_method_is_neural(method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options epochs, batch_size, device, progress_every, embedding_dim, learning_rate, pac, discriminator_steps and max_modes do not apply to method %s",
						synth_method_name(method)),
				 errhint("They are options of methods tvae and ctgan.")));
	if (method != SYNTH_METHOD_CTGAN && (opts->neural.pac || opts->neural.discriminator_steps))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" does not apply to method %s",
						opts->neural.pac ? "pac" : "discriminator_steps", synth_method_name(method)),
				 errhint("It is an option of method ctgan.")));
	CheckPrivacyOptions(method, opts);
}

/* Does the attribute have a default expression? */
static bool
has_default(Relation rel, Form_pg_attribute att)
{
	return att->atthasdef && rel->rd_att->constr != NULL;
}

/*
 * Train a model of relid and store it; returns the model id.  The caller's
 * transaction holds the result (a background job calls this too).
 */
int64
synth_train_relation(Oid relid, const char *method_name, Jsonb *options)
{
	const char *reason;
	SynthMethod method;
	TrainOptions opts;
	SynthHoldout holdout;
	Relation	rel;
	TupleDesc	desc;
	Bitmapset  *keys;
	ListCell   *lc;
	SynthColumn *cols;
	int			ncols = 0;
	int		   *sample_col;
	SynthModel *model;
	SynthSample *sample;
	StringInfoData spec;
	StringInfoData metrics;
	bytea	   *weights;
	instr_time	start,
				elapsed;
	int64		id;
	char	   *schema_name;

	parse_options(options, &opts);
	method = resolve_method(method_name, opts.privacy.epsilon > 0, &reason);
	CheckMethodOptions(method, &opts);

	INSTR_TIME_SET_CURRENT(start);
	rel = relation_open(relid, AccessShareLock);
	CheckSource(rel);
	CheckNamedColumns(rel, opts.columns, "columns");
	CheckNamedColumns(rel, opts.exclude, "exclude");
	CheckNamedColumns(rel, opts.keys, "keys");
	desc = RelationGetDescr(rel);
	keys = synth_key_columns(rel);
	foreach(lc, opts.keys)
		keys = bms_add_member(keys, get_attnum(relid, (char *) lfirst(lc)));
	schema_name = get_namespace_name(RelationGetNamespace(rel));

	/* plan: every attribute gets an encoder; modelled ones a reader column */
	model = palloc0(sizeof(SynthModel));
	model->method = method;
	model->encoders = palloc0(sizeof(SynthEncoder) * Max(desc->natts, 1));
	cols = palloc0(sizeof(SynthColumn) * Max(desc->natts, 1));
	sample_col = palloc(sizeof(int) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		SynthEncoder *enc;
		SynthColumn *col;
		bool		supported;
		bool		wanted;
		char	   *name;

		if (att->attisdropped)
			continue;
		name = NameStr(att->attname);
		enc = &model->encoders[model->natts];
		sample_col[model->natts] = -1;
		model->natts++;
		enc->name = pstrdup(name);
		enc->typid = att->atttypid;
		enc->typmod = att->atttypmod;
		enc->notnull = att->attnotnull;
		enc->dim = -1;

		wanted = (opts.columns == NIL || list_has_name(opts.columns, name)) &&
			!list_has_name(opts.exclude, name) && att->attgenerated == '\0';
		if (!wanted)
		{
			/* Ensure an excluded NOT NULL column can still be filled */
			if (att->attnotnull && !has_default(rel, att) && att->attgenerated == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is NOT NULL and has no default, so it cannot be left out of the model", name),
						 errhint("Model the column, or give it a DEFAULT.")));
			continue;
		}

		col = &cols[ncols];
		col->name = enc->name;
		col->attnum = att->attnum;
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->basetypmod = att->atttypmod;
		col->basetypid = getBaseTypeAndTypmod(att->atttypid, &col->basetypmod);
		col->notnull = att->attnotnull;
		col->vtype = synth_value_type(col->basetypid, &supported);
		if (!supported)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" has type %s, which synth cannot model",
							name, format_type_be(att->atttypid)),
					 errhint("Leave it out with options => '{\"exclude\": [\"%s\"]}'; it is then generated as its default or NULL.",
							 name)));

		/* Ensure a key column can get fresh values */
		if (bms_is_member(att->attnum, keys) &&
			(col->vtype == SYNTH_VT_INTERVAL || col->vtype == SYNTH_VT_TIME ||
			 col->vtype == SYNTH_VT_OPAQUE))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" is a key of type %s, for which synth cannot make fresh values",
							name, format_type_be(att->atttypid)),
					 errhint("Leave it out with options => '{\"exclude\": [\"%s\"]}'; it is then generated as its default or NULL.",
							 name)));
		if (col->vtype == SYNTH_VT_UUID ||
			(bms_is_member(att->attnum, keys) && col->vtype != SYNTH_VT_BOOL &&
			 col->vtype != SYNTH_VT_ENUM))
			col->kind = SYNTH_KIND_KEY;
		else if (col->vtype == SYNTH_VT_TEXT || col->vtype == SYNTH_VT_BOOL ||
				 col->vtype == SYNTH_VT_ENUM || col->vtype == SYNTH_VT_OPAQUE)
			col->kind = SYNTH_KIND_CATEGORICAL;
		else
			col->kind = SYNTH_KIND_CONTINUOUS;

		enc->modelled = true;
		sample_col[model->natts - 1] = ncols;
		ncols++;
	}

	/* mst reads, fits and stores on its own: its spec and counts must stay private */
	if (method == SYNTH_METHOD_MST)
	{
		id = synth_mst_train(rel, model, cols, ncols, sample_col, &opts.privacy, method_name,
							 reason, opts.seed, opts.holdout);
		relation_close(rel, NoLock);
		return id;
	}

	/* tvae and ctgan with an epsilon: DP-SGD over private encoders (dpsgd.c) */
	if (synth_method_is_neural(method) && opts.privacy.epsilon > 0)
	{
		id = synth_dp_neural_train(rel, model, cols, ncols, sample_col, &opts.privacy,
								   &opts.neural, method_name, reason, opts.seed, opts.holdout);
		relation_close(rel, NoLock);
		return id;
	}

	/*
	 * read: one snapshot, batches, a bounded uniform sample; with a holdout,
	 * the rows that a seeded hash of their values holds out are skipped
	 */
	if (opts.holdout > 0)
		synth_holdout_init(&holdout, opts.holdout, opts.seed, cols, ncols);
	sample = synth_read_relation(relid, cols, ncols, opts.sample_rows, opts.seed,
								 opts.holdout > 0 ? synth_holdout_filter : NULL, &holdout);
	if (sample->nrows_total == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is empty", RelationGetRelationName(rel)),
				 errhint("synth learns from the rows it reads: load rows into the table before training.")));
	model->n_rows = sample->nrows_total;
	synth_job_progress_phase("fitting");

	/* fit: encoders, then the copula over them */
	for (int i = 0; i < model->natts; i++)
		if (sample_col[i] >= 0)
			synth_encoder_fit(&model->encoders[i], &cols[sample_col[i]], sample,
							  sample_col[i], opts.rare_k);
	if (synth_method_is_neural(method))
	{
		/*
		 * A background job trains between transactions (synth_job_detach):
		 * the relation is opened again, and its privilege checked again,
		 * in the transaction that stores the model.
		 */
		relation_close(rel, NoLock);
		synth_neural_fit(model, cols, sample, sample_col, &opts.neural, opts.seed);
		rel = relation_open(relid, AccessShareLock);
		CheckSource(rel);
	}
	else
		synth_copula_fit(model, cols, sample, sample_col, opts.seed);

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	/* store */
	synth_job_progress_phase("storing");
	weights = synth_model_serialize(model);
	initStringInfo(&spec);
	appendStringInfo(&spec, "{\"method\": \"%s\", \"requested_method\": ", synth_method_name(method));
	escape_json(&spec, method_name);
	appendStringInfoString(&spec, ", \"reason\": ");
	escape_json(&spec, reason);
	appendStringInfoString(&spec, ", \"source\": {\"schema\": ");
	escape_json(&spec, schema_name);
	appendStringInfoString(&spec, ", \"table\": ");
	escape_json(&spec, RelationGetRelationName(rel));
	appendStringInfo(&spec, "}, \"options\": {\"seed\": " INT64_FORMAT ", \"rare_category_k\": %d, "
					 "\"sample_rows\": " INT64_FORMAT "}, \"rows_sampled\": " INT64_FORMAT
					 ", \"copula_dim\": %d, \"columns\": ",
					 (int64) opts.seed, opts.rare_k, opts.sample_rows, sample->nrows, model->dim);
	synth_model_spec_json(model, &spec);
	if (opts.holdout > 0)
	{
		appendStringInfoString(&spec, ", \"holdout\": ");
		synth_holdout_spec_json(&holdout, &spec);
	}
	if (synth_method_is_neural(method))
	{
		appendStringInfoString(&spec, ", ");
		synth_neural_spec_json(model, &spec);
	}
	appendStringInfoChar(&spec, '}');

	initStringInfo(&metrics);
	appendStringInfo(&metrics, "{\"train_seconds\": %.3f, \"rows_read\": " INT64_FORMAT
					 ", \"rows_sampled\": " INT64_FORMAT ", \"train_memory_kb\": %d",
					 INSTR_TIME_GET_DOUBLE(elapsed), sample->nrows_total, sample->nrows,
					 synth_train_memory_kb);
	if (synth_method_is_neural(method))
		synth_neural_metrics_json(model, &metrics);
	appendStringInfoChar(&metrics, '}');

	id = synth_catalog_store(rel, synth_method_name(method), model->n_rows, spec.data, weights,
							 metrics.data);
	relation_close(rel, NoLock);
	return id;
}

/*
 * The options of synth_train and synth_train_async with their named
 * arguments epsilon and delta (arguments firstnamed and firstnamed + 1, the
 * conveniences of DESIGN's "synth_train('orders', epsilon => 1)") folded
 * in: a setting is given one way or the other, not both.
 */
Jsonb *
synth_options_with_named(FunctionCallInfo fcinfo, int optarg, int firstnamed)
{
	static const char *const names[] = {"epsilon", "delta"};
	Jsonb	   *options = PG_ARGISNULL(optarg) ? NULL : PG_GETARG_JSONB_P(optarg);

	for (int i = 0; i < lengthof(names); i++)
	{
		int			arg = firstnamed + i;
		double		value;
		Jsonb	   *one;

		if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
			continue;
		value = PG_GETARG_FLOAT8(arg);
		if (!isfinite(value))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a finite number", names[i]),
					 errhint("Pass e.g. %s => 1.", names[i])));
		if (options != NULL &&
			DatumGetBool(DirectFunctionCall2(jsonb_exists, JsonbPGetDatum(options),
											 CStringGetTextDatum(names[i]))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is given both as an argument and in options", names[i]),
					 errhint("Give it once: %s => ..., or \"%s\" in options.", names[i], names[i])));
		one = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												 CStringGetDatum(psprintf("{\"%s\": %.17g}",
																		  names[i], value))));
		options = options == NULL ? one :
			DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options),
											   JsonbPGetDatum(one)));
	}
	return options;
}

Datum
synth_train(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source table must not be NULL"),
				 errhint("Call it as SELECT synth_train('schema.table').")));
	PG_RETURN_INT64(synth_train_relation(PG_GETARG_OID(0),
										 PG_ARGISNULL(1) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(1)),
										 synth_options_with_named(fcinfo, 2, 3)));
}
