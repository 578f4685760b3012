/*-------------------------------------------------------------------------
 *
 * model_ctgan.c
 *	  Method ctgan: training the CTGAN networks (nn_ctgan.c) over a table's
 *	  encoded rows by training-by-sampling, and sampling the generator.
 *
 * As the reference (sdv-dev/CTGAN's CTGAN): an epoch is max(rows / batch, 1)
 * steps; each step trains the critic discriminator_steps times and the
 * generator once.  A batch's conditional vectors pick a categorical column
 * uniformly and one of its categories with probability proportional to
 * log(1 + its rows) (training-by-sampling); the real rows the critic sees
 * are drawn among the rows that have the conditioned categories, in a
 * shuffled order.  Generation conditions each row on a category drawn by
 * its frequency in the data, and runs batch norm on its running statistics
 * (the reference keeps the training mode, so that a row depends on the
 * other rows of its batch).
 *
 * Conditional generation (a condition's equality or IN on a categorical
 * column, a rebalanced category) uses the conditional vector the generator
 * was trained with: every row is conditioned on one of the allowed
 * categories, drawn by their frequencies in the data, and its span is set
 * to that category, so that the row has it by construction.  The generator
 * takes one conditioned column at a time: with several restricted, the one
 * with the smallest allowed share is met so, and the others by rejection
 * (model_neural.c).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model_neural.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#define SYNTH_CTGAN_DEFAULT_EPOCHS		300
#define SYNTH_CTGAN_DEFAULT_BATCH		500

/* The discrete spans, and per span the cumulative probability of its slots. */
typedef struct CondSampler
{
	int			nspans;
	int		   *span;			/* layout span of each discrete span */
	double	   *cum;			/* cond_width: cumulative within each span */
} CondSampler;

/* Training draws slots by log frequency, generation by frequency. */
static CondSampler *
cond_sampler(SynthNeural *nn, const SynthNeuralRun *run, bool log_frequency)
{
	const NnLayout *layout = &nn->layout;
	CondSampler *cs = palloc0(sizeof(CondSampler));

	cs->span = palloc(sizeof(int) * Max(layout->nspans, 1));
	cs->cum = palloc0(sizeof(double) * Max(layout->cond_width, 1));
	for (int s = 0; s < layout->nspans; s++)
	{
		int			c0 = layout->span_cond[s];
		double		total = 0.0,
					cum = 0.0;

		if (!layout->span_discrete[s])
			continue;
		cs->span[cs->nspans++] = s;
		for (int j = 0; j < layout->span_len[s]; j++)
		{
			double		f = log_frequency ?
				log1p((double) (run->slot_rows_start[c0 + j + 1] - run->slot_rows_start[c0 + j])) :
				nn->slot_share[c0 + j];

			cs->cum[c0 + j] = f;
			total += f;
		}
		for (int j = 0; j < layout->span_len[s]; j++)
		{
			cum += total > 0 ? cs->cum[c0 + j] / total : 1.0 / layout->span_len[s];
			cs->cum[c0 + j] = cum;
		}
	}
	return cs;
}

/*
 * Conditional vectors of B rows into cond (B, cond_width); slot[i] is the
 * conditioned slot (in the vector) of row i.
 */
static void
draw_conditions(SynthNeural *nn, CondSampler *cs, int B, SynthRng *rng, SynthReal *cond,
				int *slot)
{
	const NnLayout *layout = &nn->layout;
	int			cw = layout->cond_width;

	memset(cond, 0, sizeof(SynthReal) * B * cw);
	for (int i = 0; i < B; i++)
	{
		int			s = cs->span[synth_rng_below(rng, cs->nspans)];
		int			c0 = layout->span_cond[s];
		int			len = layout->span_len[s];
		double		u = synth_rng_uniform(rng);
		int			j = 0;

		while (j < len - 1 && cs->cum[c0 + j] <= u)
			j++;
		cond[(int64) i * cw + c0 + j] = 1;
		slot[i] = c0 + j;
	}
}

