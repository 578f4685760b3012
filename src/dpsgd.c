/*-------------------------------------------------------------------------
 *
 * dpsgd.c
 *	  tvae and ctgan under differential privacy: private encoders from
 *	  noisy 1-way marginals, then DP-SGD (Abadi et al. 2016) with Poisson
 *	  sampling, per-sample clipping and Gaussian noise; accounting, the
 *	  budget and the ledger.
 *
 * A training with an epsilon counts the rows with noise (see "Tables larger
 * than synth.train_memory" below), then runs in two stages, both on the rows
 * read: every row (but a holdout's), or a Poisson sample of them:
 *
 * 1. Encoders (share s of the budget, option "marginal_share", default
 *    0.1).  Every modelled column gets the public domain mst plans
 *    (model_mst.c: bounds from options or CHECK constraints, labels of
 *    bool, enum or the "domains" option).  Its 1-way marginal over bins (and
 *    a NULL cell, an "other" cell) and, for a continuous column, its
 *    histogram over a finer grid, are measured with discrete Gaussian noise
 *    (privacy.c), sigma^2 = (d + c) / (2 rho1) for d columns of which c are
 *    continuous: rho1-zCDP.  Post-processing turns them into the encoders:
 *    category shares and NULL rates; a continuous column's distribution
 *    function (the fine cells whose noisy count clears 3 sigma or more, the
 *    rest of each bin spread evenly over its other cells), whose quantiles
 *    become the encoder's knots; a row's value is encoded as its noisy
 *    distribution function u, and the network sees u's position among
 *    max_modes equal stretches (its "mode") and inside it.  The noisy
 *    totals estimate the number of rows n~.
 *
 * 2. DP-SGD.  The expected batch b (batch_size) and the rate q = b / n~
 *    give T = epochs / q steps; each step takes each row independently with
 *    probability q (Poisson sampling, exactly: a 64-bit draw of a ChaCha20
 *    stream keyed from pg_strong_random below ceil(q 2^64)), clips each
 *    row's own gradient to L2 norm C (max_grad_norm; nn_dpsgd.c), adds
 *    Gaussian noise of standard deviation sigma C to the sum
 *    (privacy_stream.c) and divides by b.  Adam and everything after is
 *    post-processing.  tvae trains all its weights this way; ctgan its
 *    critic (with pac 1, each row's loss being its WGAN-GP term with a
 *    fake partner row), the generator seeing no row.
 *
 * Accounting.  q and T depend on n~, an output of stage 1, so stage 2 is
 * chosen adaptively; Renyi DP composes adaptively at a fixed order alpha
 * (Mironov 2017, Proposition 1: the second mechanism must be (alpha,
 * eps2)-RDP whatever the first output).  The budget (epsilon, delta) is
 * turned into rho = synth_zcdp_rho(epsilon, delta) and the order alpha*
 * at which rho-zCDP converts best (Balle et al. 2020); before any row is
 * read, alpha* and the total RDP budget rho alpha* are fixed.  Stage 1
 * costs s rho alpha* at that order; sigma is the smallest noise multiplier
 * whose T sampled-Gaussian steps at rate q cost at most (1 - s) rho alpha*
 * there (Mironov, Talwar, Zhang 2019).  The total, (alpha*, <= rho
 * alpha*)-RDP, converts to (<= epsilon, delta)-DP.  The ledger records
 * every parameter and the epsilon the conversion gives.
 *
 * Tables larger than synth.train_memory.  Before stage 1, a share of the
 * budget (DP_COUNT_SHARE of epsilon and of delta) counts the rows with
 * discrete Gaussian noise, on every row (but a holdout's).  From the noisy
 * count and the rows that fit in memory (public: the GUC, the columns, the
 * encoded width), a rate p is chosen: 1 when the count plus a margin of
 * DP_COUNT_MARGIN_SIGMAS standard deviations fits, else so that the
 * expected sample fills DP_SAMPLE_FILL of the memory.  The reader then
 * keeps each row independently with probability p, drawn from a secret
 * stream (a Poisson sample S), and stages 1 and 2 run on S alone, calibrated
 * to (epsilon', delta') with respect to S such that Poisson subsampling
 * amplifies them to the rest of the budget (Balle, Barthe, Gaboardi 2018,
 * Theorem 8: (log(1 + p (e^epsilon' - 1)), p delta')).  The count and the
 * training on S compose sequentially (the second is chosen from the first's
 * output, and is within its share whatever that output is).  p = 1 is the
 * whole table, without amplification.  A sample that does not fit (rare:
 * the count's noise below -6 sigma, or a binomial of mean 0.8 m above m) is
 * an error, never truncated.
 *
 * The whole training is one transaction: budget spend, model and ledger
 * row commit together or not at all.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "model_neural.h"
#include "nn_dpsgd.h"
#include "privacy.h"
#include "quality.h"
#include "worker.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define DP_DEFAULT_MARGINAL_SHARE	0.1
#define DP_DEFAULT_MAX_GRAD_NORM	1.0
#define DP_DEFAULT_EPOCHS			20
#define DP_DEFAULT_BATCH			500
#define DP_KEEP_SIGMAS				3.0		/* fine cells below this are spread evenly */
#define DP_PROB_FLOOR				1e-9	/* every cell keeps a share */
#define DP_TVAE_SIGMA_MIN			0.01	/* as nn_tvae.c clamps the decoder's sigma */
#define DP_TVAE_SIGMA_MAX			1.0
#define DP_COUNT_SHARE				0.01	/* of epsilon and delta: the noisy row count */
#define DP_COUNT_MARGIN_SIGMAS		6.0		/* the count's noise is below this with prob. > 1 - 2e-8 */
#define DP_SAMPLE_FILL				0.8		/* of the rows that fit: the expected Poisson sample */

/* One modelled column's measurement and private encoding. */
typedef struct DpColumn
{
	int			enc;			/* encoder index */
	SynthPublicDomain *dom;
	int			ncells;			/* [NULL] + bins or labels + [other] */
	int			null_cell;		/* -1: NOT NULL */
	int			first_value;
	int			other_cell;		/* -1: none */
	int64	   *counts;			/* ncells */
	int64	   *fine_counts;	/* continuous: nfine */
	double	   *y;				/* noisy counts */
	double	   *share;			/* ncells: estimated shares, floored */
	double	   *fine_cdf;		/* continuous: nfine + 1, cumulative share of the non-NULL rows */
	int		   *dict_cell;		/* categorical: reader's dictionary index -> cell */
	int			ndict;
} DpColumn;

/* What a private training decided, for the spec, the metrics and the ledger. */
typedef struct DpPlan
{
	double		epsilon;		/* what the training spends of the budget */
	double		delta;
	/* the discovery of domains without public ones (dp_domains.c), first */
	SynthDomainDiscovery discovery;
	/* the noisy row count that chooses the subsampling rate */
	double		epsilon_count;
	double		delta_count;
	double		sigma2_count;
	double		rows_counted;	/* noisy */
	int64		rows_memory;	/* rows that fit in synth.train_memory (public) */
	/* the training on the Poisson sample: (epsilon_inner, delta_inner) on the sample */
	bool		subsampled;
	double		subsample_rate; /* p, as the sampler draws it, rounded up; 1: every row */
	double		epsilon_sample; /* its share of the budget: epsilon - epsilon_count */
	double		delta_sample;
	double		epsilon_inner;	/* what subsampling at p amplifies to (epsilon_sample, delta_sample) */
	double		delta_inner;
	double		rho;			/* of (epsilon_inner, delta_inner) */
	double		alpha;			/* the order everything is accounted at */
	double		share;
	double		sigma2_marginals;
	double		rho_marginals;
	int			ncolumns;
	int			nfine;			/* continuous columns: fine histograms */
	double		rows_estimate;
	int			epochs;
	int			batch_size;
	double		max_grad_norm;
	double		sampling_rate;	/* what the sampler draws at, rounded up */
	int64		steps;
	double		noise_multiplier;
	double		rdp_sgd;		/* at alpha */
	double		rdp_total;
	double		epsilon_spent;	/* the conversion of rdp_total at alpha */
	int			dsteps;			/* ctgan: critic steps per generator step */
} DpPlan;

