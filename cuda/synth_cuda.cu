/*
 * synth_cuda.cu: the CUDA backend of synth (device probe, memory, copies,
 * cuBLAS gemm), built into synth_cuda.so and reached through synth_cuda_api().
 *
 * The extension never links against CUDA: src/backend.c dlopen()s this library
 * when synth.device allows it, and turns every status returned here into an
 * ereport.  Nothing here exits or prints; a failed CUDA or cuBLAS call returns
 * a status and leaves "file:line: call failed: reason" for the caller.
 *
 * This file has the device, memory and the API table; the kernels of the
 * neural-network operations are in synth_nn.cu, and what both share in
 * synth_cuda_internal.cuh.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "synth_cuda.h"
#include "synth_cuda_internal.cuh"

#define SYNTH_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

/* ---------------------------------------------------------------- device */

static SynthCudaStatus
cuda_probe(int *ndevices, char *name, size_t namelen, char *errmsg, size_t errlen)
{
	cudaError_t err;
	cudaDeviceProp prop;
	int			count = 0;

	*ndevices = 0;
	if (name != NULL && namelen > 0)
		name[0] = '\0';

	/* Without a driver or a device this fails: that is "no device", not a bug. */
	err = cudaGetDeviceCount(&count);
	if (err != cudaSuccess)
		return report(SYNTH_CUDA_NO_DEVICE, errmsg, errlen, __FILE__, __LINE__,
					  "cudaGetDeviceCount", cudaGetErrorString(err));
	if (count == 0)
		return report(SYNTH_CUDA_NO_DEVICE, errmsg, errlen, __FILE__, __LINE__,
					  "cudaGetDeviceCount", "no CUDA device found");

	CUDA_CHECK(cudaGetDeviceProperties(&prop, 0), errmsg, errlen);
	*ndevices = count;
	if (name != NULL && namelen > 0)
		snprintf(name, namelen, "%s", prop.name);
	return SYNTH_CUDA_OK;
}

/* Open a device into an allocated context; on failure the context is freed. */
static SynthCudaStatus
cuda_open_into(SynthCudaContext *ctx, int device)
{
	cudaDeviceProp prop;

	ctx->device = device;
	CTX_CUDA_CHECK(ctx, cudaSetDevice(device));
	CTX_CUDA_CHECK(ctx, cudaGetDeviceProperties(&prop, device));
	snprintf(ctx->name, sizeof(ctx->name), "%s", prop.name);
	CTX_CUBLAS_CHECK(ctx, cublasCreate(&ctx->cublas));
	return SYNTH_CUDA_OK;
}

static SynthCudaStatus
cuda_open(int device, SynthCudaContext **context, char *errmsg, size_t errlen)
{
	SynthCudaContext *ctx;
	SynthCudaStatus status;

	*context = NULL;
	ctx = (SynthCudaContext *) calloc(1, sizeof(SynthCudaContext));
	if (ctx == NULL)
		return report(SYNTH_CUDA_OUT_OF_MEMORY, errmsg, errlen, __FILE__, __LINE__,
					  "calloc", "out of host memory");

	status = cuda_open_into(ctx, device);
	if (status != SYNTH_CUDA_OK)
	{
		if (errmsg != NULL && errlen > 0)
			snprintf(errmsg, errlen, "%s", ctx->errmsg);
		if (ctx->cublas != NULL)
			cublasDestroy(ctx->cublas);
		free(ctx);
		return status;
	}
	*context = ctx;
	return SYNTH_CUDA_OK;
}

static void
cuda_close(SynthCudaContext *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->sum_result != NULL)
		cudaFree(ctx->sum_result);
	if (ctx->cublas != NULL)
		cublasDestroy(ctx->cublas);
	free(ctx);
}

static const char *
cuda_device_name(const SynthCudaContext *ctx)
{
	return ctx->name;
}

static const char *
cuda_error(const SynthCudaContext *ctx)
{
	return ctx->errmsg;
}

/* ---------------------------------------------------------------- memory */

