/*-------------------------------------------------------------------------
 *
 * backend_gpu.c
 *	  The GPU backend: the operations of backend.h over the function table of
 *	  synth_cuda.so (cuda/synth_cuda.h), which the caller has loaded.
 *
 * Every call checks the status the library returns and hands a failure to
 * the caller's failure function, which does not return: src/backend.c raises
 * it with ereport(ERROR), test/gpu/parity.c prints a verdict and exits.  So
 * the extension and the parity test run these same wrappers, and this file
 * needs no server headers.
 *
 *-------------------------------------------------------------------------
 */

#include "backend.h"
#include "synth_cuda.h"

_Static_assert(sizeof(SynthReal) == sizeof(SynthCudaReal),
			   "SynthReal and SynthCudaReal must be the same type");

static const SynthGpu *
gpu_of(const SynthBackend *backend)
{
	return (const SynthGpu *) backend->context;
}

/* Hand a failed status to the caller's failure function, which does not return. */
static void
check(const SynthBackend *backend, const char *operation, SynthCudaStatus status)
{
	const SynthGpu *gpu = gpu_of(backend);

	if (status != SYNTH_CUDA_OK)
		gpu->failed(backend, operation, status == SYNTH_CUDA_OUT_OF_MEMORY,
					gpu->api->error(gpu->cuda));
}

static bool
gpu_supports(const SynthBackend *backend, SynthOp op)
{
	return op != SYNTH_OP_COUNT;
}

static void
gpu_gemm(const SynthBackend *backend, bool transA, bool transB,
		 int m, int n, int k, double alpha,
		 const double *A, int lda, const double *B, int ldb,
		 double beta, double *C, int ldc)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "gemm", g->api->gemm(g->cuda, transA, transB, m, n, k, alpha,
										A, lda, B, ldb, beta, C, ldc));
}

static void *
gpu_alloc(const SynthBackend *backend, size_t bytes)
{
	const SynthGpu *g = gpu_of(backend);
	void	   *ptr = NULL;

	check(backend, "alloc", g->api->alloc(g->cuda, &ptr, bytes));
	return ptr;
}

static void
gpu_free(const SynthBackend *backend, void *ptr)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "free", g->api->free(g->cuda, ptr));
}

static void
gpu_to_device(const SynthBackend *backend, void *dst, const void *src, size_t bytes)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "copy to device", g->api->to_device(g->cuda, dst, src, bytes));
}

static void
gpu_to_host(const SynthBackend *backend, void *dst, const void *src, size_t bytes)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "copy to host", g->api->to_host(g->cuda, dst, src, bytes));
}

/* ---------------------------------------------------------------- neural-network operations */

static void
gpu_matmul(const SynthBackend *backend, bool transA, bool transB, int m, int n, int k,
		   SynthReal alpha, const SynthReal *A, int lda, const SynthReal *B, int ldb,
		   SynthReal beta, SynthReal *C, int ldc)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "matmul", g->api->matmul(g->cuda, transA, transB, m, n, k, alpha,
											A, lda, B, ldb, beta, C, ldc));
}

static void
gpu_fill(const SynthBackend *backend, size_t n, SynthReal value, SynthReal *x)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "fill", g->api->fill(g->cuda, n, value, x));
}

static void
gpu_axpby(const SynthBackend *backend, size_t n, SynthReal a, const SynthReal *x,
		  SynthReal b, SynthReal *y)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "axpby", g->api->axpby(g->cuda, n, a, x, b, y));
}

static void
gpu_mul(const SynthBackend *backend, size_t n, const SynthReal *x, const SynthReal *y,
		SynthReal *out)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "mul", g->api->mul(g->cuda, n, x, y, out));
}

static void
gpu_copy2d(const SynthBackend *backend, int rows, int cols, const SynthReal *src, int lds,
		   SynthReal beta, SynthReal *dst, int ldd)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "copy2d", g->api->copy2d(g->cuda, rows, cols, src, lds, beta, dst, ldd));
}

static void
gpu_bias_add(const SynthBackend *backend, int rows, int cols, const SynthReal *bias,
			 SynthReal *x, int ldx)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "bias_add", g->api->bias_add(g->cuda, rows, cols, bias, x, ldx));
}

static void
gpu_bias_grad(const SynthBackend *backend, int rows, int cols, const SynthReal *dout,
			  int ldd, SynthReal *dbias)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "bias_grad", g->api->bias_grad(g->cuda, rows, cols, dout, ldd, dbias));
}

static void
gpu_act_forward(const SynthBackend *backend, SynthActivation f, SynthReal slope,
				int rows, int cols, const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "act_forward", g->api->act_forward(g->cuda, (int) f, slope, rows, cols,
													  inp, ldi, out, ldo));
}

