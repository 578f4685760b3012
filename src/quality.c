/*-------------------------------------------------------------------------
 *
 * quality.c
 *	  synth_report(): the three pillars of quality of synthetic rows —
 *	  fidelity, utility, privacy risk — with thresholds, stored with the
 *	  model; synth_check_gates() and synth.gates refuse a model whose stored
 *	  figures miss given thresholds.
 *
 * The report compares three sets of rows: the real training rows (the rows
 * the model learnt from: with a holdout, those the holdout rule keeps), the
 * real holdout rows (rows it never saw) and synthetic rows (generated afresh
 * for a model, or a given table).  Each is read once by the reader into a
 * uniform sample of at most sample_rows rows; exact copies are counted over
 * every row through the reader's row callback.
 *
 *	fidelity	quality_score, column_shapes, column_pair_trends (synth_evaluate's
 *				scores of the training rows against the synthetic ones, on the
 *				samples read; category shares are exact) and detection_auc:
 *				gradient-boosted trees (gbt.c) trained to tell real training
 *				rows from synthetic ones, k-fold cross-validated ROC AUC.
 *	utility		for a target column: the same learner trained on synthetic
 *				rows (tstr) and on as many real training rows (trtr), both
 *				scored on the holdout rows: ROC AUC for two classes, macro F1
 *				for more, R^2 for a number; tstr_ratio = tstr / trtr.
 *	privacy		Gower distances to the closest record: synthetic -> training
 *				against holdout -> training (dcr_ratio), the share of
 *				synthetic rows closer to training than to holdout rows,
 *				exact-copy rates, a distance-based membership-inference
 *				attack (training rows are members, holdout rows are not) and
 *				a singling-out rate: rows that fall in a cell of the coarsened
 *				table holding exactly one training row.
 *
 * Cost is bounded by the sample sizes, never by the table: the learner sees
 * at most 2 x sample_rows rows, the distance figures compare privacy_rows
 * query rows with at most sample_rows rows each.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "quality.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(synth_report_model);
PG_FUNCTION_INFO_V1(synth_report_tables);
PG_FUNCTION_INFO_V1(synth_check_gates);
PG_FUNCTION_INFO_V1(synth_check_report_gates);

#define QUALITY_ROW_SEED		UINT64CONST(0xBB67AE8584CAA73B)
#define QUALITY_TEST_SHARE		0.2		/* of the real rows, for tstr without a holdout */
#define QUALITY_MIN_FIT_ROWS	20		/* rows a utility model needs */

char	   *synth_gates = NULL;

/* Set while the report generates its synthetic rows: gates do not apply to it. */
static bool generating_for_report = false;

/* ---- figures, thresholds and gates ---- */

typedef enum QualityFigure
{
	QF_QUALITY_SCORE,
	QF_COLUMN_SHAPES,
	QF_COLUMN_PAIR_TRENDS,
	QF_DETECTION_AUC,
	QF_TSTR,
	QF_TRTR,
	QF_TSTR_RATIO,
	QF_DCR_SYNTHETIC,
	QF_DCR_HOLDOUT,
	QF_DCR_RATIO,
	QF_DCR_CLOSER,
	QF_EXACT_COPY_RATE,
	QF_HOLDOUT_COPY_RATE,
	QF_MIA_AUC,
	QF_MIA_ADVANTAGE,
	QF_SINGLING_OUT_RATE,
	QF_SINGLING_OUT_BASELINE,
	QF_SINGLING_OUT_RISK,
	QF_COUNT
} QualityFigure;

typedef struct FigureDef
{
	const char *name;
	const char *pillar;
	double		default_min;	/* NaN: none */
	double		default_max;
} FigureDef;

/*
 * Every figure, in report order, with its default threshold.  exact_copy_rate's
 * default is set per report (the holdout's own rate plus 0.01).
 */
static const FigureDef figure_defs[QF_COUNT] = {
	{"quality_score", "fidelity", 0.8, NAN},
	{"column_shapes", "fidelity", NAN, NAN},
	{"column_pair_trends", "fidelity", NAN, NAN},
	{"detection_auc", "fidelity", NAN, 0.75},
	{"tstr", "utility", NAN, NAN},
	{"trtr", "utility", NAN, NAN},
	{"tstr_ratio", "utility", 0.9, NAN},
	{"dcr_synthetic", "privacy", NAN, NAN},
	{"dcr_holdout", "privacy", NAN, NAN},
	{"dcr_ratio", "privacy", 0.9, NAN},
	{"dcr_closer_to_training", "privacy", NAN, 0.6},
	{"exact_copy_rate", "privacy", NAN, NAN},
	{"holdout_copy_rate", "privacy", NAN, NAN},
	{"mia_auc", "privacy", NAN, NAN},
	{"mia_advantage", "privacy", NAN, 0.1},
	{"singling_out_rate", "privacy", NAN, NAN},
	{"singling_out_baseline", "privacy", NAN, NAN},
	{"singling_out_risk", "privacy", NAN, 0.05},
};

#define QUALITY_COPY_MARGIN		0.01	/* exact_copy_rate may exceed the holdout's by this */

/* Thresholds per figure; NaN: none. */
typedef struct Gates
{
	double		min[QF_COUNT];
	double		max[QF_COUNT];
} Gates;

static void
gates_clear(Gates *gates)
{
	for (int f = 0; f < QF_COUNT; f++)
		gates->min[f] = gates->max[f] = NAN;
}

static void
gates_defaults(Gates *gates)
{
	for (int f = 0; f < QF_COUNT; f++)
	{
		gates->min[f] = figure_defs[f].default_min;
		gates->max[f] = figure_defs[f].default_max;
	}
}

/* The figure and bound a gate key names ("detection_auc_max"), or false. */
static bool
parse_gate_key(const char *key, int *figure, bool *is_max)
{
	size_t		len = strlen(key);

	if (len < 5)
		return false;
	if (strcmp(key + len - 4, "_max") == 0)
		*is_max = true;
	else if (strcmp(key + len - 4, "_min") == 0)
		*is_max = false;
	else
		return false;
	for (int f = 0; f < QF_COUNT; f++)
		if (strlen(figure_defs[f].name) == len - 4 &&
			strncmp(key, figure_defs[f].name, len - 4) == 0)
		{
			*figure = f;
			return true;
		}
	return false;
}

static void
gate_key_error(const char *key, bool known)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 known ? errmsg("gate \"%s\" must be a number", key) :
			 errmsg("unknown gate \"%s\"", key),
			 errdetail("A gate is a figure of the quality report and _min or _max, with a number: "
					   "e.g. {\"detection_auc_max\": 0.75, \"tstr_ratio_min\": 0.9, \"dcr_ratio_min\": 0.9}."),
			 errhint("The figures are quality_score, column_shapes, column_pair_trends, detection_auc, "
					 "tstr, trtr, tstr_ratio, dcr_synthetic, dcr_holdout, dcr_ratio, dcr_closer_to_training, "
					 "exact_copy_rate, holdout_copy_rate, mia_auc, mia_advantage, singling_out_rate, "
					 "singling_out_baseline and singling_out_risk.")));
}

/*
 * Apply the gates of a jsonb object onto gates: a number sets a threshold,
 * null removes one.
 */
static void
parse_gates(JsonbContainer *container, Gates *gates)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JsonContainerIsObject(container))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gates must be a jsonb object"),
				 errhint("Pass e.g. '{\"detection_auc_max\": 0.75, \"tstr_ratio_min\": 0.9}'.")));
	it = JsonbIteratorInit(container);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			figure;
		bool		is_max;
		double		bound;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (!parse_gate_key(key, &figure, &is_max))
			gate_key_error(key, false);
		if (v.type == jbvNull)
			bound = NAN;
		else if (v.type == jbvNumeric)
			bound = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													   NumericGetDatum(v.val.numeric)));
		else
		{
			gate_key_error(key, true);
			bound = NAN;		/* keep compiler quiet */
		}
		if (is_max)
			gates->max[figure] = bound;
		else
			gates->min[figure] = bound;
	}
}

/* Does value meet the figure's thresholds?  (NaN value: the caller decides.) */
static bool
meets(const Gates *gates, int f, double value)
{
	if (!isnan(gates->min[f]) && value < gates->min[f])
		return false;
	if (!isnan(gates->max[f]) && value > gates->max[f])
		return false;
	return true;
}

static bool
has_threshold(const Gates *gates, int f)
{
	return !isnan(gates->min[f]) || !isnan(gates->max[f]);
}

static void
append_threshold(StringInfo buf, const Gates *gates, int f)
{
	if (!isnan(gates->min[f]))
		appendStringInfo(buf, ">= %g", gates->min[f]);
	if (!isnan(gates->min[f]) && !isnan(gates->max[f]))
		appendStringInfoString(buf, " and ");
	if (!isnan(gates->max[f]))
		appendStringInfo(buf, "<= %g", gates->max[f]);
}

/* ---- settings ---- */

void
synth_quality_default_settings(SynthQualitySettings *settings)
{
	settings->sample_rows = SYNTH_QUALITY_SAMPLE_ROWS;
	settings->privacy_rows = SYNTH_QUALITY_PRIVACY_ROWS;
	settings->folds = SYNTH_QUALITY_FOLDS;
	settings->seed = SYNTH_QUALITY_SEED;
	synth_gbt_default_params(&settings->gbt);
}

static double
option_value(const char *key, JsonbValue *v, double min, double max, bool integer)
{
	double		d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key),
				 errhint("Options are a jsonb object, e.g. '{\"sample_rows\": 5000, \"trees\": 50}'.")));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (d < min || d > max || (integer && d != floor(d)) || (!integer && d <= 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s between %.15g and %.15g", key,
						integer ? "an integer" : "a number", min, max),
				 errhint("Leave it out for its default.")));
	return d;
}

/* Ensure the report's options are known and in range. */
static void
parse_report_options(Jsonb *options, SynthQualitySettings *settings, Gates *thresholds,
					 bool *store)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object"),
				 errhint("Pass e.g. '{\"sample_rows\": 5000}', or '{}' for the defaults.")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "sample_rows") == 0)
			settings->sample_rows = (int64) option_value(key, &v, 100, 1000000, true);
		else if (strcmp(key, "privacy_rows") == 0)
			settings->privacy_rows = (int) option_value(key, &v, 10, 100000, true);
		else if (strcmp(key, "folds") == 0)
			settings->folds = (int) option_value(key, &v, 2, 20, true);
		else if (strcmp(key, "seed") == 0)
			settings->seed = (uint64) (int64) option_value(key, &v, -9.0e15, 9.0e15, true);
		else if (strcmp(key, "trees") == 0)
			settings->gbt.trees = (int) option_value(key, &v, 1, 2000, true);
		else if (strcmp(key, "depth") == 0)
			settings->gbt.depth = (int) option_value(key, &v, 1, SYNTH_GBT_MAX_DEPTH, true);
		else if (strcmp(key, "learning_rate") == 0)
			settings->gbt.learning_rate = option_value(key, &v, 0.0, 1.0, false);
		else if (strcmp(key, "thresholds") == 0)
		{
			if (v.type != jbvBinary)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"thresholds\" must be a jsonb object"),
						 errhint("Pass e.g. '{\"thresholds\": {\"detection_auc_max\": 0.8}}'.")));
			parse_gates(v.val.binary.data, thresholds);
		}
		else if (strcmp(key, "store") == 0)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"store\" must be true or false")));
			*store = v.val.boolean;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("The options of synth_report are sample_rows, privacy_rows, folds, seed, trees, "
							 "depth, learning_rate, thresholds and store.")));
	}
}

