/*-------------------------------------------------------------------------
 *
 * backend_cpu.c
 *	  The CPU backend: every operation, on host memory, with OpenBLAS and
 *	  plain C.  It is the reference that the GPU backend is tested against.
 *
 * This file includes no server headers on purpose: test/unit and test/gpu
 * link it into standalone programs.  Nothing here can fail, so nothing here
 * needs ereport.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <math.h>
#ifdef __SSE2__
#include <xmmintrin.h>
#endif

#include "backend.h"

#define CPU_MAX_COLS	256		/* columns whose statistics one pass keeps on the stack */

/*
 * Loops whose output may be their input (in place) or is disjoint from it:
 * each element is read before it is written, so the compiler may vectorise
 * them even though it cannot prove the pointers apart (it would otherwise
 * check at run time and fall back to one element at a time when they are
 * equal, which is how the engine calls them).
 */
#if defined(__GNUC__) && !defined(__clang__)
#define CPU_IN_PLACE_OK		_Pragma("GCC ivdep")
#else
#define CPU_IN_PLACE_OK
#endif

/*
 * exp, log, sin and cos in the precision of SynthReal.  In single precision
 * (the extension) they are written out in plain arithmetic, so that the
 * loops that call them vectorise: libm's are calls, one value at a time,
 * and were a fifth of a training step.  Each is a Cody-Waite range
 * reduction and the minimax polynomial of Cephes' single-precision
 * function, within a few ulp of libm (test/unit/backend_test.c checks them
 * through the operations).  In double precision (the gradient tests) they
 * are libm's.
 */
#ifdef SYNTH_REAL_DOUBLE

static inline SynthReal
real_exp(SynthReal x)
{
	return exp(x);
}

static inline SynthReal
real_log(SynthReal x)
{
	return log(x);
}

static inline void
real_sincos(SynthReal x, SynthReal *s, SynthReal *c)
{
	*s = sin(x);
	*c = cos(x);
}

#else

typedef union
{
	float		f;
	int32_t		i;
} FloatBits;

/*
 * exp(x) = 2^k exp(r), k = round(x / log 2), |r| <= log(2) / 2.  x is first
 * clamped to [-87, 88], where 2^k is a normal float: below, exp(x) is taken
 * as exp(-87) = 1.6e-38 instead of a denormal or 0.
 */
static inline float
real_exp(float x)
{
	const float round_shift = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float		k,
				r,
				p;
	FloatBits	scale;

	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	k = (x * 1.44269504088896341f + round_shift) - round_shift;
	r = x - k * 0.693359375f;	/* log 2 in two parts, the first exact in float */
	r = r + k * 2.12194440e-4f;
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	scale.i = ((int32_t) k + 127) << 23;
	return p * scale.f;
}

/*
 * log(x) = e log 2 + log(m) for x = m 2^e, m in [sqrt(1/2), sqrt(2)); x
 * must be a positive normal float (the engine takes logs of uniforms in
 * (0, 1), of their logs' negations and of positive sums).
 */
static inline float
real_log(float x)
{
	FloatBits	bits = {.f = x};
	float		e,
				f,
				z,
				y;
	bool		high;

	/* m in [1, 2) from the mantissa's bits, then halved when above sqrt(2) */
	e = (float) (((bits.i >> 23) & 0xff) - 127);
	bits.i = (bits.i & 0x007fffff) | 0x3f800000;
	high = bits.f > 1.41421356f;
	e = high ? e + 1.0f : e;
	f = (high ? 0.5f * bits.f : bits.f) - 1.0f;
	z = f * f;
	y = 7.0376836292e-2f;
	y = y * f - 1.1514610310e-1f;
	y = y * f + 1.1676998740e-1f;
	y = y * f - 1.2420140846e-1f;
	y = y * f + 1.4249322787e-1f;
	y = y * f - 1.6668057665e-1f;
	y = y * f + 2.0000714765e-1f;
	y = y * f - 2.4999993993e-1f;
	y = y * f + 3.3333331174e-1f;
	y = y * f * z;
	y = y - 2.12194440e-4f * e - 0.5f * z;
	return f + y + 0.693359375f * e;
}

/*
 * sin(x) and cos(x) for x in [0, 2 pi] (Box-Muller's angles): x = q pi / 2
 * + r, |r| <= pi / 4, and the quadrant q mod 4 chooses which of sin(r) and
 * cos(r) each is, and its sign.
 */
