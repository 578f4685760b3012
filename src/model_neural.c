/*-------------------------------------------------------------------------
 *
 * model_neural.c
 *	  What the neural methods (tvae, ctgan) share: their options, the
 *	  encoding of a table's rows for a network, training runs, decoding
 *	  network rows back into the uniform scores that generate.c turns into
 *	  Datums, and the weights' format.
 *
 * Encoding.  A neural model keeps the column encoders of transform.c (the
 * quantile function of a continuous column, the categories of a categorical
 * one, keys and free text as they are) and adds a network over the columns'
 * uniform scores u.  A continuous column is encoded by mode-specific
 * normalisation over u: a Gaussian mixture (EM, up to max_modes components,
 * components under 0.5 % of the rows dropped) fitted to the column's values
 * decides how many modes it has and how many rows each holds; mode k is
 * the k-th stretch [bounds[k], bounds[k + 1]) of u in the order of the
 * components' means, bounds moved to the edge of a run of equal values so
 * that a point mass (a zero income) stays in one mode.  A row's value is
 * its mode (one-hot) and its position alpha in [-1, 1] inside the mode.
 * Decoding maps (mode, alpha) back to u, and u through the quantile
 * function: values never leave the column's range, heavy tails and point
 * masses come back as they were, whatever the network does inside a mode.
 * A categorical column is one-hot over its emitted categories; rows of
 * rare (suppressed) categories share one slot, decoded as transform.c
 * decodes them; NULL is one more slot of either kind.
 *
 * Generation.  synth_generate calls synth_neural_sample through generate.c:
 * the network's rows are decoded into u, and generate.c decodes u exactly as
 * for the copula.  The restrictions of a condition are applied by rejection.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model_neural.h"
#include "backend.h"
#include "worker.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#define EM_MAX_ITERATIONS		200
#define EM_MAX_POINTS			20000	/* distinct values an EM fit looks at */
#define EM_TOLERANCE			1e-7
#define SAMPLE_MAX_ATTEMPTS		1000	/* candidate batches per requested batch */

SynthProgressHook synth_progress_hook = NULL;
void	   *synth_progress_arg = NULL;

/* ---------------------------------------------------------------- methods and options */

bool
synth_method_is_neural(SynthMethod method)
{
	return method == SYNTH_METHOD_TVAE || method == SYNTH_METHOD_CTGAN;
}

const char *
synth_method_name(SynthMethod method)
{
	switch (method)
	{
		case SYNTH_METHOD_COPULA:
			return "copula";
		case SYNTH_METHOD_MST:
			return "mst";
		case SYNTH_METHOD_CTGAN:
			return "ctgan";
		case SYNTH_METHOD_TVAE:
			return "tvae";
	}
	return "unknown";
}

void
synth_neural_options_init(SynthNeuralOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->device = -1;
	opts->progress_every = -1;
	opts->max_modes = SYNTH_DEFAULT_MAX_MODES;
}

static void
neural_option_error(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" %s", key, what),
			 errhint("Options are a jsonb object, e.g. '{\"epochs\": 50, \"batch_size\": 500, \"device\": \"cpu\"}'.")));
}

/* Ensure a numeric option is a number within [min, max], an integer when asked. */
static double
neural_number(const char *key, JsonbValue *v, double min, double max, bool integer)
{
	double		d;

	if (v->type != jbvNumeric)
		neural_option_error(key, "must be a number");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (d < min || d > max || (integer && d != floor(d)))
		neural_option_error(key, integer ?
							psprintf("must be an integer between %.0f and %.0f", min, max) :
							psprintf("must be a number between %g and %g", min, max));
	return d;
}

/*
 * Parse one option of the neural methods; false if key is not one of them.
 * Which of them apply to which method is checked when the method is known.
 */
bool
synth_neural_option(SynthNeuralOptions *opts, const char *key, JsonbValue *v)
{
	if (strcmp(key, "epochs") == 0)
		opts->epochs = (int) neural_number(key, v, 1, 100000, true);
	else if (strcmp(key, "batch_size") == 0)
		opts->batch_size = (int) neural_number(key, v, 2, 1000000, true);
	else if (strcmp(key, "progress_every") == 0)
		opts->progress_every = (int) neural_number(key, v, 0, 100000, true);
	else if (strcmp(key, "embedding_dim") == 0)
		opts->embedding_dim = (int) neural_number(key, v, 1, 4096, true);
	else if (strcmp(key, "learning_rate") == 0)
		opts->learning_rate = neural_number(key, v, 1e-8, 1, false);
	else if (strcmp(key, "pac") == 0)
		opts->pac = (int) neural_number(key, v, 1, 64, true);
	else if (strcmp(key, "discriminator_steps") == 0)
		opts->discriminator_steps = (int) neural_number(key, v, 1, 100, true);
	else if (strcmp(key, "max_modes") == 0)
		opts->max_modes = (int) neural_number(key, v, 1, 50, true);
	else if (strcmp(key, "device") == 0)
	{
		char	   *s;

		if (v->type != jbvString)
			neural_option_error(key, "must be \"auto\", \"cpu\" or \"gpu\"");
		s = pnstrdup(v->val.string.val, v->val.string.len);
		if (strcmp(s, "auto") == 0)
			opts->device = SYNTH_DEVICE_AUTO;
		else if (strcmp(s, "cpu") == 0)
			opts->device = SYNTH_DEVICE_CPU;
		else if (strcmp(s, "gpu") == 0)
			opts->device = SYNTH_DEVICE_GPU;
		else
			neural_option_error(key, "must be \"auto\", \"cpu\" or \"gpu\"");
	}
	else
		return false;
	opts->given = true;
	return true;
}

/* ---------------------------------------------------------------- modes of a continuous column */

typedef struct Component
{
	double		weight;
	double		mean;
	double		var;
	int64		rows;			/* rows whose most likely component it is */
} Component;