/* ---------------------------------------------------------------- stage 1: the encoders */

static int
dp_fine_index(const SynthPublicDomain *dom, double x)
{
	double		j = floor((x - dom->lower) / dom->fine_width);

	if (!(j >= 0))
		return 0;
	if (j >= dom->nfine)
		return dom->nfine - 1;
	return (int) j;
}

static char *
dp_rtrim(const char *s)
{
	int			len = strlen(s);

	while (len > 0 && s[len - 1] == ' ')
		len--;
	return pnstrdup(s, len);
}

/*
 * Have the reader enter a categorical column's public labels in its
 * dictionary before any row, as the type's output writes them (char(n)
 * padded): a label's rows then map to its cell even when the dictionary
 * fills up with other values (those map to "other" anyway), so that a row's
 * cell never depends on the rows read before it.
 */
static void
dp_seed_labels(DpColumn *dc, SynthColumn *col)
{
	SynthPublicDomain *dom = dc->dom;
	int			width = col->basetypmod > VARHDRSZ ? col->basetypmod - VARHDRSZ : 0;

	if (dom->continuous || dom->nlabels == 0)
		return;
	col->seed_labels = palloc(sizeof(char *) * dom->nlabels);
	col->nseed_labels = dom->nlabels;
	for (int k = 0; k < dom->nlabels; k++)
	{
		char	   *label = dom->trim ? dp_rtrim(dom->labels[k]) : dom->labels[k];
		int			chars = pg_mbstrlen(label);

		if (dom->trim && chars < width)
			label = psprintf("%s%*s", label, width - chars, "");
		col->seed_labels[k] = label;
	}
}

/* The cell of a categorical column's dictionary entries, by label. */
static void
dp_map_dictionary(DpColumn *dc, SynthColumn *col)
{
	SynthPublicDomain *dom = dc->dom;

	dc->ndict = synth_dict_count(col->dict);
	dc->dict_cell = palloc(sizeof(int) * Max(dc->ndict, 1));
	for (int i = 0; i < dc->ndict; i++)
	{
		const char *value = synth_dict_value(col->dict, i);
		int			cell = -1;

		if (dom->trim)
			value = dp_rtrim(value);
		for (int k = 0; k < dom->nlabels && cell < 0; k++)
		{
			const char *label = dom->trim ? dp_rtrim(dom->labels[k]) : dom->labels[k];

			if (strcmp(label, value) == 0)
				cell = dc->first_value + k;
		}
		/* outside the domain: "other", else NULL's cell, else the first label (as mst) */
		if (cell < 0)
			cell = dc->other_cell >= 0 ? dc->other_cell :
				dc->null_cell >= 0 ? dc->null_cell : dc->first_value;
		dc->dict_cell[i] = cell;
	}
}

/* The cell of row r's value of a column (and its fine cell, -1 for none). */
static int
dp_cell(const DpColumn *dc, double v, int *fine)
{
	const SynthPublicDomain *dom = dc->dom;

	*fine = -1;
	if (isnan(v))
		return dc->null_cell >= 0 ? dc->null_cell : dc->first_value;
	if (dom->continuous)
	{
		*fine = dp_fine_index(dom, v);
		return dc->first_value + Min(*fine / dom->fine_per_bin, dom->nbins - 1);
	}
	if (v >= 0 && v < dc->ndict)
		return dc->dict_cell[(int) v];
	return dc->other_cell >= 0 ? dc->other_cell :
		dc->null_cell >= 0 ? dc->null_cell : dc->first_value;
}

/* Discrete Gaussian noise of variance sn / sd on every count. */
static double *
dp_noisy(SynthNoise *noise, const int64 *counts, int n, uint64 sn, uint64 sd)
{
	double	   *y = palloc(sizeof(double) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		y[i] = (double) (counts[i] + synth_noise_discrete_gaussian(noise, sn, sd));
	}
	return y;
}

/*
 * A continuous column's distribution over its fine cells, from its noisy
 * bins and fine histogram (post-processing): the fine cells that clear the
 * threshold keep their noisy count, the rest of a bin's noisy count is
 * spread evenly over its other cells.
 */
static void
dp_fine_cdf(DpColumn *dc, const double *yfine, double sigma2)
{
	SynthPublicDomain *dom = dc->dom;
	double		threshold = Max(DP_KEEP_SIGMAS, -synth_norm_quantile(0.05 / dom->nfine)) * sqrt(sigma2);
	double	   *w = palloc0(sizeof(double) * dom->nfine);
	double		total = 0;

	for (int b = 0; b < dom->nbins; b++)
	{
		int			first = b * dom->fine_per_bin;
		int			last = b == dom->nbins - 1 ? dom->nfine : Min(first + dom->fine_per_bin, dom->nfine);
		double		bin = Max(dc->y[dc->first_value + b], 0.0);
		double		kept = 0;
		int			rest = 0;

		for (int j = first; j < last; j++)
		{
			if (yfine[j] >= threshold)
				kept += (w[j] = yfine[j]);
			else
				rest++;
		}
		for (int j = first; j < last && rest > 0; j++)
			if (yfine[j] < threshold)
				w[j] = Max(bin - kept, 0.0) / rest;
	}
	for (int j = 0; j < dom->nfine; j++)
		total += w[j];
	dc->fine_cdf = palloc(sizeof(double) * (dom->nfine + 1));
	dc->fine_cdf[0] = 0;
	for (int j = 0; j < dom->nfine; j++)
		dc->fine_cdf[j + 1] = dc->fine_cdf[j] + (total > 0 ? w[j] / total : 1.0 / dom->nfine);
	dc->fine_cdf[dom->nfine] = 1.0;
	pfree(w);
}

/* The noisy distribution function of a continuous value, in (0, 1). */
static double
dp_uniform(const DpColumn *dc, double x, SynthRng *rng)
{
	const SynthPublicDomain *dom = dc->dom;
	double		pos;
	int			j;

	if (dom->whole)
		x += synth_rng_uniform(rng) - 0.5;	/* a whole number covers its unit interval */
	j = dp_fine_index(dom, x);
	pos = (x - dom->lower) / dom->fine_width - j;
	pos = Max(0.0, Min(1.0, pos));
	return Max(1e-12, Min(1.0 - 1e-12,
						  dc->fine_cdf[j] + pos * (dc->fine_cdf[j + 1] - dc->fine_cdf[j])));
}