/* Ensure the options given apply to ctgan and fit together. */
static void
CheckCtganOptions(const SynthNeuralOptions *opts, int batch, int pac)
{
	if (batch % pac != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size %d is not a multiple of pac %d", batch, pac),
				 errhint("The critic sees pac rows at a time: choose a batch_size that pac divides.")));
}

static void
configure(SynthNeural *nn, SynthNeuralRun *run, NnCtganConfig *config, int *dsteps)
{
	const SynthNeuralOptions *opts = run->opts;

	nn_ctgan_config_default(config);
	if (opts->embedding_dim > 0)
		config->embedding_dim = opts->embedding_dim;
	if (opts->learning_rate > 0)
		config->gen_adam.lr = config->dis_adam.lr = (SynthReal) opts->learning_rate;
	if (opts->pac > 0)
		config->pac = opts->pac;
	*dsteps = opts->discriminator_steps > 0 ? opts->discriminator_steps : 1;
	run->epochs = opts->epochs > 0 ? opts->epochs : SYNTH_CTGAN_DEFAULT_EPOCHS;
	run->batch_size = opts->batch_size > 0 ? opts->batch_size : SYNTH_CTGAN_DEFAULT_BATCH;
	CheckCtganOptions(opts, run->batch_size, config->pac);
	if (run->progress_every < 0)
		run->progress_every = Max(run->epochs / 10, 1);
	nn->epochs = run->epochs;
	nn->batch_size = run->batch_size;
}

static void
allocate_buffers(NnCtgan *net, SynthNeuralRun *run, int batch, bool training)
{
	NnArena		arena = {NULL, 0};

	nn_ctgan_layout(net, &arena, batch, training);
	arena.base = (char *) synth_neural_buffer(run, arena.used / sizeof(SynthReal) + 1);
	arena.used = 0;
	nn_ctgan_layout(net, &arena, batch, training);
}

void
synth_ctgan_train(SynthModel *model, SynthNeuralRun *run)
{
	SynthNeural *nn = model->neural;
	NnCtgan    *net = &nn->ctgan;
	const SynthBackend *be = run->backend;
	const NnLayout *layout = &nn->layout;
	NnCtganConfig config;
	int			dsteps;
	int			B;
	int			w = layout->width;
	int			cw = layout->cond_width;
	int64		steps;
	CondSampler *cs;
	SynthReal  *cond;
	SynthReal  *real;
	int		   *slot;
	int		   *perm;

	configure(nn, run, &config, &dsteps);
	B = run->batch_size;
	nn_ctgan_declare(net, &config, layout);
	nn->params = &net->gen;
	synth_neural_params_alloc(run, &net->gen, true);
	synth_neural_params_alloc(run, &net->dis, true);
	nn_params_init(be, &net->gen, &run->rng);
	nn_params_init(be, &net->dis, &run->rng);
	allocate_buffers(net, run, B, true);

	cs = cond_sampler(nn, run, true);
	cond = palloc(sizeof(SynthReal) * B * Max(cw, 1));
	real = palloc(sizeof(SynthReal) * B * net->row);
	slot = palloc(sizeof(int) * B);
	perm = palloc(sizeof(int) * B);
	steps = Max(run->nrows / B, 1);

	for (int epoch = synth_neural_resume(model, run) + 1; epoch <= run->epochs; epoch++)
	{
		double		gen_loss = 0.0,
					dis_loss = 0.0;

		for (int64 step = 0; step < steps; step++)
		{
			double		penalty,
						cond_loss;

			CHECK_FOR_INTERRUPTS();
			for (int d = 0; d < dsteps; d++)
			{
				/* fake rows' conditions; real rows that have them, in another order */
				if (cs->nspans > 0)
					draw_conditions(nn, cs, B, &run->host_rng, cond, slot);
				for (int i = 0; i < B; i++)
					perm[i] = i;
				for (int i = B - 1; i > 0; i--)
				{
					int			j = (int) synth_rng_below(&run->host_rng, (uint64) i + 1);
					int			t = perm[i];

					perm[i] = perm[j];
					perm[j] = t;
				}
				for (int i = 0; i < B; i++)
				{
					int64		r;

					if (cs->nspans > 0)
					{
						int			k = slot[perm[i]];
						int64		first = run->slot_rows_start[k];
						int64		n = run->slot_rows_start[k + 1] - first;

						r = run->slot_rows[first + (int64) synth_rng_below(&run->host_rng, n)];
						memcpy(real + (int64) i * net->row + w, cond + (int64) perm[i] * cw,
							   sizeof(SynthReal) * cw);
					}
					else
						r = (int64) synth_rng_below(&run->host_rng, run->nrows);
					memcpy(real + (int64) i * net->row, run->data + r * w, sizeof(SynthReal) * w);
				}
				synth_buffer_upload(be, net->cond, cond, sizeof(SynthReal) * B * cw);
				synth_buffer_upload(be, net->real, real, sizeof(SynthReal) * B * net->row);
				dis_loss += nn_ctgan_critic_step(be, net, B, &run->rng, &penalty) / dsteps;
			}

			if (cs->nspans > 0)
			{
				draw_conditions(nn, cs, B, &run->host_rng, cond, slot);
				synth_buffer_upload(be, net->cond, cond, sizeof(SynthReal) * B * cw);
			}
			gen_loss += nn_ctgan_generator_step(be, net, B, &run->rng, &cond_loss);
		}
		nn->last_loss = gen_loss / steps;
		nn->last_loss2 = dis_loss / steps;
		synth_neural_progress(run, "ctgan", epoch, nn->last_loss, "generator loss",
							  nn->last_loss2, "critic loss");
		synth_neural_checkpoint(model, run, epoch);
	}
}