static int
cmp_component_mean(const void *a, const void *b)
{
	double		x = ((const Component *) a)->mean;
	double		y = ((const Component *) b)->mean;

	return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* log of w N(v; mean, var) */
static inline double
log_density(const Component *c, double v)
{
	double		d = v - c->mean;

	return log(c->weight) - 0.5 * log(2 * M_PI * c->var) - d * d / (2 * c->var);
}

/*
 * Fit a Gaussian mixture by EM to the points v (n) with counts w, starting
 * from k components at the points' quantiles; components lighter than
 * SYNTH_MIN_MODE_WEIGHT are dropped as they appear.  Returns the components
 * left, each with the rows it wins.
 */
static int
fit_mixture(const double *v, const double *w, int n, double total, int k, Component *comp)
{
	double		mean = 0.0,
				var = 0.0,
				floor_var,
				last_ll = -INFINITY;
	double	   *logp = palloc(sizeof(double) * k);
	double	   *nk = palloc(sizeof(double) * k);
	double	   *sk = palloc(sizeof(double) * k);
	double	   *qk = palloc(sizeof(double) * k);

	for (int j = 0; j < n; j++)
		mean += w[j] * v[j] / total;
	for (int j = 0; j < n; j++)
		var += w[j] * (v[j] - mean) * (v[j] - mean) / total;
	floor_var = Max(var * 1e-6, 1e-300);

	/*
	 * Components spread over the distinct values (not the rows, so that a
	 * point mass holding most rows does not take every component), each as
	 * wide as a k-th of the data.
	 */
	for (int i = 0; i < k; i++)
	{
		comp[i].mean = v[(int) ((i + 0.5) / k * n)];
		comp[i].var = Max(var / ((double) k * k), floor_var);
		comp[i].weight = 1.0 / k;
	}

	for (int iter = 0; iter < EM_MAX_ITERATIONS; iter++)
	{
		double		ll = 0.0;
		int			kept = 0;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < k; i++)
			nk[i] = sk[i] = qk[i] = 0.0;
		/* E step, with the sums of the M step */
		for (int j = 0; j < n; j++)
		{
			double		max = -INFINITY,
						sum = 0.0;

			for (int i = 0; i < k; i++)
			{
				logp[i] = log_density(&comp[i], v[j]);
				max = Max(max, logp[i]);
			}
			for (int i = 0; i < k; i++)
			{
				logp[i] = exp(logp[i] - max);
				sum += logp[i];
			}
			ll += w[j] * (max + log(sum));
			for (int i = 0; i < k; i++)
			{
				double		r = w[j] * logp[i] / sum;

				nk[i] += r;
				sk[i] += r * v[j];
				qk[i] += r * v[j] * v[j];
			}
		}
		/* M step; drop light components */
		for (int i = 0; i < k; i++)
		{
			if (nk[i] / total < SYNTH_MIN_MODE_WEIGHT)
				continue;
			comp[kept].weight = nk[i] / total;
			comp[kept].mean = sk[i] / nk[i];
			comp[kept].var = Max(qk[i] / nk[i] - comp[kept].mean * comp[kept].mean, floor_var);
			kept++;
		}
		if (kept == 0)
		{
			comp[0].weight = 1.0;
			comp[0].mean = mean;
			comp[0].var = Max(var, floor_var);
			kept = 1;
		}
		if (kept == k && fabs(ll - last_ll) <= EM_TOLERANCE * fabs(ll))
			break;
		/* renormalise what was kept */
		{
			double		s = 0.0;

			for (int i = 0; i < kept; i++)
				s += comp[i].weight;
			for (int i = 0; i < kept; i++)
				comp[i].weight /= s;
		}
		k = kept;
		last_ll = ll;
	}

	/* the rows each component wins */
	for (int i = 0; i < k; i++)
		comp[i].rows = 0;
	for (int j = 0; j < n; j++)
	{
		int			best = 0;
		double		best_lp = -INFINITY;

		for (int i = 0; i < k; i++)
		{
			double		lp = log_density(&comp[i], v[j]);

			if (lp > best_lp)
			{
				best_lp = lp;
				best = i;
			}
		}
		comp[best].rows += (int64) w[j];
	}
	pfree(logp);
	pfree(nk);
	pfree(sk);
	pfree(qk);
	return k;
}

/*
 * The modes of a continuous column from its sorted non-NULL sample values
 * (m of them): fills bounds (max_modes + 1) and returns the number of modes.
 */
static int
fit_modes(const double *sorted, int64 m, int max_modes, double *bounds)
{
	int64		stride = Max(m / EM_MAX_POINTS, 1);
	double	   *v = palloc(sizeof(double) * (m / stride + 1));
	double	   *w = palloc(sizeof(double) * (m / stride + 1));
	int			n = 0;
	double		total = 0.0;
	Component  *comp;
	int			k,
				nmodes = 0;
	int64		cum = 0;

	bounds[0] = 0.0;
	bounds[1] = 1.0;
	if (m == 0)
		return 1;

	/* distinct values with counts, of every stride-th row */
	for (int64 r = 0; r < m; r += stride)
	{
		if (n > 0 && v[n - 1] == sorted[r])
			w[n - 1] += 1;
		else
		{
			v[n] = sorted[r];
			w[n++] = 1;
		}
		total += 1;
	}
	k = Min(max_modes, n);
	if (k <= 1)
		return 1;

	comp = palloc(sizeof(Component) * k);
	k = fit_mixture(v, w, n, total, k, comp);
	qsort(comp, k, sizeof(Component), cmp_component_mean);

	/* mode i: the next stretch of rows, as many as component i wins */
	for (int i = 0; i < k; i++)
	{
		double		b;
		int64		pos;

		if (comp[i].rows == 0)
			continue;
		cum += comp[i].rows;
		if (i == k - 1 || cum >= (int64) total)
		{
			bounds[++nmodes] = 1.0;
			break;
		}
		b = (double) cum / total;
		/* keep a run of equal values inside one mode */
		pos = Min((int64) (b * m), m - 1);
		{
			int64		lo = pos,
						hi = pos;

			while (lo > 0 && sorted[lo - 1] == sorted[pos])
				lo--;
			while (hi < m && sorted[hi] == sorted[pos])
				hi++;
			if (lo > 0 && (double) lo / m < b && b < (double) hi / m)
				b = (b - (double) lo / m < (double) hi / m - b) ? (double) lo / m : (double) hi / m;
			else if (lo == 0 && b < (double) hi / m)
				b = (double) hi / m;
		}
		if (b <= bounds[nmodes] || b >= 1.0)
			continue;			/* an empty mode: merge it into the next */
		bounds[++nmodes] = b;
	}
	if (nmodes == 0 || bounds[nmodes] < 1.0)
		bounds[++nmodes] = 1.0;
	pfree(comp);
	pfree(v);
	pfree(w);
	return nmodes;
}