/* Set a column's encoder from its noisy measurements (post-processing). */
static void
dp_finish_encoder(DpColumn *dc, SynthEncoder *enc)
{
	SynthPublicDomain *dom = dc->dom;
	double		total = 0;

	dc->share = palloc(sizeof(double) * dc->ncells);
	for (int c = 0; c < dc->ncells; c++)
		total += (dc->share[c] = Max(dc->y[c], 0.0) + DP_PROB_FLOOR);
	for (int c = 0; c < dc->ncells; c++)
		dc->share[c] /= total;
	enc->null_rate = dc->null_cell >= 0 ? dc->share[dc->null_cell] : 0.0;
	enc->bounded = false;
	if (dom->continuous)
	{
		double		lo = dom->whole ? dom->lower + 0.5 : dom->lower;
		double		hi = dom->whole ? dom->upper - 0.5 : dom->upper;
		int			j = 0;

		enc->nknots = SYNTH_QUANTILE_KNOTS;
		enc->knots = palloc(sizeof(double) * enc->nknots);
		for (int k = 0; k < enc->nknots; k++)
		{
			double		p = (k + 0.5) / enc->nknots;
			double		frac,
						x;

			while (j < dom->nfine - 1 && dc->fine_cdf[j + 1] < p)
				j++;
			frac = dc->fine_cdf[j + 1] > dc->fine_cdf[j] ?
				(p - dc->fine_cdf[j]) / (dc->fine_cdf[j + 1] - dc->fine_cdf[j]) : 0.5;
			x = dom->lower + (j + Max(0.0, Min(1.0, frac))) * dom->fine_width;
			enc->knots[k] = Max(lo, Min(hi, x));
		}
	}
	else
	{
		double		cum = enc->null_rate;

		for (int i = 0; i < dom->nlabels; i++)
		{
			cum += dc->share[dc->first_value + i];
			enc->cat_cum[i] = cum;
		}
		enc->rare_share = dc->other_cell >= 0 ? dc->share[dc->other_cell] : 0.0;
		if (dc->other_cell < 0)
			enc->cat_cum[dom->nlabels - 1] = 1.0;
	}
}

/* ---------------------------------------------------------------- the network's encoding */

/*
 * The neural layout of the private encoders (as model_neural.c's
 * plan_encoding, from public facts only): a continuous column's modes are
 * max_modes equal stretches of its noisy distribution function; a
 * categorical column has a slot per label, one for "other" and one for
 * NULL where its domain has them.  Slot shares are the noisy ones.
 */
static void
dp_plan_encoding(SynthModel *model, SynthNeural *nn, DpColumn *dcs, int ndc, int max_modes)
{
	NnLayout   *layout = &nn->layout;
	int			d = 0,
				nalpha = 0,
				width;

	nn->cols = palloc0(sizeof(SynthNeuralColumn) * Max(ndc, 1));
	nn->ncols = 0;
	for (int i = 0; i < model->natts; i++)
	{
		model->encoders[i].dim = -1;
		model->encoders[i].null_dim = -1;
	}
	for (int k = 0; k < ndc; k++)
	{
		DpColumn   *dc = &dcs[k];
		SynthEncoder *enc = &model->encoders[dc->enc];
		SynthNeuralColumn *col = &nn->cols[nn->ncols++];

		enc->dim = d++;
		if (dc->dom->continuous && dc->null_cell >= 0)
			enc->null_dim = d++;
		col->encoder = dc->enc;
		col->continuous = dc->dom->continuous;
		col->alpha = col->continuous ? nalpha++ : -1;
		col->rare_slot = -1;
		col->null_slot = -1;
		if (col->continuous)
		{
			col->nmodes = max_modes;
			col->bounds = palloc(sizeof(double) * (max_modes + 1));
			for (int m = 0; m <= max_modes; m++)
				col->bounds[m] = (double) m / max_modes;
			col->nslots = max_modes;
		}
		else
		{
			col->nslots = dc->dom->nlabels;
			if (dc->other_cell >= 0)
				col->rare_slot = col->nslots++;
		}
		if (dc->null_cell >= 0)
			col->null_slot = col->nslots++;
	}
	model->dim = d;

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
				 errhint("Give shorter \"domains\", or leave columns out with \"exclude\".")));

	/* the noisy share of each discrete slot, in slot order */
	nn->slot_share = palloc0(sizeof(double) * Max(layout->cond_width, 1));
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];
		DpColumn   *dc = &dcs[c];
		double	   *share = nn->slot_share + layout->span_cond[c];

		if (col->continuous)
			continue;
		for (int i = 0; i < dc->dom->nlabels; i++)
			share[i] = dc->share[dc->first_value + i];
		if (col->rare_slot >= 0)
			share[col->rare_slot] = dc->share[dc->other_cell];
		if (col->null_slot >= 0)
			share[col->null_slot] = dc->share[dc->null_cell];
	}
}

/* Encode the sample's rows with the private encoders: a fixed function of each row. */
static void
dp_encode_rows(SynthNeural *nn, DpColumn *dcs, SynthSample *sample, const int *sample_col,
			   int64 nrows, SynthRng *rng, SynthReal *data)
{
	int			w = nn->layout.width;

	memset(data, 0, sizeof(SynthReal) * nrows * w);
	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];
		DpColumn   *dc = &dcs[c];
		const double *values = sample->values + (int64) sample_col[dc->enc] * sample->capacity;
		int			start = nn->layout.span_start[c];

		CHECK_FOR_INTERRUPTS();
		for (int64 r = 0; r < nrows; r++)
		{
			SynthReal  *row = data + r * w;

			if (isnan(values[r]) && col->null_slot >= 0)
				row[start + col->null_slot] = 1;
			else if (col->continuous)
			{
				double		u = dp_uniform(dc, isnan(values[r]) ? dc->dom->lower : values[r], rng);
				int			k = Min((int) (u * col->nmodes), col->nmodes - 1);

				row[start + k] = 1;
				row[col->alpha] = (SynthReal) (2.0 * (u - col->bounds[k]) /
											   (col->bounds[k + 1] - col->bounds[k]) - 1.0);
			}
			else
			{
				int			fine;
				int			cell = dp_cell(dc, values[r], &fine);
				int			slot = cell == dc->other_cell ? col->rare_slot :
					cell == dc->null_cell ? col->null_slot : cell - dc->first_value;

				row[start + slot] = 1;
			}
		}
	}
}

/* ---------------------------------------------------------------- stage 2: DP-SGD */

/* A run's DP-SGD state: the secret stream, the sampler, noise buffers. */
typedef struct DpSgd
{
	SynthSecureStream stream;
	uint64		threshold;		/* Bernoulli(q) */
	int64	   *batch;			/* indices of this step's rows */
	float	   *noise_host;		/* (count) */
	SynthReal  *noise;			/* (count) backend memory */
	SynthReal  *staging;		/* host rows before upload, or NULL on the CPU */
	int			capacity;		/* rows per pass through the network */
} DpSgd;

/* Poisson sampling: each row independently with the sampler's probability. */
static int64
dp_sample(DpSgd *dp, int64 nrows)
{
	int64		B = 0;

	for (int64 r = 0; r < nrows; r++)
		if (synth_secure_bernoulli(&dp->stream, dp->threshold))
			dp->batch[B++] = r;
	return B;
}

/*
 * grads = (grads + N(0, (sigma C)^2)) / b: the noise of one step, from the
 * secret stream, and the division by the expected batch size.
 */
static void
dp_noise_step(const SynthBackend *be, DpSgd *dp, NnParams *p, const DpPlan *plan)
{
	SynthReal	scale = (SynthReal) (1.0 / plan->batch_size);

	synth_secure_gaussian(&dp->stream, p->count, plan->noise_multiplier * plan->max_grad_norm,
						  dp->noise_host);
	if (be->to_device)
		synth_buffer_upload(be, dp->noise, dp->noise_host, sizeof(SynthReal) * p->count);
	else
		memcpy(dp->noise, dp->noise_host, sizeof(SynthReal) * p->count);
	be->axpby(be, p->count, scale, dp->noise, scale, p->grads);
}

