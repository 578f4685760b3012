/*
 * parity.c: checks that the CUDA backend (cuda/synth_cuda.so) computes what
 * the CPU backend (src/backend_cpu.c, OpenBLAS) computes, within a tolerance.
 *
 * Usage: parity [path/to/synth_cuda.so]   (make gpu-test)
 *
 * Compares gemm (double, tolerance 1e-12), every neural-network operation
 * of src/backend.h (float, tolerance 1e-5 of the largest value of each
 * output), and whole training steps (forward, gradient penalty, backward and
 * Adam) of a small generator and critic, of TVAE and of CTGAN, then CTGAN's
 * generation (tolerance 1e-4 on losses, gradients, updated parameters and
 * generated rows, relative to each tensor's largest value).
 *
 * Prints one verdict line: "gpu parity: PASS (max rel err ...)" and exits 0,
 * "gpu parity: FAIL ..." and exits 1, or "SKIP: no CUDA device (...)" and exits
 * 0 where the library was not built or no device can be opened.
 *
 * parity --cpu runs the same comparisons with the CPU backend on both sides,
 * to check the harness itself where there is no device (every error is 0).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "nn.h"
#include "nn_dpsgd.h"
#include "synth_cuda.h"

#define PARITY_TOLERANCE	1e-12	/* doubles: only summation order differs */
#define PARITY_OP_TOLERANCE	1e-5	/* float operations, relative to the largest value */
#define PARITY_STEP_TOLERANCE 1e-4	/* a whole training step, likewise */

static const SynthCudaApi *cuda;
static SynthCudaContext *context;

static void
skip(const char *why)
{
	printf("SKIP: no CUDA device (%s)\n", why);
	exit(0);
}

static void
fail(const char *what, const char *why)
{
	printf("gpu parity: FAIL (%s: %s)\n", what, why);
	exit(1);
}

/* Uniform in [-1, 1) from a fixed-seed LCG, so that a failure reproduces. */
static double
next_uniform(unsigned long long *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (*state >> 11) / (double) (1ULL << 53) * 2.0 - 1.0;
}

static double *
random_matrix(size_t count, unsigned long long *state)
{
	double	   *m = malloc(count * sizeof(double));

	if (m == NULL)
		fail("malloc", "out of memory");
	for (size_t i = 0; i < count; i++)
		m[i] = next_uniform(state);
	return m;
}