/* ---- rows ---- */

/* splitmix64's finaliser: a bijective mix of 64 bits. */
static inline uint64
mix64(uint64 z)
{
	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Draw n distinct indexes of 0 .. total-1 (all, in order, when n >= total). */
static int64 *
pick_rows(SynthRng *rng, int64 total, int64 n, int64 *npicked)
{
	int64	   *idx = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(total, 1));

	for (int64 i = 0; i < total; i++)
		idx[i] = i;
	if (n < total)
	{
		/* a partial Fisher-Yates shuffle */
		for (int64 i = 0; i < n; i++)
		{
			int64		j = i + (int64) synth_rng_below(rng, (uint64) (total - i));
			int64		tmp = idx[i];

			idx[i] = idx[j];
			idx[j] = tmp;
		}
	}
	*npicked = Min(n, total);
	return idx;
}

/* All of 0 .. n-1 in a random order. */
static int64 *
shuffled_rows(SynthRng *rng, int64 n)
{
	int64		npicked;
	int64	   *idx = pick_rows(rng, n, n, &npicked);

	for (int64 i = n - 1; i > 0; i--)
	{
		int64		j = (int64) synth_rng_below(rng, (uint64) (i + 1));
		int64		tmp = idx[i];

		idx[i] = idx[j];
		idx[j] = tmp;
	}
	return idx;
}

static SynthQualityRows *
rows_alloc(int64 nrows, int ncols)
{
	SynthQualityRows *rows = palloc(sizeof(SynthQualityRows));

	rows->nrows = nrows;
	rows->values = MemoryContextAllocHuge(CurrentMemoryContext,
										  sizeof(double) * Max(nrows, 1) * Max(ncols, 1));
	return rows;
}

/* The listed rows of a side. */
static SynthQualityRows *
rows_subset(const SynthQualityRows *rows, int ncols, const int64 *idx, int64 n)
{
	SynthQualityRows *sub = rows_alloc(n, ncols);

	for (int c = 0; c < ncols; c++)
		for (int64 i = 0; i < n; i++)
			sub->values[c * n + i] = rows->values[c * rows->nrows + idx[i]];
	return sub;
}

/*
 * Is a categorical column near-unique (names, e-mails, notes)?  As training
 * decides free text: more distinct values than half its non-NULL rows, or
 * more than its dictionary holds.
 */
bool
synth_quality_near_unique(SynthColumn *col)
{
	if (col->overflow)
		return true;
	return col->nnonnull >= 20 &&
		synth_dict_count(col->dict) > SYNTH_NEAR_UNIQUE_RATIO * col->nnonnull;
}

/*
 * Rows of a reader's sample as the metrics take them: at most max_rows rows
 * drawn by rng (all, in order, when the sample has no more), the compared
 * columns cmp[] only.  Categories are coded by their index in the training
 * side's dictionary (refcols); a value that dictionary lacks gets
 * count + 1 + unseen_code_offset, one the reader pooled (too many distinct
 * values) gets count.
 */
SynthQualityRows *
synth_quality_rows(SynthSample *sample, SynthColumn *cols, SynthColumn *refcols,
				   const int *cmp, int ncmp, int unseen_code_offset, int64 max_rows,
				   SynthRng *rng)
{
	int64		n;
	int64	   *idx = pick_rows(rng, sample->nrows, max_rows, &n);
	SynthQualityRows *rows = rows_alloc(n, ncmp);

	for (int j = 0; j < ncmp; j++)
	{
		SynthColumn *col = &cols[cmp[j]];
		const double *src = sample->values + (int64) cmp[j] * sample->capacity;
		double	   *dst = rows->values + (int64) j * n;

		if (col->kind == SYNTH_KIND_CATEGORICAL)
		{
			SynthCategoryDict *ref = refcols[cmp[j]].dict;
			int			nref = synth_dict_count(ref);
			int			nown = synth_dict_count(col->dict);
			int		   *map = palloc(sizeof(int) * Max(nown, 1));

			for (int k = 0; k < nown; k++)
			{
				int			rk = col->dict == ref ? k :
					synth_dict_lookup(ref, synth_dict_value(col->dict, k));

				map[k] = rk >= 0 ? rk : nref + 1 + unseen_code_offset;
			}
			for (int64 i = 0; i < n; i++)
			{
				double		v = src[idx[i]];

				dst[i] = isnan(v) ? NAN : (v < 0 ? (double) nref : (double) map[(int) v]);
			}
			pfree(map);
		}
		else
		{
			for (int64 i = 0; i < n; i++)
				dst[i] = src[idx[i]];
		}
	}
	pfree(idx);
	return rows;
}

/* ---- detection ---- */

/*
 * Cross-validated ROC AUC of boosted trees telling real rows from synthetic
 * ones: as many rows of each (at most sample_rows), the AUC averaged over
 * the folds that hold rows of both sides.  importance (per column, or NULL)
 * receives each column's share of the split gain.
 */
double
synth_quality_detection(const SynthQualityColumn *cols, int ncols,
						const SynthQualityRows *real, const SynthQualityRows *synthetic,
						const SynthQualitySettings *settings, double *importance)
{
	SynthRng	rng;
	int64		n = Min(Min(real->nrows, synthetic->nrows), settings->sample_rows);
	int64		nreal;
	int64		nsyn;
	int64	   *ridx;
	int64	   *sidx;
	int			total;
	double	   *values;
	double	   *label;
	bool	   *categorical;
	int		   *fold;
	SynthGbtData *data;
	double		auc_sum = 0.0;
	int			auc_count = 0;
	double		gain_total = 0.0;

	if (importance)
		for (int c = 0; c < ncols; c++)
			importance[c] = 0.0;
	if (n < 2 * settings->folds || ncols == 0)
		return NAN;

	synth_rng_seed(&rng, settings->seed ^ UINT64CONST(0xDE7EC7));
	ridx = pick_rows(&rng, real->nrows, n, &nreal);
	sidx = pick_rows(&rng, synthetic->nrows, n, &nsyn);
	total = (int) (2 * n);
	values = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * total * ncols);
	label = palloc(sizeof(double) * total);
	categorical = palloc(sizeof(bool) * ncols);
	fold = palloc(sizeof(int) * total);
	for (int c = 0; c < ncols; c++)
	{
		categorical[c] = cols[c].categorical;
		for (int64 i = 0; i < n; i++)
		{
			values[(int64) c * total + i] = real->values[c * real->nrows + ridx[i]];
			values[(int64) c * total + n + i] = synthetic->values[c * synthetic->nrows + sidx[i]];
		}
	}
	for (int64 i = 0; i < n; i++)
	{
		label[i] = 0.0;
		label[n + i] = 1.0;
	}

	/*
	 * Folds by a seeded hash of the row's values, so that identical rows
	 * share a fold: a real row whose copy were among the training rows,
	 * labelled synthetic, would be called synthetic, and a table compared
	 * with itself would score far below 0.5.
	 */
	for (int i = 0; i < total; i++)
	{
		uint64		hash = settings->seed;

		for (int c = 0; c < ncols; c++)
		{
			double		v = values[(int64) c * total + i];
			uint64		bits;

			if (isnan(v))
				v = NAN;
			memcpy(&bits, &v, sizeof(bits));
			hash = hash_combine64(hash, bits);
		}
		fold[i] = (int) (mix64(hash) % (uint64) settings->folds);
	}

	data = synth_gbt_bin(values, total, ncols, categorical);
	for (int k = 0; k < settings->folds; k++)
	{
		int		   *train = palloc(sizeof(int) * total);
		int		   *test = palloc(sizeof(int) * total);
		int			ntrain = 0;
		int			ntest = 0;
		double	   *pred;
		bool	   *positive;
		SynthGbtModel *model;
		double		auc;

		for (int i = 0; i < total; i++)
		{
			if (fold[i] == k)
				test[ntest++] = i;
			else
				train[ntrain++] = i;
		}
		model = synth_gbt_fit(data, train, ntrain, label, SYNTH_GBT_BINARY, 2, &settings->gbt);
		pred = palloc(sizeof(double) * Max(ntest, 1));
		positive = palloc(sizeof(bool) * Max(ntest, 1));
		synth_gbt_predict(model, data, test, ntest, pred);
		for (int i = 0; i < ntest; i++)
			positive[i] = label[test[i]] > 0.5;
		auc = synth_roc_auc(pred, positive, ntest);
		if (!isnan(auc))
		{
			auc_sum += auc;
			auc_count++;
		}
		if (importance)
			for (int c = 0; c < ncols; c++)
			{
				importance[c] += model->importance[c];
				gain_total += model->importance[c];
			}
		pfree(train);
		pfree(test);
		pfree(pred);
		pfree(positive);
	}
	if (importance && gain_total > 0.0)
		for (int c = 0; c < ncols; c++)
			importance[c] /= gain_total;
	return auc_count > 0 ? auc_sum / auc_count : NAN;
}

/* ---- the report's state ---- */

/* One set of rows: how it is read and what came of it. */
typedef struct Side
{
	Oid			relid;
	SynthColumn *cols;			/* the reader's columns */
	int			ncols;
	SynthSample *sample;
	SynthQualityRows *rows;		/* the compared columns, coded */
	int64		rows_read;		/* every row of this side */
	int64		copies;			/* of them, equal to a training row */
} Side;

typedef struct Report
{
	int64		model_id;		/* 0: two tables */
	SynthQualitySettings settings;
	Gates		thresholds;
	char	   *real_name;
	char	   *synthetic_name;
	char	   *holdout_name;	/* description of the holdout rows */
	char	   *target;
	int			target_index;	/* among the compared columns, or -1 */

	/* columns: hashed for copies (hcmp), compared by the metrics (cmp) */
	int			nhcmp;
	int		   *hcmp;
	int			ncmp;
	int		   *cmp;
	SynthQualityColumn *qcols;	/* per compared column */

	Side		train;
	Side		holdout;
	Side		syn;
	bool		have_holdout;
	SynthHoldout *split;		/* the model's holdout rule, or NULL */

	double		fig[QF_COUNT];
	double	   *importance;		/* per compared column, detection */

	/* utility details */
	const char *task;
	const char *utility_metric;
	double		accuracy[2];	/* tstr, trtr */
	double		macro_f1[2];
	int64		fit_rows;
	int64		test_rows;
	int			classes;

	/* distance details */
	int64		privacy_queries;
	int64		dcr_reference_rows;

	List	   *notes;
	double		seconds;
	double		phase_seconds[6];	/* see phase_names */
	instr_time	phase_start;
} Report;

/* Where the report's time goes. */
typedef enum ReportPhase
{
	PHASE_GENERATE,
	PHASE_READ,
	PHASE_SHAPES,
	PHASE_DETECTION,
	PHASE_UTILITY,
	PHASE_PRIVACY
} ReportPhase;

static const char *const phase_names[] = {"generate", "read", "shapes_and_trends", "detection",
"utility", "privacy"};

/* Charge the time since the last call to a phase. */
static void
phase_done(Report *report, ReportPhase phase)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	if (!INSTR_TIME_IS_ZERO(report->phase_start))
	{
		instr_time	elapsed = now;

		INSTR_TIME_SUBTRACT(elapsed, report->phase_start);
		report->phase_seconds[phase] += INSTR_TIME_GET_DOUBLE(elapsed);
	}
	report->phase_start = now;
}

static void
note(Report *report, const char *fmt,...) pg_attribute_printf(2, 3);

static void
note(Report *report, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	report->notes = lappend(report->notes, buf.data);
}