static inline void
real_sincos(float x, float *s, float *c)
{
	const float round_shift = 12582912.0f;
	float		q = (x * 0.636619772f + round_shift) - round_shift;
	float		r = x - q * 1.5703125f; /* pi / 2 in three parts */
	float		z,
				sin_r,
				cos_r,
				s_abs,
				c_abs;
	int32_t		k = (int32_t) q & 3;

	r = r - q * 4.837512969970703125e-4f;
	r = r - q * 7.54978995489188216e-8f;
	z = r * r;
	sin_r = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
	cos_r = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z +
			 4.166664568298827e-2f) * z * z - 0.5f * z + 1.0f;
	s_abs = (k & 1) ? cos_r : sin_r;
	c_abs = (k & 1) ? sin_r : cos_r;
	*s = (k & 2) ? -s_abs : s_abs;
	*c = ((k + 1) & 2) ? -c_abs : c_abs;
}

#endif

static bool
cpu_supports(const SynthBackend *backend, SynthOp op)
{
	switch (op)
	{
		case SYNTH_OP_ALLOC:
		case SYNTH_OP_COPY:
			/* host memory: callers palloc and memcpy themselves */
			return false;
		case SYNTH_OP_COUNT:
			return false;
		default:
			/* every computing operation */
			return true;
	}
	return false;
}

static void
cpu_gemm(const SynthBackend *backend,
		 bool transA, bool transB,
		 int m, int n, int k,
		 double alpha,
		 const double *A, int lda,
		 const double *B, int ldb,
		 double beta,
		 double *C, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	cblas_dgemm(CblasRowMajor,
				transA ? CblasTrans : CblasNoTrans,
				transB ? CblasTrans : CblasNoTrans,
				m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---------------------------------------------------------------- neural-network operations */

static void
cpu_matmul(const SynthBackend *backend,
		   bool transA, bool transB,
		   int m, int n, int k,
		   SynthReal alpha,
		   const SynthReal *A, int lda,
		   const SynthReal *B, int ldb,
		   SynthReal beta,
		   SynthReal *C, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
#ifdef SYNTH_REAL_DOUBLE
	cblas_dgemm(CblasRowMajor,
#else
	cblas_sgemm(CblasRowMajor,
#endif
				transA ? CblasTrans : CblasNoTrans,
				transB ? CblasTrans : CblasNoTrans,
				m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void
cpu_fill(const SynthBackend *backend, size_t n, SynthReal value, SynthReal *x)
{
	for (size_t i = 0; i < n; i++)
		x[i] = value;
}

static void
cpu_axpby(const SynthBackend *backend, size_t n, SynthReal a, const SynthReal *x,
		  SynthReal b, SynthReal *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a * x[i] + b * y[i];
}

static void
cpu_mul(const SynthBackend *backend, size_t n, const SynthReal *x, const SynthReal *y,
		SynthReal *out)
{
	CPU_IN_PLACE_OK
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] * y[i];
}

static void
cpu_clamp(const SynthBackend *backend, size_t n, SynthReal lo, SynthReal hi, SynthReal *x)
{
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

static void
cpu_copy2d(const SynthBackend *backend, int rows, int cols, const SynthReal *src, int lds,
		   SynthReal beta, SynthReal *dst, int ldd)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *s = src + (size_t) r * lds;
		SynthReal  *d = dst + (size_t) r * ldd;

		if (beta == 0)
			for (int c = 0; c < cols; c++)
				d[c] = s[c];
		else
			for (int c = 0; c < cols; c++)
				d[c] = s[c] + beta * d[c];
	}
}

static void
cpu_bias_add(const SynthBackend *backend, int rows, int cols, const SynthReal *bias,
			 SynthReal *x, int ldx)
{
	for (int r = 0; r < rows; r++)
	{
		SynthReal  *row = x + (size_t) r * ldx;

		for (int c = 0; c < cols; c++)
			row[c] += bias[c];
	}
}

/* Column sums a row at a time (each still adds its rows in order), reading memory in order. */
static void
cpu_bias_grad(const SynthBackend *backend, int rows, int cols, const SynthReal *dout,
			  int ldd, SynthReal *dbias)
{
	for (int c0 = 0; c0 < cols; c0 += CPU_MAX_COLS)
	{
		int			n = cols - c0 < CPU_MAX_COLS ? cols - c0 : CPU_MAX_COLS;
		double		s[CPU_MAX_COLS];

		for (int c = 0; c < n; c++)
			s[c] = 0.0;
		for (int r = 0; r < rows; r++)
		{
			const SynthReal *row = dout + (size_t) r * ldd + c0;

			for (int c = 0; c < n; c++)
				s[c] += row[c];
		}
		for (int c = 0; c < n; c++)
			dbias[c0 + c] += (SynthReal) s[c];
	}
}

/* One row of an activation: the switch is outside the loops so that they vectorise. */
static void
cpu_act_forward(const SynthBackend *backend, SynthActivation f, SynthReal slope,
				int rows, int cols, const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *x = inp + (size_t) r * ldi;
		SynthReal  *y = out + (size_t) r * ldo;

		switch (f)
		{
			case SYNTH_ACT_RELU:
				CPU_IN_PLACE_OK
				for (int c = 0; c < cols; c++)
					y[c] = x[c] > 0 ? x[c] : 0;
				break;
			case SYNTH_ACT_LEAKY_RELU:
				CPU_IN_PLACE_OK
				for (int c = 0; c < cols; c++)
					y[c] = x[c] > 0 ? x[c] : slope * x[c];
				break;
			case SYNTH_ACT_TANH:
				for (int c = 0; c < cols; c++)
					y[c] = (SynthReal) tanh(x[c]);
				break;
		}
	}
}

static void
cpu_act_backward(const SynthBackend *backend, SynthActivation f, SynthReal slope,
				 int rows, int cols, const SynthReal *out, int ldo,
				 const SynthReal *dout, int ldd, SynthReal *dinp, int ldn)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *y = out + (size_t) r * ldo;
		const SynthReal *dy = dout + (size_t) r * ldd;
		SynthReal  *dx = dinp + (size_t) r * ldn;

		/*
		 * dy is read whatever the sign, so that the compiler may select
		 * instead of branch (a branch on the sign mispredicts half the time)
		 */
		switch (f)
		{
			case SYNTH_ACT_RELU:
				CPU_IN_PLACE_OK
				for (int c = 0; c < cols; c++)
				{
					SynthReal	d = dy[c];

					dx[c] = y[c] > 0 ? d : 0;
				}
				break;
			case SYNTH_ACT_LEAKY_RELU:
				CPU_IN_PLACE_OK
				for (int c = 0; c < cols; c++)
				{
					SynthReal	d = dy[c];

					dx[c] = y[c] > 0 ? d : slope * d;
				}
				break;
			case SYNTH_ACT_TANH:
				CPU_IN_PLACE_OK
				for (int c = 0; c < cols; c++)
					dx[c] = dy[c] * (1 - y[c] * y[c]);
				break;
		}
	}
}

