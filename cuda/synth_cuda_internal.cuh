/*
 * synth_cuda_internal.cuh: what the files of synth_cuda.so share and nobody
 * else sees: the context, the status mapping, the CHECK macros that carry
 * __FILE__/__LINE__ into the context's message, and the launchers of the
 * neural-network operations (synth_nn.cu) that synth_cuda.cu puts in the
 * API table.
 */
#ifndef SYNTH_CUDA_INTERNAL_CUH
#define SYNTH_CUDA_INTERNAL_CUH

#include <cstdio>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "synth_cuda.h"

struct SynthCudaContext
{
	int			device;
	cublasHandle_t cublas;
	char		name[256];
	char		errmsg[SYNTH_CUDA_ERRMSG_LEN];
	double	   *sum_result;		/* device scalar of sum(), allocated on first use */
};

/* ---------------------------------------------------------------- errors */

static inline SynthCudaStatus
status_of_cuda(cudaError_t err)
{
	switch (err)
	{
		case cudaErrorMemoryAllocation:
			return SYNTH_CUDA_OUT_OF_MEMORY;
		case cudaErrorNoDevice:
		case cudaErrorInsufficientDriver:
			return SYNTH_CUDA_NO_DEVICE;
		case cudaErrorInvalidValue:
			return SYNTH_CUDA_INVALID_ARGUMENT;
		default:
			return SYNTH_CUDA_FAILED;
	}
}

static inline SynthCudaStatus
status_of_cublas(cublasStatus_t status)
{
	switch (status)
	{
		case CUBLAS_STATUS_ALLOC_FAILED:
			return SYNTH_CUDA_OUT_OF_MEMORY;
		case CUBLAS_STATUS_INVALID_VALUE:
			return SYNTH_CUDA_INVALID_ARGUMENT;
		default:
			return SYNTH_CUDA_FAILED;
	}
}

/* Write "file:line: call failed: reason" into errmsg and pass status on. */
static inline SynthCudaStatus
report(SynthCudaStatus status, char *errmsg, size_t errlen,
	   const char *file, int line, const char *call, const char *reason)
{
	if (errmsg != NULL && errlen > 0)
		snprintf(errmsg, errlen, "%s:%d: %s failed: %s", file, line, call, reason);
	/* clear a non-sticky error so that the next call does not report it */
	(void) cudaGetLastError();
	return status;
}

/*
 * Check a CUDA runtime or cuBLAS call; on failure return its status from the
 * enclosing function, with the message in errmsg (of length errlen).
 */