/* Copy rows batch[from, from + n) of the data (with extra zeroed columns) into the network's input. */
static void
dp_gather(const SynthBackend *be, DpSgd *dp, SynthNeuralRun *run, int width, int ld,
		  int64 from, int n, SynthReal *dst)
{
	SynthReal  *host = dp->staging ? dp->staging : dst;

	for (int i = 0; i < n; i++)
	{
		memcpy(host + (int64) i * ld, run->data + dp->batch[from + i] * width,
			   sizeof(SynthReal) * width);
		if (ld > width)
			memset(host + (int64) i * ld + width, 0, sizeof(SynthReal) * (ld - width));
	}
	if (dp->staging)
		synth_buffer_upload(be, dst, host, sizeof(SynthReal) * n * ld);
}

static void
dp_init(DpSgd *dp, SynthNeuralRun *run, const DpPlan *plan, size_t count, int ld)
{
	const SynthBackend *be = run->backend;
	double		rate;

	synth_secure_init(&dp->stream);
	dp->threshold = synth_secure_bernoulli_threshold(plan->sampling_rate, &rate);
	dp->batch = MemoryContextAllocHuge(run->cxt, sizeof(int64) * Max(run->nrows, 1));
	dp->noise_host = MemoryContextAllocHuge(run->cxt, sizeof(float) * Max(count, 1));
	dp->noise = synth_neural_buffer(run, count);
	dp->capacity = run->batch_size;
	dp->staging = be->to_device ?
		MemoryContextAllocHuge(run->cxt, sizeof(SynthReal) * dp->capacity * ld) : NULL;
}

/*
 * After an epoch: the hook (no loss: tvae's is not private) and the
 * trainer's NOTICE, with tvae's loss on real rows or ctgan's generator loss.
 */
static void
dp_progress(SynthNeuralRun *run, const char *method, int epoch, double loss)
{
	bool		tvae = strcmp(method, "tvae") == 0;

	if (synth_progress_hook)
		synth_progress_hook(synth_progress_arg, epoch, run->epochs, NAN);
	if (run->progress_every > 0 && (epoch % run->progress_every == 0 || epoch == run->epochs))
		ereport(NOTICE,
				(errmsg("%s (DP-SGD) epoch %d of %d: %s %.4f", method, epoch, run->epochs,
						tvae ? "loss" : "generator loss", loss),
				 tvae ? errdetail("The loss is computed on real rows without noise: it is shown to the trainer and not stored.") : 0));
}

/* The step that ends epoch e (from 1) of T steps over the epochs. */
static int64
dp_epoch_end(const DpPlan *plan, int e)
{
	return (int64) llround((double) plan->steps * e / plan->epochs);
}

static void
dp_tvae_train(SynthModel *model, SynthNeuralRun *run, const DpPlan *plan)
{
	SynthNeural *nn = model->neural;
	NnTvae	   *net = &nn->tvae;
	const SynthBackend *be = run->backend;
	const SynthNeuralOptions *opts = run->opts;
	NnTvaeConfig config;
	NnTvaeClip	clip;
	NnArena		arena = {NULL, 0};
	DpSgd		dp;
	int			w = nn->layout.width;
	int64		step = 0;

	nn_tvae_config_default(&config);
	if (opts->embedding_dim > 0)
		config.embedding_dim = opts->embedding_dim;
	if (opts->learning_rate > 0)
		config.adam.lr = (SynthReal) opts->learning_rate;
	nn_tvae_declare(net, &config, &nn->layout);
	nn->params = &net->params;
	synth_neural_params_alloc(run, &net->params, true);
	nn_params_init(be, &net->params, &run->rng);
	nn_tvae_layout(net, &arena, run->batch_size);
	nn_tvae_clip_layout(net, &clip, &arena, run->batch_size);
	arena.base = (char *) synth_neural_buffer(run, arena.used / sizeof(SynthReal) + 1);
	arena.used = 0;
	nn_tvae_layout(net, &arena, run->batch_size);
	nn_tvae_clip_layout(net, &clip, &arena, run->batch_size);
	dp_init(&dp, run, plan, net->params.count, w);

	for (int epoch = 1; epoch <= run->epochs; epoch++)
	{
		double		loss = 0.0;
		int64		rows = 0;

		for (; step < dp_epoch_end(plan, epoch); step++)
		{
			int64		B = dp_sample(&dp, run->nrows);

			CHECK_FOR_INTERRUPTS();
			nn_params_zero_grad(be, &net->params);
			for (int64 from = 0; from < B; from += dp.capacity)
			{
				int			n = (int) Min((int64) dp.capacity, B - from);

				dp_gather(be, &dp, run, w, w, from, n, net->x);
				loss += nn_tvae_clipped_grads(be, net, &clip, n, &run->rng,
											  (SynthReal) plan->max_grad_norm);
			}
			rows += B;
			dp_noise_step(be, &dp, &net->params, plan);
			nn_adam_step(be, &net->params, &net->config.adam);
			be->clamp(be, net->params.tensors[net->sigma].count, (SynthReal) DP_TVAE_SIGMA_MIN,
					  (SynthReal) DP_TVAE_SIGMA_MAX, nn_value(&net->params, net->sigma));
			run->dp_steps_done = step + 1;
		}
		dp_progress(run, "tvae", epoch, loss / Max(rows, 1));
	}
}

/* ctgan: draw conditions for n fake rows: a discrete span uniformly, a slot by its noisy share. */
static void
dp_fake_conditions(SynthNeural *nn, int n, SynthRng *rng, SynthReal *cond)
{
	const NnLayout *layout = &nn->layout;
	int			cw = layout->cond_width;
	int			ndiscrete = 0;
	int		   *spans = palloc(sizeof(int) * Max(layout->nspans, 1));

	for (int s = 0; s < layout->nspans; s++)
		if (layout->span_discrete[s])
			spans[ndiscrete++] = s;
	memset(cond, 0, sizeof(SynthReal) * n * cw);
	for (int r = 0; r < n && ndiscrete > 0; r++)
	{
		int			s = spans[synth_rng_below(rng, ndiscrete)];
		const double *share = nn->slot_share + layout->span_cond[s];
		double		total = 0,
					u,
					cum = 0;
		int			j = 0;

		for (int k = 0; k < layout->span_len[s]; k++)
			total += share[k];
		u = synth_rng_uniform(rng) * total;
		for (j = 0; j < layout->span_len[s] - 1; j++)
		{
			cum += share[j];
			if (u < cum)
				break;
		}
		cond[(int64) r * cw + layout->span_cond[s] + j] = 1;
	}
	pfree(spans);
}

/*
 * ctgan: the real rows of a pass, each followed by its condition: a discrete
 * span drawn uniformly, and the row's own slot in it.
 */
static void
dp_real_conditions(SynthNeural *nn, SynthReal *rows, int n, int ld, SynthRng *rng)
{
	const NnLayout *layout = &nn->layout;
	int			ndiscrete = 0;
	int		   *spans = palloc(sizeof(int) * Max(layout->nspans, 1));

	for (int s = 0; s < layout->nspans; s++)
		if (layout->span_discrete[s])
			spans[ndiscrete++] = s;
	for (int r = 0; r < n && ndiscrete > 0; r++)
	{
		SynthReal  *row = rows + (int64) r * ld;
		int			s = spans[synth_rng_below(rng, ndiscrete)];

		for (int k = 0; k < layout->span_len[s]; k++)
			if (row[layout->span_start[s] + k] != 0)
				row[layout->width + layout->span_cond[s] + k] = 1;
	}
	pfree(spans);
}