/* ---------------------------------------------------------------- the encoding */

/*
 * Plan the encoded rows of a model whose encoders are fitted: uniform-score
 * dimensions as the copula assigns them, the columns, the modes, the layout.
 */
static void
plan_encoding(SynthModel *model, SynthNeural *nn, SynthSample *sample, const int *sample_col,
			  int max_modes)
{
	NnLayout   *layout = &nn->layout;
	int			d = 0;
	int			nalpha = 0;
	int			width;

	nn->cols = palloc0(sizeof(SynthNeuralColumn) * Max(model->natts, 1));
	nn->ncols = 0;
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *enc = &model->encoders[i];
		SynthNeuralColumn *col;

		enc->dim = -1;
		enc->null_dim = -1;
		if (!enc->modelled || enc->null_rate >= 1.0 ||
			(enc->kind != SYNTH_KIND_CONTINUOUS && enc->kind != SYNTH_KIND_CATEGORICAL))
			continue;
		enc->dim = d++;
		if (enc->kind == SYNTH_KIND_CONTINUOUS && enc->null_rate > 0.0)
			enc->null_dim = d++;

		col = &nn->cols[nn->ncols++];
		col->encoder = i;
		col->continuous = enc->kind == SYNTH_KIND_CONTINUOUS;
		col->alpha = col->continuous ? nalpha++ : -1;
		col->rare_slot = -1;
		col->null_slot = -1;
		if (col->continuous)
		{
			const double *values = sample->values + (int64) sample_col[i] * sample->capacity;
			double	   *sorted = palloc(sizeof(double) * Max(sample->nrows, 1));
			int64		m = 0;

			for (int64 r = 0; r < sample->nrows; r++)
				if (!isnan(values[r]))
					sorted[m++] = values[r];
			qsort(sorted, m, sizeof(double), cmp_double);
			col->bounds = palloc(sizeof(double) * (max_modes + 1));
			col->nmodes = fit_modes(sorted, m, max_modes, col->bounds);
			col->nslots = col->nmodes;
			pfree(sorted);
		}
		else
		{
			col->nslots = enc->ncats;
			if (enc->rare_share > 0.0)
				col->rare_slot = col->nslots++;
		}
		if (enc->null_rate > 0.0)
			col->null_slot = col->nslots++;
	}
	model->dim = d;

	/* positions first, then one span per column */
	layout->nalpha = nalpha;
	layout->nspans = nn->ncols;
	layout->span_start = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->span_len = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->span_discrete = palloc(sizeof(bool) * Max(nn->ncols, 1));
	layout->span_cond = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->cond_width = 0;
	width = nalpha;
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];

		col->span = c;
		layout->span_start[c] = width;
		layout->span_len[c] = col->nslots;
		layout->span_discrete[c] = !col->continuous;
		layout->span_cond[c] = col->continuous ? -1 : layout->cond_width;
		if (!col->continuous)
			layout->cond_width += col->nslots;
		width += col->nslots;
	}
	layout->width = width;
	if (width > SYNTH_MAX_ENCODED_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the encoded rows would have %d values, more than the %d a neural model takes",
						width, SYNTH_MAX_ENCODED_WIDTH),
				 errhint("Exclude columns with many categories with options => '{\"exclude\": [...]}', or use method 'copula'.")));
}

/*
 * Encode the sample's rows (the first nrows) into data (nrows, width).  A
 * continuous value's score is its rank among the column's values, ties
 * broken at random, so that the scores of a column are uniform.
 */
static void
encode_rows(SynthModel *model, SynthNeural *nn, SynthColumn *cols, SynthSample *sample,
			const int *sample_col, int64 nrows, SynthRng *rng, SynthReal *data)
{
	int			w = nn->layout.width;

	memset(data, 0, sizeof(SynthReal) * nrows * w);
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];
		SynthEncoder *enc = &model->encoders[col->encoder];
		const double *values = sample->values + (int64) sample_col[col->encoder] * sample->capacity;
		int			start = nn->layout.span_start[c];

		CHECK_FOR_INTERRUPTS();
		if (col->continuous)
		{
			/* rank every row by one sort of (value, row) */
			double	   *sorted = palloc(sizeof(double) * Max(nrows, 1));
			int64		m = 0;

			for (int64 r = 0; r < nrows; r++)
				if (!isnan(values[r]))
					sorted[m++] = values[r];
			qsort(sorted, m, sizeof(double), cmp_double);
			for (int64 r = 0; r < nrows; r++)
			{
				SynthReal  *row = data + r * w;
				int64		below,
							above;
				double		u;
				int			k = 0;

				if (isnan(values[r]))
				{
					row[start + col->null_slot] = 1;
					continue;
				}
				/* the run of values equal to this one: [below, above) */
				{
					int64		lo = 0,
								hi = m;

					while (lo < hi)
					{
						int64		mid = (lo + hi) / 2;

						if (sorted[mid] < values[r])
							lo = mid + 1;
						else
							hi = mid;
					}
					below = lo;
					hi = m;
					while (lo < hi)
					{
						int64		mid = (lo + hi) / 2;

						if (sorted[mid] <= values[r])
							lo = mid + 1;
						else
							hi = mid;
					}
					above = lo;
				}
				u = (below + synth_rng_uniform(rng) * (above - below)) / m;
				while (k < col->nmodes - 1 && u >= col->bounds[k + 1])
					k++;
				row[start + k] = 1;
				row[col->alpha] = (SynthReal) (2.0 * (u - col->bounds[k]) /
											   (col->bounds[k + 1] - col->bounds[k]) - 1.0);
			}
			pfree(sorted);
		}
		else
		{
			SynthCategoryDict *dict = cols[sample_col[col->encoder]].dict;
			int			ndict = synth_dict_count(dict);
			int		   *catmap = palloc(sizeof(int) * Max(ndict, 1));

			for (int i = 0; i < ndict; i++)
				catmap[i] = -1;
			for (int i = 0; i < enc->ncats; i++)
			{
				int			idx = synth_dict_lookup(dict, enc->cats[i]);

				if (idx >= 0)
					catmap[idx] = i;
			}
			for (int64 r = 0; r < nrows; r++)
			{
				SynthReal  *row = data + r * w;
				int			slot;

				if (isnan(values[r]))
					slot = col->null_slot;
				else if (values[r] >= 0 && values[r] < ndict && catmap[(int) values[r]] >= 0)
					slot = catmap[(int) values[r]];
				else
					slot = col->rare_slot;
				if (slot >= 0)
					row[start + slot] = 1;
			}
			pfree(catmap);
		}
	}
}

