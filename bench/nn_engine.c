/*
 * bench/nn_engine.c
 *	  The neural engine alone (no database): milliseconds per TVAE step and
 *	  per CTGAN step (one critic step and one generator step) on the CPU
 *	  backend, on rows laid out as Adult's (155 encoded columns: 6 positions,
 *	  6 mode spans, 9 categorical spans of 103 slots), batch 500, and the
 *	  seconds per epoch they imply (Adult's 80 % split: 26,049 rows, 53 TVAE
 *	  steps, 52 CTGAN steps).  Prints figures, never pass/fail.
 *
 *	  make bench-engine && bench/nn_engine [steps [tvae|ctgan|both|dpctgan [cuda/synth_cuda.so]]]
 *
 *	  dpctgan times DP-SGD's clipped sum of the critic's per-row gradients
 *	  (pac 1, batch 500, nn_dpsgd.c), batched and, over a few steps, the
 *	  row-at-a-time reference.
 *
 *	  With the path of synth_cuda.so as third argument the same steps run on
 *	  the GPU backend (parameters, activations and rows in device memory, as
 *	  the extension trains there); each step reads its loss back to the host,
 *	  so a step's time includes the device's work.  A standalone program is
 *	  what a kernel profiler (ncu) attaches to most easily.
 *
 * Each figure: the mean step, its CPU time (all threads) and the fastest
 * step, steadier than the mean on a shared machine.  Run with
 * OPENBLAS_CORETYPE as the server is (doc/benchmarks.md); with
 * NN_ENGINE_GEMMS set, every GEMM shape's calls, time and GFLOPS per step
 * are listed too.  Training runs with denormals flushed, as in the
 * extension.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>

#include "nn.h"
#include "nn_dpsgd.h"
#include "synth_cuda.h"

#define ADULT_ROWS		26049
#define BATCH			500

static int	span_len[] = {8, 10, 9, 7, 4, 8, 9, 16, 7, 15, 6, 5, 2, 41, 2};
static const int ncontinuous = 6;

static double
clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* CPU time of the process, all threads: steadier than wall time on a busy machine */
static double
cpu_now(void)
{
	return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

static unsigned long long lcg = 7;

static int
below(int n)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (int) ((lcg >> 33) % (unsigned long long) n);
}

static double
uniform(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (lcg >> 11) / 9007199254740992.0;
}

/*
 * With NN_ENGINE_GEMMS set, matmul is timed per shape: a copy of the CPU
 * backend whose matmul wraps the real one.
 */
#define MAX_SHAPES		64

typedef struct GemmShape
{
	bool		ta,
				tb;
	int			m,
				n,
				k;
	long		calls;
	double		seconds;
} GemmShape;

static GemmShape shapes[MAX_SHAPES];
static int	nshapes;
static SynthBackend timed_backend;

static void
timed_matmul(const SynthBackend *backend, bool transA, bool transB, int m, int n, int k,
			 SynthReal alpha, const SynthReal *A, int lda, const SynthReal *B, int ldb,
			 SynthReal beta, SynthReal *C, int ldc)
{
	double		t0 = now();
	int			i;

	synth_backend_cpu()->matmul(backend, transA, transB, m, n, k, alpha, A, lda, B, ldb,
								beta, C, ldc);
	for (i = 0; i < nshapes; i++)
		if (shapes[i].ta == transA && shapes[i].tb == transB && shapes[i].m == m &&
			shapes[i].n == n && shapes[i].k == k)
			break;
	if (i == nshapes && nshapes < MAX_SHAPES)
	{
		shapes[i] = (GemmShape) {transA, transB, m, n, k, 0, 0};
		nshapes++;
	}
	if (i < nshapes)
	{
		shapes[i].calls++;
		shapes[i].seconds += now() - t0;
	}
}

static void
print_shapes(int steps)
{
	double		total = 0;

	for (int i = 0; i < nshapes; i++)
	{
		GemmShape  *g = &shapes[i];
		double		flops = 2.0 * g->m * g->n * g->k * g->calls;

		printf("  gemm %c%c m %4d n %4d k %4d: %5.1f calls/step %7.3f ms/step %6.1f GFLOPS\n",
			   g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k,
			   (double) g->calls / steps, g->seconds * 1e3 / steps, flops / g->seconds * 1e-9);
		total += g->seconds;
	}
	printf("  gemm total %.3f ms/step\n", total * 1e3 / steps);
	nshapes = 0;
}