/* What the reader's row callback does on one side. */
typedef struct ReadCallback
{
	Report	   *report;
	Side	   *side;
	SynthHoldout *split;		/* filter the real table, or NULL */
	SynthHashSet *copies;
	bool		probing;		/* count copies, else add training rows */
	Oid		   *typoutputs;
} ReadCallback;

static bool
report_row(void *arg, HeapTuple tuple, TupleDesc desc)
{
	ReadCallback *rc = (ReadCallback *) arg;
	Report	   *report = rc->report;
	uint64		hash = QUALITY_ROW_SEED;

	if (rc->split && !synth_holdout_filter(rc->split, tuple, desc))
		return false;
	for (int j = 0; j < report->nhcmp; j++)
	{
		int			c = report->hcmp[j];
		bool		isnull;
		Datum		value = heap_getattr(tuple, c + 1, desc, &isnull);

		hash = hash_combine64(hash, synth_value_hash(&rc->side->cols[c], j, isnull, value,
													 rc->typoutputs[c]));
	}
	if (hash == 0)
		hash = 1;
	if (rc->probing)
	{
		if (synth_hashset_contains(rc->copies, hash))
			rc->side->copies++;
	}
	else
		synth_hashset_add(rc->copies, hash);
	return true;
}

/* Read one side into its sample, hashing rows for copies. */
static void
read_side(Report *report, Side *side, SynthHoldout *split, bool keep_holdout,
		  SynthHashSet *copies, bool probing, uint64 seed)
{
	ReadCallback rc;

	memset(&rc, 0, sizeof(rc));
	rc.report = report;
	rc.side = side;
	rc.split = split;
	rc.copies = copies;
	rc.probing = probing;
	rc.typoutputs = palloc(sizeof(Oid) * Max(side->ncols, 1));
	for (int c = 0; c < side->ncols; c++)
	{
		bool		varlena;

		getTypeOutputInfo(side->cols[c].typid, &rc.typoutputs[c], &varlena);
	}
	if (split)
		split->keep_holdout = keep_holdout;
	side->sample = synth_read_relation(side->relid, side->cols, side->ncols,
									   report->settings.sample_rows, seed, report_row, &rc);
	side->rows_read = side->sample->nrows_total;
}

static SynthColumn *
copy_columns(const SynthColumn *cols, int ncols)
{
	SynthColumn *copy = palloc(sizeof(SynthColumn) * Max(ncols, 1));

	memcpy(copy, cols, sizeof(SynthColumn) * ncols);
	return copy;
}

/* ---- utility ---- */

/*
 * Classes of a categorical target: codes ranked by frequency among the real
 * fitting rows; the most frequent keep a class each, every other code (rarer,
 * or unseen there) shares the last class.  Returns the number of classes.
 */
static int
target_classes(const double *codes, int64 n, const double *all, int64 nall, double *classes_out)
{
	int			maxcode = 0;
	int64	   *count;
	int		   *class_of;
	int			nclasses = 0;
	bool		other = false;

	for (int64 i = 0; i < nall; i++)
		if (!isnan(all[i]))
			maxcode = Max(maxcode, (int) all[i]);
	/* code maxcode + 1 stands for NULL, a class like any other */
	count = palloc0(sizeof(int64) * (maxcode + 2));
	class_of = palloc(sizeof(int) * (maxcode + 2));
	for (int64 i = 0; i < n; i++)
		count[isnan(codes[i]) ? maxcode + 1 : (int) codes[i]]++;
	for (int c = 0; c <= maxcode + 1; c++)
		class_of[c] = -1;
	for (;;)
	{
		int			best = -1;

		for (int c = 0; c <= maxcode + 1; c++)
			if (count[c] > 0 && class_of[c] < 0 && (best < 0 || count[c] > count[best]))
				best = c;
		if (best < 0 || nclasses == SYNTH_GBT_MAX_CLASSES - 1)
			break;
		class_of[best] = nclasses++;
	}
	for (int64 i = 0; i < nall; i++)
	{
		int			code = isnan(all[i]) ? maxcode + 1 : (int) all[i];

		if (class_of[code] < 0)
			other = true;
		classes_out[i] = class_of[code] < 0 ? (double) nclasses : (double) class_of[code];
	}
	pfree(count);
	pfree(class_of);
	return nclasses + (other ? 1 : 0);
}

/*
 * Accuracy and macro F1 of predicted classes against truth: the class of the
 * highest probability, or for two classes (prob holds P(1)) 1 when P(1) >= 0.5.
 */
static void
classification_scores(const double *prob, int K, const double *truth, int n,
					  double *accuracy, double *macro_f1)
{
	int64	   *tp = palloc0(sizeof(int64) * K);
	int64	   *fp = palloc0(sizeof(int64) * K);
	int64	   *fn = palloc0(sizeof(int64) * K);
	int64		right = 0;
	double		f1_sum = 0.0;
	int			f1_count = 0;

	for (int i = 0; i < n; i++)
	{
		int			best = 0;
		int			y = (int) truth[i];

		if (K == 2)
			best = prob[i] >= 0.5 ? 1 : 0;
		else
			for (int k = 1; k < K; k++)
				if (prob[(int64) i * K + k] > prob[(int64) i * K + best])
					best = k;
		if (best == y)
		{
			right++;
			tp[y]++;
		}
		else
		{
			fp[best]++;
			fn[y]++;
		}
	}
	for (int k = 0; k < K; k++)
		if (tp[k] + fp[k] + fn[k] > 0)
		{
			f1_sum += 2.0 * tp[k] / (2.0 * tp[k] + fp[k] + fn[k]);
			f1_count++;
		}
	*accuracy = n > 0 ? (double) right / n : NAN;
	*macro_f1 = f1_count > 0 ? f1_sum / f1_count : NAN;
	pfree(tp);
	pfree(fp);
	pfree(fn);
}

/*
 * tstr and trtr: fit on the synthetic rows and on as many real fitting rows,
 * score both on the test rows.
 */
static void
compute_utility(Report *report, const SynthQualityRows *fit_real,
				const SynthQualityRows *test)
{
	const SynthQualityRows *syn = report->syn.rows;
	int			t = report->target_index;
	int			nfeat = report->ncmp - 1;
	bool		categorical_target = report->qcols[t].categorical;
	SynthRng	rng;
	int64		nfit = Min(Min(fit_real->nrows, syn->nrows), report->settings.sample_rows);
	int64		n1;
	int64		n2;
	int64	   *sidx;
	int64	   *ridx;
	int64		total = 2 * nfit + test->nrows;
	double	   *values;
	double	   *raw_target;
	double	   *target;
	bool	   *categorical;
	SynthGbtData *data;
	int		   *rows[3];
	int			nrows[3] = {0, 0, 0};
	int			K = 1;
	SynthGbtTask task;
	double		score[2];

	synth_rng_seed(&rng, report->settings.seed ^ UINT64CONST(0x75717));
	sidx = pick_rows(&rng, syn->nrows, nfit, &n1);
	ridx = pick_rows(&rng, fit_real->nrows, nfit, &n2);
	values = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(total, 1) * Max(nfeat, 1));
	raw_target = palloc(sizeof(double) * Max(total, 1));
	target = palloc(sizeof(double) * Max(total, 1));
	categorical = palloc(sizeof(bool) * Max(nfeat, 1));

	/* rows: synthetic fitting rows, real fitting rows, test rows */
	for (int c = 0, f = 0; c < report->ncmp; c++)
	{
		double	   *dst = c == t ? raw_target : values + (int64) f * total;

		for (int64 i = 0; i < nfit; i++)
		{
			dst[i] = syn->values[c * syn->nrows + sidx[i]];
			dst[nfit + i] = fit_real->values[c * fit_real->nrows + ridx[i]];
		}
		for (int64 i = 0; i < test->nrows; i++)
			dst[2 * nfit + i] = test->values[c * test->nrows + i];
		if (c != t)
			categorical[f++] = report->qcols[c].categorical;
	}

	for (int s = 0; s < 3; s++)
		rows[s] = palloc(sizeof(int) * Max(total, 1));
	for (int64 i = 0; i < total; i++)
	{
		int			s = i < nfit ? 0 : (i < 2 * nfit ? 1 : 2);

		/* a number target: rows without one are left out */
		if (!categorical_target && isnan(raw_target[i]))
			continue;
		rows[s][nrows[s]++] = (int) i;
	}

	if (categorical_target)
	{
		K = target_classes(raw_target + nfit, nfit, raw_target, total, target);
		task = K == 2 ? SYNTH_GBT_BINARY : SYNTH_GBT_MULTICLASS;
		report->task = K == 2 ? "binary classification" : "multiclass classification";
		report->utility_metric = K == 2 ? "roc_auc" : "macro_f1";
		report->classes = K;
	}
	else
	{
		memcpy(target, raw_target, sizeof(double) * total);
		task = SYNTH_GBT_REGRESSION;
		report->task = "regression";
		report->utility_metric = "r2";
	}
	report->fit_rows = Min(nrows[0], nrows[1]);
	report->test_rows = nrows[2];

	if (categorical_target && K < 2)
	{
		note(report, "utility: target \"%s\" has a single class among the real rows, so there is nothing to predict",
			 report->target);
		return;
	}
	if (nrows[0] < QUALITY_MIN_FIT_ROWS || nrows[1] < QUALITY_MIN_FIT_ROWS ||
		nrows[2] < QUALITY_MIN_FIT_ROWS)
	{
		note(report, "utility: too few rows with a target (%d synthetic, %d real, %d test; %d needed)",
			 nrows[0], nrows[1], nrows[2], QUALITY_MIN_FIT_ROWS);
		return;
	}

	data = synth_gbt_bin(values, (int) total, nfeat, categorical);
	for (int s = 0; s < 2; s++)
	{
		SynthGbtModel *model = synth_gbt_fit(data, rows[s], nrows[s], target, task,
											 K, &report->settings.gbt);
		int			nout = task == SYNTH_GBT_MULTICLASS ? K : 1;
		double	   *pred = palloc(sizeof(double) * nrows[2] * nout);
		double	   *truth = palloc(sizeof(double) * nrows[2]);

		synth_gbt_predict(model, data, rows[2], nrows[2], pred);
		for (int i = 0; i < nrows[2]; i++)
			truth[i] = target[rows[2][i]];
		if (task == SYNTH_GBT_REGRESSION)
		{
			double		mean = 0.0;
			double		sse = 0.0;
			double		sst = 0.0;

			for (int i = 0; i < nrows[2]; i++)
				mean += truth[i] / nrows[2];
			for (int i = 0; i < nrows[2]; i++)
			{
				sse += (pred[i] - truth[i]) * (pred[i] - truth[i]);
				sst += (truth[i] - mean) * (truth[i] - mean);
			}
			score[s] = sst > 0.0 ? 1.0 - sse / sst : NAN;
			report->accuracy[s] = report->macro_f1[s] = NAN;
		}
		else
		{
			classification_scores(pred, K, truth, nrows[2], &report->accuracy[s],
								   &report->macro_f1[s]);
			if (task == SYNTH_GBT_BINARY)
			{
				bool	   *positive = palloc(sizeof(bool) * nrows[2]);

				for (int i = 0; i < nrows[2]; i++)
					positive[i] = truth[i] > 0.5;
				score[s] = synth_roc_auc(pred, positive, nrows[2]);
			}
			else
				score[s] = report->macro_f1[s];
		}
	}
	report->fig[QF_TSTR] = score[0];
	report->fig[QF_TRTR] = score[1];
	if (score[1] > 0.0 && !isnan(score[0]))
		report->fig[QF_TSTR_RATIO] = score[0] / score[1];
	else
		note(report, "utility: the model trained on real rows scores %.3g, so tstr_ratio is not defined",
			 score[1]);
}

