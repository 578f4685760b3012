/*-------------------------------------------------------------------------
 *
 * backend.h
 *	  The compute backends of synth: one table of operations per backend
 *	  (CPU with OpenBLAS, GPU with cuBLAS loaded from synth_cuda.so), chosen
 *	  at run time by the GUC synth.device.
 *
 * A backend is a table of function pointers plus an opaque context, as in
 * ggml.  The CPU backend is always complete and is the reference; the other
 * backends may leave an operation NULL and say so through supports().  New
 * operations are added by appending a SynthOp and a member to SynthBackend;
 * callers ask supports() before using anything that is not in every backend.
 *
 * Memory: the pointers given to an operation live in the backend's memory.
 * A backend whose alloc is NULL works on host memory (palloc'd by the
 * caller); otherwise operands must come from its alloc and be filled with
 * to_device.  synth_buffer_*() below hide the difference for callers that
 * want to write one code path.
 *
 * This header needs no server headers, so that the standalone unit and GPU
 * parity tests can use backend_cpu.c without linking against PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_BACKEND_H
#define SYNTH_BACKEND_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The scalar of the neural-network operations (matmul and after): float, as
 * networks are trained in single precision.  The unit tests build the same
 * code with -DSYNTH_REAL_DOUBLE to check gradients by finite differences.
 */
#ifdef SYNTH_REAL_DOUBLE
typedef double SynthReal;
#else
typedef float SynthReal;
#endif

/* Elementwise activations of act_forward and act_backward. */
typedef enum SynthActivation
{
	SYNTH_ACT_RELU,
	SYNTH_ACT_LEAKY_RELU,		/* slope for negative inputs */
	SYNTH_ACT_TANH
} SynthActivation;

/* Operations a backend may provide; supports() is asked with these. */
typedef enum SynthOp
{
	SYNTH_OP_GEMM,				/* gemm */
	SYNTH_OP_ALLOC,				/* alloc and free of backend memory */
	SYNTH_OP_COPY,				/* to_device and to_host */
	SYNTH_OP_MATMUL,			/* matmul (gemm on SynthReal) */
	SYNTH_OP_FILL,				/* fill */
	SYNTH_OP_AXPBY,				/* axpby, mul, clamp */
	SYNTH_OP_COPY2D,			/* copy2d */
	SYNTH_OP_BIAS,				/* bias_add, bias_grad */
	SYNTH_OP_ACTIVATION,		/* act_forward, act_backward */
	SYNTH_OP_BATCHNORM,			/* batchnorm_forward, batchnorm_backward */
	SYNTH_OP_DROPOUT,			/* dropout_forward */
	SYNTH_OP_SOFTMAX,			/* softmax_forward, softmax_backward */
	SYNTH_OP_LOSS,				/* softmax_xent, gaussian_nll, kl_normal, norm_penalty */
	SYNTH_OP_REPARAM,			/* reparam_forward, reparam_backward, lerp_rows */
	SYNTH_OP_ADAM,				/* adam */
	SYNTH_OP_RANDOM,			/* fill_uniform, fill_normal */
	SYNTH_OP_SUM,				/* sum */
	SYNTH_OP_CLIP,				/* grad_norms_linear, row_sumsq, clip_factors, scale_rows */
	SYNTH_OP_COUNT				/* keep last */
} SynthOp;

typedef struct SynthBackend SynthBackend;

struct SynthBackend
{
	const char *name;			/* "cpu", or "gpu: <device name>" */
	void	   *context;		/* owned by the backend, opaque to callers */

	/* Does this backend implement op?  Never NULL. */
	bool		(*supports) (const SynthBackend *backend, SynthOp op);

	/*
	 * Row-major C = alpha * op(A) * op(B) + beta * C, where op(X) is X or its
	 * transpose.  C is (m, n), op(A) is (m, k), op(B) is (k, n); lda, ldb and
	 * ldc are the row strides of A, B and C as stored (so lda is k without
	 * transA and m with it).  With beta = 0, C need not be initialised.
	 * Never NULL.
	 */
	void		(*gemm) (const SynthBackend *backend,
						 bool transA, bool transB,
						 int m, int n, int k,
						 double alpha,
						 const double *A, int lda,
						 const double *B, int ldb,
						 double beta,
						 double *C, int ldc);