/*
 * Each discrete slot's share of the rows (kept with the model), and with
 * with_rows the rows that have it (for the run).
 */
static void
index_slots(SynthNeural *nn, SynthNeuralRun *run, bool with_rows)
{
	const NnLayout *layout = &nn->layout;
	int			cw = layout->cond_width;
	int64	   *fill;

	nn->slot_share = MemoryContextAllocZero(GetMemoryChunkContext(nn),
											sizeof(double) * Max(cw, 1));
	run->slot_rows_start = palloc0(sizeof(int64) * (cw + 1));
	for (int s = 0; s < layout->nspans; s++)
	{
		if (!layout->span_discrete[s])
			continue;
		for (int64 r = 0; r < run->nrows; r++)
		{
			const SynthReal *row = run->data + r * layout->width + layout->span_start[s];

			for (int j = 0; j < layout->span_len[s]; j++)
				if (row[j] != 0)
					run->slot_rows_start[layout->span_cond[s] + j + 1]++;
		}
	}
	for (int j = 0; j < cw; j++)
	{
		nn->slot_share[j] = (double) run->slot_rows_start[j + 1] / Max(run->nrows, 1);
		run->slot_rows_start[j + 1] += run->slot_rows_start[j];
	}
	if (!with_rows)
		return;
	run->slot_rows = MemoryContextAllocHuge(CurrentMemoryContext,
											sizeof(int64) * Max(run->slot_rows_start[cw], 1));
	fill = palloc(sizeof(int64) * Max(cw, 1));
	memcpy(fill, run->slot_rows_start, sizeof(int64) * Max(cw, 1));
	for (int s = 0; s < layout->nspans; s++)
	{
		if (!layout->span_discrete[s])
			continue;
		for (int64 r = 0; r < run->nrows; r++)
		{
			const SynthReal *row = run->data + r * layout->width + layout->span_start[s];

			for (int j = 0; j < layout->span_len[s]; j++)
				if (row[j] != 0)
					run->slot_rows[fill[layout->span_cond[s] + j]++] = r;
		}
	}
	pfree(fill);
}

/* ---------------------------------------------------------------- training runs */

/* Free a run's device buffers when its memory context goes (also on error). */
static void
free_device_buffers(void *arg)
{
	SynthNeuralRun *run = arg;

	for (int i = 0; i < run->nbuffers; i++)
	{
		PG_TRY();
		{
			run->backend->free(run->backend, run->buffers[i]);
		}
		PG_CATCH();
		{
			/* a failed cudaFree while cleaning up: nothing more to do */
			FlushErrorState();
		}
		PG_END_TRY();
	}
	run->nbuffers = 0;
}

/*
 * A run on backend whose memory (host and device) lives in a new child
 * context of parent: deleting the context frees it all.
 */
SynthNeuralRun *
synth_neural_run_create(const SynthBackend *backend, MemoryContext parent, const char *name)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "synth neural run", ALLOCSET_DEFAULT_SIZES);
	SynthNeuralRun *run = MemoryContextAllocZero(cxt, sizeof(SynthNeuralRun));
	MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));

	MemoryContextSetIdentifier(cxt, name);
	run->backend = backend;
	run->cxt = cxt;
	cb->func = free_device_buffers;
	cb->arg = run;
	MemoryContextRegisterResetCallback(cxt, cb);
	return run;
}

/* The backend of a neural training or generation: the one asked for if it is complete. */
const SynthBackend *
synth_neural_backend(int device)
{
	const SynthBackend *backend = synth_backend_for(device >= 0 ? device : synth_device);
	const char *missing = NULL;

	if (!nn_backend_complete(backend, &missing))
	{
		ereport(NOTICE,
				(errmsg("synth is computing on the CPU: the backend \"%s\" lacks the operation %s",
						backend->name, missing),
				 errhint("Install synth_cuda.so of the same synth version.")));
		backend = synth_backend_cpu();
	}
	return backend;
}

/* count values in the run's backend memory, freed with the run. */
SynthReal *
synth_neural_buffer(SynthNeuralRun *run, size_t count)
{
	void	   *p;

	if (run->backend->alloc == NULL)
		return MemoryContextAllocHuge(run->cxt, sizeof(SynthReal) * Max(count, 1));
	if (run->nbuffers == run->maxbuffers)
	{
		int			n = Max(run->maxbuffers * 2, 16);

		run->buffers = run->buffers ?
			repalloc(run->buffers, sizeof(void *) * n) :
			MemoryContextAlloc(run->cxt, sizeof(void *) * n);
		run->maxbuffers = n;
	}
	p = run->backend->alloc(run->backend, sizeof(SynthReal) * Max(count, 1));
	run->buffers[run->nbuffers++] = p;
	return p;
}

/*
 * A network's values, and for training its gradients and Adam moments; a
 * network being trained is in the run's checkpoints.
 */