/*
 * The span of the categorical column that allowed restricts most (the
 * smallest share of the data's rows in its allowed slots), and in cum the
 * cumulative shares of its slots counting only the allowed ones (the
 * conditional vector's slots of that span, normalised to end at 1; slots
 * without rows count a little, so that an allowed slot is never left out).
 * -1 when allowed restricts no categorical column.
 */
static int
exact_condition(SynthModel *model, SynthAllowedSet *const *allowed, double *cum)
{
	SynthNeural *nn = model->neural;
	const NnLayout *layout = &nn->layout;
	int			best = -1;
	double		best_share = 2.0;

	for (int c = 0; c < nn->ncols; c++)
	{
		SynthNeuralColumn *col = &nn->cols[c];
		SynthEncoder *enc = &model->encoders[col->encoder];
		const SynthAllowedSet *set = allowed[enc->dim];
		int			c0 = layout->span_cond[col->span];
		double		share = 0.0;

		if (col->continuous || set == NULL || !layout->span_discrete[col->span])
			continue;
		for (int j = 0; j < col->nslots; j++)
		{
			double		lo,
						hi,
						mid;
			bool		inside = false;

			synth_neural_slot_interval(enc, col, j, &lo, &hi);
			mid = (lo + hi) / 2;
			for (int i = 0; i < set->n && !inside; i++)
				inside = hi > lo && mid >= set->lo[i] && mid <= set->hi[i];
			cum[c0 + j] = inside ? Max(nn->slot_share[c0 + j], 1e-9) : 0.0;
			share += cum[c0 + j];
		}
		if (share > 0.0 && share < best_share)
		{
			best = col->span;
			best_share = share;
		}
	}
	if (best >= 0)
	{
		int			c0 = layout->span_cond[best];
		double		run = 0.0;

		for (int j = 0; j < layout->span_len[best]; j++)
		{
			run += cum[c0 + j];
			cum[c0 + j] = run / best_share;
		}
	}
	return best;
}

/*
 * The slot of uniform x by cumulative shares cum (len, ending at 1), where
 * a slot not allowed adds nothing: the first whose share reaches past x,
 * or the last allowed one when rounding left x beyond them all.
 */