/*
 * Statistics are accumulated a row at a time (each column's sum still adds
 * its rows in order), so that memory is read in order.
 */
static void
cpu_batchnorm_forward(const SynthBackend *backend, int rows, int cols,
					  bool training, SynthReal momentum, SynthReal eps,
					  const SynthReal *inp, const SynthReal *gamma, const SynthReal *beta,
					  SynthReal *running_mean, SynthReal *running_var,
					  SynthReal *mean, SynthReal *rstd, SynthReal *out)
{
	double		mu[CPU_MAX_COLS];
	double		scale[CPU_MAX_COLS];
	double		shift[CPU_MAX_COLS];

	for (int c0 = 0; c0 < cols; c0 += CPU_MAX_COLS)
	{
		int			n = cols - c0 < CPU_MAX_COLS ? cols - c0 : CPU_MAX_COLS;

		if (training)
		{
			double		ss[CPU_MAX_COLS];

			for (int c = 0; c < n; c++)
				mu[c] = ss[c] = 0.0;
			for (int r = 0; r < rows; r++)
			{
				const SynthReal *x = inp + (size_t) r * cols + c0;

				for (int c = 0; c < n; c++)
					mu[c] += x[c];
			}
			for (int c = 0; c < n; c++)
				mu[c] /= rows;
			for (int r = 0; r < rows; r++)
			{
				const SynthReal *x = inp + (size_t) r * cols + c0;

				for (int c = 0; c < n; c++)
				{
					double		d = x[c] - mu[c];

					ss[c] += d * d;
				}
			}
			for (int c = 0; c < n; c++)
			{
				double		var = ss[c] / rows;
				double		rs = 1.0 / sqrt(var + eps);

				mean[c0 + c] = (SynthReal) mu[c];
				rstd[c0 + c] = (SynthReal) rs;
				running_mean[c0 + c] = (SynthReal) ((1.0 - momentum) * running_mean[c0 + c] + momentum * mu[c]);
				running_var[c0 + c] = (SynthReal) ((1.0 - momentum) * running_var[c0 + c] +
												   momentum * (rows > 1 ? ss[c] / (rows - 1) : var));
				scale[c] = gamma[c0 + c] * rs;
				shift[c] = beta[c0 + c];
			}
		}
		else
			for (int c = 0; c < n; c++)
			{
				mu[c] = running_mean[c0 + c];
				scale[c] = gamma[c0 + c] / sqrt((double) running_var[c0 + c] + eps);
				shift[c] = beta[c0 + c];
			}
		for (int r = 0; r < rows; r++)
		{
			const SynthReal *x = inp + (size_t) r * cols + c0;
			SynthReal  *y = out + (size_t) r * cols + c0;

			for (int c = 0; c < n; c++)
				y[c] = (SynthReal) ((x[c] - mu[c]) * scale[c] + shift[c]);
		}
	}
}