static void *
device_copy(const double *host, size_t count)
{
	void	   *ptr;

	if (cuda->alloc(context, &ptr, count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("alloc", cuda->error(context));
	if (cuda->to_device(context, ptr, host, count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("to_device", cuda->error(context));
	return ptr;
}

/*
 * One gemm on both backends: C (m, n) = alpha * op(A) * op(B) + beta * C,
 * with padded leading dimensions so that strides are exercised too.
 * Returns max |gpu - cpu| / max |cpu|.
 */
static double
compare_gemm(bool transA, bool transB, int m, int n, int k,
			 unsigned long long *state)
{
	const SynthBackend *cpu = synth_backend_cpu();
	double		alpha = 0.75,
				beta = -0.5;
	int			a_rows = transA ? k : m,
				a_cols = transA ? m : k;
	int			b_rows = transB ? n : k,
				b_cols = transB ? k : n;
	int			lda = a_cols + 3,
				ldb = b_cols + 1,
				ldc = n + 2;
	size_t		a_count = (size_t) a_rows * lda,
				b_count = (size_t) b_rows * ldb,
				c_count = (size_t) m * ldc;
	double	   *A = random_matrix(a_count, state);
	double	   *B = random_matrix(b_count, state);
	double	   *C_cpu = random_matrix(c_count, state);
	double	   *C_gpu = malloc(c_count * sizeof(double));
	void	   *dA,
			   *dB,
			   *dC;
	double		max_diff = 0.0,
				max_abs = 0.0;

	if (C_gpu == NULL)
		fail("malloc", "out of memory");
	dA = device_copy(A, a_count);
	dB = device_copy(B, b_count);
	dC = device_copy(C_cpu, c_count);

	cpu->gemm(cpu, transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C_cpu, ldc);
	if (cuda->gemm(context, transA, transB, m, n, k, alpha,
				   dA, lda, dB, ldb, beta, dC, ldc) != SYNTH_CUDA_OK)
		fail("gemm", cuda->error(context));
	if (cuda->to_host(context, C_gpu, dC, c_count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("to_host", cuda->error(context));

	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++)
		{
			double		c = C_cpu[(size_t) i * ldc + j];
			double		g = C_gpu[(size_t) i * ldc + j];

			double		diff = fabs(g - c);

			if (j >= n)
			{
				if (c != g)
					fail("gemm", "wrote past the n columns of C");
				continue;
			}
			if (isnan(diff))
				diff = INFINITY;
			if (diff > max_diff)
				max_diff = diff;
			if (fabs(c) > max_abs)
				max_abs = fabs(c);
		}

	cuda->free(context, dA);
	cuda->free(context, dB);
	cuda->free(context, dC);
	free(A);
	free(B);
	free(C_cpu);
	free(C_gpu);
	return max_abs > 0.0 ? max_diff / max_abs : max_diff;
}

/* ---------------------------------------------------------------- neural-network operations */

static const SynthBackend *cpu_be;
static const SynthBackend *other_be;	/* the GPU, or the CPU again with --cpu */
static SynthGpu gpu;
static SynthBackend gpu_backend;

static void
gpu_failed(const SynthBackend *backend, const char *operation, bool out_of_memory,
		   const char *detail)
{
	fail(operation, detail);
}

/* Buffers of a backend: device memory, or malloc'd for the CPU. */
static SynthReal *
be_alloc(const SynthBackend *be, size_t count)
{
	void	   *p = be->alloc ? be->alloc(be, count * sizeof(SynthReal) + 1) :
		calloc(count + 1, sizeof(SynthReal));

	if (p == NULL)
		fail("alloc", "out of memory");
	return p;
}

static void
be_free(const SynthBackend *be, void *p)
{
	if (be->free)
		be->free(be, p);
	else
		free(p);
}

static void
be_put(const SynthBackend *be, SynthReal *dst, const SynthReal *host, size_t count)
{
	if (be->to_device)
		be->to_device(be, dst, host, count * sizeof(SynthReal));
	else
		memcpy(dst, host, count * sizeof(SynthReal));
}

static void
be_get(const SynthBackend *be, SynthReal *host, const SynthReal *src, size_t count)
{
	if (be->to_host)
		be->to_host(be, host, src, count * sizeof(SynthReal));
	else
		memcpy(host, src, count * sizeof(SynthReal));
}

/* max |a - b| / max |a| over n values (NaN counts as infinite) */
static double
rel_err(const SynthReal *a, const SynthReal *b, size_t n)
{
	double		diff = 0.0,
				scale = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		d = fabs((double) a[i] - (double) b[i]);

		if (isnan(d))
			d = INFINITY;
		if (d > diff)
			diff = d;
		if (fabs((double) a[i]) > scale)
			scale = fabs((double) a[i]);
	}
	return scale > 0.0 ? diff / scale : diff;
}

#define OP_MAX_BUFFERS	8

/*
 * One operation on both backends: buffers of the given sizes filled with the
 * same values (uniform in [-1, 1), then adjusted by prepare), the operation
 * run on each, and every buffer compared afterwards (outputs, and inputs
 * that must not have changed).
 */
typedef struct OpCase
{
	const char *name;
	int			nbuf;
	size_t		size[OP_MAX_BUFFERS];
	void		(*prepare) (SynthReal **host);
	void		(*run) (const SynthBackend *be, SynthReal **b);
} OpCase;

static double
compare_op(const OpCase *op, unsigned long long *state)
{
	SynthReal  *host[OP_MAX_BUFFERS];
	SynthReal  *cpu_buf[OP_MAX_BUFFERS];
	SynthReal  *dev_buf[OP_MAX_BUFFERS];
	SynthReal  *back = NULL;
	double		worst = 0.0;

	for (int i = 0; i < op->nbuf; i++)
	{
		host[i] = malloc(op->size[i] * sizeof(SynthReal));
		for (size_t j = 0; j < op->size[i]; j++)
			host[i][j] = (SynthReal) next_uniform(state);
	}
	if (op->prepare)
		op->prepare(host);
	for (int i = 0; i < op->nbuf; i++)
	{
		cpu_buf[i] = be_alloc(cpu_be, op->size[i]);
		be_put(cpu_be, cpu_buf[i], host[i], op->size[i]);
		dev_buf[i] = be_alloc(other_be, op->size[i]);
		be_put(other_be, dev_buf[i], host[i], op->size[i]);
	}
	op->run(cpu_be, cpu_buf);
	op->run(other_be, dev_buf);
	for (int i = 0; i < op->nbuf; i++)
	{
		double		err;

		back = realloc(back, op->size[i] * sizeof(SynthReal));
		be_get(other_be, back, dev_buf[i], op->size[i]);
		err = rel_err(cpu_buf[i], back, op->size[i]);
		if (err > worst)
			worst = err;
		be_free(cpu_be, cpu_buf[i]);
		be_free(other_be, dev_buf[i]);
		free(host[i]);
	}
	free(back);
	return worst;
}

/* shapes of the operation cases: R rows, C columns, strides a little wider */
#define R	37
#define C	29
#define LD	(C + 3)

static void
positive_second(SynthReal **h)
{
	/* sigma and running variance must be positive */
	for (size_t i = 0; i < C; i++)
		h[2][i] = 0.1f + fabsf(h[2][i]);
}

static void
one_hot_targets(SynthReal **h)
{
	/* row r has category r % C, every seventh row none */
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < LD; c++)
			h[1][r * LD + c] = (r % 7 != 0 && c == r % C) ? 1 : 0;
}

static void
batchnorm_state(SynthReal **h)
{
	for (size_t i = 0; i < C; i++)
		h[5][i] = 0.5f + fabsf(h[5][i]);	/* running variance */
}

static void
run_matmul(const SynthBackend *be, SynthReal **b)
{
	be->matmul(be, false, true, R, C, 23, 0.5f, b[0], 23, b[1], 23, -1.0f, b[2], C);
	be->matmul(be, true, false, 23, C, R, 1.0f, b[0], 23, b[2], C, 0.0f, b[1], C);
}

static void
run_fill(const SynthBackend *be, SynthReal **b)
{
	be->fill(be, R * C - 5, 0.25f, b[0]);
}

static void
run_axpby(const SynthBackend *be, SynthReal **b)
{
	be->axpby(be, R * C, 0.5f, b[0], -2.0f, b[1]);
	be->mul(be, R * C, b[0], b[1], b[2]);
	be->clamp(be, R * C, -0.3f, 0.4f, b[0]);
}

static void
run_copy2d(const SynthBackend *be, SynthReal **b)
{
	be->copy2d(be, R, C, b[0], LD, 0.0f, b[1], LD);
	be->copy2d(be, R, C - 4, b[0] + 2, LD, 0.5f, b[2], C);
}

static void
run_bias(const SynthBackend *be, SynthReal **b)
{
	be->bias_add(be, R, C, b[0], b[1], LD);
	be->bias_grad(be, R, C, b[1], LD, b[2]);
}

static void
run_activation(const SynthBackend *be, SynthReal **b)
{
	be->act_forward(be, SYNTH_ACT_RELU, 0, R, 10, b[0], LD, b[1], LD);
	be->act_forward(be, SYNTH_ACT_LEAKY_RELU, 0.2f, R, 10, b[0] + 10, LD, b[1] + 10, LD);
	be->act_forward(be, SYNTH_ACT_TANH, 0, R, 9, b[0] + 20, LD, b[1] + 20, LD);
	be->act_backward(be, SYNTH_ACT_RELU, 0, R, 10, b[1], LD, b[2], LD, b[3], LD);
	be->act_backward(be, SYNTH_ACT_LEAKY_RELU, 0.2f, R, 10, b[1] + 10, LD, b[2] + 10, LD,
					 b[3] + 10, LD);
	be->act_backward(be, SYNTH_ACT_TANH, 0, R, 9, b[1] + 20, LD, b[2] + 20, LD, b[3] + 20, LD);
}

static void
run_batchnorm(const SynthBackend *be, SynthReal **b)
{
	/* b: 0 inp, 1 gamma, 2 beta, 3 dout, 4 running mean, 5 running var, 6 mean|rstd, 7 out|dinp|dgamma|dbeta */
	be->batchnorm_forward(be, R, C, true, 0.1f, 1e-5f, b[0], b[1], b[2], b[4], b[5],
						  b[6], b[6] + C, b[7]);
	be->batchnorm_backward(be, R, C, b[0], b[1], b[6], b[6] + C, b[3], b[7] + R * C,
						   b[7] + 2 * R * C, b[7] + 2 * R * C + C);
	be->batchnorm_forward(be, R, C, false, 0.1f, 1e-5f, b[3], b[1], b[2], b[4], b[5],
						  NULL, NULL, b[7] + 2 * R * C + 2 * C);
}

static void
run_dropout(const SynthBackend *be, SynthReal **b)
{
	be->dropout_forward(be, R * C, 0.5f, 99, 12345, b[0], b[1], b[2]);
}

static void
run_softmax(const SynthBackend *be, SynthReal **b)
{
	be->softmax_forward(be, R, C, 1.0f, false, 0, 0, b[0], LD, b[1], LD);
	be->softmax_forward(be, R, 7, 0.2f, true, 7, 1000, b[0], LD, b[2], LD);
	be->softmax_backward(be, R, 7, 0.2f, b[2], LD, b[3], LD, b[4], LD);
}

static void
run_xent(const SynthBackend *be, SynthReal **b)
{
	be->softmax_xent(be, R, C, 0.5f, b[0], LD, b[1], LD, b[2], LD, b[3]);
}

static void
run_gaussian(const SynthBackend *be, SynthReal **b)
{
	be->gaussian_nll(be, R, C, 0.5f, b[0], LD, b[1], LD, b[2], b[3], LD, b[4], b[5]);
}

static void
run_kl(const SynthBackend *be, SynthReal **b)
{
	be->kl_normal(be, R, C, 0.5f, b[0], b[1], b[2], b[3], b[4]);
}

static void
run_penalty(const SynthBackend *be, SynthReal **b)
{
	/* long rows, as the critic's packed input gives: a block reduction on the GPU */
	be->norm_penalty(be, 3, 1000, 2.0f, b[0], b[1], b[2]);
}

static void
run_reparam(const SynthBackend *be, SynthReal **b)
{
	be->reparam_forward(be, R * C, b[0], b[1], b[2], b[3]);
	be->reparam_backward(be, R * C, b[1], b[2], b[3], b[4], b[5]);
	be->lerp_rows(be, R, C, b[6], b[0], b[1], b[7]);
}

static void
run_adam(const SynthBackend *be, SynthReal **b)
{
	for (int step = 1; step <= 3; step++)
		be->adam(be, R * C, 1e-3f, 0.5f, 0.9f, 1e-8f, 1e-6f, step, b[0], b[1], b[2], b[3]);
}

static void
zero_moments(SynthReal **h)
{
	memset(h[2], 0, R * C * sizeof(SynthReal));
	memset(h[3], 0, R * C * sizeof(SynthReal));
}

static void
run_random(const SynthBackend *be, SynthReal **b)
{
	be->fill_uniform(be, R * C, -2.0f, 3.0f, 11, 77, b[0]);
	be->fill_normal(be, R * C, 1.0f, 2.0f, 12, 1ULL << 40, b[1]);
}

static void
nonnegative_norms(SynthReal **h)
{
	for (size_t i = 0; i < R; i++)
		h[2][i] = fabsf(h[2][i]);
	for (size_t i = 0; i < 3; i++)
		h[6][i] = fabsf(h[6][i]);
}

static void
run_clip(const SynthBackend *be, SynthReal **b)
{
	be->grad_norms_linear(be, R, C, C - 5, b[0], LD, b[1], LD, b[2]);
	be->row_sumsq(be, R, C, b[1], LD, b[2]);
	be->clip_factors(be, R, 3.0f, b[2], b[3]);
	be->scale_rows(be, R, C, b[3], b[4], LD);
	/* long rows (a whole parameter vector): a block reduction on the GPU */
	be->row_sumsq(be, 3, 1000, b[5], 1000, b[6]);
	be->clip_factors(be, 3, 10.0f, b[6], b[7]);
}

/* Every operation on both backends; returns the worst error, fails past tolerance. */
static double
compare_nn_ops(unsigned long long *state)
{
	static const OpCase ops[] = {
		{"matmul", 3, {R * 23, C * 23 + 23 * C, R * C}, NULL, run_matmul},
		{"fill", 1, {R * C}, NULL, run_fill},
		{"axpby, mul, clamp", 3, {R * C, R * C, R * C}, NULL, run_axpby},
		{"copy2d", 3, {R * LD, R * LD, R * C}, NULL, run_copy2d},
		{"bias", 3, {C, R * LD, C}, NULL, run_bias},
		{"activation", 4, {R * LD, R * LD, R * LD, R * LD}, NULL, run_activation},
		{"batchnorm", 8, {R * C, C, C, R * C, C, C, 2 * C, 3 * R * C + 2 * C}, batchnorm_state,
		run_batchnorm},
		{"dropout", 3, {R * C, R * C, R * C}, NULL, run_dropout},
		{"softmax", 5, {R * LD, R * LD, R * LD, R * LD, R * LD}, NULL, run_softmax},
		{"softmax_xent", 4, {R * LD, R * LD, R * LD, R}, one_hot_targets, run_xent},
		{"gaussian_nll", 6, {R * LD, R * LD, C, R * LD, C, R}, positive_second, run_gaussian},
		{"kl_normal", 5, {R * C, R * C, R * C, R * C, R}, NULL, run_kl},
		{"norm_penalty", 3, {3000, 3000, 3}, NULL, run_penalty},
		{"reparam, lerp_rows", 8, {R * C, R * C, R * C, R * C, R * C, R * C, R, R * C}, NULL,
		run_reparam},
		{"adam", 4, {R * C, R * C, R * C, R * C}, zero_moments, run_adam},
		{"random", 2, {R * C, R * C}, NULL, run_random},
		{"per-sample clipping", 8, {R * LD, R * LD, R, R, R * LD, 3000, 3, 3}, nonnegative_norms,
		run_clip},
	};
	double		worst = 0.0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
	{
		double		err = compare_op(&ops[i], state);

		if (!(err <= PARITY_OP_TOLERANCE))
		{
			printf("gpu parity: FAIL (%s: max rel err %.3g > %.0e on %s)\n",
				   ops[i].name, err, PARITY_OP_TOLERANCE, other_be->name);
			exit(1);
		}
		if (err > worst)
			worst = err;
	}

	/* sum returns to the host */
	{
		size_t		n = 100003;
		SynthReal  *host = malloc(n * sizeof(SynthReal));
		SynthReal  *dev = be_alloc(other_be, n);
		double		a,
					b,
					err;

		for (size_t i = 0; i < n; i++)
			host[i] = (SynthReal) next_uniform(state);
		be_put(other_be, dev, host, n);
		a = cpu_be->sum(cpu_be, n, host);
		b = other_be->sum(other_be, n, dev);
		err = fabs(a - b) / fmax(fabs(a), 1.0);
		if (!(err <= 1e-9))
		{
			printf("gpu parity: FAIL (sum: %.17g vs %.17g on %s)\n", a, b, other_be->name);
			exit(1);
		}
		be_free(other_be, dev);
		free(host);
	}
	return worst;
}

/* ---------------------------------------------------------------- one training step */

/*
 * A small generator (Linear, BatchNorm, ReLU, Linear, then tanh on the first
 * columns and gumbel-softmax on two spans) against a WGAN-GP critic with pac
 * 2: one critic step (real and fake scores, gradient penalty, Adam) and one
 * generator step (through the critic, Adam), seeded alike on both backends.
 */
#define STEP_B		8
#define STEP_NOISE	16
#define STEP_HIDDEN	24
#define STEP_WIDTH	10
#define STEP_PAC	2

typedef struct StepNet
{
	NnParams	gen;
	NnParams	dis;
	NnLinear	fc1,
				fc2;
	NnBatchNorm bn;
	NnBatchNormSaved saved;
	NnCritic	critic;
	SynthReal  *noise,
			   *pre,
			   *hid,
			   *logits,
			   *act,
			   *real,
			   *mixed,
			   *alpha,
			   *dact,
			   *dlogits,
			   *dhid,
			   *dpre;
	void	   *arena;
	double		losses[3];
} StepNet;

static void
step_layout(StepNet *n, NnArena *a)
{
	n->noise = nn_take(a, STEP_B * STEP_NOISE);
	n->pre = nn_take(a, STEP_B * STEP_HIDDEN);
	n->hid = nn_take(a, STEP_B * STEP_HIDDEN);
	n->logits = nn_take(a, STEP_B * STEP_WIDTH);
	n->act = nn_take(a, STEP_B * STEP_WIDTH);
	n->real = nn_take(a, STEP_B * STEP_WIDTH);
	n->mixed = nn_take(a, STEP_B * STEP_WIDTH);
	n->alpha = nn_take(a, STEP_B / STEP_PAC);
	n->dact = nn_take(a, STEP_B * STEP_WIDTH);
	n->dlogits = nn_take(a, STEP_B * STEP_WIDTH);
	n->dhid = nn_take(a, STEP_B * STEP_HIDDEN);
	n->dpre = nn_take(a, STEP_B * STEP_HIDDEN);
	n->saved.mean = nn_take(a, STEP_HIDDEN);
	n->saved.rstd = nn_take(a, STEP_HIDDEN);
	nn_critic_layout(&n->critic, a, STEP_B / STEP_PAC);
}

static void
step_params(const SynthBackend *be, NnParams *p)
{
	nn_params_bind(p, be_alloc(be, p->count + p->state_count), be_alloc(be, p->count),
				   be_alloc(be, p->count), be_alloc(be, p->count));
}

static void
step_build(const SynthBackend *be, StepNet *n)
{
	static const int hidden[] = {12, 8};
	NnArena		a = {NULL, 0};
	NnRng		init = {31, 0};

	memset(n, 0, sizeof(*n));
	nn_linear_declare(&n->gen, &n->fc1, STEP_NOISE, STEP_HIDDEN);
	nn_batchnorm_declare(&n->gen, &n->bn, STEP_HIDDEN);
	nn_linear_declare(&n->gen, &n->fc2, STEP_HIDDEN, STEP_WIDTH);
	nn_params_finish(&n->gen);
	nn_critic_declare(&n->dis, &n->critic, STEP_PAC * STEP_WIDTH, 2, hidden, 0.2f, 0.5f);
	nn_params_finish(&n->dis);
	step_params(be, &n->gen);
	step_params(be, &n->dis);
	nn_params_init(be, &n->gen, &init);
	nn_params_init(be, &n->dis, &init);
	step_layout(n, &a);
	n->arena = be_alloc(be, a.used / sizeof(SynthReal) + 1);
	a.base = n->arena;
	a.used = 0;
	step_layout(n, &a);
}

/* noise -> generator -> activated rows in n->act */
static void
step_generate(const SynthBackend *be, StepNet *n, NnRng *rng)
{
	be->fill_normal(be, STEP_B * STEP_NOISE, 0, 1, rng->seed,
					nn_rng_take(rng, STEP_B * STEP_NOISE), n->noise);
	nn_linear_forward(be, &n->gen, &n->fc1, STEP_B, n->noise, STEP_NOISE, n->pre, STEP_HIDDEN);
	nn_batchnorm_forward(be, &n->gen, &n->bn, STEP_B, true, n->pre, &n->saved, n->hid);
	nn_relu_forward(be, STEP_B, STEP_HIDDEN, n->hid, STEP_HIDDEN, n->hid, STEP_HIDDEN);
	nn_linear_forward(be, &n->gen, &n->fc2, STEP_B, n->hid, STEP_HIDDEN, n->logits, STEP_WIDTH);
	nn_tanh_forward(be, STEP_B, 3, n->logits, STEP_WIDTH, n->act, STEP_WIDTH);
	nn_softmax_forward(be, STEP_B, 4, 0.2f, rng, n->logits + 3, STEP_WIDTH, n->act + 3, STEP_WIDTH);
	nn_softmax_forward(be, STEP_B, 3, 0.2f, rng, n->logits + 7, STEP_WIDTH, n->act + 7, STEP_WIDTH);
}

static void
step_run(const SynthBackend *be, StepNet *n)
{
	NnRng		rng = {2024, 0};
	NnAdam		adam = {2e-4f, 0.5f, 0.9f, 1e-8f, 1e-6f};
	int			rows = STEP_B / STEP_PAC;

	/* critic step: E[score(fake)] - E[score(real)] + penalty */
	be->fill_uniform(be, STEP_B * STEP_WIDTH, 0, 1, rng.seed,
					 nn_rng_take(&rng, STEP_B * STEP_WIDTH), n->real);
	step_generate(be, n, &rng);
	nn_params_zero_grad(be, &n->dis);
	be->fill_uniform(be, rows, 0, 1, rng.seed, nn_rng_take(&rng, rows), n->alpha);
	be->lerp_rows(be, rows, STEP_PAC * STEP_WIDTH, n->alpha, n->real, n->act, n->mixed);
	n->losses[0] = nn_critic_penalty(be, &n->dis, &n->critic, rows, n->mixed, &rng, 10);
	nn_critic_forward(be, &n->dis, &n->critic, rows, n->act, &rng);
	n->losses[1] = be->sum(be, rows, n->critic.score) / rows;
	nn_critic_backward(be, &n->dis, &n->critic, rows, n->act, 1.0f / rows, true, NULL, 0);
	nn_critic_forward(be, &n->dis, &n->critic, rows, n->real, &rng);
	n->losses[1] -= be->sum(be, rows, n->critic.score) / rows;
	nn_critic_backward(be, &n->dis, &n->critic, rows, n->real, -1.0f / rows, true, NULL, 0);
	nn_adam_step(be, &n->dis, &adam);

	/* generator step: -E[score(fake)] */
	step_generate(be, n, &rng);
	nn_params_zero_grad(be, &n->gen);
	nn_critic_forward(be, &n->dis, &n->critic, rows, n->act, &rng);
	n->losses[2] = -be->sum(be, rows, n->critic.score) / rows;
	nn_critic_backward(be, &n->dis, &n->critic, rows, n->act, -1.0f / rows, false,
					   n->dact, STEP_PAC * STEP_WIDTH);
	nn_tanh_backward(be, STEP_B, 3, n->act, STEP_WIDTH, n->dact, STEP_WIDTH, n->dlogits, STEP_WIDTH);
	nn_softmax_backward(be, STEP_B, 4, 0.2f, n->act + 3, STEP_WIDTH, n->dact + 3, STEP_WIDTH,
						n->dlogits + 3, STEP_WIDTH);
	nn_softmax_backward(be, STEP_B, 3, 0.2f, n->act + 7, STEP_WIDTH, n->dact + 7, STEP_WIDTH,
						n->dlogits + 7, STEP_WIDTH);
	nn_linear_backward(be, &n->gen, &n->fc2, STEP_B, n->hid, STEP_HIDDEN, n->dlogits, STEP_WIDTH,
					   true, n->dhid, STEP_HIDDEN, 0);
	nn_relu_backward(be, STEP_B, STEP_HIDDEN, n->hid, STEP_HIDDEN, n->dhid, STEP_HIDDEN,
					 n->dhid, STEP_HIDDEN);
	nn_batchnorm_backward(be, &n->gen, &n->bn, STEP_B, n->pre, &n->saved, n->dhid, n->dpre);
	nn_linear_backward(be, &n->gen, &n->fc1, STEP_B, n->noise, STEP_NOISE, n->dpre, STEP_HIDDEN,
					   true, NULL, 0, 0);
	nn_adam_step(be, &n->gen, &adam);
}

/* one buffer of both nets, compared */
static double
compare_tensor(const char *what, const SynthReal *cpu, const SynthReal *dev, size_t count)
{
	SynthReal  *back = malloc((count + 1) * sizeof(SynthReal));
	double		err;

	be_get(other_be, back, dev, count);
	err = rel_err(cpu, back, count);
	free(back);
	if (!(err <= PARITY_STEP_TOLERANCE))
	{
		printf("gpu parity: FAIL (training step, %s: max rel err %.3g > %.0e on %s)\n",
			   what, err, PARITY_STEP_TOLERANCE, other_be->name);
		exit(1);
	}
	return err;
}

static double
compare_training_step(void)
{
	StepNet		a,
				b;
	double		worst = 0.0;

	step_build(cpu_be, &a);
	step_build(other_be, &b);
	step_run(cpu_be, &a);
	step_run(other_be, &b);
	for (int i = 0; i < 3; i++)
	{
		double		err = fabs(a.losses[i] - b.losses[i]) / fmax(fabs(a.losses[i]), 1e-3);

		if (!(err <= PARITY_STEP_TOLERANCE))
		{
			printf("gpu parity: FAIL (training step, loss %d: %.9g vs %.9g on %s)\n",
				   i, a.losses[i], b.losses[i], other_be->name);
			exit(1);
		}
		worst = fmax(worst, err);
	}
	worst = fmax(worst, compare_tensor("generator gradients", a.gen.grads, b.gen.grads, a.gen.count));
	worst = fmax(worst, compare_tensor("critic gradients", a.dis.grads, b.dis.grads, a.dis.count));
	worst = fmax(worst, compare_tensor("generator parameters and running statistics",
									   a.gen.values, b.gen.values,
									   a.gen.count + a.gen.state_count));
	worst = fmax(worst, compare_tensor("critic parameters", a.dis.values, b.dis.values,
									   a.dis.count));
	worst = fmax(worst, compare_tensor("generator output", a.act, b.act, STEP_B * STEP_WIDTH));
	return worst;
}

/* ---------------------------------------------------------------- the TVAE and CTGAN steps */

/* A small layout: 2 positions, a mode span of 3, categorical spans of 2 and 4. */
static int	net_span_start[] = {2, 5, 7};
static int	net_span_len[] = {3, 2, 4};
static bool net_span_discrete[] = {false, true, true};
static int	net_span_cond[] = {-1, 0, 2};
static const NnLayout net_layout = {11, 2, 3, net_span_start, net_span_len,
net_span_discrete, net_span_cond, 6};

#define NET_B	20

/* an encoded row r: positions in (-1, 1), one slot per span */
static void
net_row(SynthReal *row, int r, unsigned long long *state)
{
	memset(row, 0, net_layout.width * sizeof(SynthReal));
	row[0] = (SynthReal) next_uniform(state);
	row[1] = (SynthReal) next_uniform(state);
	row[2 + r % 3] = 1;
	row[5 + r % 2] = 1;
	row[7 + (r * 7) % 4] = 1;
}

static void
net_params(const SynthBackend *be, NnParams *p)
{
	nn_params_bind(p, be_alloc(be, p->count + p->state_count), be_alloc(be, p->count),
				   be_alloc(be, p->count), be_alloc(be, p->count));
}

/* three TVAE steps on both backends: losses, gradients, parameters */
static double
compare_tvae_steps(void)
{
	NnTvae		net[2];
	NnTvaeConfig config;
	double		loss[2] = {0, 0};
	double		worst;

	nn_tvae_config_default(&config);
	config.embedding_dim = 8;
	config.compress[0] = config.compress[1] = 16;
	config.decompress[0] = config.decompress[1] = 16;
	for (int side = 0; side < 2; side++)
	{
		const SynthBackend *be = side ? other_be : cpu_be;
		NnArena		a = {NULL, 0};
		NnRng		rng = {77, 0};
		unsigned long long state = 5;
		SynthReal  *x = malloc(sizeof(SynthReal) * NET_B * net_layout.width);

		memset(&net[side], 0, sizeof(NnTvae));
		nn_tvae_declare(&net[side], &config, &net_layout);
		net_params(be, &net[side].params);
		nn_params_init(be, &net[side].params, &rng);
		nn_tvae_layout(&net[side], &a, NET_B);
		a.base = (char *) be_alloc(be, a.used / sizeof(SynthReal) + 1);
		a.used = 0;
		nn_tvae_layout(&net[side], &a, NET_B);
		for (int r = 0; r < NET_B; r++)
			net_row(x + r * net_layout.width, r, &state);
		be_put(be, net[side].x, x, NET_B * net_layout.width);
		for (int step = 0; step < 3; step++)
			loss[side] = nn_tvae_step(be, &net[side], NET_B, &rng);
		free(x);
	}
	worst = fabs(loss[0] - loss[1]) / fmax(fabs(loss[0]), 1e-3);
	if (!(worst <= PARITY_STEP_TOLERANCE))
	{
		printf("gpu parity: FAIL (tvae steps, loss %.9g vs %.9g on %s)\n", loss[0], loss[1],
			   other_be->name);
		exit(1);
	}
	worst = fmax(worst, compare_tensor("tvae gradients", net[0].params.grads, net[1].params.grads,
									   net[0].params.count));
	worst = fmax(worst, compare_tensor("tvae parameters", net[0].params.values,
									   net[1].params.values, net[0].params.count));
	return worst;
}

/* DP-SGD's clipped gradient sum of a TVAE batch on both backends */
static double
compare_tvae_clip(void)
{
	NnTvae		net[2];
	NnTvaeClip	clip[2];
	NnTvaeConfig config;
	double		loss[2] = {0, 0};
	double		worst;

	nn_tvae_config_default(&config);
	config.embedding_dim = 8;
	config.compress[0] = config.compress[1] = 16;
	config.decompress[0] = config.decompress[1] = 16;
	for (int side = 0; side < 2; side++)
	{
		const SynthBackend *be = side ? other_be : cpu_be;
		NnArena		a = {NULL, 0};
		NnRng		rng = {78, 0};
		unsigned long long state = 6;
		SynthReal  *x = malloc(sizeof(SynthReal) * NET_B * net_layout.width);

		memset(&net[side], 0, sizeof(NnTvae));
		nn_tvae_declare(&net[side], &config, &net_layout);
		net_params(be, &net[side].params);
		nn_params_init(be, &net[side].params, &rng);
		nn_tvae_layout(&net[side], &a, NET_B);
		nn_tvae_clip_layout(&net[side], &clip[side], &a, NET_B);
		a.base = (char *) be_alloc(be, a.used / sizeof(SynthReal) + 1);
		a.used = 0;
		nn_tvae_layout(&net[side], &a, NET_B);
		nn_tvae_clip_layout(&net[side], &clip[side], &a, NET_B);
		for (int r = 0; r < NET_B; r++)
			net_row(x + r * net_layout.width, r, &state);
		be_put(be, net[side].x, x, NET_B * net_layout.width);
		nn_params_zero_grad(be, &net[side].params);
		loss[side] = nn_tvae_clipped_grads(be, &net[side], &clip[side], NET_B, &rng, 1.0f);
		free(x);
	}
	worst = fabs(loss[0] - loss[1]) / fmax(fabs(loss[0]), 1e-3);
	if (!(worst <= PARITY_STEP_TOLERANCE))
	{
		printf("gpu parity: FAIL (tvae clipped gradients, loss %.9g vs %.9g on %s)\n", loss[0],
			   loss[1], other_be->name);
		exit(1);
	}
	worst = fmax(worst, compare_tensor("tvae per-sample norms", clip[0].norm2, clip[1].norm2, NET_B));
	worst = fmax(worst, compare_tensor("tvae clipped gradients", net[0].params.grads,
									   net[1].params.grads, net[0].params.count));
	return worst;
}

/* two CTGAN critic and generator steps on both backends, then generation */
static double
compare_ctgan_steps(void)
{
	NnCtgan		net[2];
	NnCtganConfig config;
	double		loss[2][2] = {{0, 0}, {0, 0}};
	double		worst = 0.0;

	nn_ctgan_config_default(&config);
	config.embedding_dim = 8;
	config.generator[0] = config.generator[1] = 16;
	config.discriminator[0] = config.discriminator[1] = 12;
	config.pac = 4;
	for (int side = 0; side < 2; side++)
	{
		const SynthBackend *be = side ? other_be : cpu_be;
		NnArena		a = {NULL, 0};
		NnRng		rng = {78, 0};
		unsigned long long state = 6;
		int			row = net_layout.width + net_layout.cond_width;
		SynthReal  *cond = calloc(NET_B * net_layout.cond_width, sizeof(SynthReal));
		SynthReal  *real = calloc(NET_B * row, sizeof(SynthReal));
		double		penalty,
					cond_loss;

		memset(&net[side], 0, sizeof(NnCtgan));
		nn_ctgan_declare(&net[side], &config, &net_layout);
		net_params(be, &net[side].gen);
		net_params(be, &net[side].dis);
		nn_params_init(be, &net[side].gen, &rng);
		nn_params_init(be, &net[side].dis, &rng);
		nn_ctgan_layout(&net[side], &a, NET_B, true);
		a.base = (char *) be_alloc(be, a.used / sizeof(SynthReal) + 1);
		a.used = 0;
		nn_ctgan_layout(&net[side], &a, NET_B, true);
		for (int r = 0; r < NET_B; r++)
		{
			int			slot = r % 2 ? r % 2 : 2 + r % 4;

			cond[r * net_layout.cond_width + slot] = 1;
			net_row(real + r * row, r, &state);
			real[r * row + net_layout.width + slot] = 1;
		}
		be_put(be, net[side].cond, cond, NET_B * net_layout.cond_width);
		be_put(be, net[side].real, real, NET_B * row);
		for (int step = 0; step < 2; step++)
		{
			loss[side][0] = nn_ctgan_critic_step(be, &net[side], NET_B, &rng, &penalty);
			loss[side][1] = nn_ctgan_generator_step(be, &net[side], NET_B, &rng, &cond_loss);
		}
		nn_ctgan_generate(be, &net[side], NET_B, false, &rng);
		free(cond);
		free(real);
	}
	for (int i = 0; i < 2; i++)
	{
		double		err = fabs(loss[0][i] - loss[1][i]) / fmax(fabs(loss[0][i]), 1e-3);

		if (!(err <= PARITY_STEP_TOLERANCE))
		{
			printf("gpu parity: FAIL (ctgan steps, %s loss %.9g vs %.9g on %s)\n",
				   i ? "generator" : "critic", loss[0][i], loss[1][i], other_be->name);
			exit(1);
		}
		worst = fmax(worst, err);
	}
	worst = fmax(worst, compare_tensor("ctgan generator parameters and running statistics",
									   net[0].gen.values, net[1].gen.values,
									   net[0].gen.count + net[0].gen.state_count));
	worst = fmax(worst, compare_tensor("ctgan critic parameters", net[0].dis.values,
									   net[1].dis.values, net[0].dis.count));
	worst = fmax(worst, compare_tensor("ctgan generated rows", net[0].fakeact, net[1].fakeact,
									   NET_B * net[0].row));
	return worst;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "cuda/synth_cuda.so";
	double		worst_op,
				worst_step;
	static const int shapes[][3] = {{67, 45, 93}, {1, 130, 7}, {256, 257, 255}};
	char		errmsg[SYNTH_CUDA_ERRMSG_LEN];
	char		name[256];
	void	   *library;
	SynthCudaApiFunc api_func;
	int			ndevices;
	unsigned long long state = 20240601ULL;
	double		worst = 0.0;

	cpu_be = synth_backend_cpu();
	if (strcmp(path, "--cpu") == 0)
	{
		/* the harness against itself: CPU on both sides */
		other_be = cpu_be;
		worst_op = compare_nn_ops(&state);
		worst_step = compare_training_step();
		worst_step = fmax(worst_step, compare_tvae_steps());
		worst_step = fmax(worst_step, compare_ctgan_steps());
		worst_step = fmax(worst_step, compare_tvae_clip());
		printf("gpu parity: harness PASS on the CPU alone (max rel err %.3g ops, %.3g step)\n",
			   worst_op, worst_step);
		return 0;
	}

	library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (library == NULL)
		skip(dlerror());
	api_func = (SynthCudaApiFunc) dlsym(library, SYNTH_CUDA_ENTRY_POINT);
	if (api_func == NULL)
		fail(path, "no entry point " SYNTH_CUDA_ENTRY_POINT);
	cuda = api_func();
	if (cuda->abi_version != SYNTH_CUDA_ABI_VERSION)
		fail(path, "interface version differs from cuda/synth_cuda.h; rebuild");
	if (cuda->probe(&ndevices, name, sizeof(name), errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK)
		skip(errmsg);
	if (cuda->open(0, &context, errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK)
		fail("open", errmsg);

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int transA = 0; transA <= 1; transA++)
			for (int transB = 0; transB <= 1; transB++)
			{
				double		err = compare_gemm(transA, transB, shapes[s][0],
											   shapes[s][1], shapes[s][2], &state);

				if (!(err <= PARITY_TOLERANCE))
				{
					printf("gpu parity: FAIL (gemm transA=%d transB=%d m=%d n=%d k=%d: "
						   "max rel err %.3g > %.0e on %s)\n",
						   transA, transB, shapes[s][0], shapes[s][1], shapes[s][2],
						   err, PARITY_TOLERANCE, cuda->device_name(context));
					return 1;
				}
				if (err > worst)
					worst = err;
			}

	gpu.api = cuda;
	gpu.cuda = context;
	gpu.failed = gpu_failed;
	synth_backend_gpu_init(&gpu_backend, &gpu, cuda->device_name(context));
	other_be = &gpu_backend;
	worst_op = compare_nn_ops(&state);
	worst_step = compare_training_step();
	worst_step = fmax(worst_step, compare_tvae_steps());
	worst_step = fmax(worst_step, compare_ctgan_steps());
	worst_step = fmax(worst_step, compare_tvae_clip());

	printf("gpu parity: PASS (max rel err %.3g gemm in 4 transpose cases x %zu shapes, "
		   "%.3g neural-network operations, %.3g training steps of a small GAN, TVAE and CTGAN "
		   "and a DP-SGD clipped TVAE batch; on %s)\n",
		   worst, sizeof(shapes) / sizeof(shapes[0]), worst_op, worst_step,
		   cuda->device_name(context));
	cuda->close(context);
	return 0;
}
