/*-------------------------------------------------------------------------
 *
 * model_tvae.c
 *	  Method tvae: training the TVAE network (nn_tvae.c) over a table's
 *	  encoded rows, and sampling it.
 *
 * As the reference (sdv-dev/CTGAN's TVAESynthesizer): every epoch visits
 * the rows once in a fresh random order, in batches (the last one may be
 * short); Adam with L2 weight decay; sigma clamped to [0.01, 1].  Sampling
 * decodes standard normal latent rows; a continuous position gets the
 * decoder's Gaussian noise (sigma) and a span's slot is drawn from the
 * decoder's softmax (the reference takes its argmax instead, which loses
 * rare categories).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model_neural.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#define SYNTH_TVAE_DEFAULT_EPOCHS		300
#define SYNTH_TVAE_DEFAULT_BATCH		500

/* Network and training settings: the reference's defaults, then the options. */
static void
configure(SynthNeural *nn, SynthNeuralRun *run, NnTvaeConfig *config)
{
	const SynthNeuralOptions *opts = run->opts;

	nn_tvae_config_default(config);
	if (opts->embedding_dim > 0)
		config->embedding_dim = opts->embedding_dim;
	if (opts->learning_rate > 0)
		config->adam.lr = (SynthReal) opts->learning_rate;
	run->epochs = opts->epochs > 0 ? opts->epochs : SYNTH_TVAE_DEFAULT_EPOCHS;
	run->batch_size = opts->batch_size > 0 ? opts->batch_size : SYNTH_TVAE_DEFAULT_BATCH;
	run->batch_size = (int) Min((int64) run->batch_size, Max(run->nrows, 1));
	if (run->progress_every < 0)
		run->progress_every = Max(run->epochs / 10, 1);
	nn->epochs = run->epochs;
	nn->batch_size = run->batch_size;
}

/* Lay out the network's buffers for batches of batch rows in one allocation. */
static void
allocate_buffers(NnTvae *net, SynthNeuralRun *run, int batch)
{
	NnArena		arena = {NULL, 0};

	nn_tvae_layout(net, &arena, batch);
	arena.base = (char *) synth_neural_buffer(run, arena.used / sizeof(SynthReal) + 1);
	arena.used = 0;
	nn_tvae_layout(net, &arena, batch);
}

void
synth_tvae_train(SynthModel *model, SynthNeuralRun *run)
{
	SynthNeural *nn = model->neural;
	NnTvae	   *net = &nn->tvae;
	const SynthBackend *be = run->backend;
	NnTvaeConfig config;
	int			w = nn->layout.width;
	int64	   *perm;
	SynthReal  *staging;

	configure(nn, run, &config);
	nn_tvae_declare(net, &config, &nn->layout);
	nn->params = &net->params;
	synth_neural_params_alloc(run, &net->params, true);
	nn_params_init(be, &net->params, &run->rng);
	allocate_buffers(net, run, run->batch_size);

	perm = MemoryContextAllocHuge(run->cxt, sizeof(int64) * Max(run->nrows, 1));
	for (int64 r = 0; r < run->nrows; r++)
		perm[r] = r;
	/* on the CPU the batch is gathered straight into the network's input */
	staging = be->to_device ? palloc(sizeof(SynthReal) * run->batch_size * w) : net->x;
	/* the row order carries over from epoch to epoch: a checkpoint keeps it */
	synth_neural_track(run, perm, sizeof(int64) * Max(run->nrows, 1));

	for (int epoch = synth_neural_resume(model, run) + 1; epoch <= run->epochs; epoch++)
	{
		double		loss = 0.0;
		int			steps = 0;

		for (int64 r = run->nrows - 1; r > 0; r--)
		{
			int64		j = (int64) synth_rng_below(&run->host_rng, (uint64) r + 1);
			int64		t = perm[r];

			perm[r] = perm[j];
			perm[j] = t;
		}
		for (int64 start = 0; start < run->nrows; start += run->batch_size)
		{
			int			B = (int) Min((int64) run->batch_size, run->nrows - start);

			CHECK_FOR_INTERRUPTS();
			for (int i = 0; i < B; i++)
				memcpy(staging + (int64) i * w, run->data + perm[start + i] * w,
					   sizeof(SynthReal) * w);
			if (staging != net->x)
				synth_buffer_upload(be, net->x, staging, sizeof(SynthReal) * B * w);
			loss += nn_tvae_step(be, net, B, &run->rng);
			steps++;
		}
		nn->last_loss = loss / Max(steps, 1);
		synth_neural_progress(run, "tvae", epoch, nn->last_loss, "loss", 0, NULL);
		synth_neural_checkpoint(model, run, epoch);
	}
}

/* Load the decoder for generation (in the generation run's context). */
void
synth_tvae_prepare(SynthModel *model)
{
	SynthNeural *nn = model->neural;
	SynthNeuralRun *run = nn->sample_run;
	NnTvae	   *net = &nn->tvae;
	size_t		n = net->params.count + net->params.state_count;

	synth_neural_params_alloc(run, &net->params, false);
	synth_buffer_upload(run->backend, net->params.values, nn->weights, sizeof(SynthReal) * n);
	allocate_buffers(net, run, nn->sample_batch);
	nn->host_rows = palloc(sizeof(SynthReal) * nn->sample_batch * nn->layout.width);
	nn->sigma = nn->weights + net->params.tensors[net->sigma].offset;
}

/* rows (at most the generation batch) uniform scores into u, from seed and rng */
void
synth_tvae_generate(SynthModel *model, int rows, uint64 seed, SynthRng *rng, double *u)
{
	SynthNeural *nn = model->neural;
	const SynthBackend *be = nn->sample_run->backend;
	NnRng		stream = {seed, 0};

	nn_tvae_sample(be, &nn->tvae, rows, &stream);
	synth_buffer_download(be, nn->host_rows, nn->tvae.out,
						  sizeof(SynthReal) * rows * nn->layout.width);
	synth_neural_decode(model, nn->host_rows, rows, nn->layout.width, nn->sigma, rng, u);
}