/*
 * With xhat = (x - mean) rstd and g = dout * gamma:
 * dx = rstd (g - mean(g) - xhat mean(g xhat)), dgamma += sum(dout xhat),
 * dbeta += sum(dout), all per column.
 */
static void
cpu_batchnorm_backward(const SynthBackend *backend, int rows, int cols,
					   const SynthReal *inp, const SynthReal *gamma,
					   const SynthReal *mean, const SynthReal *rstd,
					   const SynthReal *dout, SynthReal *dinp,
					   SynthReal *dgamma, SynthReal *dbeta)
{
	for (int c0 = 0; c0 < cols; c0 += CPU_MAX_COLS)
	{
		int			n = cols - c0 < CPU_MAX_COLS ? cols - c0 : CPU_MAX_COLS;
		double		sum_dy[CPU_MAX_COLS];
		double		sum_dy_xhat[CPU_MAX_COLS];
		double		mean_g[CPU_MAX_COLS];
		double		mean_g_xhat[CPU_MAX_COLS];

		for (int c = 0; c < n; c++)
			sum_dy[c] = sum_dy_xhat[c] = 0.0;
		for (int r = 0; r < rows; r++)
		{
			const SynthReal *x = inp + (size_t) r * cols + c0;
			const SynthReal *dy = dout + (size_t) r * cols + c0;

			for (int c = 0; c < n; c++)
			{
				double		xhat = (x[c] - mean[c0 + c]) * (double) rstd[c0 + c];

				sum_dy[c] += dy[c];
				sum_dy_xhat[c] += dy[c] * xhat;
			}
		}
		for (int c = 0; c < n; c++)
		{
			dbeta[c0 + c] += (SynthReal) sum_dy[c];
			dgamma[c0 + c] += (SynthReal) sum_dy_xhat[c];
			mean_g[c] = gamma[c0 + c] * sum_dy[c] / rows;
			mean_g_xhat[c] = gamma[c0 + c] * sum_dy_xhat[c] / rows;
		}
		for (int r = 0; r < rows; r++)
		{
			const SynthReal *x = inp + (size_t) r * cols + c0;
			const SynthReal *dy = dout + (size_t) r * cols + c0;
			SynthReal  *dx = dinp + (size_t) r * cols + c0;

			for (int c = 0; c < n; c++)
			{
				double		xhat = (x[c] - mean[c0 + c]) * (double) rstd[c0 + c];

				dx[c] = (SynthReal) (rstd[c0 + c] * (gamma[c0 + c] * (double) dy[c] - mean_g[c] -
													 xhat * mean_g_xhat[c]));
			}
		}
	}
}

/*
 * The least k whose uniform synth_uniform_of_bits(k) is >= p, by bisection
 * (the uniforms grow with k): a uniform is >= p exactly when its 53 bits
 * are >= this, which compares integers instead of converting each.
 */