void
synth_neural_params_alloc(SynthNeuralRun *run, NnParams *p, bool training)
{
	nn_params_bind(p, synth_neural_buffer(run, p->count + p->state_count),
				   training ? synth_neural_buffer(run, p->count) : NULL,
				   training ? synth_neural_buffer(run, p->count) : NULL,
				   training ? synth_neural_buffer(run, p->count) : NULL);
	if (training)
	{
		if (run->nparams_tracked == SYNTH_NEURAL_MAX_TRACKED)
			elog(ERROR, "synth: too many networks in one training run");
		run->params_tracked[run->nparams_tracked++] = p;
	}
}

/* Keep a host copy of the stored network's values. */
void
synth_neural_download_weights(SynthNeural *nn, const SynthBackend *be)
{
	size_t		n = nn->params->count + nn->params->state_count;

	nn->weights = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(SynthReal) * Max(n, 1));
	synth_buffer_download(be, nn->weights, nn->params->values, sizeof(SynthReal) * n);
}

/* After an epoch (from 1): the progress hook, and a NOTICE every progress_every epochs. */
void
synth_neural_progress(SynthNeuralRun *run, const char *method, int epoch, double loss,
					  const char *loss_name, double loss2, const char *loss2_name)
{
	if (synth_progress_hook)
		synth_progress_hook(synth_progress_arg, epoch, run->epochs, loss);
	if (run->progress_every > 0 &&
		(epoch % run->progress_every == 0 || epoch == run->epochs))
	{
		if (loss2_name)
			ereport(NOTICE,
					(errmsg("%s epoch %d of %d: %s %.4f, %s %.4f", method, epoch, run->epochs,
							loss_name, loss, loss2_name, loss2)));
		else
			ereport(NOTICE,
					(errmsg("%s epoch %d of %d: %s %.4f", method, epoch, run->epochs,
							loss_name, loss)));
	}
}

/*
 * Fit a neural model: plan the encoding of the fitted encoders, encode the
 * sample, train the network on the backend the options or synth.device
 * select, and keep its weights.
 */