static void
adult_layout(NnLayout *layout)
{
	int			nspans = sizeof(span_len) / sizeof(span_len[0]);
	int			col = ncontinuous;

	layout->nalpha = ncontinuous;
	layout->nspans = nspans;
	layout->span_start = malloc(sizeof(int) * nspans);
	layout->span_len = span_len;
	layout->span_discrete = malloc(sizeof(bool) * nspans);
	layout->span_cond = malloc(sizeof(int) * nspans);
	layout->cond_width = 0;
	for (int s = 0; s < nspans; s++)
	{
		layout->span_start[s] = col;
		col += span_len[s];
		layout->span_discrete[s] = s >= ncontinuous;
		layout->span_cond[s] = s >= ncontinuous ? layout->cond_width : -1;
		if (s >= ncontinuous)
			layout->cond_width += span_len[s];
	}
	layout->width = col;
}

/* One plausible encoded row into x (width): positions, one slot per span. */
static void
encoded_row(const NnLayout *layout, SynthReal *x)
{
	memset(x, 0, sizeof(SynthReal) * layout->width);
	for (int a = 0; a < layout->nalpha; a++)
		x[a] = (SynthReal) (2 * uniform() - 1);
	for (int s = 0; s < layout->nspans; s++)
		x[layout->span_start[s] + below(layout->span_len[s])] = 1;
}

static void *
arena_alloc(const SynthBackend *be, size_t bytes)
{
	void	   *p = be->alloc ? be->alloc(be, bytes ? bytes : 1) : calloc(1, bytes ? bytes : 1);

	if (!p)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	if (be->alloc)
		be->fill(be, bytes / sizeof(SynthReal), 0, p);
	return p;
}

/* Host rows into a backend's buffer. */
static void
put_rows(const SynthBackend *be, SynthReal *dst, const SynthReal *host, size_t count)
{
	if (be->to_device)
		be->to_device(be, dst, host, count * sizeof(SynthReal));
	else
		memcpy(dst, host, count * sizeof(SynthReal));
}

/* A batch of random encoded rows, each with a random condition, into net's real and cond buffers. */
static void
put_ctgan_batch(const SynthBackend *be, NnCtgan *net, const NnLayout *layout, int cw)
{
	SynthReal  *reals = malloc(sizeof(SynthReal) * BATCH * net->row);
	SynthReal  *conds = malloc(sizeof(SynthReal) * BATCH * cw);

	for (int r = 0; r < BATCH; r++)
	{
		SynthReal  *real = reals + (size_t) r * net->row;
		SynthReal  *cond = conds + (size_t) r * cw;
		int			s = ncontinuous + below(layout->nspans - ncontinuous);
		int			slot = layout->span_cond[s] + below(layout->span_len[s]);

		encoded_row(layout, real);
		memset(cond, 0, sizeof(SynthReal) * cw);
		cond[slot] = 1;
		memcpy(real + layout->width, cond, sizeof(SynthReal) * cw);
	}
	put_rows(be, net->real, reals, (size_t) BATCH * net->row);
	put_rows(be, net->cond, conds, (size_t) BATCH * cw);
	free(reals);
	free(conds);
}

static void
gpu_failed(const SynthBackend *backend, const char *operation, bool out_of_memory,
		   const char *detail)
{
	fprintf(stderr, "nn_engine: GPU %s failed: %s\n", operation, detail ? detail : "");
	exit(1);
}