static void
dp_ctgan_train(SynthModel *model, SynthNeuralRun *run, const DpPlan *plan)
{
	SynthNeural *nn = model->neural;
	NnCtgan    *net = &nn->ctgan;
	const SynthBackend *be = run->backend;
	const SynthNeuralOptions *opts = run->opts;
	NnCtganConfig config;
	NnArena		arena = {NULL, 0};
	DpSgd		dp;
	int			b = run->batch_size;
	int			cw = nn->layout.cond_width;
	SynthReal  *cond_host = palloc(sizeof(SynthReal) * b * Max(cw, 1));
	SynthReal  *sum;
	NnCtganClip clip;
	int64		step = 0;

	nn_ctgan_config_default(&config);
	config.pac = 1;
	if (opts->embedding_dim > 0)
		config.embedding_dim = opts->embedding_dim;
	if (opts->learning_rate > 0)
		config.gen_adam.lr = config.dis_adam.lr = (SynthReal) opts->learning_rate;
	nn_ctgan_declare(net, &config, &nn->layout);
	nn->params = &net->gen;
	synth_neural_params_alloc(run, &net->gen, true);
	synth_neural_params_alloc(run, &net->dis, true);
	nn_params_init(be, &net->gen, &run->rng);
	nn_params_init(be, &net->dis, &run->rng);
	nn_ctgan_layout(net, &arena, b, true);
	nn_ctgan_clip_layout(net, &clip, &arena, b);
	arena.base = (char *) synth_neural_buffer(run, arena.used / sizeof(SynthReal) + 1);
	arena.used = 0;
	nn_ctgan_layout(net, &arena, b, true);
	nn_ctgan_clip_layout(net, &clip, &arena, b);
	sum = synth_neural_buffer(run, net->dis.count);
	dp_init(&dp, run, plan, net->dis.count, net->row);

	for (int epoch = 1; epoch <= run->epochs; epoch++)
	{
		double		loss = 0.0;
		int			generator_steps = 0;

		for (; step < dp_epoch_end(plan, epoch); step++)
		{
			int64		B = dp_sample(&dp, run->nrows);

			CHECK_FOR_INTERRUPTS();
			/* fake rows: a public number of them, of conditions drawn from the noisy shares */
			dp_fake_conditions(nn, b, &run->host_rng, cond_host);
			synth_buffer_upload(be, net->cond, cond_host, sizeof(SynthReal) * b * cw);
			nn_ctgan_generate(be, net, b, true, &run->rng);

			/* the real rows' clipped critic gradients, a pass of at most b rows at a time */
			be->fill(be, net->dis.count, 0, sum);
			for (int64 from = 0; from < B; from += dp.capacity)
			{
				int			n = (int) Min((int64) dp.capacity, B - from);
				SynthReal  *host = dp.staging ? dp.staging : net->real;

				/* rows, then their conditions (zeroed by dp_gather) */
				dp_gather(be, &dp, run, nn->layout.width, net->row, from, n, net->real);
				if (dp.staging)
				{
					dp_real_conditions(nn, host, n, net->row, &run->host_rng);
					synth_buffer_upload(be, net->real, host, sizeof(SynthReal) * n * net->row);
				}
				else
					dp_real_conditions(nn, net->real, n, net->row, &run->host_rng);
				nn_ctgan_critic_clipped_grads(be, net, &clip, n, b, &run->rng,
											  (SynthReal) plan->max_grad_norm, sum);
			}

			/* (sum + noise) / b, then Adam */
			be->fill(be, net->dis.count, 0, net->dis.grads);
			be->axpby(be, net->dis.count, 1, sum, 0, net->dis.grads);
			dp_noise_step(be, &dp, &net->dis, plan);
			nn_adam_step(be, &net->dis, &net->config.dis_adam);
			run->dp_steps_done = step + 1;

			/* the generator: post-processing of the critic */
			if ((step + 1) % plan->dsteps == 0 || step + 1 == plan->steps)
			{
				double		cond_loss;

				dp_fake_conditions(nn, b, &run->host_rng, cond_host);
				synth_buffer_upload(be, net->cond, cond_host, sizeof(SynthReal) * b * cw);
				loss += nn_ctgan_generator_step(be, net, b, &run->rng, &cond_loss);
				generator_steps++;
			}
		}
		dp_progress(run, "ctgan", epoch, loss / Max(generator_steps, 1));
	}
}

/* ---------------------------------------------------------------- accounting */

/*
 * Fix the budget split before reading: rho of (epsilon, delta), the order
 * alpha* it converts best at, the marginals' noise.
 */
static void
dp_plan_budget(DpPlan *plan, int ncolumns, int nfine)
{
	plan->rho = synth_zcdp_rho(plan->epsilon_inner, plan->delta_inner);
	plan->alpha = synth_zcdp_best_order(plan->rho, plan->delta_inner);
	plan->ncolumns = ncolumns;
	plan->nfine = nfine;
	plan->sigma2_marginals = (ncolumns + nfine) / (2 * plan->share * plan->rho);
	if (plan->sigma2_marginals > SYNTH_NOISE_MAX_SIGMA2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too small to measure the marginals of %d columns", plan->epsilon,
						ncolumns),
				 errdetail("The noise would exceed the range of synth's samplers (a standard deviation of 2^24)."),
				 errhint("Use a larger epsilon, a larger \"marginal_share\", or fewer columns.")));
}

/*
 * After the marginals: q and T from the estimated rows, sigma calibrated at
 * alpha* to what remains of the RDP budget there.
 */
static void
dp_plan_steps(DpPlan *plan)
{
	double		q = Min(1.0, plan->batch_size / Max(plan->rows_estimate, 1.0));
	double		budget;

	(void) synth_secure_bernoulli_threshold(q, &plan->sampling_rate);
	plan->steps = Max((int64) llround(plan->epochs / q), 1);
	budget = (plan->rho - plan->rho_marginals) * plan->alpha;
	plan->noise_multiplier = synth_dpsgd_calibrate_at(plan->sampling_rate, plan->steps, plan->alpha,
													  budget);
	if (isinf(plan->noise_multiplier))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too small for " INT64_FORMAT " steps of DP-SGD", plan->epsilon,
						plan->steps),
				 errdetail("No noise multiplier up to 10^4 keeps the steps within the budget."),
				 errhint("Train fewer epochs, with a smaller batch_size, or with a larger epsilon.")));
	plan->rdp_sgd = plan->steps * synth_rdp_sampled_gaussian(plan->sampling_rate,
															 plan->noise_multiplier, plan->alpha);
	plan->rdp_total = plan->rho_marginals * plan->alpha + plan->rdp_sgd;
	plan->epsilon_spent = synth_rdp_to_epsilon(plan->alpha, plan->rdp_total, plan->delta_inner);
}