	/* Backend memory; NULL when the backend works on host memory. */
	void	   *(*alloc) (const SynthBackend *backend, size_t bytes);
	void		(*free) (const SynthBackend *backend, void *ptr);
	void		(*to_device) (const SynthBackend *backend, void *dst,
							  const void *src, size_t bytes);
	void		(*to_host) (const SynthBackend *backend, void *dst,
							const void *src, size_t bytes);

	/*
	 * The operations of the neural-network engine (src/nn.c), on SynthReal.
	 * Matrices are row-major with a row stride (ld) each; vectors are
	 * contiguous.  Operations that write an output overwrite it unless they
	 * say "adds"; an output may be its own input where "in place" is said.
	 * Random numbers come from the counter-based stream synth_random_bits()
	 * below: number i of a call is drawn from (seed, offset + i), so every
	 * backend draws the same numbers.
	 */

	/* SYNTH_OP_MATMUL: gemm's contract on SynthReal. */
	void		(*matmul) (const SynthBackend *backend,
						   bool transA, bool transB,
						   int m, int n, int k,
						   SynthReal alpha,
						   const SynthReal *A, int lda,
						   const SynthReal *B, int ldb,
						   SynthReal beta,
						   SynthReal *C, int ldc);

	/* SYNTH_OP_FILL: x[i] = value, i < n. */
	void		(*fill) (const SynthBackend *backend, size_t n, SynthReal value,
						 SynthReal *x);

	/* SYNTH_OP_AXPBY: y = a x + b y (n). */
	void		(*axpby) (const SynthBackend *backend, size_t n, SynthReal a,
						  const SynthReal *x, SynthReal b, SynthReal *y);

	/* SYNTH_OP_AXPBY: out = x * y elementwise (n); in place. */
	void		(*mul) (const SynthBackend *backend, size_t n, const SynthReal *x,
						const SynthReal *y, SynthReal *out);

	/* SYNTH_OP_COPY2D: dst (rows, cols) = src + beta dst. */
	void		(*copy2d) (const SynthBackend *backend, int rows, int cols,
						   const SynthReal *src, int lds, SynthReal beta,
						   SynthReal *dst, int ldd);

	/* SYNTH_OP_BIAS: x (rows, cols) += bias (cols) on every row. */
	void		(*bias_add) (const SynthBackend *backend, int rows, int cols,
							 const SynthReal *bias, SynthReal *x, int ldx);

	/* SYNTH_OP_BIAS: dbias (cols) adds the column sums of dout (rows, cols). */
	void		(*bias_grad) (const SynthBackend *backend, int rows, int cols,
							  const SynthReal *dout, int ldd, SynthReal *dbias);

	/* SYNTH_OP_ACTIVATION: out (rows, cols) = f(inp); in place. */
	void		(*act_forward) (const SynthBackend *backend, SynthActivation f,
								SynthReal slope, int rows, int cols,
								const SynthReal *inp, int ldi,
								SynthReal *out, int ldo);

	/*
	 * SYNTH_OP_ACTIVATION: dinp = dout * f'(x), with f' read from the
	 * forward output out = f(x) (so no input needs keeping); in place.
	 */
	void		(*act_backward) (const SynthBackend *backend, SynthActivation f,
								 SynthReal slope, int rows, int cols,
								 const SynthReal *out, int ldo,
								 const SynthReal *dout, int ldd,
								 SynthReal *dinp, int ldn);

	/*
	 * SYNTH_OP_BATCHNORM: out (rows, cols) = gamma (x - mean) rstd + beta per
	 * column.  Training: mean and rstd = 1 / sqrt(var + eps) of the batch
	 * (biased variance) are written to mean and rstd (cols), and the running
	 * statistics move by momentum towards the batch's (unbiased variance).
	 * Otherwise the running statistics are used and mean, rstd are unused.
	 */
	void		(*batchnorm_forward) (const SynthBackend *backend, int rows, int cols,
									  bool training, SynthReal momentum, SynthReal eps,
									  const SynthReal *inp, const SynthReal *gamma,
									  const SynthReal *beta,
									  SynthReal *running_mean, SynthReal *running_var,
									  SynthReal *mean, SynthReal *rstd, SynthReal *out);