/* ---- privacy ---- */

/*
 * Rows prepared for Gower distances, column by column: categories as their
 * codes, numbers divided by their range, NULL as NaN; in single precision,
 * which halves the memory the distance loops stream through.
 */
typedef struct GowerRows
{
	int64		nrows;
	int			ncols;
	const bool *exact;			/* per column: compared for equality (categories, constants) */
	float	   *v;				/* v[c * nrows + r] */
	uint8	   *group;			/* per row: a bit per group it belongs to, or NULL */
} GowerRows;

#define GOWER_MAX_GROUPS	8

/* Rows of one side, or several sides' rows one after the other (append). */
static GowerRows *
gower_rows(int64 capacity, int ncols, const bool *exact)
{
	GowerRows  *g = palloc0(sizeof(GowerRows));

	g->ncols = ncols;
	g->exact = exact;
	g->v = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(float) * Max(capacity, 1) * Max(ncols, 1));
	g->group = palloc0(Max(capacity, 1));
	/* nrows grows with gower_append; v's stride is the capacity */
	g->nrows = 0;
	return g;
}

typedef struct GowerBuild
{
	GowerRows  *rows;
	int64		capacity;
	const double *inv_range;
} GowerBuild;

/* Append the listed rows of a side, members of the groups in mask. */
static void
gower_append(GowerBuild *b, const SynthQualityRows *rows, const int64 *idx, int64 n, uint8 mask)
{
	GowerRows  *g = b->rows;

	Assert(g->nrows + n <= b->capacity);
	for (int c = 0; c < g->ncols; c++)
		for (int64 i = 0; i < n; i++)
		{
			double		v = rows->values[c * rows->nrows + (idx ? idx[i] : i)];

			g->v[c * b->capacity + g->nrows + i] = (float) (g->exact[c] ? v : v * b->inv_range[c]);
		}
	memset(g->group + g->nrows, mask, n);
	g->nrows += n;
}

/* A side's rows on their own. */
static GowerRows *
gower_side(const SynthQualityRows *rows, int ncols, const bool *exact,
		   const double *inv_range, const int64 *idx, int64 n)
{
	GowerBuild	b;

	b.rows = gower_rows(n, ncols, exact);
	b.capacity = n;
	b.inv_range = inv_range;
	gower_append(&b, rows, idx, n, 1);
	return b.rows;
}

/*
 * Gower distance from each query row to its closest reference row in each
 * group: numbers |a - b| / range (at most 1), categories 0 when equal else
 * 1, NULL equal to NULL only; averaged over the columns.  out[q * ngroups +
 * k] is the distance to group k (bit k of ref->group).  One query at a
 * time, the distances to every reference row are summed column by column:
 * loops without branches, which the compiler vectorises.
 *
 * query and ref must have been built with their own capacity as stride
 * (gower_side, or gower_rows filled to capacity).
 */