/* The ledger's parameters: every mechanism and the accounting. */
static void
dp_privacy_json(StringInfo buf, const DpPlan *plan, const char *method)
{
	appendStringInfo(buf, "{\"accounting\": \"a noisy row count, then the training on a Poisson sample of the rows at rate subsample_rate "
					 "(1: every row): Renyi DP at one order fixed before reading the sample (Mironov 2017, adaptive composition), "
					 "converted as in Balle et al. 2020 to (epsilon_inner, delta_inner) with respect to the sample, amplified by "
					 "Poisson subsampling to (epsilon_sample, delta_sample) with respect to the table (Balle, Barthe, Gaboardi 2018, "
					 "Theorem 8); the discovery of domains (epsilon_domains, delta_domains; 0 when every domain is public), "
					 "the count and the training add up (sequential composition)\", "
					 "\"unit\": \"one row, added or removed\", \"epsilon\": %.17g, \"delta\": %.17g, "
					 "\"epsilon_domains\": %.17g, \"delta_domains\": %.17g, "
					 "\"epsilon_count\": %.17g, \"delta_count\": %.17g, \"rows_counted\": %.17g, "
					 "\"rows_memory\": " INT64_FORMAT ", \"subsample_rate\": %.17g, \"subsampling\": \"%s\", "
					 "\"epsilon_sample\": %.17g, \"delta_sample\": %.17g, "
					 "\"epsilon_inner\": %.17g, \"delta_inner\": %.17g, "
					 "\"order\": %.17g, \"rdp\": %.17g, \"epsilon_of_rdp\": %.17g, \"rho_of_budget\": %.17g, "
					 "\"marginal_share\": %.17g, \"mechanisms\": [",
					 plan->epsilon, plan->delta, plan->discovery.epsilon, plan->discovery.delta,
					 plan->epsilon_count, plan->delta_count,
					 plan->rows_counted, plan->rows_memory, plan->subsample_rate,
					 plan->subsampled ? "Poisson" : "none (every row)",
					 plan->epsilon_sample, plan->delta_sample, plan->epsilon_inner, plan->delta_inner,
					 plan->alpha, plan->rdp_total, plan->epsilon_spent, plan->rho, plan->share);
	appendStringInfo(buf, "{\"mechanism\": \"discrete_gaussian\", \"measures\": \"1-way marginals (encoders)\", "
					 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g}",
					 plan->ncolumns, plan->sigma2_marginals,
					 plan->ncolumns * synth_gaussian_rho(1.0, plan->sigma2_marginals));
	/* always present (count 0 without continuous columns), so that the sampled Gaussian is third */
	appendStringInfo(buf, ", {\"mechanism\": \"discrete_gaussian\", \"measures\": \"fine 1-way histograms of continuous columns (encoders)\", "
					 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g}",
					 plan->nfine, plan->sigma2_marginals,
					 plan->nfine * synth_gaussian_rho(1.0, plan->sigma2_marginals));
	appendStringInfo(buf, ", {\"mechanism\": \"sampled_gaussian\", \"trains\": \"%s\", "
					 "\"noise_multiplier\": %.17g, \"sampling_rate\": %.17g, \"sampling\": \"Poisson\", "
					 "\"steps\": " INT64_FORMAT ", \"max_grad_norm\": %.17g, \"expected_batch_size\": %d, "
					 "\"epochs\": %d, \"rdp_at_order\": %.17g, "
					 "\"noise\": \"sum of four Box-Muller normals over two, from ChaCha20 keyed by pg_strong_random\"}",
					 strcmp(method, "tvae") == 0 ? "tvae: every weight" : "ctgan: the critic (pac 1)",
					 plan->noise_multiplier, plan->sampling_rate, plan->steps, plan->max_grad_norm,
					 plan->batch_size, plan->epochs, plan->rdp_sgd);
	/* fourth, so that the others keep their places: the count on the whole table */
	appendStringInfo(buf, ", {\"mechanism\": \"discrete_gaussian\", \"measures\": \"row count (chooses subsample_rate), every row\", "
					 "\"count\": 1, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g, "
					 "\"epsilon\": %.17g, \"delta\": %.17g}]}",
					 plan->sigma2_count, synth_gaussian_rho(1.0, plan->sigma2_count),
					 plan->epsilon_count, plan->delta_count);
	/* fifth, when some domain was discovered */
	if (plan->discovery.ncolumns > 0)
	{
		buf->len -= 2;			/* reopen the list */
		buf->data[buf->len] = '\0';
		appendStringInfoString(buf, ", ");
		synth_discovery_json(buf, &plan->discovery);
		appendStringInfoString(buf, "]}");
	}
}

/* ---------------------------------------------------------------- tables larger than memory */

/* The width of an encoded row (as dp_plan_encoding lays it out): public. */
static int
dp_encoded_width(const DpColumn *dcs, int ndc, int max_modes)
{
	int			width = 0;

	for (int k = 0; k < ndc; k++)
	{
		const DpColumn *dc = &dcs[k];

		if (dc->dom->continuous)
			width += 1 + max_modes;
		else
			width += dc->dom->nlabels + (dc->other_cell >= 0 ? 1 : 0);
		width += dc->null_cell >= 0 ? 1 : 0;
	}
	return width;
}

/*
 * The rows a private training may hold: the reader's sample of ncols values
 * and the encoded rows must both fit in synth.train_memory.  Public: the
 * setting, the columns and their public domains.
 */
static int64
dp_rows_memory(int ncols, int width)
{
	int64		bytes = (int64) synth_train_memory_kb * 1024;
	int64		rows = Min(synth_sample_capacity(ncols),
						   bytes / ((int64) sizeof(SynthReal) * Max(width, 1)));

	return Max(rows, 1);
}

/*
 * Split the budget between the row count and the rest, count the rows with
 * noise, and choose the subsampling rate p and the (epsilon, delta) of the
 * training on the sample.  Returns the sampler's threshold (every_row: p is
 * 1).  Refuses a delta that the amplification cannot carry.
 */
static uint64
dp_plan_subsample(DpPlan *plan, Oid relid, SynthColumn *cols, int ncols,
				  SynthRowCallback filter, void *filter_arg, bool *every_row)
{
	uint64		sn,
				sd;
	SynthNoise	noise;
	int64		rows;
	double		rows_high;
	uint64		threshold = 0;
	double		epsilon_rest = plan->epsilon - plan->discovery.epsilon;
	double		delta_rest = plan->delta - plan->discovery.delta;

	plan->epsilon_count = DP_COUNT_SHARE * epsilon_rest;
	plan->delta_count = DP_COUNT_SHARE * delta_rest;
	plan->epsilon_sample = epsilon_rest - plan->epsilon_count;
	plan->delta_sample = delta_rest - plan->delta_count;

	/* the noisy count: rho-zCDP with rho the largest that gives (epsilon_count, delta_count) */
	synth_noise_rational_up(Max(1.0 / (2.0 * synth_zcdp_rho(plan->epsilon_count, plan->delta_count)),
								SYNTH_NOISE_MIN_SIGMA2), &sn, &sd);
	plan->sigma2_count = (double) sn / sd;
	if (plan->sigma2_count > SYNTH_NOISE_MAX_SIGMA2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too small to count the rows of the table", plan->epsilon),
				 errdetail("The noise would exceed the range of synth's samplers (a standard deviation of 2^24)."),
				 errhint("Use a larger epsilon.")));
	rows = synth_count_relation(relid, cols, ncols, filter, filter_arg);
	synth_noise_init(&noise);
	plan->rows_counted = (double) (rows + synth_noise_discrete_gaussian(&noise, sn, sd));

	/* the rate, from the noisy count and public facts only */
	rows_high = plan->rows_counted + DP_COUNT_MARGIN_SIGMAS * sqrt(plan->sigma2_count);
	*every_row = rows_high <= (double) plan->rows_memory;
	plan->subsampled = !*every_row;
	if (*every_row)
	{
		plan->subsample_rate = 1.0;
		plan->epsilon_inner = plan->epsilon_sample;
		plan->delta_inner = plan->delta_sample;
		return 0;
	}
	threshold = synth_secure_bernoulli_threshold(DP_SAMPLE_FILL * plan->rows_memory / rows_high,
												 &plan->subsample_rate);
	synth_subsample_inner(plan->epsilon_sample, plan->delta_sample, plan->subsample_rate,
						  &plan->epsilon_inner, &plan->delta_inner);
	if (!(plan->delta_inner < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta %g is too large for a training on a sample of the table", plan->delta),
				 errdetail("The table does not fit in synth.train_memory and is sampled at rate %.4g; "
						   "the training on the sample would need delta %.4g / %.4g, at least 1.",
						   plan->subsample_rate, plan->delta_sample, plan->subsample_rate),
				 errhint("Train with a smaller delta (well below the sampling rate), or raise synth.train_memory.")));
	return threshold;
}