	/* SYNTH_OP_BATCHNORM: dinp written; dgamma and dbeta add. */
	void		(*batchnorm_backward) (const SynthBackend *backend, int rows, int cols,
									   const SynthReal *inp, const SynthReal *gamma,
									   const SynthReal *mean, const SynthReal *rstd,
									   const SynthReal *dout, SynthReal *dinp,
									   SynthReal *dgamma, SynthReal *dbeta);

	/*
	 * SYNTH_OP_DROPOUT: mask[i] = (u_i >= p) / (1 - p) with u_i uniform, and
	 * out = inp * mask (n); in place.  The backward pass is mul by mask.
	 */
	void		(*dropout_forward) (const SynthBackend *backend, size_t n, SynthReal p,
									uint64_t seed, uint64_t offset,
									const SynthReal *inp, SynthReal *mask, SynthReal *out);

	/*
	 * SYNTH_OP_SOFTMAX: out (rows, cols) = softmax((inp + g) / tau) per row,
	 * with g = -log(-log(u)) Gumbel noise when gumbel, else g = 0.
	 */
	void		(*softmax_forward) (const SynthBackend *backend, int rows, int cols,
									SynthReal tau, bool gumbel,
									uint64_t seed, uint64_t offset,
									const SynthReal *inp, int ldi,
									SynthReal *out, int ldo);

	/* SYNTH_OP_SOFTMAX: dinp = out * (dout - sum(dout * out)) / tau per row. */
	void		(*softmax_backward) (const SynthBackend *backend, int rows, int cols,
									 SynthReal tau, const SynthReal *out, int ldo,
									 const SynthReal *dout, int ldd,
									 SynthReal *dinp, int ldn);

	/*
	 * SYNTH_OP_LOSS, the loss pieces.  Each adds scale times its loss of row r
	 * to loss[r] and scale times its gradient to the gradients.
	 *
	 * softmax_xent: L = -sum_j t_j log softmax(z)_j over each row of logits z
	 * and soft targets t (a one-hot row, or zeros for no loss); dz adds
	 * softmax(z) sum(t) - t.
	 */
	void		(*softmax_xent) (const SynthBackend *backend, int rows, int cols,
								 SynthReal scale,
								 const SynthReal *logits, int ldl,
								 const SynthReal *target, int ldt,
								 SynthReal *dlogits, int ldd, SynthReal *loss);

	/*
	 * gaussian_nll: L = sum_j (x_j - tanh z_j)^2 / (2 sigma_j^2) + log sigma_j,
	 * the Gaussian reconstruction of TVAE; dz and dsigma (cols) add.
	 */
	void		(*gaussian_nll) (const SynthBackend *backend, int rows, int cols,
								 SynthReal scale,
								 const SynthReal *z, int ldz,
								 const SynthReal *x, int ldx,
								 const SynthReal *sigma,
								 SynthReal *dz, int ldd, SynthReal *dsigma,
								 SynthReal *loss);

	/*
	 * kl_normal: L = -1/2 sum_j (1 + lv_j - mu_j^2 - exp(lv_j)), the KL
	 * divergence of N(mu, exp(lv)) from N(0, 1); dmu and dlogvar add.
	 * All (rows, cols) contiguous.
	 */
	void		(*kl_normal) (const SynthBackend *backend, int rows, int cols,
							  SynthReal scale,
							  const SynthReal *mu, const SynthReal *logvar,
							  SynthReal *dmu, SynthReal *dlogvar, SynthReal *loss);

	/*
	 * norm_penalty: L = (||g_r|| - 1)^2 over each row of g (rows, cols,
	 * contiguous), the gradient penalty of WGAN-GP; dg adds.
	 */
	void		(*norm_penalty) (const SynthBackend *backend, int rows, int cols,
								 SynthReal scale, const SynthReal *g,
								 SynthReal *dg, SynthReal *loss);