static double *
closest_distances(const GowerRows *query, const GowerRows *ref, int ngroups)
{
	int64		nr = ref->nrows;
	int			ncols = ref->ncols;
	double	   *out = palloc(sizeof(double) * Max(query->nrows, 1) * ngroups);
	float	   *d = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(nr, 1));

	for (int64 q = 0; q < query->nrows; q++)
	{
		if ((q & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		memset(d, 0, sizeof(float) * nr);
		for (int c = 0; c < ncols; c++)
		{
			const float *x = ref->v + c * nr;
			float		a = query->v[c * query->nrows + q];

			if (isnan(a))
			{
				/* NULL matches NULL only */
				for (int64 r = 0; r < nr; r++)
					d[r] += x[r] == x[r] ? 1.0f : 0.0f;
			}
			else if (ref->exact[c])
			{
				/* NaN (NULL) differs from a too */
				for (int64 r = 0; r < nr; r++)
					d[r] += x[r] != a ? 1.0f : 0.0f;
			}
			else
			{
				/* with x NULL, t is NaN and the comparison counts 1 */
				for (int64 r = 0; r < nr; r++)
				{
					float		t = fabsf(a - x[r]);

					d[r] += t < 1.0f ? t : 1.0f;
				}
			}
		}
		for (int k = 0; k < ngroups; k++)
		{
			float		best = INFINITY;
			uint8		bit = (uint8) (1 << k);

			for (int64 r = 0; r < nr; r++)
				if ((ref->group[r] & bit) && d[r] < best)
					best = d[r];
			out[q * ngroups + k] = ncols > 0 && isfinite(best) ? (double) best / ncols : NAN;
		}
	}
	pfree(d);
	return out;
}

static double
mean_of(const double *v, int64 n)
{
	double		sum = 0.0;

	for (int64 i = 0; i < n; i++)
		sum += v[i];
	return n > 0 ? sum / n : NAN;
}

/*
 * Singling out, after anonymeter's multivariate attack: each query row
 * yields a predicate, its values on SYNTH_QUALITY_SO_COLUMNS columns chosen
 * at random (numbers by their quantile bin among SYNTH_QUALITY_COARSE_BINS of
 * the training rows, categories as themselves, NULL as its own value), and
 * the predicate singles out when exactly one training row satisfies it.
 * Synthetic rows that copy rare combinations of real rows single out more
 * often than real rows the model never saw, which give the baseline.
 */
typedef struct Coarse
{
	int			ncols;
	int64		nrows;
	int16	   *code;			/* code[c * nrows + r] of the training rows */
	double	   *edges;			/* ncols x (SYNTH_QUALITY_COARSE_BINS - 1) */
	const bool *categorical;
} Coarse;

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* A value's coarse code: its quantile bin, its category (hashed to 15 bits), -1 for NULL. */
static int16
coarse_code(const Coarse *co, int c, double v)
{
	int			nedge = SYNTH_QUALITY_COARSE_BINS - 1;
	int			bin = 0;

	if (isnan(v))
		return -1;
	if (co->categorical[c])
		return (int16) ((uint32) v % 32749);
	while (bin < nedge && v >= co->edges[c * nedge + bin])
		bin++;
	return (int16) bin;
}

static void
coarse_fit(Coarse *co, const SynthQualityRows *train, int ncols, const bool *categorical)
{
	double	   *scratch = palloc(sizeof(double) * Max(train->nrows, 1));
	int			nedge = SYNTH_QUALITY_COARSE_BINS - 1;

	co->ncols = ncols;
	co->nrows = train->nrows;
	co->categorical = categorical;
	co->edges = palloc0(sizeof(double) * Max(ncols, 1) * nedge);
	co->code = MemoryContextAllocHuge(CurrentMemoryContext,
									  sizeof(int16) * Max(train->nrows, 1) * Max(ncols, 1));
	for (int c = 0; c < ncols; c++)
	{
		int64		n = 0;

		if (!categorical[c])
		{
			for (int64 r = 0; r < train->nrows; r++)
				if (!isnan(train->values[c * train->nrows + r]))
					scratch[n++] = train->values[c * train->nrows + r];
			if (n > 0)
				qsort(scratch, n, sizeof(double), compare_double);
			for (int e = 0; e < nedge; e++)
				co->edges[c * nedge + e] = n > 0 ?
					scratch[(int64) (e + 1) * n / SYNTH_QUALITY_COARSE_BINS] : 0.0;
		}
		for (int64 r = 0; r < train->nrows; r++)
			co->code[c * train->nrows + r] = coarse_code(co, c, train->values[c * train->nrows + r]);
	}
	pfree(scratch);
}

/* Share of the listed query rows whose predicate holds for exactly one training row. */
static double
singling_out_share(const Coarse *co, const SynthQualityRows *query, const int64 *idx, int64 n,
				   SynthRng *rng)
{
	int			k = Min(SYNTH_QUALITY_SO_COLUMNS, co->ncols);
	int64		hits = 0;

	for (int64 i = 0; i < n; i++)
	{
		int			cols[SYNTH_QUALITY_SO_COLUMNS];
		int16		want[SYNTH_QUALITY_SO_COLUMNS];
		int64		matches = 0;

		/* k distinct columns */
		for (int j = 0; j < k; j++)
		{
			bool		taken;

			do
			{
				cols[j] = (int) synth_rng_below(rng, (uint64) co->ncols);
				taken = false;
				for (int m = 0; m < j; m++)
					taken |= cols[m] == cols[j];
			} while (taken);
			want[j] = coarse_code(co, cols[j], query->values[cols[j] * query->nrows + idx[i]]);
		}
		for (int64 r = 0; r < co->nrows && matches < 2; r++)
		{
			bool		match = true;

			for (int j = 0; j < k && match; j++)
				match = co->code[cols[j] * co->nrows + r] == want[j];
			matches += match;
		}
		hits += matches == 1;
	}
	return n > 0 ? (double) hits / n : NAN;
}

static void
compute_privacy(Report *report)
{
	const SynthQualityRows *train = report->train.rows;
	const SynthQualityRows *syn = report->syn.rows;
	const SynthQualityRows *hold = report->have_holdout ? report->holdout.rows : NULL;
	int			ncols = report->ncmp;
	bool	   *categorical = palloc(sizeof(bool) * Max(ncols, 1));
	bool	   *exact = palloc(sizeof(bool) * Max(ncols, 1));
	double	   *inv_range = palloc(sizeof(double) * Max(ncols, 1));
	SynthRng	rng;
	int64		nq = report->settings.privacy_rows;
	int64		nsyn_q;
	int64		nhold_q = 0;
	int64		nmem_q;
	int64	   *syn_q;
	int64	   *hold_q = NULL;
	int64	   *mem_q;
	GowerRows  *syn_queries;
	Coarse		co;
	SynthRng	so_rng;

	/* exact copies, over every row read */
	report->fig[QF_EXACT_COPY_RATE] = report->syn.rows_read > 0 ?
		(double) report->syn.copies / report->syn.rows_read : NAN;
	if (report->have_holdout)
		report->fig[QF_HOLDOUT_COPY_RATE] = report->holdout.rows_read > 0 ?
			(double) report->holdout.copies / report->holdout.rows_read : NAN;

	if (ncols == 0 || train->nrows == 0 || syn->nrows == 0)
		return;

	/* ranges of the numbers over the training rows; 0: a constant column */
	for (int c = 0; c < ncols; c++)
	{
		double		lo = INFINITY;
		double		hi = -INFINITY;

		categorical[c] = report->qcols[c].categorical;
		inv_range[c] = 0.0;
		if (!categorical[c])
		{
			for (int64 r = 0; r < train->nrows; r++)
			{
				double		v = train->values[c * train->nrows + r];

				if (isnan(v))
					continue;
				lo = Min(lo, v);
				hi = Max(hi, v);
			}
			inv_range[c] = hi > lo ? 1.0 / (hi - lo) : 0.0;
		}
		exact[c] = categorical[c] || inv_range[c] == 0.0;
	}

	synth_rng_seed(&rng, report->settings.seed ^ UINT64CONST(0xD15C105E));
	syn_q = pick_rows(&rng, syn->nrows, nq, &nsyn_q);
	mem_q = pick_rows(&rng, train->nrows, nq, &nmem_q);
	if (hold)
		hold_q = pick_rows(&rng, hold->nrows, nq, &nhold_q);
	report->privacy_queries = nsyn_q;
	report->dcr_reference_rows = train->nrows;
	syn_queries = gower_side(syn, ncols, exact, inv_range, syn_q, nsyn_q);

	/* singling out: predicates from synthetic rows that fit one training row */
	coarse_fit(&co, train, ncols, categorical);
	synth_rng_seed(&so_rng, report->settings.seed ^ UINT64CONST(0x5146C1E));
	report->fig[QF_SINGLING_OUT_RATE] = singling_out_share(&co, syn, syn_q, nsyn_q, &so_rng);

	if (hold == NULL || nhold_q == 0)
	{
		GowerRows  *train_ref = gower_side(train, ncols, exact, inv_range, NULL, train->nrows);
		double	   *d_syn = closest_distances(syn_queries, train_ref, 1);

		report->fig[QF_DCR_SYNTHETIC] = mean_of(d_syn, nsyn_q);
		note(report, "privacy: dcr_ratio, dcr_closer_to_training, the membership attack and the singling-out baseline need real rows the generator never saw: %s",
			 report->model_id ? "train with options => '{\"holdout\": 0.2}'" :
			 "pass them as holdout => 'table'");
		return;
	}

	{
		/*
		 * One reference for the synthetic queries: every training row
		 * (group 0), of which as many as there are holdout rows (group 1),
		 * and the holdout rows (group 2) -- at most as many as training rows.
		 */
		int64		nhold;
		int64	   *hold_ref = pick_rows(&rng, hold->nrows, train->nrows, &nhold);
		int64		neq;
		int64	   *eq = pick_rows(&rng, train->nrows, nhold, &neq);
		uint8	   *in_eq = palloc0(Max(train->nrows, 1));
		GowerBuild	b;
		GowerRows  *hold_queries = gower_side(hold, ncols, exact, inv_range, hold_q, nhold_q);
		GowerRows  *train_ref;
		GowerRows  *syn_ref;
		GowerRows  *mia_queries;
		double	   *d_syn;
		double	   *d_hold;
		double	   *d_mia;
		double		dcr_syn = 0.0;
		double		closer = 0.0;
		int64		nm = Min(nmem_q, nhold_q);
		double	   *score_all;
		bool	   *is_member;

		for (int64 i = 0; i < neq; i++)
			in_eq[eq[i]] = 1;
		b.rows = gower_rows(train->nrows + nhold, ncols, exact);
		b.capacity = train->nrows + nhold;
		b.inv_range = inv_range;
		for (int64 r = 0; r < train->nrows; r++)
			gower_append(&b, train, &r, 1, in_eq[r] ? 3 : 1);
		gower_append(&b, hold, hold_ref, nhold, 4);
		d_syn = closest_distances(syn_queries, b.rows, 3);
		for (int64 i = 0; i < nsyn_q; i++)
		{
			double		to_train = d_syn[i * 3 + 1];
			double		to_hold = d_syn[i * 3 + 2];

			dcr_syn += d_syn[i * 3];
			closer += to_train < to_hold ? 1.0 : (to_train == to_hold ? 0.5 : 0.0);
		}
		report->fig[QF_DCR_SYNTHETIC] = dcr_syn / nsyn_q;
		report->fig[QF_DCR_CLOSER] = closer / nsyn_q;

		/* holdout -> training: how close unseen real rows come anyway */
		train_ref = gower_side(train, ncols, exact, inv_range, NULL, train->nrows);
		d_hold = closest_distances(hold_queries, train_ref, 1);
		report->fig[QF_DCR_HOLDOUT] = mean_of(d_hold, nhold_q);
		if (report->fig[QF_DCR_HOLDOUT] > 0.0)
			report->fig[QF_DCR_RATIO] = report->fig[QF_DCR_SYNTHETIC] / report->fig[QF_DCR_HOLDOUT];
		else
			note(report, "privacy: holdout rows are copies of training rows, so dcr_ratio is not defined");

		/*
		 * Membership inference: the attacker calls a record a member when a
		 * synthetic row lies near it; members are training rows, the others
		 * holdout rows, as many of each.
		 */
		syn_ref = gower_side(syn, ncols, exact, inv_range, NULL, syn->nrows);
		b.rows = gower_rows(2 * nm, ncols, exact);
		b.capacity = 2 * nm;
		gower_append(&b, train, mem_q, nm, 1);
		gower_append(&b, hold, hold_q, nm, 1);
		mia_queries = b.rows;
		d_mia = closest_distances(mia_queries, syn_ref, 1);
		score_all = palloc(sizeof(double) * Max(2 * nm, 1));
		is_member = palloc(sizeof(bool) * Max(2 * nm, 1));
		for (int64 i = 0; i < 2 * nm; i++)
		{
			score_all[i] = -d_mia[i];
			is_member[i] = i < nm;
		}
		report->fig[QF_MIA_AUC] = synth_roc_auc(score_all, is_member, (int) (2 * nm));

		/*
		 * The advantage over guessing, TPR - FPR averaged over the attacker's
		 * thresholds: 2 AUC - 1.  The best single threshold would read more
		 * into sampling noise (about 0.1 with 300 rows a side).
		 */
		if (!isnan(report->fig[QF_MIA_AUC]))
			report->fig[QF_MIA_ADVANTAGE] = Max(0.0, 2.0 * report->fig[QF_MIA_AUC] - 1.0);

		/* singling out by holdout rows is the baseline chance */
		synth_rng_seed(&so_rng, report->settings.seed ^ UINT64CONST(0x5146C1E));
		report->fig[QF_SINGLING_OUT_BASELINE] = singling_out_share(&co, hold, hold_q, nhold_q,
																   &so_rng);
		if (report->fig[QF_SINGLING_OUT_BASELINE] < 1.0)
			report->fig[QF_SINGLING_OUT_RISK] =
				Max(0.0, (report->fig[QF_SINGLING_OUT_RATE] - report->fig[QF_SINGLING_OUT_BASELINE]) /
					(1.0 - report->fig[QF_SINGLING_OUT_BASELINE]));
	}
}

/* ---- the report ---- */

static void
json_number(StringInfo buf, double v)
{
	if (isfinite(v))
		appendStringInfo(buf, "%.6g", v);
	else
		appendStringInfoString(buf, "null");
}

static void
json_key(StringInfo buf, const char *key, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

static void
json_figures(StringInfo buf, Report *report, const char *pillar)
{
	bool		first = true;

	for (int f = 0; f < QF_COUNT; f++)
	{
		if (strcmp(figure_defs[f].pillar, pillar) != 0)
			continue;
		json_key(buf, figure_defs[f].name, first);
		json_number(buf, report->fig[f]);
		first = false;
	}
}

/* The report as jsonb text; sets *passed. */
static char *
report_json(Report *report, bool *passed_out)
{
	StringInfoData buf;
	bool		passed = true;
	bool		first;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"version\": 1");
	json_key(&buf, "model_id", false);
	if (report->model_id)
		appendStringInfo(&buf, INT64_FORMAT, report->model_id);
	else
		appendStringInfoString(&buf, "null");
	json_key(&buf, "real", false);
	escape_json(&buf, report->real_name);
	json_key(&buf, "synthetic", false);
	escape_json(&buf, report->synthetic_name);
	json_key(&buf, "holdout", false);
	escape_json(&buf, report->holdout_name);
	json_key(&buf, "created_at", false);
	escape_json(&buf, timestamptz_to_str(GetCurrentTimestamp()));
	appendStringInfo(&buf, ", \"seconds\": %.3f, \"phase_seconds\": {", report->seconds);
	for (int p = 0; p < lengthof(phase_names); p++)
		appendStringInfo(&buf, "%s\"%s\": %.3f", p > 0 ? ", " : "", phase_names[p],
						 report->phase_seconds[p]);
	appendStringInfoChar(&buf, '}');

	appendStringInfo(&buf, ", \"settings\": {\"sample_rows\": " INT64_FORMAT
					 ", \"privacy_rows\": %d, \"folds\": %d, \"seed\": " INT64_FORMAT
					 ", \"trees\": %d, \"depth\": %d, \"learning_rate\": %g}",
					 report->settings.sample_rows, report->settings.privacy_rows,
					 report->settings.folds, (int64) report->settings.seed,
					 report->settings.gbt.trees, report->settings.gbt.depth,
					 report->settings.gbt.learning_rate);
	appendStringInfo(&buf, ", \"rows\": {\"training\": " INT64_FORMAT
					 ", \"training_sampled\": " INT64_FORMAT ", \"holdout\": " INT64_FORMAT
					 ", \"holdout_sampled\": " INT64_FORMAT ", \"synthetic\": " INT64_FORMAT
					 ", \"synthetic_sampled\": " INT64_FORMAT "}",
					 report->train.rows_read, report->train.rows ? report->train.rows->nrows : 0,
					 report->have_holdout ? report->holdout.rows_read : 0,
					 report->have_holdout && report->holdout.rows ? report->holdout.rows->nrows : 0,
					 report->syn.rows_read, report->syn.rows ? report->syn.rows->nrows : 0);
	appendStringInfoString(&buf, ", \"columns\": [");
	for (int c = 0; c < report->ncmp; c++)
	{
		if (c > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, report->qcols[c].name);
	}
	appendStringInfoChar(&buf, ']');

	/* fidelity, with the columns that give synthetic rows away */
	appendStringInfoString(&buf, ", \"fidelity\": {");
	json_figures(&buf, report, "fidelity");
	appendStringInfoString(&buf, ", \"detection_columns\": [");
	{
		bool	   *used = palloc0(sizeof(bool) * Max(report->ncmp, 1));

		first = true;
		for (int k = 0; k < Min(report->ncmp, 5); k++)
		{
			int			best = -1;

			for (int c = 0; c < report->ncmp; c++)
				if (!used[c] && report->importance[c] > 0.0 &&
					(best < 0 || report->importance[c] > report->importance[best]))
					best = c;
			if (best < 0)
				break;
			used[best] = true;
			if (!first)
				appendStringInfoString(&buf, ", ");
			appendStringInfoString(&buf, "{\"column\": ");
			escape_json(&buf, report->qcols[best].name);
			appendStringInfo(&buf, ", \"share\": %.3f}", report->importance[best]);
			first = false;
		}
	}
	appendStringInfoString(&buf, "]}");

	appendStringInfoString(&buf, ", \"utility\": {");
	json_key(&buf, "target", true);
	if (report->target)
		escape_json(&buf, report->target);
	else
		appendStringInfoString(&buf, "null");
	if (report->task)
	{
		json_key(&buf, "task", false);
		escape_json(&buf, report->task);
		json_key(&buf, "metric", false);
		escape_json(&buf, report->utility_metric);
	}
	appendStringInfoString(&buf, ", ");
	json_figures(&buf, report, "utility");
	if (report->task)
	{
		if (report->classes > 0)
		{
			appendStringInfo(&buf, ", \"classes\": %d, \"accuracy\": {\"tstr\": ", report->classes);
			json_number(&buf, report->accuracy[0]);
			appendStringInfoString(&buf, ", \"trtr\": ");
			json_number(&buf, report->accuracy[1]);
			appendStringInfoString(&buf, "}, \"macro_f1\": {\"tstr\": ");
			json_number(&buf, report->macro_f1[0]);
			appendStringInfoString(&buf, ", \"trtr\": ");
			json_number(&buf, report->macro_f1[1]);
			appendStringInfoChar(&buf, '}');
		}
		appendStringInfo(&buf, ", \"fit_rows\": " INT64_FORMAT ", \"test_rows\": " INT64_FORMAT,
						 report->fit_rows, report->test_rows);
	}
	appendStringInfoChar(&buf, '}');

	appendStringInfoString(&buf, ", \"privacy\": {");
	json_figures(&buf, report, "privacy");
	appendStringInfo(&buf, ", \"query_rows\": " INT64_FORMAT ", \"reference_rows\": " INT64_FORMAT "}",
					 report->privacy_queries, report->dcr_reference_rows);

	/* one line per figure: the readable form */
	appendStringInfoString(&buf, ", \"checks\": [");
	for (int f = 0; f < QF_COUNT; f++)
	{
		double		v = report->fig[f];
		bool		thresholded = has_threshold(&report->thresholds, f);

		if (f > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"pillar\": \"%s\", \"metric\": \"%s\", \"value\": ",
						 figure_defs[f].pillar, figure_defs[f].name);
		json_number(&buf, v);
		appendStringInfoString(&buf, ", \"threshold\": ");
		if (thresholded)
		{
			StringInfoData th;

			initStringInfo(&th);
			append_threshold(&th, &report->thresholds, f);
			escape_json(&buf, th.data);
		}
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"passed\": ");
		if (thresholded && isfinite(v))
		{
			bool		ok = meets(&report->thresholds, f, v);

			appendStringInfoString(&buf, ok ? "true" : "false");
			passed &= ok;
		}
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfo(&buf, "], \"passed\": %s, \"notes\": [", passed ? "true" : "false");
	first = true;
	{
		ListCell   *lc;

		foreach(lc, report->notes)
		{
			if (!first)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, (char *) lfirst(lc));
			first = false;
		}
	}
	appendStringInfoString(&buf, "]}");
	*passed_out = passed;
	return buf.data;
}