#define CUDA_CHECK(call, errmsg, errlen) \
	do { \
		cudaError_t cuda_err_ = (call); \
		if (cuda_err_ != cudaSuccess) \
			return report(status_of_cuda(cuda_err_), (errmsg), (errlen), \
						  __FILE__, __LINE__, #call, cudaGetErrorString(cuda_err_)); \
	} while (0)

#define CUBLAS_CHECK(call, errmsg, errlen) \
	do { \
		cublasStatus_t cublas_st_ = (call); \
		if (cublas_st_ != CUBLAS_STATUS_SUCCESS) \
			return report(status_of_cublas(cublas_st_), (errmsg), (errlen), \
						  __FILE__, __LINE__, #call, cublasGetStatusString(cublas_st_)); \
	} while (0)

/* The same, for functions that have a context to keep the message in. */
#define CTX_CUDA_CHECK(ctx, call) CUDA_CHECK(call, (ctx)->errmsg, sizeof((ctx)->errmsg))
#define CTX_CUBLAS_CHECK(ctx, call) CUBLAS_CHECK(call, (ctx)->errmsg, sizeof((ctx)->errmsg))

/* ---------------------------------------------------------------- synth_nn.cu */

typedef SynthCudaReal real;

SynthCudaStatus nn_cuda_matmul(SynthCudaContext *ctx, int transA, int transB, int m, int n, int k,
							   real alpha, const real *A, int lda, const real *B, int ldb,
							   real beta, real *C, int ldc);
SynthCudaStatus nn_cuda_fill(SynthCudaContext *ctx, size_t n, real value, real *x);
SynthCudaStatus nn_cuda_axpby(SynthCudaContext *ctx, size_t n, real a, const real *x, real b,
							  real *y);
SynthCudaStatus nn_cuda_mul(SynthCudaContext *ctx, size_t n, const real *x, const real *y,
							real *out);
SynthCudaStatus nn_cuda_copy2d(SynthCudaContext *ctx, int rows, int cols, const real *src,
							   int lds, real beta, real *dst, int ldd);
SynthCudaStatus nn_cuda_bias_add(SynthCudaContext *ctx, int rows, int cols, const real *bias,
								 real *x, int ldx);
SynthCudaStatus nn_cuda_bias_grad(SynthCudaContext *ctx, int rows, int cols, const real *dout,
								  int ldd, real *dbias);
SynthCudaStatus nn_cuda_act_forward(SynthCudaContext *ctx, int f, real slope, int rows, int cols,
									const real *inp, int ldi, real *out, int ldo);
SynthCudaStatus nn_cuda_act_backward(SynthCudaContext *ctx, int f, real slope, int rows, int cols,
									 const real *out, int ldo, const real *dout, int ldd,
									 real *dinp, int ldn);
SynthCudaStatus nn_cuda_batchnorm_forward(SynthCudaContext *ctx, int rows, int cols, int training,
										  real momentum, real eps, const real *inp,
										  const real *gamma, const real *beta,
										  real *running_mean, real *running_var,
										  real *mean, real *rstd, real *out);
SynthCudaStatus nn_cuda_batchnorm_backward(SynthCudaContext *ctx, int rows, int cols,
										   const real *inp, const real *gamma, const real *mean,
										   const real *rstd, const real *dout, real *dinp,
										   real *dgamma, real *dbeta);
SynthCudaStatus nn_cuda_dropout_forward(SynthCudaContext *ctx, size_t n, real p,
										unsigned long long seed, unsigned long long offset,
										const real *inp, real *mask, real *out);
SynthCudaStatus nn_cuda_softmax_forward(SynthCudaContext *ctx, int rows, int cols, real tau,
										int gumbel, unsigned long long seed,
										unsigned long long offset, const real *inp, int ldi,
										real *out, int ldo);
SynthCudaStatus nn_cuda_softmax_backward(SynthCudaContext *ctx, int rows, int cols, real tau,
										 const real *out, int ldo, const real *dout, int ldd,
										 real *dinp, int ldn);
SynthCudaStatus nn_cuda_softmax_xent(SynthCudaContext *ctx, int rows, int cols, real scale,
									 const real *logits, int ldl, const real *target, int ldt,
									 real *dlogits, int ldd, real *loss);
SynthCudaStatus nn_cuda_gaussian_nll(SynthCudaContext *ctx, int rows, int cols, real scale,
									 const real *z, int ldz, const real *x, int ldx,
									 const real *sigma, real *dz, int ldd, real *dsigma,
									 real *loss);
SynthCudaStatus nn_cuda_kl_normal(SynthCudaContext *ctx, int rows, int cols, real scale,
								  const real *mu, const real *logvar, real *dmu, real *dlogvar,
								  real *loss);
SynthCudaStatus nn_cuda_norm_penalty(SynthCudaContext *ctx, int rows, int cols, real scale,
									 const real *g, real *dg, real *loss);
SynthCudaStatus nn_cuda_reparam_forward(SynthCudaContext *ctx, size_t n, const real *mu,
										const real *logvar, const real *eps, real *z);
SynthCudaStatus nn_cuda_reparam_backward(SynthCudaContext *ctx, size_t n, const real *logvar,
										 const real *eps, const real *dz, real *dmu,
										 real *dlogvar);
SynthCudaStatus nn_cuda_lerp_rows(SynthCudaContext *ctx, int rows, int cols, const real *alpha,
								  const real *a, const real *b, real *out);
SynthCudaStatus nn_cuda_adam(SynthCudaContext *ctx, size_t n, real lr, real beta1, real beta2,
							 real eps, real weight_decay, int step, real *param,
							 const real *grad, real *m, real *v);
SynthCudaStatus nn_cuda_clamp(SynthCudaContext *ctx, size_t n, real lo, real hi, real *x);
SynthCudaStatus nn_cuda_fill_uniform(SynthCudaContext *ctx, size_t n, real lo, real hi,
									 unsigned long long seed, unsigned long long offset, real *x);
SynthCudaStatus nn_cuda_fill_normal(SynthCudaContext *ctx, size_t n, real mean, real std,
									unsigned long long seed, unsigned long long offset, real *x);
SynthCudaStatus nn_cuda_sum(SynthCudaContext *ctx, size_t n, const real *x, double *result);

/* synth_clip.cu */
SynthCudaStatus nn_cuda_grad_norms_linear(SynthCudaContext *ctx, int rows, int in, int out,
										  const SynthCudaReal *inp, int ldi,
										  const SynthCudaReal *dout, int ldd,
										  SynthCudaReal *norm2);
SynthCudaStatus nn_cuda_row_sumsq(SynthCudaContext *ctx, int rows, int cols,
								  const SynthCudaReal *x, int ldx, SynthCudaReal *norm2);
SynthCudaStatus nn_cuda_clip_factors(SynthCudaContext *ctx, int rows, SynthCudaReal max_norm,
									 const SynthCudaReal *norm2, SynthCudaReal *factor);
SynthCudaStatus nn_cuda_scale_rows(SynthCudaContext *ctx, int rows, int cols,
								   const SynthCudaReal *factor, SynthCudaReal *x, int ldx);

#endif							/* SYNTH_CUDA_INTERNAL_CUH */