static uint64_t
uniform_threshold(double p)
{
	uint64_t	lo = 0,
				hi = UINT64_C(1) << 53;

	while (lo < hi)
	{
		uint64_t	mid = lo + (hi - lo) / 2;

		if (synth_uniform_of_bits(mid) >= p)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void
cpu_dropout_forward(const SynthBackend *backend, size_t n, SynthReal p,
					uint64_t seed, uint64_t offset,
					const SynthReal *inp, SynthReal *mask, SynthReal *out)
{
	SynthReal	keep = (SynthReal) (1.0 / (1.0 - p));
	uint64_t	threshold = uniform_threshold(p);

	for (size_t i = 0; i < n; i++)
	{
		uint64_t	k = synth_random_bits(seed, offset + i) >> 11;

		/*
		 * kept = (k >= threshold) as the sign of k - threshold (both are
		 * below 2^53): a comparison would compile to a branch taken at
		 * random
		 */
		int			kept = 1 - (int) ((k - threshold) >> 63);

		mask[i] = keep * (SynthReal) kept;
	}
	CPU_IN_PLACE_OK
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] * mask[i];
}

static void
cpu_softmax_forward(const SynthBackend *backend, int rows, int cols,
					SynthReal tau, bool gumbel, uint64_t seed, uint64_t offset,
					const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *x = inp + (size_t) r * ldi;
		SynthReal  *y = out + (size_t) r * ldo;
		SynthReal	max = -INFINITY;
		double		sum = 0.0;

		/*
		 * One pass per step, so that all but the drawing of the uniforms
		 * (and the sum, kept in order) vectorise.  The Gumbel noise is
		 * synth_random_gumbel's: -log(-log(u)), u below 1.
		 */
		if (gumbel)
		{
			for (int c = 0; c < cols; c++)
			{
				float		u = (float) synth_random_uniform(seed, offset + (uint64_t) r * cols + c);

				y[c] = u < 0.99999994f ? u : 0.99999994f;
			}
			CPU_IN_PLACE_OK
			for (int c = 0; c < cols; c++)
				y[c] = (x[c] - real_log(-real_log(y[c]))) / tau;
		}
		else
			for (int c = 0; c < cols; c++)
				y[c] = x[c] / tau;
		for (int c = 0; c < cols; c++)
			max = y[c] > max ? y[c] : max;
		CPU_IN_PLACE_OK
		for (int c = 0; c < cols; c++)
			y[c] = real_exp(y[c] - max);
		for (int c = 0; c < cols; c++)
			sum += y[c];
		CPU_IN_PLACE_OK
		for (int c = 0; c < cols; c++)
			y[c] = (SynthReal) (y[c] / sum);
	}
}

static void
cpu_softmax_backward(const SynthBackend *backend, int rows, int cols, SynthReal tau,
					 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
					 SynthReal *dinp, int ldn)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *y = out + (size_t) r * ldo;
		const SynthReal *dy = dout + (size_t) r * ldd;
		SynthReal  *dx = dinp + (size_t) r * ldn;
		double		dot = 0.0;

		for (int c = 0; c < cols; c++)
			dot += (double) dy[c] * y[c];
		for (int c = 0; c < cols; c++)
			dx[c] = (SynthReal) (y[c] * (dy[c] - dot) / tau);
	}
}

static void
cpu_softmax_xent(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *logits, int ldl, const SynthReal *target, int ldt,
				 SynthReal *dlogits, int ldd, SynthReal *loss)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *z = logits + (size_t) r * ldl;
		const SynthReal *t = target + (size_t) r * ldt;
		SynthReal  *dz = dlogits + (size_t) r * ldd;
		SynthReal	max = -INFINITY,
					logsum;
		double		sum = 0.0,
					tsum = 0.0,
					l = 0.0;

		for (int c = 0; c < cols; c++)
		{
			max = z[c] > max ? z[c] : max;
			tsum += t[c];
		}
		if (tsum == 0.0)
			continue;

		/* the exponentials a block at a time (they vectorise), summed in order */
		for (int c0 = 0; c0 < cols; c0 += CPU_MAX_COLS)
		{
			int			n = cols - c0 < CPU_MAX_COLS ? cols - c0 : CPU_MAX_COLS;
			SynthReal	e[CPU_MAX_COLS];

			for (int c = 0; c < n; c++)
				e[c] = real_exp(z[c0 + c] - max);
			for (int c = 0; c < n; c++)
				sum += e[c];
		}
		logsum = (SynthReal) (log(sum) + max);
		for (int c = 0; c < cols; c++)
			dz[c] += (SynthReal) scale * (real_exp(z[c] - logsum) * (SynthReal) tsum - t[c]);
		for (int c = 0; c < cols; c++)
			l -= t[c] * (double) (z[c] - logsum);
		loss[r] += (SynthReal) (scale * l);
	}
}