/* The GPU backend over the synth_cuda.so at path (exits when there is none). */
static const SynthBackend *
open_gpu(const char *path)
{
	static SynthBackend backend;
	static SynthGpu gpu;
	char		errmsg[SYNTH_CUDA_ERRMSG_LEN];
	const SynthCudaApi *api;
	SynthCudaContext *context;
	SynthCudaApiFunc api_func;
	void	   *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	char		name[256];
	int			ndevices;

	if (library == NULL)
	{
		fprintf(stderr, "nn_engine: %s\n", dlerror());
		exit(1);
	}
	api_func = (SynthCudaApiFunc) dlsym(library, SYNTH_CUDA_ENTRY_POINT);
	if (api_func == NULL || (api = api_func())->abi_version != SYNTH_CUDA_ABI_VERSION)
	{
		fprintf(stderr, "nn_engine: %s is not this build's synth_cuda.so\n", path);
		exit(1);
	}
	if (api->probe(&ndevices, name, sizeof(name), errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK ||
		api->open(0, &context, errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK)
	{
		fprintf(stderr, "nn_engine: no CUDA device: %s\n", errmsg);
		exit(1);
	}
	gpu.api = api;
	gpu.cuda = context;
	gpu.failed = gpu_failed;
	synth_backend_gpu_init(&backend, &gpu, api->device_name(context));
	return &backend;
}

static void
bench_tvae(const SynthBackend *be, const NnLayout *layout, int steps)
{
	NnTvae		net;
	NnTvaeConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {1, 0};
	NnParams   *p = &net.params;
	double		t0,
				c0,
				t,
				c,
				best = 0;

	memset(&net, 0, sizeof(net));
	nn_tvae_config_default(&config);
	nn_tvae_declare(&net, &config, layout);
	SynthReal  *rows = malloc(sizeof(SynthReal) * BATCH * layout->width);

	nn_params_bind(p, arena_alloc(be, sizeof(SynthReal) * (p->count + p->state_count)),
				   arena_alloc(be, sizeof(SynthReal) * p->count),
				   arena_alloc(be, sizeof(SynthReal) * p->count),
				   arena_alloc(be, sizeof(SynthReal) * p->count));
	nn_params_init(be, p, &rng);
	nn_tvae_layout(&net, &arena, BATCH);
	arena.base = arena_alloc(be, arena.used);
	arena.used = 0;
	nn_tvae_layout(&net, &arena, BATCH);
	for (int r = 0; r < BATCH; r++)
		encoded_row(layout, rows + (size_t) r * layout->width);
	put_rows(be, net.x, rows, (size_t) BATCH * layout->width);
	free(rows);

	nn_tvae_step(be, &net, BATCH, &rng);	/* warm up */
	t0 = now();
	c0 = cpu_now();
	for (int s = 0; s < steps; s++)
	{
		double		s0 = now();

		nn_tvae_step(be, &net, BATCH, &rng);
		s0 = now() - s0;
		best = s == 0 || s0 < best ? s0 : best;
	}
	t = (now() - t0) / steps;
	c = (cpu_now() - c0) / steps;
	printf("tvae:  %.2f ms per step (CPU %.2f ms, fastest %.2f ms), %.3f s per epoch of %d steps\n",
		   t * 1e3, c * 1e3, best * 1e3, t * ((ADULT_ROWS + BATCH - 1) / BATCH),
		   (ADULT_ROWS + BATCH - 1) / BATCH);
}

static void
bench_ctgan(const SynthBackend *be, const NnLayout *layout, int steps)
{
	NnCtgan		net;
	NnCtganConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {2, 0};
	double		t0,
				c0,
				t,
				c,
				best = 0,
				penalty,
				cond_loss;
	int			cw = layout->cond_width;

	memset(&net, 0, sizeof(net));
	nn_ctgan_config_default(&config);
	nn_ctgan_declare(&net, &config, layout);

	nn_params_bind(&net.gen, arena_alloc(be, sizeof(SynthReal) * (net.gen.count + net.gen.state_count)),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count));
	nn_params_bind(&net.dis, arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count));
	nn_params_init(be, &net.gen, &rng);
	nn_params_init(be, &net.dis, &rng);
	nn_ctgan_layout(&net, &arena, BATCH, true);
	arena.base = arena_alloc(be, arena.used);
	arena.used = 0;
	nn_ctgan_layout(&net, &arena, BATCH, true);
	put_ctgan_batch(be, &net, layout, cw);

	nn_ctgan_critic_step(be, &net, BATCH, &rng, &penalty);
	nn_ctgan_generator_step(be, &net, BATCH, &rng, &cond_loss);
	t0 = now();
	c0 = cpu_now();
	for (int s = 0; s < steps; s++)
	{
		double		s0 = now();

		nn_ctgan_critic_step(be, &net, BATCH, &rng, &penalty);
		nn_ctgan_generator_step(be, &net, BATCH, &rng, &cond_loss);
		s0 = now() - s0;
		best = s == 0 || s0 < best ? s0 : best;
	}
	t = (now() - t0) / steps;
	c = (cpu_now() - c0) / steps;
	printf("ctgan: %.2f ms per step (CPU %.2f ms, fastest %.2f ms), %.3f s per epoch of %d steps\n",
		   t * 1e3, c * 1e3, best * 1e3, t * (ADULT_ROWS / BATCH), ADULT_ROWS / BATCH);
}