	/* SYNTH_OP_REPARAM: z = mu + eps exp(logvar / 2) (n). */
	void		(*reparam_forward) (const SynthBackend *backend, size_t n,
									const SynthReal *mu, const SynthReal *logvar,
									const SynthReal *eps, SynthReal *z);

	/* SYNTH_OP_REPARAM: dmu = dz, dlogvar = dz eps exp(logvar / 2) / 2 (written). */
	void		(*reparam_backward) (const SynthBackend *backend, size_t n,
									 const SynthReal *logvar, const SynthReal *eps,
									 const SynthReal *dz,
									 SynthReal *dmu, SynthReal *dlogvar);

	/* SYNTH_OP_REPARAM: out (rows, cols) = alpha_r a + (1 - alpha_r) b, contiguous. */
	void		(*lerp_rows) (const SynthBackend *backend, int rows, int cols,
							  const SynthReal *alpha, const SynthReal *a,
							  const SynthReal *b, SynthReal *out);

	/*
	 * SYNTH_OP_ADAM: one Adam step (n) as torch.optim.Adam takes it: weight
	 * decay adds weight_decay * param to the gradient; step counts from 1.
	 */
	void		(*adam) (const SynthBackend *backend, size_t n,
						 SynthReal lr, SynthReal beta1, SynthReal beta2,
						 SynthReal eps, SynthReal weight_decay, int step,
						 SynthReal *param, const SynthReal *grad,
						 SynthReal *m, SynthReal *v);

	/* SYNTH_OP_AXPBY: x = min(max(x, lo), hi) (n). */
	void		(*clamp) (const SynthBackend *backend, size_t n,
						  SynthReal lo, SynthReal hi, SynthReal *x);

	/* SYNTH_OP_RANDOM: x[i] uniform in (lo, hi), or normal(mean, std) (n). */
	void		(*fill_uniform) (const SynthBackend *backend, size_t n,
								 SynthReal lo, SynthReal hi,
								 uint64_t seed, uint64_t offset, SynthReal *x);
	void		(*fill_normal) (const SynthBackend *backend, size_t n,
								SynthReal mean, SynthReal std,
								uint64_t seed, uint64_t offset, SynthReal *x);

	/* SYNTH_OP_SUM: the sum of x (n), accumulated in double, on the host. */
	double		(*sum) (const SynthBackend *backend, size_t n, const SynthReal *x);

	/*
	 * SYNTH_OP_CLIP, per-sample gradient clipping for DP-SGD (src/nn_dpsgd.c).
	 *
	 * grad_norms_linear: norm2[r] adds ||dout_r||^2 (||inp_r||^2 + 1), the
	 * squared norm of row r's own gradient of a linear layer's weights
	 * (dout_r inp_r^T) and bias (dout_r), from the layer's input inp (rows,
	 * in) and output gradient dout (rows, out); sums in double.
	 */
	void		(*grad_norms_linear) (const SynthBackend *backend, int rows, int in, int out,
									  const SynthReal *inp, int ldi,
									  const SynthReal *dout, int ldd, SynthReal *norm2);

	/* SYNTH_OP_CLIP: norm2[r] adds ||x_r||^2 over the rows of x (rows, cols). */
	void		(*row_sumsq) (const SynthBackend *backend, int rows, int cols,
							  const SynthReal *x, int ldx, SynthReal *norm2);

	/*
	 * SYNTH_OP_CLIP: factor[r] = min(1, max_norm / sqrt(norm2[r])), 1 where
	 * norm2[r] is 0: scaling row r's gradient by it bounds its norm by max_norm.
	 */
	void		(*clip_factors) (const SynthBackend *backend, int rows, SynthReal max_norm,
								 const SynthReal *norm2, SynthReal *factor);

	/* SYNTH_OP_CLIP: x_r *= factor[r] for the rows of x (rows, cols); in place. */
	void		(*scale_rows) (const SynthBackend *backend, int rows, int cols,
							   const SynthReal *factor, SynthReal *x, int ldx);
};

/*
 * The counter-based random stream every backend draws from: 64 random bits
 * for (seed, counter), by the SplitMix64 finaliser.  cuda/synth_cuda.cu has
 * the same function for the device; test/gpu/parity.c checks they agree.
 */