/* Ensure the target names a compared column; returns its index there. */
static int
resolve_target(Report *report, Relation rel)
{
	for (int c = 0; c < report->ncmp; c++)
		if (strcmp(report->qcols[c].name, report->target) == 0)
			return c;
	if (get_attnum(RelationGetRelid(rel), report->target) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in table \"%s\"",
						report->target, RelationGetRelationName(rel)),
				 errhint("Name the column the synthetic rows should let a model predict.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("column \"%s\" cannot be a target", report->target),
			 errdetail("Keys, free text and columns of types the report does not compare are not targets."),
			 errhint("Choose a number, date, bool, text or enum column that the model generates.")));
	return -1;					/* keep compiler quiet */
}

/* The listed columns of a reader's sample, as a sample of their own. */
static SynthSample *
sample_columns(SynthSample *sample, const int *cmp, int ncmp)
{
	SynthSample *sub = palloc0(sizeof(SynthSample));

	sub->ncols = ncmp;
	sub->capacity = Max(sample->nrows, 1);
	sub->nrows = sample->nrows;
	sub->nrows_total = sample->nrows_total;
	sub->values = MemoryContextAllocHuge(CurrentMemoryContext,
										 sizeof(double) * sub->capacity * Max(ncmp, 1));
	for (int j = 0; j < ncmp; j++)
		memcpy(sub->values + (int64) j * sub->capacity,
			   sample->values + (int64) cmp[j] * sample->capacity,
			   sizeof(double) * sample->nrows);
	return sub;
}

/* Compute every figure once the three sides are read and coded. */
static void
compute_figures(Report *report)
{
	SynthRng	rng;

	for (int f = 0; f < QF_COUNT; f++)
		report->fig[f] = NAN;
	report->importance = palloc0(sizeof(double) * Max(report->ncmp, 1));

	/* synth_evaluate's scores, on the samples read already */
	{
		SynthColumn *realcols = palloc(sizeof(SynthColumn) * Max(report->ncmp, 1));
		SynthColumn *syncols = palloc(sizeof(SynthColumn) * Max(report->ncmp, 1));

		for (int j = 0; j < report->ncmp; j++)
		{
			realcols[j] = report->train.cols[report->cmp[j]];
			syncols[j] = report->syn.cols[report->cmp[j]];
		}
		synth_evaluate_samples(realcols, syncols, report->ncmp,
							   sample_columns(report->train.sample, report->cmp, report->ncmp),
							   sample_columns(report->syn.sample, report->cmp, report->ncmp),
							   &report->fig[QF_COLUMN_SHAPES], &report->fig[QF_COLUMN_PAIR_TRENDS],
							   &report->fig[QF_QUALITY_SCORE]);
	}
	phase_done(report, PHASE_SHAPES);
	report->fig[QF_DETECTION_AUC] =
		synth_quality_detection(report->qcols, report->ncmp, report->train.rows,
								report->syn.rows, &report->settings, report->importance);
	phase_done(report, PHASE_DETECTION);

	if (report->target)
	{
		if (report->have_holdout)
			compute_utility(report, report->train.rows, report->holdout.rows);
		else
		{
			/* no unseen rows: test on a share of the real ones */
			int64		n = report->train.rows->nrows;
			int64		ntest = (int64) (n * QUALITY_TEST_SHARE);
			int64	   *idx;

			synth_rng_seed(&rng, report->settings.seed ^ UINT64CONST(0x5B117));
			idx = shuffled_rows(&rng, n);
			note(report, "utility: without holdout rows, tstr and trtr are scored on %d%% of the real rows, which the generator may have seen",
				 (int) (QUALITY_TEST_SHARE * 100));
			compute_utility(report, rows_subset(report->train.rows, report->ncmp, idx + ntest, n - ntest),
							rows_subset(report->train.rows, report->ncmp, idx, ntest));
		}
	}

	phase_done(report, PHASE_UTILITY);
	compute_privacy(report);
	phase_done(report, PHASE_PRIVACY);

	/* copies beyond the holdout's own rate are what a model adds */
	if (isnan(report->thresholds.max[QF_EXACT_COPY_RATE]) &&
		isnan(figure_defs[QF_EXACT_COPY_RATE].default_max))
		report->thresholds.max[QF_EXACT_COPY_RATE] =
			(isnan(report->fig[QF_HOLDOUT_COPY_RATE]) ? 0.0 : report->fig[QF_HOLDOUT_COPY_RATE]) +
			QUALITY_COPY_MARGIN;
}

/* Code the sampled rows of every side for the metrics. */
static void
code_sides(Report *report)
{
	SynthRng	rng;
	int64		cap = report->settings.sample_rows;

	synth_rng_seed(&rng, report->settings.seed);
	report->train.rows = synth_quality_rows(report->train.sample, report->train.cols,
											report->train.cols, report->cmp, report->ncmp,
											0, cap, &rng);
	if (report->have_holdout)
		report->holdout.rows = synth_quality_rows(report->holdout.sample, report->holdout.cols,
												  report->train.cols, report->cmp,
												  report->ncmp, 1, cap, &rng);
	report->syn.rows = synth_quality_rows(report->syn.sample, report->syn.cols,
										  report->train.cols, report->cmp, report->ncmp,
										  2, cap, &rng);
	if (report->have_holdout && report->holdout.rows->nrows < SYNTH_QUALITY_MIN_TEST_ROWS)
	{
		note(report, "holdout: only " INT64_FORMAT " held-out rows, fewer than %d: treated as none",
			 report->holdout.rows->nrows, SYNTH_QUALITY_MIN_TEST_ROWS);
		report->have_holdout = false;
	}
}

/* Read the three sides; the real table first, its training rows hashed for copies. */
static void
read_sides(Report *report)
{
	SynthHashSet copies;

	synth_hashset_init(&copies, CurrentMemoryContext);
	read_side(report, &report->train, report->split, false, &copies, false, report->settings.seed);
	if (report->have_holdout)
		read_side(report, &report->holdout, report->split, true, &copies, true,
				  report->settings.seed + 1);
	read_side(report, &report->syn, NULL, false, &copies, true, report->settings.seed + 2);
	phase_done(report, PHASE_READ);
	if (copies.full)
		note(report, "privacy: exact copies are counted against the first " INT64_FORMAT " distinct training rows",
			 copies.count);
}

/* Finish: figures, json, timing. */
static Jsonb *
finish_report(Report *report, instr_time start, bool *passed)
{
	instr_time	elapsed;
	char	   *json;

	compute_figures(report);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	report->seconds = INSTR_TIME_GET_DOUBLE(elapsed);
	json = report_json(report, passed);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

static void
report_init(Report *report, FunctionCallInfo fcinfo, int targetarg, int optionsarg,
			bool *store)
{
	memset(report, 0, sizeof(Report));
	synth_quality_default_settings(&report->settings);
	gates_defaults(&report->thresholds);
	report->target_index = -1;
	report->target = PG_ARGISNULL(targetarg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(targetarg));
	parse_report_options(PG_ARGISNULL(optionsarg) ? NULL : PG_GETARG_JSONB_P(optionsarg),
						 &report->settings, &report->thresholds, store);
}

/* Ensure the caller may read a table the report reads. */
static void
CheckCanRead(Oid relid, const char *what)
{
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(relid)),
				 errhint("synth_report reads the %s: ask the table's owner for SELECT on it.", what)));
}

/* Ensure the relation holds rows that can be read. */
static void
CheckRelationKind(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("synth_report compares tables, views, materialized views and foreign tables.")));
}

/* ---- synth_report(model_id, target, options) ---- */

/* The model's holdout rule from its spec, or NULL when it was trained without. */
static SynthHoldout *
load_model_holdout(int64 model_id, SynthColumn *cols, int ncols)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(model_id)};
	SynthHoldout *holdout = NULL;
	MemoryContext callercxt = CurrentMemoryContext;
	double		fraction = 0.0;
	int64		seed = 0;
	char	   *rule = NULL;
	List	   *names = NIL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT (spec->'holdout'->>'fraction')::float8, "
							  "(spec->'holdout'->>'seed')::int8, spec->'holdout'->>'rule', "
							  "ARRAY(SELECT jsonb_array_elements_text(spec->'holdout'->'columns')) "
							  "FROM synth.models WHERE id = $1 AND spec ? 'holdout'",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.models");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);
		Datum	   *elems;
		int			nelems;

		fraction = DatumGetFloat8(SPI_getbinval(tup, desc, 1, &isnull));
		seed = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		rule = SPI_getvalue(tup, desc, 3);
		deconstruct_array(DatumGetArrayTypePCopy(SPI_getbinval(tup, desc, 4, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
		for (int i = 0; i < nelems; i++)
			names = lappend(names, TextDatumGetCString(elems[i]));
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	if (rule == NULL)
		return NULL;
	if (strcmp(rule, SYNTH_HOLDOUT_RULE) != 0 || list_length(names) != ncols)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("synth model " INT64_FORMAT " records a holdout this version cannot recompute",
						model_id),
				 errdetail("Its rule is \"%s\" over %d columns; this version knows \"%s\" over the %d modelled columns.",
						   rule, list_length(names), SYNTH_HOLDOUT_RULE, ncols),
				 errhint("Train the model again with this version.")));
	for (int c = 0; c < ncols; c++)
		if (strcmp((char *) list_nth(names, c), cols[c].name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("synth model " INT64_FORMAT " records a holdout over other columns than it models",
							model_id),
					 errhint("Train the model again.")));
	holdout = palloc(sizeof(SynthHoldout));
	synth_holdout_init(holdout, fraction, (uint64) seed, cols, ncols);
	return holdout;
}

/*
 * Generate the synthetic rows into a temporary table through
 * synth_generate itself (the same checks, the same rows a user gets).
 */
