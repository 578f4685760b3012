/*
 * synth_clip.cu: per-sample gradient clipping for DP-SGD on the GPU (the
 * SYNTH_OP_CLIP operations of src/backend.h): kernels, then launchers.
 *
 * A row's squared norm is reduced by one block per row, in double, so that a
 * long row (a whole parameter vector, when a caller clips explicit
 * per-sample gradients) is summed in parallel; the CPU sums the same terms
 * in order, so the two agree to rounding (test/gpu/parity.c).
 */
#include <cmath>

#include "synth_cuda_internal.cuh"

#define CLIP_THREADS	256
#define CLIP_MAX_BLOCKS	65535

/* The block's sum of v, in double; every thread gets it. */
__device__ static double
block_sum(double v)
{
	__shared__ double partial[CLIP_THREADS];

	partial[threadIdx.x] = v;
	__syncthreads();
	for (int stride = blockDim.x / 2; stride > 0; stride /= 2)
	{
		if (threadIdx.x < stride)
			partial[threadIdx.x] += partial[threadIdx.x + stride];
		__syncthreads();
	}
	v = partial[0];
	__syncthreads();
	return v;
}

/* one block per row: norm2[r] += ||dout_r||^2 (||inp_r||^2 + 1) */
__global__ static void
grad_norms_linear_kernel(int rows, int in, int out, const SynthCudaReal *inp, int ldi,
						 const SynthCudaReal *dout, int ldd, SynthCudaReal *norm2)
{
	for (int r = blockIdx.x; r < rows; r += gridDim.x)
	{
		double		a = 0.0,
					d = 0.0;

		for (int j = threadIdx.x; j < in; j += blockDim.x)
		{
			double		x = inp[(size_t) r * ldi + j];

			a += x * x;
		}
		for (int j = threadIdx.x; j < out; j += blockDim.x)
		{
			double		x = dout[(size_t) r * ldd + j];

			d += x * x;
		}
		a = block_sum(a);
		d = block_sum(d);
		if (threadIdx.x == 0)
			norm2[r] += (SynthCudaReal) (d * (a + 1.0));
	}
}

/* one block per row: norm2[r] += ||x_r||^2 */
__global__ static void
row_sumsq_kernel(int rows, int cols, const SynthCudaReal *x, int ldx, SynthCudaReal *norm2)
{
	for (int r = blockIdx.x; r < rows; r += gridDim.x)
	{
		double		s = 0.0;

		for (int j = threadIdx.x; j < cols; j += blockDim.x)
		{
			double		v = x[(size_t) r * ldx + j];

			s += v * v;
		}
		s = block_sum(s);
		if (threadIdx.x == 0)
			norm2[r] += (SynthCudaReal) s;
	}
}

__global__ static void
clip_factors_kernel(int rows, SynthCudaReal max_norm, const SynthCudaReal *norm2,
					SynthCudaReal *factor)
{
	for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x)
	{
		double		norm = sqrt((double) norm2[r]);

		factor[r] = (SynthCudaReal) (norm > max_norm ? max_norm / norm : 1.0);
	}
}

__global__ static void
scale_rows_kernel(int rows, int cols, const SynthCudaReal *factor, SynthCudaReal *x, int ldx)
{
	size_t		n = (size_t) rows * cols;

	for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n;
		 i += (size_t) gridDim.x * blockDim.x)
	{
		size_t		r = i / cols;

		x[r * ldx + i % cols] *= factor[r];
	}
}

/* ---------------------------------------------------------------- launchers */

static unsigned int
clip_blocks(size_t n)
{
	size_t		blocks = n == 0 ? 1 : n;

	return (unsigned int) (blocks < CLIP_MAX_BLOCKS ? blocks : CLIP_MAX_BLOCKS);
}

#define CLIP_LAUNCHED(ctx) \
	do { \
		CTX_CUDA_CHECK(ctx, cudaGetLastError()); \
		return SYNTH_CUDA_OK; \
	} while (0)

SynthCudaStatus
nn_cuda_grad_norms_linear(SynthCudaContext *ctx, int rows, int in, int out,
						  const SynthCudaReal *inp, int ldi, const SynthCudaReal *dout, int ldd,
						  SynthCudaReal *norm2)
{
	if (rows <= 0)
		return SYNTH_CUDA_OK;
	grad_norms_linear_kernel<<<clip_blocks(rows), CLIP_THREADS>>>(rows, in, out, inp, ldi,
																  dout, ldd, norm2);
	CLIP_LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_row_sumsq(SynthCudaContext *ctx, int rows, int cols, const SynthCudaReal *x, int ldx,
				  SynthCudaReal *norm2)
{
	if (rows <= 0)
		return SYNTH_CUDA_OK;
	row_sumsq_kernel<<<clip_blocks(rows), CLIP_THREADS>>>(rows, cols, x, ldx, norm2);
	CLIP_LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_clip_factors(SynthCudaContext *ctx, int rows, SynthCudaReal max_norm,
					 const SynthCudaReal *norm2, SynthCudaReal *factor)
{
	if (rows <= 0)
		return SYNTH_CUDA_OK;
	clip_factors_kernel<<<clip_blocks((rows + CLIP_THREADS - 1) / CLIP_THREADS), CLIP_THREADS>>>
		(rows, max_norm, norm2, factor);
	CLIP_LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_scale_rows(SynthCudaContext *ctx, int rows, int cols, const SynthCudaReal *factor,
				   SynthCudaReal *x, int ldx)
{
	size_t		n = (size_t) rows * cols;

	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	scale_rows_kernel<<<clip_blocks((n + CLIP_THREADS - 1) / CLIP_THREADS), CLIP_THREADS>>>
		(rows, cols, factor, x, ldx);
	CLIP_LAUNCHED(ctx);
}
