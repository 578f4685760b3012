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

#include "backend.h"

#define CPU_MAX_COLS	256		/* columns whose statistics one pass keeps on the stack */

/* exp in the precision of SynthReal: single in the extension, double in the gradient tests */
static inline SynthReal
real_exp(SynthReal x)
{
#ifdef SYNTH_REAL_DOUBLE
	return exp(x);
#else
	return expf(x);
#endif
}

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
				for (int c = 0; c < cols; c++)
					y[c] = x[c] > 0 ? x[c] : 0;
				break;
			case SYNTH_ACT_LEAKY_RELU:
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

		switch (f)
		{
			case SYNTH_ACT_RELU:
				for (int c = 0; c < cols; c++)
					dx[c] = y[c] > 0 ? dy[c] : 0;
				break;
			case SYNTH_ACT_LEAKY_RELU:
				for (int c = 0; c < cols; c++)
					dx[c] = y[c] > 0 ? dy[c] : slope * dy[c];
				break;
			case SYNTH_ACT_TANH:
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

static void
cpu_dropout_forward(const SynthBackend *backend, size_t n, SynthReal p,
					uint64_t seed, uint64_t offset,
					const SynthReal *inp, SynthReal *mask, SynthReal *out)
{
	SynthReal	keep = (SynthReal) (1.0 / (1.0 - p));

	for (size_t i = 0; i < n; i++)
	{
		mask[i] = synth_random_uniform(seed, offset + i) >= p ? keep : 0;
		out[i] = inp[i] * mask[i];
	}
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
		double		max = -INFINITY,
					sum = 0.0;

		for (int c = 0; c < cols; c++)
		{
			double		v = x[c];

			if (gumbel)
				v += synth_random_gumbel(seed, offset + (uint64_t) r * cols + c);
			v /= tau;
			y[c] = (SynthReal) v;
			if (y[c] > max)
				max = y[c];
		}
		for (int c = 0; c < cols; c++)
		{
			double		e = exp(y[c] - max);

			y[c] = (SynthReal) e;
			sum += e;
		}
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
			dz[c] += (SynthReal) (scale * (exp(z[c] - logsum) * tsum - t[c]));
		}
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

		for (int c = 0; c < cols; c++)
		{
			size_t		i = (size_t) r * cols + c;
			double		e = real_exp(logvar[i]);

			l += -0.5 * (1.0 + logvar[i] - (double) mu[i] * mu[i] - e);
			dmu[i] += (SynthReal) (scale * mu[i]);
			dlogvar[i] += (SynthReal) (scale * 0.5 * (e - 1.0));
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

/* Both numbers of each Box-Muller pair at once, for one logarithm per two. */
static void
cpu_fill_normal(const SynthBackend *backend, size_t n, SynthReal mean, SynthReal std,
				uint64_t seed, uint64_t offset, SynthReal *x)
{
	size_t		i = 0;

	if (n > 0 && (offset & 1))
	{
		x[0] = (SynthReal) (mean + std * synth_random_normal(seed, offset));
		i = 1;
	}
	for (; i + 1 < n; i += 2)
	{
		float		even,
					odd;

		synth_random_normal_pair(seed, (offset + i) >> 1, &even, &odd);
		x[i] = (SynthReal) (mean + std * even);
		x[i + 1] = (SynthReal) (mean + std * odd);
	}
	if (i < n)
		x[i] = (SynthReal) (mean + std * synth_random_normal(seed, offset + i));
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