static inline uint64_t
synth_random_bits(uint64_t seed, uint64_t counter)
{
	uint64_t	z = seed + (counter + 1) * UINT64_C(0x9E3779B97F4A7C15);

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * The uniform double in (0, 1) of 53 random bits k (k < 2^53; converted
 * through int64_t, which the same value takes and CPUs convert in one
 * instruction).
 */
static inline double
synth_uniform_of_bits(uint64_t k)
{
	return ((double) (int64_t) k + 0.5) * (1.0 / 9007199254740992.0);
}

/* A uniform double in (0, 1) from 53 random bits. */
static inline double
synth_random_uniform(uint64_t seed, uint64_t counter)
{
	return synth_uniform_of_bits(synth_random_bits(seed, counter) >> 11);
}

/*
 * A standard normal by Box-Muller, in single precision (what the networks
 * use): counters 2p and 2p + 1 are the cosine and the sine of the pair drawn
 * from the uniforms of (seed, p) and (seed ^ SYNTH_RANDOM_SECOND, p), two
 * independent normals for one logarithm.  synth_random_normal_pair gives
 * both.
 */
#define SYNTH_RANDOM_SECOND		UINT64_C(0xD1B54A32D192ED03)

static inline void
synth_random_normal_pair(uint64_t seed, uint64_t pair, float *even, float *odd)
{
	float		r = sqrtf(-2.0f * logf((float) synth_random_uniform(seed, pair)));
	float		theta = 6.2831853f * (float) synth_random_uniform(seed ^ SYNTH_RANDOM_SECOND, pair);

	*even = r * cosf(theta);
	*odd = r * sinf(theta);
}

static inline float
synth_random_normal(uint64_t seed, uint64_t counter)
{
	float		even,
				odd;

	synth_random_normal_pair(seed, counter >> 1, &even, &odd);
	return (counter & 1) ? odd : even;
}

/*
 * Gumbel noise -log(-log(u)) of counter's uniform, in single precision; u is
 * kept below 1 so that the noise stays finite.
 */
static inline float
synth_random_gumbel(uint64_t seed, uint64_t counter)
{
	float		u = fminf((float) synth_random_uniform(seed, counter), 0.99999994f);

	return -logf(-logf(u));
}

/* backend_cpu.c: the OpenBLAS backend, needing no server headers */
extern const SynthBackend *synth_backend_cpu(void);

/*
 * backend_cpu.c: denormal floats computed and read as zero on the calling
 * thread (where the CPU has such a mode), for a training or a generation;
 * returns the mode that synth_cpu_denormals_restore puts back.
 */
extern unsigned int synth_cpu_denormals_off(void);
extern void synth_cpu_denormals_restore(unsigned int mode);

/*
 * backend_gpu.c: the GPU backend over a loaded synth_cuda.so
 * (cuda/synth_cuda.h), needing no server headers either.  A failed operation
 * calls failed(), which must not return (ereport(ERROR) in the server).
 */
struct SynthCudaApi;
struct SynthCudaContext;

typedef struct SynthGpu
{
	const struct SynthCudaApi *api;
	struct SynthCudaContext *cuda;	/* an opened device */
	void		(*failed) (const SynthBackend *backend, const char *operation,
						   bool out_of_memory, const char *detail);
} SynthGpu;

extern void synth_backend_gpu_init(SynthBackend *backend, SynthGpu *gpu, const char *name);

/*
 * backend.c: GUC synth.device, run-time choice of the backend, and buffers
 * that live in the chosen backend's memory.  Failures of a loaded backend
 * are raised with ereport(ERROR).
 */
extern void SynthBackendInit(void);
extern const SynthBackend *synth_backend_get(void);
extern const SynthBackend *synth_backend_for(int device);
extern void *synth_buffer_alloc(const SynthBackend *backend, size_t bytes);
extern void synth_buffer_free(const SynthBackend *backend, void *buffer);
extern void synth_buffer_upload(const SynthBackend *backend, void *buffer,
								const void *host, size_t bytes);
extern void synth_buffer_download(const SynthBackend *backend, void *host,
								  const void *buffer, size_t bytes);

#endif							/* SYNTH_BACKEND_H */