static Oid
generate_synthetic(Report *report, Oid funcid, Relation rel, int64 nrows)
{
	static int	counter = 0;
	char	   *name = psprintf("synth_report_%d_%d", MyProcPid, ++counter);
	char	   *query;
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};
	Datum		args[3];
	Oid			relid;

	query = psprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT * FROM %s.synth_generate($1, NULL::%s, $2, $3)",
					 quote_identifier(name),
					 quote_identifier(get_namespace_name(get_func_namespace(funcid))),
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	args[0] = Int64GetDatum(report->model_id);
	args[1] = Int64GetDatum(nrows);
	args[2] = Int64GetDatum((int64) report->settings.seed);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	generating_for_report = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(query, 3, argtypes, args, NULL, false, 0) < 0)
			elog(ERROR, "synth: could not generate the report's synthetic rows");
	}
	PG_FINALLY();
	{
		generating_for_report = false;
	}
	PG_END_TRY();
	SPI_finish();
	CommandCounterIncrement();
	relid = RelnameGetRelid(name);
	if (!OidIsValid(relid))
		elog(ERROR, "synth: the report's synthetic table is missing");
	return relid;
}

static void
drop_synthetic(Oid relid)
{
	char	   *query = psprintf("DROP TABLE pg_temp.%s", quote_identifier(get_rel_name(relid)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute(query, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "synth: could not drop the report's synthetic table");
	SPI_finish();
}

/* Store the report in synth.models.metrics, as the catalog's owner. */
static void
store_report(int64 model_id, Jsonb *report)
{
	Oid			argtypes[2] = {INT8OID, JSONBOID};
	Datum		args[2] = {Int64GetDatum(model_id), JsonbPGetDatum(report)};
	SynthOwnerAccess access;

	synth_owner_access_begin(&access);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		if (SPI_execute_with_args("UPDATE synth.models SET metrics = metrics || "
								  "jsonb_build_object('quality', $2::jsonb) WHERE id = $1",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "synth: could not store the quality report");
		SPI_finish();
	}
	PG_FINALLY();
	{
		synth_owner_access_end(&access);
	}
	PG_END_TRY();
}

/*
 * synth_report(model_id bigint, target text, options jsonb) RETURNS jsonb
 *
 * Real rows: the model's source table, split by its holdout rule; synthetic
 * rows: as many as the model's training rows (at most sample_rows),
 * generated with the report's seed.
 */
Datum
synth_report_model(PG_FUNCTION_ARGS)
{
	Report		report;
	bool		store = true;
	bool		passed;
	int64		model_id;
	SynthModel *model;
	Oid			relid;
	Relation	rel;
	SynthColumn *cols;
	int			ncols = 0;
	instr_time	start;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model id must not be NULL"),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	INSTR_TIME_SET_CURRENT(start);
	model_id = PG_GETARG_INT64(0);
	report_init(&report, fcinfo, 1, 2, &store);
	report.model_id = model_id;

	model = synth_catalog_load(model_id, &relid);
	if (!OidIsValid(relid) || get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("synth model " INT64_FORMAT " has no source table to report on", model_id),
				 errdetail("Its table is gone, or it is a model of a schema's model set, trained over a view of its table."),
				 errhint("Compare a synthetic table with its real one: synth_report('shop.orders', 'shop_synth.orders').")));
	CheckCanRead(relid, "model's source table");
	rel = relation_open(relid, AccessShareLock);

	/* the reader's columns: every modelled column, as training read them */
	cols = palloc0(sizeof(SynthColumn) * Max(model->natts, 1));
	report.cmp = palloc(sizeof(int) * Max(model->natts, 1));
	report.qcols = palloc(sizeof(SynthQualityColumn) * Max(model->natts, 1));
	for (int e = 0; e < model->natts; e++)
	{
		SynthEncoder *enc = &model->encoders[e];
		SynthColumn *col = &cols[ncols];
		bool		supported;

		if (!enc->modelled)
			continue;
		col->name = enc->name;
		col->attnum = get_attnum(relid, enc->name);
		col->typid = enc->typid;
		col->typmod = enc->typmod;
		col->basetypmod = enc->typmod;
		col->basetypid = getBaseTypeAndTypmod(enc->typid, &col->basetypmod);
		col->vtype = synth_value_type(col->basetypid, &supported);
		col->notnull = enc->notnull;
		if (enc->kind == SYNTH_KIND_CONTINUOUS || enc->kind == SYNTH_KIND_CATEGORICAL)
		{
			col->kind = enc->kind;
			report.qcols[report.ncmp].name = enc->name;
			report.qcols[report.ncmp].categorical = enc->kind == SYNTH_KIND_CATEGORICAL;
			report.cmp[report.ncmp++] = ncols;
		}
		else
			col->kind = SYNTH_KIND_KEY;	/* read for the holdout rule only */
		ncols++;
	}
	if (report.ncmp == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("synth model " INT64_FORMAT " models no column the report can compare", model_id),
				 errdetail("Keys and free text are generated afresh, never learnt.")));
	report.hcmp = report.cmp;
	report.nhcmp = report.ncmp;
	if (report.target)
		report.target_index = resolve_target(&report, rel);

	report.split = load_model_holdout(model_id, cols, ncols);
	report.have_holdout = report.split != NULL;
	report.real_name = psprintf("%s.%s", get_namespace_name(RelationGetNamespace(rel)),
								RelationGetRelationName(rel));
	report.holdout_name = report.split ?
		psprintf("%g of the rows of %s, by the model's holdout rule (%s, seed " INT64_FORMAT ")",
				 report.split->fraction, report.real_name, SYNTH_HOLDOUT_RULE,
				 (int64) report.split->seed) :
		pstrdup("none: the model was trained without a holdout");

	/* synthetic rows: as many as the model learnt from, at most sample_rows */
	phase_done(&report, PHASE_GENERATE);
	report.syn.relid = generate_synthetic(&report, fcinfo->flinfo->fn_oid, rel,
										  Min(model->n_rows, report.settings.sample_rows));
	/* the readers run read-only: let them see the rows just generated */
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	phase_done(&report, PHASE_GENERATE);
	report.synthetic_name = psprintf(INT64_FORMAT " rows generated by model " INT64_FORMAT
									 " with seed " INT64_FORMAT,
									 Min(model->n_rows, report.settings.sample_rows), model_id,
									 (int64) report.settings.seed);

	report.train.relid = relid;
	report.train.cols = copy_columns(cols, ncols);
	report.train.ncols = ncols;
	report.holdout.relid = relid;
	report.holdout.cols = copy_columns(cols, ncols);
	report.holdout.ncols = ncols;
	report.syn.cols = copy_columns(cols, ncols);
	report.syn.ncols = ncols;

	read_sides(&report);
	if (report.train.rows_read == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no training rows", RelationGetRelationName(rel)),
				 errhint("The report compares synthetic rows with the rows the model learnt from.")));
	if (report.train.rows_read != model->n_rows)
		note(&report, "the table has " INT64_FORMAT " training rows where the model learnt from " INT64_FORMAT
			 ": it changed since training",
			 report.train.rows_read, model->n_rows);
	code_sides(&report);
	result = finish_report(&report, start, &passed);
	PopActiveSnapshot();
	drop_synthetic(report.syn.relid);
	relation_close(rel, NoLock);

	if (store)
		store_report(model_id, result);
	PG_RETURN_JSONB_P(result);
}

/* ---- synth_report(real, synthetic, target, holdout, options) ---- */

/* The holdout table's columns, parallel to the real ones. */
static SynthColumn *
holdout_columns(Relation realrel, Relation holdrel, SynthColumn *realcols, int ncols)
{
	SynthColumn *r2;
	SynthColumn *h2;
	int			n2 = synth_match_columns(realrel, holdrel, &r2, &h2, "synth_report");
	SynthColumn *cols = palloc0(sizeof(SynthColumn) * Max(ncols, 1));

	for (int c = 0; c < ncols; c++)
	{
		int			j;

		for (j = 0; j < n2; j++)
			if (strcmp(r2[j].name, realcols[c].name) == 0)
				break;
		if (j == n2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("holdout table \"%s\" has no column \"%s\" comparable with the real table's",
							RelationGetRelationName(holdrel), realcols[c].name),
					 errhint("The holdout table holds real rows of the same columns, e.g. CREATE TABLE h (LIKE real).")));
		cols[c] = h2[j];
	}
	return cols;
}

/* A table named by text, as regclass reads it. */
static Oid
relation_by_name(text *name)
{
	return DatumGetObjectId(DirectFunctionCall1(regclassin,
												CStringGetDatum(text_to_cstring(name))));
}

/*
 * synth_report(real text, synthetic text, target text, holdout text,
 *				options jsonb) RETURNS jsonb
 */
Datum
synth_report_tables(PG_FUNCTION_ARGS)
{
	Report		report;
	bool		store = false;
	bool		passed;
	Relation	realrel;
	Relation	synrel;
	Relation	holdrel = NULL;
	Oid			realid;
	Oid			synid;
	SynthColumn *realcols;
	SynthColumn *syncols;
	int			ncols;
	instr_time	start;
	Jsonb	   *result;
	int			ncmp = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("real and synthetic tables must not be NULL"),
				 errhint("Call synth_report('real_table', 'synthetic_table'), or synth_report(model_id).")));
	INSTR_TIME_SET_CURRENT(start);
	report_init(&report, fcinfo, 2, 4, &store);
	if (store)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a report on two tables is not stored"),
				 errhint("Reports are stored with a model: call synth_report(model_id).")));

	realid = relation_by_name(PG_GETARG_TEXT_PP(0));
	synid = relation_by_name(PG_GETARG_TEXT_PP(1));
	CheckCanRead(realid, "real table");
	CheckCanRead(synid, "synthetic table");
	realrel = relation_open(realid, AccessShareLock);
	synrel = relation_open(synid, AccessShareLock);
	CheckRelationKind(realrel);
	CheckRelationKind(synrel);
	ncols = synth_match_columns(realrel, synrel, &realcols, &syncols, "synth_report");
	if (!PG_ARGISNULL(3))
	{
		Oid			holdid = relation_by_name(PG_GETARG_TEXT_PP(3));

		CheckCanRead(holdid, "holdout table");
		holdrel = relation_open(holdid, AccessShareLock);
		CheckRelationKind(holdrel);
		report.holdout.cols = holdout_columns(realrel, holdrel, realcols, ncols);
		report.holdout.relid = RelationGetRelid(holdrel);
		report.holdout.ncols = ncols;
		report.have_holdout = true;
	}

	report.real_name = psprintf("%s.%s", get_namespace_name(RelationGetNamespace(realrel)),
								RelationGetRelationName(realrel));
	report.synthetic_name = psprintf("%s.%s", get_namespace_name(RelationGetNamespace(synrel)),
									 RelationGetRelationName(synrel));
	report.holdout_name = holdrel ?
		psprintf("%s.%s", get_namespace_name(RelationGetNamespace(holdrel)),
				 RelationGetRelationName(holdrel)) :
		pstrdup("none");

	report.train.relid = RelationGetRelid(realrel);
	report.train.cols = realcols;
	report.train.ncols = ncols;
	report.syn.relid = RelationGetRelid(synrel);
	report.syn.cols = syncols;
	report.syn.ncols = ncols;

	/* copies are judged on every matched column, as synth_evaluate does */
	phase_done(&report, PHASE_READ);
	report.hcmp = palloc(sizeof(int) * ncols);
	report.nhcmp = ncols;
	for (int c = 0; c < ncols; c++)
		report.hcmp[c] = c;
	read_sides(&report);
	if (report.train.rows_read == 0 || report.syn.rows_read == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" is empty",
						RelationGetRelationName(report.train.rows_read == 0 ? realrel : synrel)),
				 errhint("synth_report compares two tables that both have rows.")));

	/* the metrics leave out near-unique text, which tells rows apart by itself */
	report.cmp = palloc(sizeof(int) * ncols);
	report.qcols = palloc(sizeof(SynthQualityColumn) * ncols);
	for (int c = 0; c < ncols; c++)
	{
		if (realcols[c].kind == SYNTH_KIND_CATEGORICAL && synth_quality_near_unique(&realcols[c]))
		{
			note(&report, "column \"%s\" is near-unique text: only exact copies compare it", realcols[c].name);
			continue;
		}
		report.qcols[ncmp].name = realcols[c].name;
		report.qcols[ncmp].categorical = realcols[c].kind == SYNTH_KIND_CATEGORICAL;
		report.cmp[ncmp++] = c;
	}
	report.ncmp = ncmp;
	if (report.target)
		report.target_index = resolve_target(&report, realrel);

	code_sides(&report);
	result = finish_report(&report, start, &passed);

	if (holdrel)
		relation_close(holdrel, NoLock);
	relation_close(synrel, NoLock);
	relation_close(realrel, NoLock);
	PG_RETURN_JSONB_P(result);
}