void
synth_neural_fit(SynthModel *model, SynthColumn *cols, SynthSample *sample,
				 const int *sample_col, const SynthNeuralOptions *opts, uint64 seed)
{
	SynthNeural *nn = palloc0(sizeof(SynthNeural));
	const SynthBackend *backend;
	SynthNeuralRun *run;
	MemoryContext oldcxt;
	int64		nrows = sample->nrows;
	int64		max_rows;
	bool		detached;
	unsigned int fpmode;

	model->neural = nn;
	nn->method = model->method;
	plan_encoding(model, nn, sample, sample_col, opts->max_modes);
	if (nn->ncols == 0)
		return;					/* only keys, free text or empty columns: no network */

	backend = synth_neural_backend(opts->device);
	if (backend->alloc != NULL)
		ereport(NOTICE,
				(errmsg("synth is training %s on the GPU (%s)", synth_method_name(model->method),
						backend->name)));
	nn->device_name = pstrdup(backend->name);

	/* Ensure the encoded rows fit in synth.train_memory */
	max_rows = (int64) synth_train_memory_kb * 1024 / ((int64) sizeof(SynthReal) * nn->layout.width);
	if (nrows > max_rows)
	{
		ereport(NOTICE,
				(errmsg("training on " INT64_FORMAT " of the " INT64_FORMAT " sampled rows: the encoded rows of %d values each must fit in synth.train_memory",
						max_rows, nrows, nn->layout.width),
				 errhint("Raise synth.train_memory to train on more rows.")));
		nrows = max_rows;		/* the sample is in random order already */
	}

	/* everything of the run lives in its own context, device buffers included */
	run = synth_neural_run_create(backend, CurrentMemoryContext, "synth neural training");
	run->opts = opts;
	run->progress_every = opts->progress_every;
	run->rng.seed = seed;
	run->rng.counter = 0;
	synth_rng_seed(&run->host_rng, seed ^ UINT64CONST(0x6e657572616c));

	oldcxt = MemoryContextSwitchTo(run->cxt);
	run->nrows = nrows;
	run->data = MemoryContextAllocHuge(run->cxt,
									   sizeof(SynthReal) * Max(nrows, 1) * nn->layout.width);
	encode_rows(model, nn, cols, sample, sample_col, nrows, &run->host_rng, run->data);
	index_slots(nn, run, model->method == SYNTH_METHOD_CTGAN);

	/*
	 * The rows are in memory: a background job commits its transaction here
	 * and trains between transactions, so that its checkpoints survive a
	 * crash; it stores the model in a new one (worker.c).
	 */
	detached = run->detached = synth_job_detach();

	fpmode = synth_cpu_denormals_off();
	PG_TRY();
	{
		if (model->method == SYNTH_METHOD_TVAE)
			synth_tvae_train(model, run);
		else
			synth_ctgan_train(model, run);
	}
	PG_FINALLY();
	{
		synth_cpu_denormals_restore(fpmode);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(oldcxt);
	synth_neural_download_weights(nn, run->backend);
	MemoryContextDelete(run->cxt);
	if (detached)
		synth_job_attach();
}

/* ---------------------------------------------------------------- decoding */

/* index of the largest of n values */
static int
argmax(const SynthReal *x, int n)
{
	int			best = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/*
 * The uniform scores [lo, hi] of a categorical column's slot: NULL, the
 * rare categories, or one emitted category.
 */
void
synth_neural_slot_interval(const SynthEncoder *enc, const SynthNeuralColumn *col, int slot,
						   double *lo, double *hi)
{
	if (slot == col->null_slot)
	{
		*lo = 0.0;
		*hi = enc->null_rate;
	}
	else if (slot == col->rare_slot)
	{
		*lo = enc->cat_cum[enc->ncats - 1];
		*hi = 1.0;
	}
	else
		synth_encoder_category_interval(enc, slot, lo, hi);
}

/*
 * Decode network rows (nrows, width, row stride ld: positions in [-1, 1]
 * after tanh, spans whose largest slot is the chosen one) into uniform
 * scores u (nrows, dim).
 * With sigma (nalpha), each position first gets Gaussian noise of that
 * deviation (TVAE's output distribution), reflected back into [-1, 1].
 */
void
synth_neural_decode(SynthModel *model, const SynthReal *rows, int nrows, int ld,
					const SynthReal *sigma, SynthRng *rng, double *u)
{
	SynthNeural *nn = model->neural;
	int			w = ld;

	for (int r = 0; r < nrows; r++)
	{
		const SynthReal *row = rows + (int64) r * w;
		double	   *ur = u + (int64) r * model->dim;

		for (int c = 0; c < nn->ncols; c++)
		{
			SynthNeuralColumn *col = &nn->cols[c];
			SynthEncoder *enc = &model->encoders[col->encoder];
			int			slot = argmax(row + nn->layout.span_start[c], col->nslots);

			if (col->continuous)
			{
				double		alpha = row[col->alpha];
				double		lo,
							hi;

				if (enc->null_dim >= 0)
					ur[enc->null_dim] = slot == col->null_slot ? 0.0 : 1.0;
				if (slot == col->null_slot)
				{
					ur[enc->dim] = 0.5;	/* unused: the value is NULL */
					continue;
				}
				if (sigma)
					alpha += sigma[col->alpha] * synth_rng_normal(rng);
				if (alpha > 1.0)
					alpha = 2.0 - alpha;
				if (alpha < -1.0)
					alpha = -2.0 - alpha;
				alpha = Max(-1.0, Min(1.0, alpha));
				lo = col->bounds[slot];
				hi = col->bounds[slot + 1];
				ur[enc->dim] = lo + (alpha + 1.0) / 2.0 * (hi - lo);
			}
			else
			{
				double		lo,
							hi;

				synth_neural_slot_interval(enc, col, slot, &lo, &hi);
				ur[enc->dim] = lo + synth_rng_uniform(rng) * (hi - lo);
			}
		}
	}
}

/* ---------------------------------------------------------------- generation */

/* Is every restricted dimension of u inside its allowed set?  Snaps to zero-width sets. */
static bool
allowed_row(SynthAllowedSet **allowed, int dim, double *u)
{
	for (int j = 0; j < dim; j++)
	{
		SynthAllowedSet *set = allowed[j];
		bool		inside = false;
		double		width = 0.0;

		if (set == NULL)
			continue;
		for (int i = 0; i < set->n && !inside; i++)
		{
			inside = u[j] >= set->lo[i] && u[j] <= set->hi[i];
			width += set->hi[i] - set->lo[i];
		}
		if (inside)
			continue;
		/* a single value of a continuous column has no width: take it */
		if (set->n > 0 && width == 0.0)
		{
			u[j] = set->lo[0];
			continue;
		}
		return false;
	}
	return true;
}

/*
 * Sample rows (at most gen->capacity) into gen->u, for generate.c to decode:
 * batches of the network's rows, decoded; with restrictions (a condition,
 * a rebalanced category) only the rows inside them are kept.  ctgan meets
 * the restriction of one categorical column exactly, through its
 * conditional vector (model_ctgan.c), so only the others reject rows; tvae
 * has nothing to condition on and rejects.
 */
void
synth_neural_sample(SynthGenerator *gen, int rows)
{
	SynthModel *model = gen->model;
	SynthNeural *nn = model->neural;
	int			dim = model->dim;
	int			filled = 0;
	int64		attempts = 0;

	if (nn->ncols == 0)
		return;					/* no column for a network: nothing to sample */
	if (gen->cond != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sampling given known columns needs a copula model, not %s",
						synth_method_name(model->method)),
				 errhint("Train the table with method 'copula'.")));
	if (nn->sample_run == NULL)
	{
		MemoryContext oldcxt;

		nn->sample_run = synth_neural_run_create(synth_neural_backend(-1), gen->longcxt,
												 "synth neural generation");
		oldcxt = MemoryContextSwitchTo(nn->sample_run->cxt);
		nn->sample_batch = gen->capacity;
		if (model->method == SYNTH_METHOD_TVAE)
			synth_tvae_prepare(model);
		else
			synth_ctgan_prepare(model);
		nn->candidates = palloc(sizeof(double) * nn->sample_batch * Max(dim, 1));
		MemoryContextSwitchTo(oldcxt);
	}

	while (filled < rows)
	{
		int			m = gen->allowed ? nn->sample_batch : rows - filled;
		uint64		seed = synth_rng_next(&gen->rng);

		CHECK_FOR_INTERRUPTS();
		if (++attempts > SAMPLE_MAX_ATTEMPTS + rows)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the condition is too rare for the model"),
					 errdetail("%d of %d rows satisfied its restrictions after " INT64_FORMAT " batches.",
							   filled, rows, attempts - 1),
					 errhint("Loosen the condition, or train on data that has more such rows.")));
		if (model->method == SYNTH_METHOD_TVAE)
			synth_tvae_generate(model, m, seed, &gen->rng, nn->candidates);
		else
			synth_ctgan_generate(model, m, seed, &gen->rng, gen->allowed, nn->candidates);
		for (int r = 0; r < m && filled < rows; r++)
		{
			double	   *cand = nn->candidates + (int64) r * dim;

			if (gen->allowed && !allowed_row(gen->allowed, dim, cand))
				continue;
			memcpy(gen->u + (int64) filled * dim, cand, sizeof(double) * dim);
			filled++;
		}
	}
}

/* ---------------------------------------------------------------- weights and spec */

static void
put_int32(StringInfo buf, int32 v)
{
	appendBinaryStringInfo(buf, (const char *) &v, sizeof(v));
}

static void
put_double(StringInfo buf, double v)
{
	appendBinaryStringInfo(buf, (const char *) &v, sizeof(v));
}