/* ---------------------------------------------------------------- the training */

/* Ensure the neural options make sense under DP. */
static inline void
CheckDpOptions(SynthMethod method, const SynthNeuralOptions *opts)
{
	if (method == SYNTH_METHOD_CTGAN && opts->pac > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"pac\" must be 1 under differential privacy"),
				 errdetail("DP-SGD clips each row's critic gradient; a pack of rows would be one sample."),
				 errhint("Leave \"pac\" out: ctgan with an epsilon uses pac 1.")));
}

/*
 * Train a tvae or ctgan model of rel under (epsilon, delta)-DP and store it;
 * returns the model id.  train.c has planned the columns and checked the
 * options.  The budget is spent before a row is read.
 */
int64
synth_dp_neural_train(Relation rel, SynthModel *model, SynthColumn *cols, int ncols,
					  const int *sample_col, const SynthPrivacyOptions *popts,
					  const SynthNeuralOptions *nopts, const char *method_name,
					  const char *reason, uint64 seed, double holdout_fraction)
{
	Oid			relid = RelationGetRelid(rel);
	const char *method = synth_method_name(model->method);
	SynthPublicDomain *domains;
	DpColumn   *dcs;
	int			ndc = 0;
	DpPlan		plan;
	SynthHoldout holdout;
	SynthSample *sample;
	SynthNoise	noise;
	uint64		sn,
				sd;
	double		totals = 0;
	SynthNeural *nn;
	SynthNeuralRun *run;
	MemoryContext oldcxt;
	instr_time	start,
				elapsed;
	StringInfoData privacy;
	StringInfoData spec;
	StringInfoData metrics;
	bytea	   *weights;
	int64		id;
	int			bins = popts->bins > 0 ? popts->bins : SYNTH_MST_DEFAULT_BINS;
	uint64		threshold;
	bool		every_row;
	bool		spent = false;

	INSTR_TIME_SET_CURRENT(start);
	CheckDpOptions(model->method, nopts);
	memset(&plan, 0, sizeof(plan));
	plan.epsilon = popts->epsilon;
	plan.share = popts->marginal_share > 0 ? popts->marginal_share : DP_DEFAULT_MARGINAL_SHARE;
	plan.max_grad_norm = popts->max_grad_norm > 0 ? popts->max_grad_norm : DP_DEFAULT_MAX_GRAD_NORM;
	plan.epochs = nopts->epochs > 0 ? nopts->epochs : DP_DEFAULT_EPOCHS;
	plan.batch_size = nopts->batch_size > 0 ? nopts->batch_size : DP_DEFAULT_BATCH;
	plan.dsteps = nopts->discriminator_steps > 0 ? nopts->discriminator_steps : 1;

	/*
	 * public domains: bounds and labels that do not come from the data, or
	 * discovered under DP with a share of the budget (spent first)
	 */
	if (holdout_fraction > 0)
		synth_holdout_init(&holdout, holdout_fraction, seed, cols, ncols);
	if (synth_domain_share(popts) > 0 &&
		synth_missing_domains(rel, model, cols, sample_col, popts) > 0)
	{
		plan.delta = synth_budget_spend(relid, plan.epsilon, popts->delta);
		spent = true;
		popts = synth_discover_domains(rel, model, cols, ncols, sample_col, popts,
									   synth_domain_share(popts) * plan.epsilon,
									   synth_domain_share(popts) * plan.delta,
									   holdout_fraction > 0 ? &holdout : NULL, &plan.discovery);
	}
	domains = synth_public_domains(rel, model, cols, sample_col, popts);
	dcs = palloc0(sizeof(DpColumn) * Max(model->natts, 1));
	for (int i = 0; i < model->natts; i++)
	{
		DpColumn   *dc;

		if (!domains[i].planned)
			continue;
		dc = &dcs[ndc++];
		dc->enc = i;
		dc->dom = &domains[i];
		dc->null_cell = dc->dom->nullable ? 0 : -1;
		dc->first_value = dc->dom->nullable ? 1 : 0;
		dc->ncells = dc->first_value + (dc->dom->continuous ? dc->dom->nbins : dc->dom->nlabels);
		dc->other_cell = dc->dom->has_other ? dc->ncells++ : -1;
		plan.nfine += dc->dom->continuous ? 1 : 0;
	}
	if (ndc == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no column that %s can model under differential privacy",
						RelationGetRelationName(rel), method),
				 errhint("It models number, date, timestamp, bool, enum and text columns that are not keys.")));

	/* the budget first: a refused spend reads no data */
	if (!spent)
		plan.delta = synth_budget_spend(relid, plan.epsilon, popts->delta);
	plan.rows_memory = dp_rows_memory(ncols, dp_encoded_width(dcs, ndc, nopts->max_modes));

	for (int k = 0; k < ndc; k++)
		dp_seed_labels(&dcs[k], &cols[sample_col[dcs[k].enc]]);

	/* a noisy count of the rows (but a holdout's) chooses the subsampling rate */
	threshold = dp_plan_subsample(&plan, relid, cols, ncols,
								  holdout_fraction > 0 ? synth_holdout_filter : NULL, &holdout,
								  &every_row);

	/* the training on the sample: its order and budget are fixed before reading it */
	dp_plan_budget(&plan, ndc, plan.nfine);
	synth_noise_rational_up(Max(plan.sigma2_marginals, SYNTH_NOISE_MIN_SIGMA2), &sn, &sd);
	plan.sigma2_marginals = (double) sn / sd;
	plan.rho_marginals = (ndc + plan.nfine) * synth_gaussian_rho(1.0, plan.sigma2_marginals);
	if (plan.subsampled)
		ereport(NOTICE,
				(errmsg("table \"%s\" does not fit in synth.train_memory: the private training reads a Poisson sample of its rows",
						RelationGetRelationName(rel)),
				 errdetail("Each row is kept with probability %.4g: about %.0f rows expected of about %.0f. "
						   "Training on the sample is (%.4g, %.3g)-DP with respect to the sample, which the "
						   "subsampling amplifies to (%.4g, %.3g)-DP with respect to the table "
						   "(Balle, Barthe, Gaboardi 2018); the row count costs (%.3g, %.3g).",
						   plan.subsample_rate, plan.subsample_rate * plan.rows_counted,
						   plan.rows_counted, plan.epsilon_inner, plan.delta_inner,
						   synth_subsample_epsilon(plan.epsilon_inner, plan.subsample_rate),
						   plan.subsample_rate * plan.delta_inner, plan.epsilon_count,
						   plan.delta_count),
				 errhint("Raise synth.train_memory to train on more of the rows.")));

	/* read the sample (every row but a holdout's when p is 1): never truncated */
	sample = synth_read_relation_poisson(relid, cols, ncols, plan.rows_memory, every_row, threshold,
										 holdout_fraction > 0 ? synth_holdout_filter : NULL,
										 &holdout);
	synth_job_progress_phase("fitting");

	/* stage 1: noisy 1-way marginals, the encoders */
	synth_noise_init(&noise);
	for (int k = 0; k < ndc; k++)
	{
		DpColumn   *dc = &dcs[k];
		const double *values = sample->values + (int64) sample_col[dc->enc] * sample->capacity;
		double		sum = 0;

		if (!dc->dom->continuous)
			dp_map_dictionary(dc, &cols[sample_col[dc->enc]]);
		dc->counts = palloc0(sizeof(int64) * dc->ncells);
		if (dc->dom->continuous)
			dc->fine_counts = palloc0(sizeof(int64) * dc->dom->nfine);
		for (int64 r = 0; r < sample->nrows; r++)
		{
			int			fine;

			dc->counts[dp_cell(dc, values[r], &fine)]++;
			if (fine >= 0)
				dc->fine_counts[fine]++;
		}
		dc->y = dp_noisy(&noise, dc->counts, dc->ncells, sn, sd);
		for (int c = 0; c < dc->ncells; c++)
			sum += dc->y[c];
		totals += sum;
	}
	for (int k = 0; k < ndc; k++)
	{
		DpColumn   *dc = &dcs[k];

		if (dc->dom->continuous)
		{
			double	   *yfine = dp_noisy(&noise, dc->fine_counts, dc->dom->nfine, sn, sd);

			dp_fine_cdf(dc, yfine, plan.sigma2_marginals);
			pfree(yfine);
		}
		dp_finish_encoder(dc, &model->encoders[dc->enc]);
	}
	/* the exact counts end here; the row count is estimated from the noisy totals */
	plan.rows_estimate = Max(totals / ndc, 1.0);
	model->n_rows = (int64) llround(plan.rows_estimate / plan.subsample_rate);

	/* stage 2: the network under DP-SGD */
	dp_plan_steps(&plan);
	if (nopts->progress_every != 0)
		ereport(NOTICE,
				(errmsg("%s trains with DP-SGD: noise multiplier %.4g, sampling rate %.4g, " INT64_FORMAT " steps",
						method, plan.noise_multiplier, plan.sampling_rate, plan.steps),
				 errdetail("Accounted at order %.4g: (%.4g, %g)-DP on the %s, %g of its rho on the encoders; "
						   "(%g, %g)-DP in all with the row count%s.",
						   plan.alpha, plan.epsilon_spent, plan.delta_inner,
						   plan.subsampled ? "sample" : "rows", plan.share, plan.epsilon, plan.delta,
						   plan.discovery.ncolumns > 0 ? " and the discovery of domains" : "")));

	nn = palloc0(sizeof(SynthNeural));
	model->neural = nn;
	nn->method = model->method;
	dp_plan_encoding(model, nn, dcs, ndc, nopts->max_modes);
	run = synth_neural_run_create(synth_neural_backend(nopts->device), CurrentMemoryContext,
								  "synth DP-SGD training");
	nn->device_name = pstrdup(run->backend->name);
	run->opts = nopts;
	run->progress_every = nopts->progress_every >= 0 ? nopts->progress_every :
		Max(plan.epochs / 10, 1);
	run->epochs = plan.epochs;
	run->batch_size = plan.batch_size;
	run->dp_steps = plan.steps;
	run->rng.seed = seed;
	run->rng.counter = 0;
	synth_rng_seed(&run->host_rng, seed ^ UINT64CONST(0x6470736764));
	oldcxt = MemoryContextSwitchTo(run->cxt);
	run->nrows = sample->nrows;
	run->data = MemoryContextAllocHuge(run->cxt,
									   sizeof(SynthReal) * Max(run->nrows, 1) * nn->layout.width);
	dp_encode_rows(nn, dcs, sample, sample_col, run->nrows, &run->host_rng, run->data);
	if (model->method == SYNTH_METHOD_TVAE)
		dp_tvae_train(model, run, &plan);
	else
		dp_ctgan_train(model, run, &plan);
	MemoryContextSwitchTo(oldcxt);
	synth_neural_download_weights(nn, run->backend);
	MemoryContextDelete(run->cxt);
	nn->epochs = plan.epochs;
	nn->batch_size = plan.batch_size;
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	/* store: weights, a spec and metrics that hold no exact count */
	synth_job_progress_phase("storing");
	initStringInfo(&privacy);
	dp_privacy_json(&privacy, &plan, method);
	weights = synth_model_serialize(model);
	initStringInfo(&spec);
	appendStringInfo(&spec, "{\"method\": \"%s\", \"requested_method\": ", method);
	escape_json(&spec, method_name);
	appendStringInfoString(&spec, ", \"reason\": ");
	escape_json(&spec, reason);
	appendStringInfoString(&spec, ", \"source\": {\"schema\": ");
	escape_json(&spec, get_namespace_name(RelationGetNamespace(rel)));
	appendStringInfoString(&spec, ", \"table\": ");
	escape_json(&spec, RelationGetRelationName(rel));
	appendStringInfo(&spec, "}, \"options\": {\"seed\": " INT64_FORMAT ", \"epsilon\": %.17g, \"delta\": %.17g, "
					 "\"bins\": %d, \"epochs\": %d, \"batch_size\": %d, \"max_grad_norm\": %.17g, "
					 "\"marginal_share\": %.17g}, \"privacy\": %s, \"copula_dim\": %d, \"columns\": ",
					 (int64) seed, plan.epsilon, plan.delta, bins, plan.epochs, plan.batch_size,
					 plan.max_grad_norm, plan.share, privacy.data, model->dim);
	synth_model_spec_json(model, &spec);
	if (holdout_fraction > 0)
	{
		appendStringInfo(&spec, ", \"holdout\": {\"fraction\": %.17g, \"seed\": " INT64_FORMAT
						 ", \"rule\": \"%s\", \"columns\": [", holdout_fraction, (int64) seed,
						 SYNTH_HOLDOUT_RULE);
		for (int c = 0; c < ncols; c++)
		{
			if (c > 0)
				appendStringInfoString(&spec, ", ");
			escape_json(&spec, cols[c].name);
		}
		appendStringInfoString(&spec, "]}");
	}
	appendStringInfoString(&spec, ", ");
	synth_neural_spec_json(model, &spec);
	appendStringInfoChar(&spec, '}');

	initStringInfo(&metrics);
	appendStringInfo(&metrics, "{\"train_seconds\": %.3f, \"estimated_rows\": %.0f, "
					 "\"subsample_rate\": %.6g, \"dp_sgd\": "
					 "{\"noise_multiplier\": %.6g, \"sampling_rate\": %.6g, \"steps\": " INT64_FORMAT
					 ", \"epsilon\": %.6g, \"delta\": %.6g}}",
					 INSTR_TIME_GET_DOUBLE(elapsed), plan.rows_estimate / plan.subsample_rate,
					 plan.subsample_rate, plan.noise_multiplier,
					 plan.sampling_rate, plan.steps, plan.epsilon_spent, plan.delta_inner);

	id = synth_catalog_store(rel, method, model->n_rows, spec.data, weights, metrics.data);
	synth_ledger_record(relid, id, "dpsgd", privacy.data, plan.epsilon, plan.delta);
	return id;
}