static void
gpu_act_backward(const SynthBackend *backend, SynthActivation f, SynthReal slope,
				 int rows, int cols, const SynthReal *out, int ldo,
				 const SynthReal *dout, int ldd, SynthReal *dinp, int ldn)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "act_backward", g->api->act_backward(g->cuda, (int) f, slope, rows, cols,
														out, ldo, dout, ldd, dinp, ldn));
}

static void
gpu_batchnorm_forward(const SynthBackend *backend, int rows, int cols, bool training,
					  SynthReal momentum, SynthReal eps, const SynthReal *inp,
					  const SynthReal *gamma, const SynthReal *beta,
					  SynthReal *running_mean, SynthReal *running_var,
					  SynthReal *mean, SynthReal *rstd, SynthReal *out)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "batchnorm_forward",
		  g->api->batchnorm_forward(g->cuda, rows, cols, training, momentum, eps, inp, gamma,
									beta, running_mean, running_var, mean, rstd, out));
}

static void
gpu_batchnorm_backward(const SynthBackend *backend, int rows, int cols,
					   const SynthReal *inp, const SynthReal *gamma,
					   const SynthReal *mean, const SynthReal *rstd,
					   const SynthReal *dout, SynthReal *dinp,
					   SynthReal *dgamma, SynthReal *dbeta)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "batchnorm_backward",
		  g->api->batchnorm_backward(g->cuda, rows, cols, inp, gamma, mean, rstd, dout, dinp,
									 dgamma, dbeta));
}

static void
gpu_dropout_forward(const SynthBackend *backend, size_t n, SynthReal p, uint64_t seed,
					uint64_t offset, const SynthReal *inp, SynthReal *mask, SynthReal *out)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "dropout_forward",
		  g->api->dropout_forward(g->cuda, n, p, seed, offset, inp, mask, out));
}

static void
gpu_softmax_forward(const SynthBackend *backend, int rows, int cols, SynthReal tau,
					bool gumbel, uint64_t seed, uint64_t offset,
					const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "softmax_forward",
		  g->api->softmax_forward(g->cuda, rows, cols, tau, gumbel, seed, offset,
								  inp, ldi, out, ldo));
}

static void
gpu_softmax_backward(const SynthBackend *backend, int rows, int cols, SynthReal tau,
					 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
					 SynthReal *dinp, int ldn)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "softmax_backward",
		  g->api->softmax_backward(g->cuda, rows, cols, tau, out, ldo, dout, ldd, dinp, ldn));
}

static void
gpu_softmax_xent(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *logits, int ldl, const SynthReal *target, int ldt,
				 SynthReal *dlogits, int ldd, SynthReal *loss)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "softmax_xent",
		  g->api->softmax_xent(g->cuda, rows, cols, scale, logits, ldl, target, ldt,
							   dlogits, ldd, loss));
}

static void
gpu_gaussian_nll(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *z, int ldz, const SynthReal *x, int ldx,
				 const SynthReal *sigma, SynthReal *dz, int ldd, SynthReal *dsigma,
				 SynthReal *loss)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "gaussian_nll",
		  g->api->gaussian_nll(g->cuda, rows, cols, scale, z, ldz, x, ldx, sigma,
							   dz, ldd, dsigma, loss));
}

static void
gpu_kl_normal(const SynthBackend *backend, int rows, int cols, SynthReal scale,
			  const SynthReal *mu, const SynthReal *logvar,
			  SynthReal *dmu, SynthReal *dlogvar, SynthReal *loss)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "kl_normal",
		  g->api->kl_normal(g->cuda, rows, cols, scale, mu, logvar, dmu, dlogvar, loss));
}

static void
gpu_norm_penalty(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *gr, SynthReal *dg, SynthReal *loss)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "norm_penalty",
		  g->api->norm_penalty(g->cuda, rows, cols, scale, gr, dg, loss));
}

static void
gpu_reparam_forward(const SynthBackend *backend, size_t n, const SynthReal *mu,
					const SynthReal *logvar, const SynthReal *eps, SynthReal *z)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "reparam_forward", g->api->reparam_forward(g->cuda, n, mu, logvar, eps, z));
}

static void
gpu_reparam_backward(const SynthBackend *backend, size_t n, const SynthReal *logvar,
					 const SynthReal *eps, const SynthReal *dz,
					 SynthReal *dmu, SynthReal *dlogvar)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "reparam_backward",
		  g->api->reparam_backward(g->cuda, n, logvar, eps, dz, dmu, dlogvar));
}

static void
gpu_lerp_rows(const SynthBackend *backend, int rows, int cols, const SynthReal *alpha,
			  const SynthReal *a, const SynthReal *b, SynthReal *out)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "lerp_rows", g->api->lerp_rows(g->cuda, rows, cols, alpha, a, b, out));
}