/* The network's configuration as ints: what declaring it again needs. */
static void
put_config(StringInfo buf, SynthNeural *nn)
{
	if (nn->method == SYNTH_METHOD_TVAE)
	{
		NnTvaeConfig *c = &nn->tvae.config;

		put_int32(buf, c->embedding_dim);
		put_int32(buf, c->ncompress);
		for (int i = 0; i < c->ncompress; i++)
			put_int32(buf, c->compress[i]);
		put_int32(buf, c->ndecompress);
		for (int i = 0; i < c->ndecompress; i++)
			put_int32(buf, c->decompress[i]);
	}
	else
	{
		NnCtganConfig *c = &nn->ctgan.config;

		put_int32(buf, c->embedding_dim);
		put_int32(buf, c->ngenerator);
		for (int i = 0; i < c->ngenerator; i++)
			put_int32(buf, c->generator[i]);
		put_int32(buf, c->ndiscriminator);
		for (int i = 0; i < c->ndiscriminator; i++)
			put_int32(buf, c->discriminator[i]);
		put_int32(buf, c->pac);
	}
}

/*
 * The neural section of the weights (model_io.c writes it after the
 * encoders): the encoding, the network's configuration, its values.
 */
void
synth_neural_serialize(SynthModel *model, StringInfo buf)
{
	SynthNeural *nn = model->neural;
	NnLayout   *layout = &nn->layout;
	size_t		n;

	put_int32(buf, nn->ncols);
	if (nn->ncols == 0)
		return;					/* no network */
	n = nn->params->count + nn->params->state_count;
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];

		put_int32(buf, col->encoder);
		put_int32(buf, col->continuous ? 1 : 0);
		put_int32(buf, col->alpha);
		put_int32(buf, col->nslots);
		put_int32(buf, col->rare_slot);
		put_int32(buf, col->null_slot);
		put_int32(buf, col->nmodes);
		for (int k = 0; col->continuous && k <= col->nmodes; k++)
			put_double(buf, col->bounds[k]);
	}
	put_int32(buf, layout->cond_width);
	for (int j = 0; j < layout->cond_width; j++)
		put_double(buf, nn->slot_share[j]);
	put_config(buf, nn);
	put_int32(buf, (int32) sizeof(SynthReal));
	put_int32(buf, (int32) n);
	appendBinaryStringInfo(buf, (const char *) nn->weights, (int) (sizeof(SynthReal) * n));
}

/* A bounds-checked cursor over the neural section. */
typedef struct NeuralReader
{
	const char *p;
	const char *end;
	int64		model_id;
} NeuralReader;

static void
neural_corrupt(NeuralReader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("synth model " INT64_FORMAT " has corrupt weights", r->model_id),
			 errdetail("%s", what),
			 errhint("Train a new model with synth_train; the stored one cannot be used.")));
}

static void
get_bytes(NeuralReader *r, void *out, size_t len)
{
	if ((size_t) (r->end - r->p) < len)
		neural_corrupt(r, "The weights end before the network does.");
	memcpy(out, r->p, len);
	r->p += len;
}

static int32
get_int(NeuralReader *r, int32 min, int32 max)
{
	int32		v;

	get_bytes(r, &v, sizeof(v));
	if (v < min || v > max)
		neural_corrupt(r, "A count of the network is out of range.");
	return v;
}

static double
get_double(NeuralReader *r)
{
	double		v;

	get_bytes(r, &v, sizeof(v));
	return v;
}

/* Build the layout of the columns read (as plan_encoding does). */
static void
rebuild_layout(SynthNeural *nn)
{
	NnLayout   *layout = &nn->layout;
	int			width = 0;

	layout->nalpha = 0;
	for (int c = 0; c < nn->ncols; c++)
		if (nn->cols[c].continuous)
			layout->nalpha++;
	layout->nspans = nn->ncols;
	layout->span_start = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->span_len = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->span_discrete = palloc(sizeof(bool) * Max(nn->ncols, 1));
	layout->span_cond = palloc(sizeof(int) * Max(nn->ncols, 1));
	layout->cond_width = 0;
	width = layout->nalpha;
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];

		col->span = c;
		layout->span_start[c] = width;
		layout->span_len[c] = col->nslots;
		layout->span_discrete[c] = !col->continuous;
		layout->span_cond[c] = col->continuous ? -1 : layout->cond_width;
		if (!col->continuous)
			layout->cond_width += col->nslots;
		width += col->nslots;
	}
	layout->width = width;
}