static void
cpu_gaussian_nll(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *z, int ldz, const SynthReal *x, int ldx,
				 const SynthReal *sigma, SynthReal *dz, int ldd, SynthReal *dsigma,
				 SynthReal *loss)
{
	for (int c = 0; c < cols; c++)
	{
		double		s = sigma[c],
					ds = 0.0;

		for (int r = 0; r < rows; r++)
		{
			double		t = tanh(z[(size_t) r * ldz + c]);
			double		e = x[(size_t) r * ldx + c] - t;

			loss[r] += (SynthReal) (scale * (e * e / (2.0 * s * s) + log(s)));
			dz[(size_t) r * ldd + c] += (SynthReal) (scale * (-e / (s * s)) * (1.0 - t * t));
			ds += -e * e / (s * s * s) + 1.0 / s;
		}
		dsigma[c] += (SynthReal) (scale * ds);
	}
}

static void
cpu_kl_normal(const SynthBackend *backend, int rows, int cols, SynthReal scale,
			  const SynthReal *mu, const SynthReal *logvar,
			  SynthReal *dmu, SynthReal *dlogvar, SynthReal *loss)
{
	for (int r = 0; r < rows; r++)
	{
		double		l = 0.0;

		/* a block at a time: exponentials and gradients vectorise, the loss adds in order */
		for (int c0 = 0; c0 < cols; c0 += CPU_MAX_COLS)
		{
			int			n = cols - c0 < CPU_MAX_COLS ? cols - c0 : CPU_MAX_COLS;
			size_t		i0 = (size_t) r * cols + c0;
			SynthReal	e[CPU_MAX_COLS];

			for (int c = 0; c < n; c++)
				e[c] = real_exp(logvar[i0 + c]);
			CPU_IN_PLACE_OK
			for (int c = 0; c < n; c++)
			{
				dmu[i0 + c] += scale * mu[i0 + c];
				dlogvar[i0 + c] += scale * (SynthReal) 0.5 * (e[c] - 1);
			}
			for (int c = 0; c < n; c++)
				l += -0.5 * (1.0 + logvar[i0 + c] - (double) mu[i0 + c] * mu[i0 + c] - e[c]);
		}
		loss[r] += (SynthReal) (scale * l);
	}
}

static void
cpu_norm_penalty(const SynthBackend *backend, int rows, int cols, SynthReal scale,
				 const SynthReal *g, SynthReal *dg, SynthReal *loss)
{
	for (int r = 0; r < rows; r++)
	{
		const SynthReal *row = g + (size_t) r * cols;
		double		ss = 0.0,
					norm,
					k;

		for (int c = 0; c < cols; c++)
			ss += (double) row[c] * row[c];
		norm = sqrt(ss);
		loss[r] += (SynthReal) (scale * (norm - 1.0) * (norm - 1.0));
		k = norm > 0.0 ? scale * 2.0 * (norm - 1.0) / norm : 0.0;
		for (int c = 0; c < cols; c++)
			dg[(size_t) r * cols + c] += (SynthReal) (k * row[c]);
	}
}

static void
cpu_reparam_forward(const SynthBackend *backend, size_t n, const SynthReal *mu,
					const SynthReal *logvar, const SynthReal *eps, SynthReal *z)
{
	for (size_t i = 0; i < n; i++)
		z[i] = mu[i] + eps[i] * real_exp((SynthReal) 0.5 * logvar[i]);
}

static void
cpu_reparam_backward(const SynthBackend *backend, size_t n, const SynthReal *logvar,
					 const SynthReal *eps, const SynthReal *dz,
					 SynthReal *dmu, SynthReal *dlogvar)
{
	for (size_t i = 0; i < n; i++)
	{
		dmu[i] = dz[i];
		dlogvar[i] = dz[i] * eps[i] * (SynthReal) 0.5 * real_exp((SynthReal) 0.5 * logvar[i]);
	}
}