static SynthCudaStatus
cuda_alloc(SynthCudaContext *ctx, void **ptr, size_t bytes)
{
	*ptr = NULL;
	CTX_CUDA_CHECK(ctx, cudaMalloc(ptr, bytes == 0 ? 1 : bytes));
	return SYNTH_CUDA_OK;
}

static SynthCudaStatus
cuda_free(SynthCudaContext *ctx, void *ptr)
{
	CTX_CUDA_CHECK(ctx, cudaFree(ptr));
	return SYNTH_CUDA_OK;
}

static SynthCudaStatus
cuda_to_device(SynthCudaContext *ctx, void *dst, const void *src, size_t bytes)
{
	CTX_CUDA_CHECK(ctx, cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
	return SYNTH_CUDA_OK;
}

static SynthCudaStatus
cuda_to_host(SynthCudaContext *ctx, void *dst, const void *src, size_t bytes)
{
	CTX_CUDA_CHECK(ctx, cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
	return SYNTH_CUDA_OK;
}

/* ---------------------------------------------------------------- launchers */

/*
 * Row-major C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C.
 *
 * cuBLAS is column-major, and a row-major matrix read column-major is its
 * transpose; so compute C^T = op(B)^T * op(A)^T, which is the same call with
 * A and B (and m and n) swapped and the same transpose flags.
 */
static SynthCudaStatus
cuda_gemm(SynthCudaContext *ctx, int transA, int transB,
		  int m, int n, int k, double alpha,
		  const double *A, int lda, const double *B, int ldb,
		  double beta, double *C, int ldc)
{
	if (m < 0 || n < 0 || k < 0)
		return report(SYNTH_CUDA_INVALID_ARGUMENT, ctx->errmsg, sizeof(ctx->errmsg),
					  __FILE__, __LINE__, "gemm", "negative dimension");
	if (m == 0 || n == 0)
		return SYNTH_CUDA_OK;

	CTX_CUBLAS_CHECK(ctx, cublasDgemm(ctx->cublas,
									  transB ? CUBLAS_OP_T : CUBLAS_OP_N,
									  transA ? CUBLAS_OP_T : CUBLAS_OP_N,
									  n, m, k,
									  &alpha, B, ldb, A, lda,
									  &beta, C, ldc));
	return SYNTH_CUDA_OK;
}

/* ---------------------------------------------------------------- entry point */

static const SynthCudaApi cuda_api = {
	SYNTH_CUDA_ABI_VERSION,
	cuda_probe,
	cuda_open,
	cuda_close,
	cuda_device_name,
	cuda_error,
	cuda_alloc,
	cuda_free,
	cuda_to_device,
	cuda_to_host,
	cuda_gemm,
	nn_cuda_matmul,
	nn_cuda_fill,
	nn_cuda_axpby,
	nn_cuda_mul,
	nn_cuda_copy2d,
	nn_cuda_bias_add,
	nn_cuda_bias_grad,
	nn_cuda_act_forward,
	nn_cuda_act_backward,
	nn_cuda_batchnorm_forward,
	nn_cuda_batchnorm_backward,
	nn_cuda_dropout_forward,
	nn_cuda_softmax_forward,
	nn_cuda_softmax_backward,
	nn_cuda_softmax_xent,
	nn_cuda_gaussian_nll,
	nn_cuda_kl_normal,
	nn_cuda_norm_penalty,
	nn_cuda_reparam_forward,
	nn_cuda_reparam_backward,
	nn_cuda_lerp_rows,
	nn_cuda_adam,
	nn_cuda_clamp,
	nn_cuda_fill_uniform,
	nn_cuda_fill_normal,
	nn_cuda_sum,
	nn_cuda_grad_norms_linear,
	nn_cuda_row_sumsq,
	nn_cuda_clip_factors,
	nn_cuda_scale_rows,
};

SYNTH_CUDA_EXPORT const SynthCudaApi *
synth_cuda_api(void)
{
	return &cuda_api;
}