/* Read the neural section at p; returns where it ends. */
const char *
synth_neural_deserialize(SynthModel *model, const char *p, const char *end, int64 model_id)
{
	SynthNeural *nn = palloc0(sizeof(SynthNeural));
	NeuralReader r = {p, end, model_id};
	int			nalpha = 0;
	int			cond_width;
	size_t		n;

	model->neural = nn;
	nn->method = model->method;
	nn->ncols = get_int(&r, 0, model->natts);
	if (nn->ncols == 0)
		return r.p;				/* no network */
	nn->cols = palloc0(sizeof(SynthNeuralColumn) * Max(nn->ncols, 1));
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];
		SynthEncoder *enc;

		col->encoder = get_int(&r, 0, model->natts - 1);
		col->continuous = get_int(&r, 0, 1) == 1;
		col->alpha = get_int(&r, -1, SYNTH_MAX_COLUMNS);
		col->nslots = get_int(&r, 1, SYNTH_MAX_ENCODED_WIDTH);
		col->rare_slot = get_int(&r, -1, col->nslots - 1);
		col->null_slot = get_int(&r, -1, col->nslots - 1);
		col->nmodes = get_int(&r, 0, col->nslots);
		enc = &model->encoders[col->encoder];
		if (col->continuous)
		{
			if (col->alpha != nalpha++ || col->nmodes < 1 || enc->kind != SYNTH_KIND_CONTINUOUS)
				neural_corrupt(&r, "A continuous column of the network does not match its encoder.");
			col->bounds = palloc(sizeof(double) * (col->nmodes + 1));
			for (int k = 0; k <= col->nmodes; k++)
				col->bounds[k] = get_double(&r);
		}
		else if (enc->kind != SYNTH_KIND_CATEGORICAL ||
				 col->nslots < enc->ncats || enc->ncats == 0 ||
				 (col->rare_slot >= 0 && col->rare_slot < enc->ncats) ||
				 (col->null_slot >= 0 && col->null_slot < enc->ncats))
			neural_corrupt(&r, "A categorical column of the network does not match its encoder.");
		if (enc->dim < 0 ||
			(col->continuous && (enc->null_dim >= 0) != (col->null_slot >= 0)))
			neural_corrupt(&r, "A column of the network has no uniform score.");
	}
	rebuild_layout(nn);
	cond_width = get_int(&r, 0, SYNTH_MAX_ENCODED_WIDTH);
	if (cond_width != nn->layout.cond_width)
		neural_corrupt(&r, "The conditional vector does not match the columns.");
	nn->slot_share = palloc(sizeof(double) * Max(cond_width, 1));
	for (int j = 0; j < cond_width; j++)
		nn->slot_share[j] = get_double(&r);

	if (model->method == SYNTH_METHOD_TVAE)
	{
		NnTvaeConfig c;

		nn_tvae_config_default(&c);
		c.embedding_dim = get_int(&r, 1, 4096);
		c.ncompress = get_int(&r, 1, NN_MAX_HIDDEN);
		for (int i = 0; i < c.ncompress; i++)
			c.compress[i] = get_int(&r, 1, 65536);
		c.ndecompress = get_int(&r, 1, NN_MAX_HIDDEN);
		for (int i = 0; i < c.ndecompress; i++)
			c.decompress[i] = get_int(&r, 1, 65536);
		nn_tvae_declare(&nn->tvae, &c, &nn->layout);
		nn->params = &nn->tvae.params;
	}
	else
	{
		NnCtganConfig c;

		nn_ctgan_config_default(&c);
		c.embedding_dim = get_int(&r, 1, 4096);
		c.ngenerator = get_int(&r, 1, NN_MAX_HIDDEN);
		for (int i = 0; i < c.ngenerator; i++)
			c.generator[i] = get_int(&r, 1, 65536);
		c.ndiscriminator = get_int(&r, 1, NN_MAX_HIDDEN);
		for (int i = 0; i < c.ndiscriminator; i++)
			c.discriminator[i] = get_int(&r, 1, 65536);
		c.pac = get_int(&r, 1, 64);
		nn_ctgan_declare(&nn->ctgan, &c, &nn->layout);
		nn->params = &nn->ctgan.gen;
	}
	if (get_int(&r, 1, 16) != (int32) sizeof(SynthReal))
		neural_corrupt(&r, "The network's values are of another precision than this synth's.");
	n = get_int(&r, 0, INT32_MAX);
	if (n != nn->params->count + nn->params->state_count)
		neural_corrupt(&r, "The number of the network's values does not match its shape.");
	nn->weights = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(SynthReal) * Max(n, 1));
	get_bytes(&r, nn->weights, sizeof(SynthReal) * n);
	return r.p;
}

/* The neural part of a model's spec: "encoding", "network" and "training" members. */
void
synth_neural_spec_json(SynthModel *model, StringInfo buf)
{
	SynthNeural *nn = model->neural;

	if (nn->ncols == 0)
	{
		appendStringInfoString(buf, "\"encoding\": {\"width\": 0}, \"network\": null");
		return;
	}
	appendStringInfoString(buf, "\"encoding\": {\"width\": ");
	appendStringInfo(buf, "%d, \"positions\": %d, \"modes\": {", nn->layout.width,
					 nn->layout.nalpha);
	for (int c = 0, first = 1; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];

		if (!col->continuous)
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		first = 0;
		escape_json(buf, model->encoders[col->encoder].name);
		appendStringInfo(buf, ": %d", col->nmodes);
	}
	appendStringInfo(buf, "}}, \"network\": {\"parameters\": %zu", nn->params->count);
	if (nn->method == SYNTH_METHOD_TVAE)
	{
		NnTvaeConfig *c = &nn->tvae.config;

		appendStringInfo(buf, ", \"embedding_dim\": %d, \"compress_dims\": [", c->embedding_dim);
		for (int i = 0; i < c->ncompress; i++)
			appendStringInfo(buf, "%s%d", i ? ", " : "", c->compress[i]);
		appendStringInfoString(buf, "], \"decompress_dims\": [");
		for (int i = 0; i < c->ndecompress; i++)
			appendStringInfo(buf, "%s%d", i ? ", " : "", c->decompress[i]);
		appendStringInfo(buf, "], \"loss_factor\": %g, \"learning_rate\": %g, \"l2scale\": %g}",
						 (double) c->loss_factor, (double) c->adam.lr,
						 (double) c->adam.weight_decay);
	}
	else
	{
		NnCtganConfig *c = &nn->ctgan.config;

		appendStringInfo(buf, ", \"embedding_dim\": %d, \"generator_dims\": [", c->embedding_dim);
		for (int i = 0; i < c->ngenerator; i++)
			appendStringInfo(buf, "%s%d", i ? ", " : "", c->generator[i]);
		appendStringInfoString(buf, "], \"discriminator_dims\": [");
		for (int i = 0; i < c->ndiscriminator; i++)
			appendStringInfo(buf, "%s%d", i ? ", " : "", c->discriminator[i]);
		appendStringInfo(buf, "], \"pac\": %d, \"learning_rate\": %g, \"weight_decay\": %g}",
						 c->pac, (double) c->gen_adam.lr, (double) c->gen_adam.weight_decay);
	}
	appendStringInfo(buf, ", \"training\": {\"epochs\": %d, \"batch_size\": %d, \"device\": ",
					 nn->epochs, nn->batch_size);
	escape_json(buf, nn->device_name ? nn->device_name : "cpu");
	appendStringInfoChar(buf, '}');
}

/* Members of a neural model's metrics: the last epoch's losses. */
void
synth_neural_metrics_json(SynthModel *model, StringInfo buf)
{
	SynthNeural *nn = model->neural;

	if (nn->method == SYNTH_METHOD_CTGAN)
		appendStringInfo(buf, ", \"last_epoch_generator_loss\": %.6g, \"last_epoch_critic_loss\": %.6g",
						 nn->last_loss, nn->last_loss2);
	else
		appendStringInfo(buf, ", \"last_epoch_loss\": %.6g", nn->last_loss);
}