static int
draw_allowed_slot(const double *cum, int len, double x)
{
	int			last = 0;

	for (int j = 0; j < len; j++)
	{
		if (cum[j] <= (j > 0 ? cum[j - 1] : 0.0))
			continue;
		if (x < cum[j])
			return j;
		last = j;
	}
	return last;
}

/* Load the generator for generation (in the generation run's context). */
void
synth_ctgan_prepare(SynthModel *model)
{
	SynthNeural *nn = model->neural;
	SynthNeuralRun *run = nn->sample_run;
	NnCtgan    *net = &nn->ctgan;
	size_t		n = net->gen.count + net->gen.state_count;

	synth_neural_params_alloc(run, &net->gen, false);
	synth_buffer_upload(run->backend, net->gen.values, nn->weights, sizeof(SynthReal) * n);
	allocate_buffers(net, run, nn->sample_batch, false);
	nn->host_rows = palloc(sizeof(SynthReal) * nn->sample_batch * net->row);
	nn->host_cond = palloc(sizeof(SynthReal) * nn->sample_batch * Max(nn->layout.cond_width, 1));
	nn->cond_cum = palloc(sizeof(double) * Max(nn->layout.cond_width, 1));
	nn->cond_slot = palloc(sizeof(int) * nn->sample_batch);
}

/*
 * rows (at most the generation batch) uniform scores into u: each row
 * conditioned on a category of a random categorical column, drawn by the
 * category's share of the rows; or, when allowed restricts a categorical
 * column, on one of its allowed categories, which the row then takes.
 */
void
synth_ctgan_generate(SynthModel *model, int rows, uint64 seed, SynthRng *rng,
					 SynthAllowedSet *const *allowed, double *u)
{
	SynthNeural *nn = model->neural;
	NnCtgan    *net = &nn->ctgan;
	const SynthBackend *be = nn->sample_run->backend;
	const NnLayout *layout = &nn->layout;
	int			cw = layout->cond_width;
	int			exact = cw > 0 && allowed ? exact_condition(model, allowed, nn->cond_cum) : -1;
	NnRng		stream = {seed, 0};

	if (cw > 0)
	{
		int			ndiscrete = 0;

		for (int s = 0; s < layout->nspans; s++)
			ndiscrete += layout->span_discrete[s];
		memset(nn->host_cond, 0, sizeof(SynthReal) * rows * cw);
		for (int i = 0; i < rows; i++)
		{
			int			s = 0;
			double		x,
						cum = 0.0;
			int			c0,
						j = 0;

			if (exact >= 0)
			{
				c0 = layout->span_cond[exact];
				j = draw_allowed_slot(nn->cond_cum + c0, layout->span_len[exact],
									  synth_rng_uniform(rng));
				nn->cond_slot[i] = j;
				nn->host_cond[(int64) i * cw + c0 + j] = 1;
				continue;
			}
			{
				int			pick = (int) synth_rng_below(rng, ndiscrete);

				for (;; s++)
					if (layout->span_discrete[s] && pick-- == 0)
						break;
			}
			c0 = layout->span_cond[s];
			x = synth_rng_uniform(rng);
			for (j = 0; j < layout->span_len[s] - 1; j++)
			{
				cum += nn->slot_share[c0 + j];
				if (x < cum)
					break;
			}
			nn->host_cond[(int64) i * cw + c0 + j] = 1;
		}
		synth_buffer_upload(be, net->cond, nn->host_cond, sizeof(SynthReal) * rows * cw);
	}
	nn_ctgan_generate(be, net, rows, false, &stream);
	synth_buffer_download(be, nn->host_rows, net->fakeact, sizeof(SynthReal) * rows * net->row);

	/* the conditioned column takes its condition: its span is set to that slot */
	if (exact >= 0)
		for (int i = 0; i < rows; i++)
		{
			SynthReal  *span = nn->host_rows + (int64) i * net->row + layout->span_start[exact];

			for (int j = 0; j < layout->span_len[exact]; j++)
				span[j] = j == nn->cond_slot[i] ? 1 : 0;
		}
	synth_neural_decode(model, nn->host_rows, rows, net->row, NULL, rng, u);
}
