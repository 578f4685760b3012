/*
 * synth_nn.cu: the neural-network operations of src/backend.h on the GPU:
 * kernels, then their launchers, with matmul on cuBLAS.
 *
 * Each kernel computes what src/backend_cpu.c computes, in the same order of
 * operations where that is cheap (reductions over a row or a column run in
 * one thread, in double, as on the CPU), so that test/gpu/parity.c can hold
 * them to a tight tolerance.  Random numbers come from the same counter-based
 * stream as the CPU's (synth_random_bits in src/backend.h), so a seeded
 * training draws the same numbers on both.
 *
 * Launchers check the launch with cudaGetLastError() and return a status;
 * the kernels themselves run asynchronously on the default stream, as do the
 * cuBLAS calls, so their order is the order of the calls.
 */
#include <cmath>

#include "synth_cuda_internal.cuh"

#define THREADS			256
#define MAX_BLOCKS		4096

/* ---------------------------------------------------------------- random numbers */

/* The same stream as synth_random_bits() and friends in src/backend.h. */
__device__ static inline unsigned long long
random_bits(unsigned long long seed, unsigned long long counter)
{
	unsigned long long z = seed + (counter + 1) * 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

__device__ static inline double
random_uniform(unsigned long long seed, unsigned long long counter)
{
	return ((double) (random_bits(seed, counter) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* counters 2p and 2p + 1: cosine and sine of Box-Muller pair p, in single precision */
__device__ static inline float
random_normal(unsigned long long seed, unsigned long long counter)
{
	unsigned long long pair = counter >> 1;
	float		r = sqrtf(-2.0f * logf((float) random_uniform(seed, pair)));
	float		theta = 6.2831853f * (float) random_uniform(seed ^ 0xD1B54A32D192ED03ULL, pair);

	return r * ((counter & 1) ? sinf(theta) : cosf(theta));
}

__device__ static inline float
random_gumbel(unsigned long long seed, unsigned long long counter)
{
	float		u = fminf((float) random_uniform(seed, counter), 0.99999994f);

	return -logf(-logf(u));
}

/* ---------------------------------------------------------------- kernels */

#define GRID_STRIDE(i, n) \
	for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
		 i += (size_t) blockDim.x * gridDim.x)

__global__ static void
fill_kernel(size_t n, real value, real *x)
{
	GRID_STRIDE(i, n)
		x[i] = value;
}

__global__ static void
axpby_kernel(size_t n, real a, const real *x, real b, real *y)
{
	GRID_STRIDE(i, n)
		y[i] = a * x[i] + b * y[i];
}

__global__ static void
mul_kernel(size_t n, const real *x, const real *y, real *out)
{
	GRID_STRIDE(i, n)
		out[i] = x[i] * y[i];
}

__global__ static void
clamp_kernel(size_t n, real lo, real hi, real *x)
{
	GRID_STRIDE(i, n)
		x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

__global__ static void
copy2d_kernel(int rows, int cols, const real *src, int lds, real beta, real *dst, int ldd)
{
	GRID_STRIDE(i, (size_t) rows * cols)
	{
		size_t		r = i / cols,
					c = i % cols;
		real	   *d = dst + r * ldd + c;

		*d = beta == 0 ? src[r * lds + c] : src[r * lds + c] + beta * *d;
	}
}

__global__ static void
bias_add_kernel(int rows, int cols, const real *bias, real *x, int ldx)
{
	GRID_STRIDE(i, (size_t) rows * cols)
	{
		size_t		r = i / cols,
					c = i % cols;

		x[r * ldx + c] += bias[c];
	}
}

/* one thread per column, rows in order, as the CPU sums them */
__global__ static void
bias_grad_kernel(int rows, int cols, const real *dout, int ldd, real *dbias)
{
	GRID_STRIDE(c, (size_t) cols)
	{
		double		s = 0.0;

		for (int r = 0; r < rows; r++)
			s += dout[(size_t) r * ldd + c];
		dbias[c] += (real) s;
	}
}

__global__ static void
act_forward_kernel(int f, real slope, int rows, int cols, const real *inp, int ldi,
				   real *out, int ldo)
{
	GRID_STRIDE(i, (size_t) rows * cols)
	{
		size_t		r = i / cols,
					c = i % cols;
		real		v = inp[r * ldi + c];
		real	   *y = out + r * ldo + c;

		if (f == 0)
			*y = v > 0 ? v : 0;
		else if (f == 1)
			*y = v > 0 ? v : slope * v;
		else
			*y = tanh(v);
	}
}

__global__ static void
act_backward_kernel(int f, real slope, int rows, int cols, const real *out, int ldo,
					const real *dout, int ldd, real *dinp, int ldn)
{
	GRID_STRIDE(i, (size_t) rows * cols)
	{
		size_t		r = i / cols,
					c = i % cols;
		real		y = out[r * ldo + c];
		real		dy = dout[r * ldd + c];
		real	   *dx = dinp + r * ldn + c;

		if (f == 0)
			*dx = y > 0 ? dy : 0;
		else if (f == 1)
			*dx = y > 0 ? dy : slope * dy;
		else
			*dx = dy * (1 - y * y);
	}
}

/* one thread per column: statistics over its rows, then the normalised column */
__global__ static void
batchnorm_forward_kernel(int rows, int cols, int training, real momentum, real eps,
						 const real *inp, const real *gamma, const real *beta,
						 real *running_mean, real *running_var, real *mean, real *rstd,
						 real *out)
{
	GRID_STRIDE(c, (size_t) cols)
	{
		double		mu,
					rs;

		if (training)
		{
			double		s = 0.0,
						ss = 0.0,
						var;

			for (int r = 0; r < rows; r++)
				s += inp[(size_t) r * cols + c];
			mu = s / rows;
			for (int r = 0; r < rows; r++)
			{
				double		d = inp[(size_t) r * cols + c] - mu;

				ss += d * d;
			}
			var = ss / rows;
			rs = 1.0 / sqrt(var + eps);
			mean[c] = (real) mu;
			rstd[c] = (real) rs;
			running_mean[c] = (real) ((1.0 - momentum) * running_mean[c] + momentum * mu);
			running_var[c] = (real) ((1.0 - momentum) * running_var[c] +
									 momentum * (rows > 1 ? ss / (rows - 1) : var));
		}
		else
		{
			mu = running_mean[c];
			rs = 1.0 / sqrt((double) running_var[c] + eps);
		}
		for (int r = 0; r < rows; r++)
		{
			size_t		i = (size_t) r * cols + c;

			out[i] = (real) (gamma[c] * ((inp[i] - mu) * rs) + beta[c]);
		}
	}
}

__global__ static void
batchnorm_backward_kernel(int rows, int cols, const real *inp, const real *gamma,
						  const real *mean, const real *rstd, const real *dout, real *dinp,
						  real *dgamma, real *dbeta)
{
	GRID_STRIDE(c, (size_t) cols)
	{
		double		sum_dy = 0.0,
					sum_dy_xhat = 0.0,
					mean_g,
					mean_g_xhat;

		for (int r = 0; r < rows; r++)
		{
			size_t		i = (size_t) r * cols + c;
			double		xhat = (inp[i] - mean[c]) * (double) rstd[c];

			sum_dy += dout[i];
			sum_dy_xhat += dout[i] * xhat;
		}
		dbeta[c] += (real) sum_dy;
		dgamma[c] += (real) sum_dy_xhat;
		mean_g = gamma[c] * sum_dy / rows;
		mean_g_xhat = gamma[c] * sum_dy_xhat / rows;
		for (int r = 0; r < rows; r++)
		{
			size_t		i = (size_t) r * cols + c;
			double		xhat = (inp[i] - mean[c]) * (double) rstd[c];

			dinp[i] = (real) (rstd[c] * (gamma[c] * (double) dout[i] - mean_g - xhat * mean_g_xhat));
		}
	}
}

__global__ static void
dropout_forward_kernel(size_t n, real p, unsigned long long seed, unsigned long long offset,
					   const real *inp, real *mask, real *out)
{
	real		keep = (real) (1.0 / (1.0 - p));

	GRID_STRIDE(i, n)
	{
		real		m = random_uniform(seed, offset + i) >= p ? keep : 0;

		mask[i] = m;
		out[i] = inp[i] * m;
	}
}

/* one thread per row; rows are short (the categories of one column) */
__global__ static void
softmax_forward_kernel(int rows, int cols, real tau, int gumbel, unsigned long long seed,
					   unsigned long long offset, const real *inp, int ldi, real *out, int ldo)
{
	GRID_STRIDE(r, (size_t) rows)
	{
		const real *x = inp + r * ldi;
		real	   *y = out + r * ldo;
		double		max = -INFINITY,
					sum = 0.0;

		for (int c = 0; c < cols; c++)
		{
			double		v = x[c];

			if (gumbel)
				v += random_gumbel(seed, offset + (unsigned long long) r * cols + c);
			v /= tau;
			y[c] = (real) v;
			if (y[c] > max)
				max = y[c];
		}
		for (int c = 0; c < cols; c++)
		{
			double		e = exp(y[c] - max);

			y[c] = (real) e;
			sum += e;
		}
		for (int c = 0; c < cols; c++)
			y[c] = (real) (y[c] / sum);
	}
}

__global__ static void
softmax_backward_kernel(int rows, int cols, real tau, const real *out, int ldo,
						const real *dout, int ldd, real *dinp, int ldn)
{
	GRID_STRIDE(r, (size_t) rows)
	{
		const real *y = out + r * ldo;
		const real *dy = dout + r * ldd;
		real	   *dx = dinp + r * ldn;
		double		dot = 0.0;

		for (int c = 0; c < cols; c++)
			dot += (double) dy[c] * y[c];
		for (int c = 0; c < cols; c++)
			dx[c] = (real) (y[c] * (dy[c] - dot) / tau);
	}
}

__global__ static void
softmax_xent_kernel(int rows, int cols, real scale, const real *logits, int ldl,
					const real *target, int ldt, real *dlogits, int ldd, real *loss)
{
	GRID_STRIDE(r, (size_t) rows)
	{
		const real *z = logits + r * ldl;
		const real *t = target + r * ldt;
		real	   *dz = dlogits + r * ldd;
		double		max = -INFINITY,
					sum = 0.0,
					tsum = 0.0,
					l = 0.0,
					logsum;

		for (int c = 0; c < cols; c++)
		{
			if (z[c] > max)
				max = z[c];
			tsum += t[c];
		}
		if (tsum == 0.0)
			continue;
		for (int c = 0; c < cols; c++)
			sum += exp(z[c] - max);
		logsum = log(sum) + max;
		for (int c = 0; c < cols; c++)
		{
			l -= t[c] * (z[c] - logsum);
			dz[c] += (real) (scale * (exp(z[c] - logsum) * tsum - t[c]));
		}
		loss[r] += (real) (scale * l);
	}
}

/* per row: the loss and dz; the column sums of dsigma are a second kernel */
__global__ static void
gaussian_nll_rows_kernel(int rows, int cols, real scale, const real *z, int ldz,
						 const real *x, int ldx, const real *sigma, real *dz, int ldd,
						 real *loss)
{
	GRID_STRIDE(r, (size_t) rows)
	{
		for (int c = 0; c < cols; c++)
		{
			double		s = sigma[c];
			double		t = tanh((double) z[r * ldz + c]);
			double		e = x[r * ldx + c] - t;

			loss[r] += (real) (scale * (e * e / (2.0 * s * s) + log(s)));
			dz[r * ldd + c] += (real) (scale * (-e / (s * s)) * (1.0 - t * t));
		}
	}
}

__global__ static void
gaussian_nll_sigma_kernel(int rows, int cols, real scale, const real *z, int ldz,
						  const real *x, int ldx, const real *sigma, real *dsigma)
{
	GRID_STRIDE(c, (size_t) cols)
	{
		double		s = sigma[c],
					ds = 0.0;

		for (int r = 0; r < rows; r++)
		{
			double		t = tanh((double) z[(size_t) r * ldz + c]);
			double		e = x[(size_t) r * ldx + c] - t;

			ds += -e * e / (s * s * s) + 1.0 / s;
		}
		dsigma[c] += (real) (scale * ds);
	}
}

__global__ static void
kl_normal_kernel(int rows, int cols, real scale, const real *mu, const real *logvar,
				 real *dmu, real *dlogvar, real *loss)
{
	GRID_STRIDE(r, (size_t) rows)
	{
		double		l = 0.0;

		for (int c = 0; c < cols; c++)
		{
			size_t		i = r * cols + c;
			double		e = expf(logvar[i]);

			l += -0.5 * (1.0 + logvar[i] - (double) mu[i] * mu[i] - e);
			dmu[i] += (real) (scale * mu[i]);
			dlogvar[i] += (real) (scale * 0.5 * (e - 1.0));
		}
		loss[r] += (real) (scale * l);
	}
}

/* one block per row: the row is long (pac packed rows), so its norm is a block reduction */
__global__ static void
norm_penalty_kernel(int rows, int cols, real scale, const real *g, real *dg, real *loss)
{
	__shared__ double partial[THREADS];
	int			r = blockIdx.x;
	const real *row = g + (size_t) r * cols;
	double		ss = 0.0,
				norm,
				k;

	for (int c = threadIdx.x; c < cols; c += blockDim.x)
		ss += (double) row[c] * row[c];
	partial[threadIdx.x] = ss;
	__syncthreads();
	for (int stride = blockDim.x / 2; stride > 0; stride /= 2)
	{
		if (threadIdx.x < stride)
			partial[threadIdx.x] += partial[threadIdx.x + stride];
		__syncthreads();
	}
	norm = sqrt(partial[0]);
	k = norm > 0.0 ? scale * 2.0 * (norm - 1.0) / norm : 0.0;
	for (int c = threadIdx.x; c < cols; c += blockDim.x)
		dg[(size_t) r * cols + c] += (real) (k * row[c]);
	if (threadIdx.x == 0)
		loss[r] += (real) (scale * (norm - 1.0) * (norm - 1.0));
}

__global__ static void
reparam_forward_kernel(size_t n, const real *mu, const real *logvar, const real *eps, real *z)
{
	GRID_STRIDE(i, n)
		z[i] = mu[i] + eps[i] * expf(0.5f * logvar[i]);
}

__global__ static void
reparam_backward_kernel(size_t n, const real *logvar, const real *eps, const real *dz,
						real *dmu, real *dlogvar)
{
	GRID_STRIDE(i, n)
	{
		dmu[i] = dz[i];
		dlogvar[i] = dz[i] * eps[i] * 0.5f * expf(0.5f * logvar[i]);
	}
}

__global__ static void
lerp_rows_kernel(int rows, int cols, const real *alpha, const real *a, const real *b, real *out)
{
	GRID_STRIDE(i, (size_t) rows * cols)
	{
		size_t		r = i / cols;

		out[i] = alpha[r] * a[i] + (1 - alpha[r]) * b[i];
	}
}

__global__ static void
adam_kernel(size_t n, real lr, real beta1, real beta2, real eps, real weight_decay,
			real step_size, real inv_root_c2, real *param, const real *grad, real *m, real *v)
{
	GRID_STRIDE(i, n)
	{
		real		g = grad[i] + weight_decay * param[i];

		m[i] = beta1 * m[i] + (1 - beta1) * g;
		v[i] = beta2 * v[i] + (1 - beta2) * g * g;
		param[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_root_c2 + eps);
	}
}

__global__ static void
fill_uniform_kernel(size_t n, real lo, real hi, unsigned long long seed,
					unsigned long long offset, real *x)
{
	GRID_STRIDE(i, n)
		x[i] = (real) (lo + (hi - lo) * random_uniform(seed, offset + i));
}

__global__ static void
fill_normal_kernel(size_t n, real mean, real std, unsigned long long seed,
				   unsigned long long offset, real *x)
{
	GRID_STRIDE(i, n)
		x[i] = (real) (mean + std * random_normal(seed, offset + i));
}

/* one block: partial sums in double, then a tree */
__global__ static void
sum_kernel(size_t n, const real *x, double *result)
{
	__shared__ double partial[THREADS];
	double		s = 0.0;

	for (size_t i = threadIdx.x; i < n; i += blockDim.x)
		s += x[i];
	partial[threadIdx.x] = s;
	__syncthreads();
	for (int stride = blockDim.x / 2; stride > 0; stride /= 2)
	{
		if (threadIdx.x < stride)
			partial[threadIdx.x] += partial[threadIdx.x + stride];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		*result = partial[0];
}

/* ---------------------------------------------------------------- launchers */

static unsigned int
blocks_for(size_t n)
{
	size_t		blocks = (n + THREADS - 1) / THREADS;

	if (blocks == 0)
		blocks = 1;
	return (unsigned int) (blocks < MAX_BLOCKS ? blocks : MAX_BLOCKS);
}

/* After a launch: the launch's own error, if any. */
#define LAUNCHED(ctx) \
	do { \
		CTX_CUDA_CHECK(ctx, cudaGetLastError()); \
		return SYNTH_CUDA_OK; \
	} while (0)

/* Row-major C = alpha op(A) op(B) + beta C, as cuda_gemm computes it in double. */
SynthCudaStatus
nn_cuda_matmul(SynthCudaContext *ctx, int transA, int transB, int m, int n, int k,
			   real alpha, const real *A, int lda, const real *B, int ldb,
			   real beta, real *C, int ldc)
{
	if (m < 0 || n < 0 || k < 0)
		return report(SYNTH_CUDA_INVALID_ARGUMENT, ctx->errmsg, sizeof(ctx->errmsg),
					  __FILE__, __LINE__, "matmul", "negative dimension");
	if (m == 0 || n == 0)
		return SYNTH_CUDA_OK;
	CTX_CUBLAS_CHECK(ctx, cublasSgemm(ctx->cublas,
									  transB ? CUBLAS_OP_T : CUBLAS_OP_N,
									  transA ? CUBLAS_OP_T : CUBLAS_OP_N,
									  n, m, k,
									  &alpha, B, ldb, A, lda,
									  &beta, C, ldc));
	return SYNTH_CUDA_OK;
}

SynthCudaStatus
nn_cuda_fill(SynthCudaContext *ctx, size_t n, real value, real *x)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	fill_kernel<<<blocks_for(n), THREADS>>>(n, value, x);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_axpby(SynthCudaContext *ctx, size_t n, real a, const real *x, real b, real *y)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	axpby_kernel<<<blocks_for(n), THREADS>>>(n, a, x, b, y);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_mul(SynthCudaContext *ctx, size_t n, const real *x, const real *y, real *out)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	mul_kernel<<<blocks_for(n), THREADS>>>(n, x, y, out);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_clamp(SynthCudaContext *ctx, size_t n, real lo, real hi, real *x)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	clamp_kernel<<<blocks_for(n), THREADS>>>(n, lo, hi, x);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_copy2d(SynthCudaContext *ctx, int rows, int cols, const real *src, int lds,
			   real beta, real *dst, int ldd)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	copy2d_kernel<<<blocks_for((size_t) rows * cols), THREADS>>>(rows, cols, src, lds, beta,
																	dst, ldd);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_bias_add(SynthCudaContext *ctx, int rows, int cols, const real *bias, real *x, int ldx)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	bias_add_kernel<<<blocks_for((size_t) rows * cols), THREADS>>>(rows, cols, bias, x, ldx);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_bias_grad(SynthCudaContext *ctx, int rows, int cols, const real *dout, int ldd,
				  real *dbias)
{
	if (cols <= 0)
		return SYNTH_CUDA_OK;
	bias_grad_kernel<<<blocks_for(cols), THREADS>>>(rows, cols, dout, ldd, dbias);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_act_forward(SynthCudaContext *ctx, int f, real slope, int rows, int cols,
					const real *inp, int ldi, real *out, int ldo)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	act_forward_kernel<<<blocks_for((size_t) rows * cols), THREADS>>>(f, slope, rows, cols,
																		 inp, ldi, out, ldo);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_act_backward(SynthCudaContext *ctx, int f, real slope, int rows, int cols,
					 const real *out, int ldo, const real *dout, int ldd, real *dinp, int ldn)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	act_backward_kernel<<<blocks_for((size_t) rows * cols), THREADS>>>(f, slope, rows, cols,
																		  out, ldo, dout, ldd,
																		  dinp, ldn);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_batchnorm_forward(SynthCudaContext *ctx, int rows, int cols, int training,
						  real momentum, real eps, const real *inp, const real *gamma,
						  const real *beta, real *running_mean, real *running_var,
						  real *mean, real *rstd, real *out)
{
	if (cols <= 0)
		return SYNTH_CUDA_OK;
	batchnorm_forward_kernel<<<blocks_for(cols), THREADS>>>(rows, cols, training, momentum, eps,
															inp, gamma, beta, running_mean,
															running_var, mean, rstd, out);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_batchnorm_backward(SynthCudaContext *ctx, int rows, int cols, const real *inp,
						   const real *gamma, const real *mean, const real *rstd,
						   const real *dout, real *dinp, real *dgamma, real *dbeta)
{
	if (cols <= 0)
		return SYNTH_CUDA_OK;
	batchnorm_backward_kernel<<<blocks_for(cols), THREADS>>>(rows, cols, inp, gamma, mean, rstd,
															 dout, dinp, dgamma, dbeta);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_dropout_forward(SynthCudaContext *ctx, size_t n, real p, unsigned long long seed,
						unsigned long long offset, const real *inp, real *mask, real *out)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	dropout_forward_kernel<<<blocks_for(n), THREADS>>>(n, p, seed, offset, inp, mask, out);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_softmax_forward(SynthCudaContext *ctx, int rows, int cols, real tau, int gumbel,
						unsigned long long seed, unsigned long long offset,
						const real *inp, int ldi, real *out, int ldo)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	softmax_forward_kernel<<<blocks_for(rows), THREADS>>>(rows, cols, tau, gumbel, seed, offset,
														  inp, ldi, out, ldo);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_softmax_backward(SynthCudaContext *ctx, int rows, int cols, real tau,
						 const real *out, int ldo, const real *dout, int ldd,
						 real *dinp, int ldn)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	softmax_backward_kernel<<<blocks_for(rows), THREADS>>>(rows, cols, tau, out, ldo, dout, ldd,
														   dinp, ldn);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_softmax_xent(SynthCudaContext *ctx, int rows, int cols, real scale,
					 const real *logits, int ldl, const real *target, int ldt,
					 real *dlogits, int ldd, real *loss)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	softmax_xent_kernel<<<blocks_for(rows), THREADS>>>(rows, cols, scale, logits, ldl, target,
													   ldt, dlogits, ldd, loss);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_gaussian_nll(SynthCudaContext *ctx, int rows, int cols, real scale,
					 const real *z, int ldz, const real *x, int ldx, const real *sigma,
					 real *dz, int ldd, real *dsigma, real *loss)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	gaussian_nll_rows_kernel<<<blocks_for(rows), THREADS>>>(rows, cols, scale, z, ldz, x, ldx,
															sigma, dz, ldd, loss);
	CTX_CUDA_CHECK(ctx, cudaGetLastError());
	gaussian_nll_sigma_kernel<<<blocks_for(cols), THREADS>>>(rows, cols, scale, z, ldz, x, ldx,
															 sigma, dsigma);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_kl_normal(SynthCudaContext *ctx, int rows, int cols, real scale, const real *mu,
				  const real *logvar, real *dmu, real *dlogvar, real *loss)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	kl_normal_kernel<<<blocks_for(rows), THREADS>>>(rows, cols, scale, mu, logvar, dmu,
													dlogvar, loss);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_norm_penalty(SynthCudaContext *ctx, int rows, int cols, real scale, const real *g,
					 real *dg, real *loss)
{
	if (rows <= 0)
		return SYNTH_CUDA_OK;
	norm_penalty_kernel<<<rows, THREADS>>>(rows, cols, scale, g, dg, loss);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_reparam_forward(SynthCudaContext *ctx, size_t n, const real *mu, const real *logvar,
						const real *eps, real *z)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	reparam_forward_kernel<<<blocks_for(n), THREADS>>>(n, mu, logvar, eps, z);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_reparam_backward(SynthCudaContext *ctx, size_t n, const real *logvar, const real *eps,
						 const real *dz, real *dmu, real *dlogvar)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	reparam_backward_kernel<<<blocks_for(n), THREADS>>>(n, logvar, eps, dz, dmu, dlogvar);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_lerp_rows(SynthCudaContext *ctx, int rows, int cols, const real *alpha,
				  const real *a, const real *b, real *out)
{
	if (rows <= 0 || cols <= 0)
		return SYNTH_CUDA_OK;
	lerp_rows_kernel<<<blocks_for((size_t) rows * cols), THREADS>>>(rows, cols, alpha, a, b, out);
	LAUNCHED(ctx);
}

/* The step and the bias correction are computed here, as the CPU computes them. */
SynthCudaStatus
nn_cuda_adam(SynthCudaContext *ctx, size_t n, real lr, real beta1, real beta2, real eps,
			 real weight_decay, int step, real *param, const real *grad, real *m, real *v)
{
	real		step_size = (real) (lr / (1.0 - pow((double) beta1, step)));
	real		inv_root_c2 = (real) (1.0 / sqrt(1.0 - pow((double) beta2, step)));

	if (n == 0)
		return SYNTH_CUDA_OK;
	adam_kernel<<<blocks_for(n), THREADS>>>(n, lr, beta1, beta2, eps, weight_decay, step_size,
											inv_root_c2, param, grad, m, v);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_fill_uniform(SynthCudaContext *ctx, size_t n, real lo, real hi,
					 unsigned long long seed, unsigned long long offset, real *x)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	fill_uniform_kernel<<<blocks_for(n), THREADS>>>(n, lo, hi, seed, offset, x);
	LAUNCHED(ctx);
}

SynthCudaStatus
nn_cuda_fill_normal(SynthCudaContext *ctx, size_t n, real mean, real std,
					unsigned long long seed, unsigned long long offset, real *x)
{
	if (n == 0)
		return SYNTH_CUDA_OK;
	fill_normal_kernel<<<blocks_for(n), THREADS>>>(n, mean, std, seed, offset, x);
	LAUNCHED(ctx);
}

/* The sum, in double, waited for and copied to the host. */
SynthCudaStatus
nn_cuda_sum(SynthCudaContext *ctx, size_t n, const real *x, double *result)
{
	if (ctx->sum_result == NULL)
		CTX_CUDA_CHECK(ctx, cudaMalloc((void **) &ctx->sum_result, sizeof(double)));
	sum_kernel<<<1, THREADS>>>(n, x, ctx->sum_result);
	CTX_CUDA_CHECK(ctx, cudaGetLastError());
	CTX_CUDA_CHECK(ctx, cudaMemcpy(result, ctx->sum_result, sizeof(double),
								   cudaMemcpyDeviceToHost));
	return SYNTH_CUDA_OK;
}