static void
cpu_lerp_rows(const SynthBackend *backend, int rows, int cols, const SynthReal *alpha,
			  const SynthReal *a, const SynthReal *b, SynthReal *out)
{
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++)
		{
			size_t		i = (size_t) r * cols + c;

			out[i] = alpha[r] * a[i] + (1 - alpha[r]) * b[i];
		}
}

/* In SynthReal, as torch computes it: step lr / c1 and denominator sqrt(v) / sqrt(c2) + eps. */
static void
cpu_adam(const SynthBackend *backend, size_t n, SynthReal lr, SynthReal beta1,
		 SynthReal beta2, SynthReal eps, SynthReal weight_decay, int step,
		 SynthReal *param, const SynthReal *grad, SynthReal *m, SynthReal *v)
{
	SynthReal	step_size = (SynthReal) (lr / (1.0 - pow(beta1, step)));
	SynthReal	inv_root_c2 = (SynthReal) (1.0 / sqrt(1.0 - pow(beta2, step)));

	for (size_t i = 0; i < n; i++)
	{
		SynthReal	g = grad[i] + weight_decay * param[i];

		m[i] = beta1 * m[i] + (1 - beta1) * g;
		v[i] = beta2 * v[i] + (1 - beta2) * g * g;
#ifdef SYNTH_REAL_DOUBLE
		param[i] -= step_size * m[i] / (sqrt(v[i]) * inv_root_c2 + eps);
#else
		param[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_root_c2 + eps);
#endif
	}
}

static void
cpu_fill_uniform(const SynthBackend *backend, size_t n, SynthReal lo, SynthReal hi,
				 uint64_t seed, uint64_t offset, SynthReal *x)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (SynthReal) (lo + (hi - lo) * synth_random_uniform(seed, offset + i));
}

/*
 * Box-Muller pairs first, first + 1, ... (npairs) into x (2 npairs), as
 * synth_random_normal_pair draws them: first their two uniforms (one at a
 * time), then both normals of each from one logarithm (vectorised).
 */
static void
normal_pairs(SynthReal mean, SynthReal std, uint64_t seed, uint64_t first, size_t npairs,
			 SynthReal *x)
{
	for (size_t p = 0; p < npairs; p++)
	{
		x[2 * p] = (float) synth_random_uniform(seed, first + p);
		x[2 * p + 1] = (float) synth_random_uniform(seed ^ SYNTH_RANDOM_SECOND, first + p);
	}
	for (size_t p = 0; p < npairs; p++)
	{
		SynthReal	r = sqrtf(-2.0f * (float) real_log(x[2 * p]));
		SynthReal	sin_t,
					cos_t;

		real_sincos(6.2831853f * (float) x[2 * p + 1], &sin_t, &cos_t);
		x[2 * p] = mean + std * (r * cos_t);
		x[2 * p + 1] = mean + std * (r * sin_t);
	}
}

/*
 * Number i is the even (cosine) or odd (sine) member of pair (offset + i) / 2;
 * a pair cut by either end is drawn whole and half kept.
 */
static void
cpu_fill_normal(const SynthBackend *backend, size_t n, SynthReal mean, SynthReal std,
				uint64_t seed, uint64_t offset, SynthReal *x)
{
	size_t		i = 0;
	SynthReal	pair[2];

	if (n > 0 && (offset & 1))
	{
		normal_pairs(mean, std, seed, offset >> 1, 1, pair);
		x[0] = pair[1];
		i = 1;
	}
	normal_pairs(mean, std, seed, (offset + i) >> 1, (n - i) / 2, x + i);
	i += (n - i) / 2 * 2;
	if (i < n)
	{
		normal_pairs(mean, std, seed, (offset + i) >> 1, 1, pair);
		x[i] = pair[0];
	}
}

static double
cpu_sum(const SynthBackend *backend, size_t n, const SynthReal *x)
{
	double		s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s;
}

/* ---------------------------------------------------------------- per-sample clipping */