static void
gpu_adam(const SynthBackend *backend, size_t n, SynthReal lr, SynthReal beta1,
		 SynthReal beta2, SynthReal eps, SynthReal weight_decay, int step,
		 SynthReal *param, const SynthReal *grad, SynthReal *m, SynthReal *v)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "adam", g->api->adam(g->cuda, n, lr, beta1, beta2, eps, weight_decay, step,
										param, grad, m, v));
}

static void
gpu_clamp(const SynthBackend *backend, size_t n, SynthReal lo, SynthReal hi, SynthReal *x)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "clamp", g->api->clamp(g->cuda, n, lo, hi, x));
}

static void
gpu_fill_uniform(const SynthBackend *backend, size_t n, SynthReal lo, SynthReal hi,
				 uint64_t seed, uint64_t offset, SynthReal *x)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "fill_uniform", g->api->fill_uniform(g->cuda, n, lo, hi, seed, offset, x));
}

static void
gpu_fill_normal(const SynthBackend *backend, size_t n, SynthReal mean, SynthReal std,
				uint64_t seed, uint64_t offset, SynthReal *x)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "fill_normal", g->api->fill_normal(g->cuda, n, mean, std, seed, offset, x));
}

static double
gpu_sum(const SynthBackend *backend, size_t n, const SynthReal *x)
{
	const SynthGpu *g = gpu_of(backend);
	double		result = 0.0;

	check(backend, "sum", g->api->sum(g->cuda, n, x, &result));
	return result;
}

/*
 * Fill backend with the GPU operations over gpu (api, an opened context and
 * the failure function, all set by the caller, who keeps gpu alive).
 */
/* ---------------------------------------------------------------- per-sample clipping */

static void
gpu_grad_norms_linear(const SynthBackend *backend, int rows, int in, int out,
					  const SynthReal *inp, int ldi, const SynthReal *dout, int ldd,
					  SynthReal *norm2)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "grad_norms_linear",
		  g->api->grad_norms_linear(g->cuda, rows, in, out, inp, ldi, dout, ldd, norm2));
}

static void
gpu_row_sumsq(const SynthBackend *backend, int rows, int cols, const SynthReal *x, int ldx,
			  SynthReal *norm2)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "row_sumsq", g->api->row_sumsq(g->cuda, rows, cols, x, ldx, norm2));
}

static void
gpu_clip_factors(const SynthBackend *backend, int rows, SynthReal max_norm,
				 const SynthReal *norm2, SynthReal *factor)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "clip_factors", g->api->clip_factors(g->cuda, rows, max_norm, norm2, factor));
}

static void
gpu_scale_rows(const SynthBackend *backend, int rows, int cols, const SynthReal *factor,
			   SynthReal *x, int ldx)
{
	const SynthGpu *g = gpu_of(backend);

	check(backend, "scale_rows", g->api->scale_rows(g->cuda, rows, cols, factor, x, ldx));
}

void
synth_backend_gpu_init(SynthBackend *backend, SynthGpu *gpu, const char *name)
{
	backend->name = name;
	backend->context = gpu;
	backend->supports = gpu_supports;
	backend->gemm = gpu_gemm;
	backend->alloc = gpu_alloc;
	backend->free = gpu_free;
	backend->to_device = gpu_to_device;
	backend->to_host = gpu_to_host;
	backend->matmul = gpu_matmul;
	backend->fill = gpu_fill;
	backend->axpby = gpu_axpby;
	backend->mul = gpu_mul;
	backend->copy2d = gpu_copy2d;
	backend->bias_add = gpu_bias_add;
	backend->bias_grad = gpu_bias_grad;
	backend->act_forward = gpu_act_forward;
	backend->act_backward = gpu_act_backward;
	backend->batchnorm_forward = gpu_batchnorm_forward;
	backend->batchnorm_backward = gpu_batchnorm_backward;
	backend->dropout_forward = gpu_dropout_forward;
	backend->softmax_forward = gpu_softmax_forward;
	backend->softmax_backward = gpu_softmax_backward;
	backend->softmax_xent = gpu_softmax_xent;
	backend->gaussian_nll = gpu_gaussian_nll;
	backend->kl_normal = gpu_kl_normal;
	backend->norm_penalty = gpu_norm_penalty;
	backend->reparam_forward = gpu_reparam_forward;
	backend->reparam_backward = gpu_reparam_backward;
	backend->lerp_rows = gpu_lerp_rows;
	backend->adam = gpu_adam;
	backend->clamp = gpu_clamp;
	backend->fill_uniform = gpu_fill_uniform;
	backend->fill_normal = gpu_fill_normal;
	backend->sum = gpu_sum;
	backend->grad_norms_linear = gpu_grad_norms_linear;
	backend->row_sumsq = gpu_row_sumsq;
	backend->clip_factors = gpu_clip_factors;
	backend->scale_rows = gpu_scale_rows;
}