/* DP-SGD's clipped critic sum (pac 1): the batched pass, and the reference over ref_steps */
static void
bench_ctgan_dp(const SynthBackend *be, const NnLayout *layout, int steps, int ref_steps)
{
	NnCtgan		net;
	NnCtganConfig config;
	NnCtganClip clip;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {2, 0};
	double		t0,
				c0,
				t,
				c,
				best = 0;
	int			cw = layout->cond_width;
	SynthReal  *sum,
			   *work;

	memset(&net, 0, sizeof(net));
	nn_ctgan_config_default(&config);
	config.pac = 1;
	nn_ctgan_declare(&net, &config, layout);
	nn_params_bind(&net.gen, arena_alloc(be, sizeof(SynthReal) * (net.gen.count + net.gen.state_count)),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count),
				   arena_alloc(be, sizeof(SynthReal) * net.gen.count));
	nn_params_bind(&net.dis, arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count),
				   arena_alloc(be, sizeof(SynthReal) * net.dis.count));
	nn_params_init(be, &net.gen, &rng);
	nn_params_init(be, &net.dis, &rng);
	nn_ctgan_layout(&net, &arena, BATCH, true);
	nn_ctgan_clip_layout(&net, &clip, &arena, BATCH);
	arena.base = arena_alloc(be, arena.used);
	arena.used = 0;
	nn_ctgan_layout(&net, &arena, BATCH, true);
	nn_ctgan_clip_layout(&net, &clip, &arena, BATCH);
	sum = arena_alloc(be, sizeof(SynthReal) * net.dis.count);
	work = arena_alloc(be, sizeof(SynthReal) * 2 * BATCH);
	put_ctgan_batch(be, &net, layout, cw);
	nn_ctgan_generate(be, &net, BATCH, true, &rng);

	nn_ctgan_critic_clipped_grads(be, &net, &clip, BATCH, BATCH, &rng, 1, sum);
	t0 = now();
	c0 = cpu_now();
	for (int s = 0; s < steps; s++)
	{
		double		s0 = now();

		nn_ctgan_critic_clipped_grads(be, &net, &clip, BATCH, BATCH, &rng, 1, sum);
		s0 = now() - s0;
		best = s == 0 || s0 < best ? s0 : best;
	}
	t = (now() - t0) / steps;
	c = (cpu_now() - c0) / steps;
	printf("dp ctgan critic clipping, batched: %.2f ms per step (CPU %.2f ms, fastest %.2f ms), "
		   "%.3f s per epoch of %d steps\n",
		   t * 1e3, c * 1e3, best * 1e3, t * (ADULT_ROWS / BATCH), ADULT_ROWS / BATCH);
	if (ref_steps <= 0)
		return;
	t0 = now();
	for (int s = 0; s < ref_steps; s++)
		nn_ctgan_critic_clipped_grads_reference(be, &net, BATCH, BATCH, &rng, 1, sum, work);
	t = (now() - t0) / ref_steps;
	printf("dp ctgan critic clipping, a row at a time: %.2f ms per step, %.3f s per epoch\n",
		   t * 1e3, t * (ADULT_ROWS / BATCH));
}

int
main(int argc, char **argv)
{
	const SynthBackend *be = synth_backend_cpu();
	bool		gemms = getenv("NN_ENGINE_GEMMS") != NULL;
	NnLayout	layout;
	int			steps = argc > 1 ? atoi(argv[1]) : 100;
	const char *which = argc > 2 ? argv[2] : "both";

	synth_cpu_denormals_off();	/* as the extension trains */
	adult_layout(&layout);
	if (argc > 3)
		be = open_gpu(argv[3]);
	printf("nn engine on the %s backend: width %d, conditional vector %d, batch %d, %d steps\n",
		   be->name, layout.width, layout.cond_width, BATCH, steps);
	if (gemms && !be->alloc)
	{
		timed_backend = *be;
		timed_backend.matmul = timed_matmul;
		be = &timed_backend;
	}
	if (strcmp(which, "dpctgan") == 0)
	{
		bench_ctgan_dp(be, &layout, steps, getenv("NN_ENGINE_REFERENCE") ? 3 : 0);
		if (gemms)
			print_shapes(steps + 1);
		return 0;
	}
	if (strcmp(which, "ctgan") != 0)
	{
		bench_tvae(be, &layout, steps);
		if (gemms)
			print_shapes(steps + 1);
	}
	if (strcmp(which, "tvae") != 0)
	{
		bench_ctgan(be, &layout, steps);
		if (gemms)
			print_shapes(steps + 1);
	}
	return 0;
}