static void
cpu_grad_norms_linear(const SynthBackend *backend, int rows, int in, int out,
					  const SynthReal *inp, int ldi, const SynthReal *dout, int ldd,
					  SynthReal *norm2)
{
	for (int r = 0; r < rows; r++)
	{
		double		a = 0.0,
					d = 0.0;

		for (int j = 0; j < in; j++)
			a += (double) inp[(size_t) r * ldi + j] * inp[(size_t) r * ldi + j];
		for (int j = 0; j < out; j++)
			d += (double) dout[(size_t) r * ldd + j] * dout[(size_t) r * ldd + j];
		norm2[r] += (SynthReal) (d * (a + 1.0));
	}
}

static void
cpu_row_sumsq(const SynthBackend *backend, int rows, int cols, const SynthReal *x, int ldx,
			  SynthReal *norm2)
{
	for (int r = 0; r < rows; r++)
	{
		double		s = 0.0;

		for (int j = 0; j < cols; j++)
			s += (double) x[(size_t) r * ldx + j] * x[(size_t) r * ldx + j];
		norm2[r] += (SynthReal) s;
	}
}

static void
cpu_clip_factors(const SynthBackend *backend, int rows, SynthReal max_norm,
				 const SynthReal *norm2, SynthReal *factor)
{
	for (int r = 0; r < rows; r++)
	{
		double		norm = sqrt((double) norm2[r]);

		factor[r] = (SynthReal) (norm > max_norm ? max_norm / norm : 1.0);
	}
}

static void
cpu_scale_rows(const SynthBackend *backend, int rows, int cols, const SynthReal *factor,
			   SynthReal *x, int ldx)
{
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < cols; j++)
			x[(size_t) r * ldx + j] *= factor[r];
}

static const SynthBackend cpu_backend = {
	.name = "cpu",
	.context = NULL,
	.supports = cpu_supports,
	.gemm = cpu_gemm,
	.alloc = NULL,
	.free = NULL,
	.to_device = NULL,
	.to_host = NULL,
	.matmul = cpu_matmul,
	.fill = cpu_fill,
	.axpby = cpu_axpby,
	.mul = cpu_mul,
	.copy2d = cpu_copy2d,
	.bias_add = cpu_bias_add,
	.bias_grad = cpu_bias_grad,
	.act_forward = cpu_act_forward,
	.act_backward = cpu_act_backward,
	.batchnorm_forward = cpu_batchnorm_forward,
	.batchnorm_backward = cpu_batchnorm_backward,
	.dropout_forward = cpu_dropout_forward,
	.softmax_forward = cpu_softmax_forward,
	.softmax_backward = cpu_softmax_backward,
	.softmax_xent = cpu_softmax_xent,
	.gaussian_nll = cpu_gaussian_nll,
	.kl_normal = cpu_kl_normal,
	.norm_penalty = cpu_norm_penalty,
	.reparam_forward = cpu_reparam_forward,
	.reparam_backward = cpu_reparam_backward,
	.lerp_rows = cpu_lerp_rows,
	.adam = cpu_adam,
	.clamp = cpu_clamp,
	.fill_uniform = cpu_fill_uniform,
	.fill_normal = cpu_fill_normal,
	.sum = cpu_sum,
	.grad_norms_linear = cpu_grad_norms_linear,
	.row_sumsq = cpu_row_sumsq,
	.clip_factors = cpu_clip_factors,
	.scale_rows = cpu_scale_rows,
};

const SynthBackend *
synth_backend_cpu(void)
{
	return &cpu_backend;
}

/*
 * As a network converges, some gradients, Adam moments and probabilities
 * fall below the smallest normal float (1.2e-38), and x86 CPUs compute on
 * such denormal numbers with a slow microcode assist: a TVAE training on
 * Adult slowed threefold over its 300 epochs.  Flush-to-zero (results) and
 * denormals-are-zero (inputs), bits 15 and 6 of MXCSR, take them as 0,
 * which changes no result by more than 1.2e-38.  They are set for a
 * training or a generation only: the server's own arithmetic keeps IEEE
 * denormals.
 */
#define CPU_MXCSR_FTZ_DAZ	0x8040

unsigned int
synth_cpu_denormals_off(void)
{
#ifdef __SSE2__
	unsigned int mode = _mm_getcsr();

	_mm_setcsr(mode | CPU_MXCSR_FTZ_DAZ);
	return mode;
#else
	return 0;
#endif
}

void
synth_cpu_denormals_restore(unsigned int mode)
{
#ifdef __SSE2__
	_mm_setcsr(mode);
#endif
}