/* ---- gates ---- */

/*
 * The figures of a report's checks, read by a query whose rows are
 * (metric, value); false when it returns no row.
 */
static bool
read_figures(const char *query, Oid argtype, Datum arg, double *value)
{
	bool		found;

	for (int f = 0; f < QF_COUNT; f++)
		value[f] = NAN;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args(query, 1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read a quality report");
	found = SPI_processed > 0;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *metric = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		v = SPI_getbinval(tup, desc, 2, &isnull);

		if (metric == NULL || isnull)
			continue;
		for (int f = 0; f < QF_COUNT; f++)
			if (strcmp(figure_defs[f].name, metric) == 0)
				value[f] = DatumGetFloat8(v);
	}
	SPI_finish();
	return found;
}

/*
 * Refuse unless the figures meet every gate: subject names what is refused
 * ("synth model 3"), report what holds the figures ("the stored report"),
 * hint what to do.
 */
static void
gates_verdict(const char *subject, const char *report, const double *value, const Gates *gates,
			  const char *hint)
{
	StringInfoData failures;
	char	   *first = NULL;
	int			nfail = 0;

	initStringInfo(&failures);
	for (int f = 0; f < QF_COUNT; f++)
	{
		for (int bound = 0; bound < 2; bound++)
		{
			double		limit = bound ? gates->max[f] : gates->min[f];
			char	   *what;

			if (isnan(limit))
				continue;
			if (isnan(value[f]))
				what = psprintf("gate %s_%s: %s has no %s",
								figure_defs[f].name, bound ? "max" : "min", report, figure_defs[f].name);
			else if (bound ? value[f] > limit : value[f] < limit)
				what = psprintf("gate %s_%s: %s is %.4g, %s %g",
								figure_defs[f].name, bound ? "max" : "min", figure_defs[f].name,
								value[f], bound ? "above" : "below", limit);
			else
				continue;
			if (first == NULL)
				first = what;
			else
			{
				appendStringInfoString(&failures, failures.len ? "; " : "");
				appendStringInfoString(&failures, what);
			}
			nfail++;
		}
	}
	if (first != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s fails quality %s", subject, first),
				 nfail > 1 ? errdetail("It also fails %s.", failures.data) : 0,
				 errhint("%s", hint)));
}

/* Refuse the model unless its stored report meets every gate. */
static void
check_gates(int64 model_id, const Gates *gates, const char *source)
{
	double		value[QF_COUNT];
	bool		have_report = false;
	bool		isnull;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(model_id)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT metrics ? 'quality' FROM synth.models WHERE id = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.models");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("synth model " INT64_FORMAT " does not exist", model_id),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	have_report = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											 &isnull));
	SPI_finish();
	if (!have_report)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("synth model " INT64_FORMAT " has no quality report to check %s against",
						model_id, source),
				 errhint("Run SELECT synth_report(" INT64_FORMAT "); name a target column too for the tstr gates.",
						 model_id)));
	read_figures("SELECT c->>'metric', (c->>'value')::float8 FROM synth.models m, "
				 "jsonb_array_elements(m.metrics->'quality'->'checks') c WHERE m.id = $1",
				 INT8OID, Int64GetDatum(model_id), value);
	gates_verdict(psprintf("synth model " INT64_FORMAT, model_id), "the stored report", value, gates,
				  psprintf("The figures are those of the model's last synth_report; improve the model, or relax %s.",
						   source));
}

/*
 * synth_check_gates(report jsonb, gates jsonb) RETURNS void: the gates
 * against a report just made, e.g. synth_report of a materialized table
 * against its real one.
 */
Datum
synth_check_report_gates(PG_FUNCTION_ARGS)
{
	Gates		gates;
	Jsonb	   *report;
	double		value[QF_COUNT];
	char	   *subject;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("report must not be NULL"),
				 errhint("Pass what synth_report returned.")));
	report = PG_GETARG_JSONB_P(0);
	gates_clear(&gates);
	if (!PG_ARGISNULL(1))
		parse_gates(&PG_GETARG_JSONB_P(1)->root, &gates);
	else if (synth_gates != NULL && synth_gates[0] != '\0')
		parse_gates(&DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(synth_gates)))->root,
					&gates);
	if (!read_figures("SELECT c->>'metric', (c->>'value')::float8 "
					  "FROM jsonb_array_elements(CASE jsonb_typeof($1->'checks') "
					  "WHEN 'array' THEN $1->'checks' ELSE '[]' END) c",
					  JSONBOID, JsonbPGetDatum(report), value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jsonb is not a quality report"),
				 errhint("Pass what synth_report returned, or synth.models.metrics->'quality'.")));
	{
		JsonbValue *name = JB_ROOT_IS_OBJECT(report) ?
			getKeyJsonValueFromContainer(&report->root, "synthetic", strlen("synthetic"), NULL) :
			NULL;

		subject = name && name->type == jbvString ?
			psprintf("the report on %s", pnstrdup(name->val.string.val, name->val.string.len)) :
			"the report";
	}
	gates_verdict(subject, "the report", value, &gates,
				  psprintf("Improve the synthetic rows, or relax %s.",
						   PG_ARGISNULL(1) ? "synth.gates" : "the gates"));
	PG_RETURN_VOID();
}

/* synth_check_gates(model_id bigint, gates jsonb) RETURNS void */
Datum
synth_check_gates(PG_FUNCTION_ARGS)
{
	Gates		gates;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model id must not be NULL"),
				 errhint("SELECT id, source_table FROM synth.models lists the models.")));
	gates_clear(&gates);
	if (!PG_ARGISNULL(1))
		parse_gates(&PG_GETARG_JSONB_P(1)->root, &gates);
	else if (synth_gates != NULL && synth_gates[0] != '\0')
	{
		Jsonb	   *j = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(synth_gates)));

		parse_gates(&j->root, &gates);
	}
	check_gates(PG_GETARG_INT64(0), &gates, PG_ARGISNULL(1) ? "synth.gates" : "the gates");
	PG_RETURN_VOID();
}

/* synth_generate's check: the gates of synth.gates, when set. */
void
synth_gates_enforce(int64 model_id)
{
	Gates		gates;
	Jsonb	   *j;

	if (generating_for_report || synth_gates == NULL || synth_gates[0] == '\0')
		return;
	gates_clear(&gates);
	j = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(synth_gates)));
	parse_gates(&j->root, &gates);
	check_gates(model_id, &gates, "synth.gates");
}

/* Ensure gates (a jsonb object) name figures of the report, with numbers. */
void
synth_gates_validate(Jsonb *gates)
{
	Gates		parsed;

	gates_clear(&parsed);
	parse_gates(&gates->root, &parsed);
}

/* Do the gates (valid ones) set no threshold at all? */
bool
synth_gates_empty(Jsonb *gates)
{
	Gates		parsed;

	gates_clear(&parsed);
	parse_gates(&gates->root, &parsed);
	for (int f = 0; f < QF_COUNT; f++)
		if (has_threshold(&parsed, f))
			return false;
	return true;
}

/*
 * Refuse unless the figures of a report just made meet the gates: subject
 * names what is refused, hint what to do (synth_materialize's check of each
 * table it fills).
 */
void
synth_gates_check_report(Jsonb *report, Jsonb *gates, const char *subject, const char *hint)
{
	Gates		parsed;
	double		value[QF_COUNT];

	gates_clear(&parsed);
	parse_gates(&gates->root, &parsed);
	read_figures("SELECT c->>'metric', (c->>'value')::float8 "
				 "FROM jsonb_array_elements(CASE jsonb_typeof($1->'checks') "
				 "WHEN 'array' THEN $1->'checks' ELSE '[]' END) c",
				 JSONBOID, JsonbPGetDatum(report), value);
	gates_verdict(subject, "the report", value, &parsed, hint);
}

/* ---- synth.gates ---- */

/* What the check hook's JSON walk found. */
typedef struct GatesParse
{
	int			depth;
	bool		bad;
	char	   *problem;
} GatesParse;

static void
gp_object_start(void *state)
{
	GatesParse *gp = state;

	if (gp->depth >= 1 && !gp->bad)
	{
		gp->problem = "a gate's value must be a number";
		gp->bad = true;
	}
	gp->depth++;
}

static void
gp_object_end(void *state)
{
	((GatesParse *) state)->depth--;
}

static void
gp_array_start(void *state)
{
	GatesParse *gp = state;

	if (!gp->bad)
		gp->problem = "a gate's value must be a number";
	gp->bad = true;
}

static void
gp_field(void *state, char *fname, bool isnull)
{
	GatesParse *gp = state;
	int			figure;
	bool		is_max;

	if (gp->depth == 1 && !parse_gate_key(fname, &figure, &is_max) && !gp->bad)
	{
		gp->problem = psprintf("unknown gate \"%s\"", fname);
		gp->bad = true;
	}
}

static void
gp_scalar(void *state, char *token, JsonTokenType tokentype)
{
	GatesParse *gp = state;

	if (gp->depth == 0 && !gp->bad)
	{
		gp->problem = "gates must be a JSON object";
		gp->bad = true;
	}
	else if (tokentype != JSON_TOKEN_NUMBER && tokentype != JSON_TOKEN_NULL && !gp->bad)
	{
		gp->problem = "a gate's value must be a number";
		gp->bad = true;
	}
}

/* Ensure synth.gates is empty or a JSON object of known gates with numbers. */
static bool
check_synth_gates(char **newval, void **extra, GucSource source)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	GatesParse	gp;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	memset(&gp, 0, sizeof(gp));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &gp;
	sem.object_start = gp_object_start;
	sem.object_end = gp_object_end;
	sem.array_start = gp_array_start;
	sem.object_field_start = gp_field;
	sem.scalar = gp_scalar;
	lex = makeJsonLexContextCstringLen(*newval, strlen(*newval), GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS)
	{
		GUC_check_errmsg("synth.gates is not valid JSON");
		GUC_check_errhint("Set it to e.g. '{\"detection_auc_max\": 0.75, \"tstr_ratio_min\": 0.9}', or '' for none.");
		return false;
	}
	if (gp.bad)
	{
		GUC_check_errmsg("synth.gates: %s", gp.problem);
		GUC_check_errhint("Gates are figures of synth_report with _min or _max, e.g. '{\"detection_auc_max\": 0.75}'.");
		return false;
	}
	return true;
}

void
SynthQualityInit(void)
{
	DefineCustomStringVariable("synth.gates",
							   "Quality gates synth_generate requires of a model's stored report.",
							   "A JSON object of figures of synth_report with _min or _max, e.g. "
							   "{\"detection_auc_max\": 0.75}; empty: no gates.",
							   &synth_gates,
							   "",
							   PGC_USERSET, 0,
							   check_synth_gates, NULL, NULL);
}
