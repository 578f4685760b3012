/*
 * privacy_test.c
 *	  Unit test of src/privacy.c: the exact samplers (uniform integers,
 *	  Bernoulli, Bernoulli(exp(-gamma)), geometric, discrete Laplace, discrete
 *	  Gaussian, exponential mechanism) against their exact distributions.
 *
 * The secure generator is replaced by a deterministic stand-in (pg_stubs.h),
 * so every run draws the same samples and gives the same verdict.  The
 * thresholds are set so that a correct sampler fed truly random bytes would
 * fail the whole test with probability below 1e-6: each of the checks below
 * has a false-failure probability of at most P_CHECK = 1e-8, and there are
 * fewer than 100 of them (counted and asserted at the end), so by the union
 * bound the total is below 100 x 1e-8 = 1e-6.  Per kind of check:
 *
 *   frequency of an event (a Bernoulli outcome, a tail mass):
 *     Hoeffding, P(|p_hat - p| >= t) <= 2 exp(-2 n t^2), so
 *     t = sqrt(ln(2 / P_CHECK) / (2 n)).
 *   whole distribution over k bins, rigorous:
 *     Weissman et al. 2003, P(||p_hat - p||_1 >= t) <= (2^k - 2) exp(-n t^2 / 2),
 *     so t = sqrt(2 (k ln 2 + ln(1 / P_CHECK)) / n).
 *   whole distribution over k bins, Pearson's chi-square:
 *     the statistic against the chi-square distribution with k - 1 degrees of
 *     freedom at upper tail P_CHECK (asymptotic; bins are built so that every
 *     expected count is at least 100).  The quantile is computed here from
 *     the regularized incomplete gamma function; mpmath gives, for tail 1e-8,
 *     36.8413614879 (2 df), 57.6639616262 (10 df), 200.631908737 (100 df),
 *     which chi2_threshold reproduces (checked below).
 *   mean and variance, rigorous, with no assumption on the tails:
 *     median of means over G = 160 groups: each group's mean is off by more
 *     than 2 s sqrt(G / n) (s the standard deviation of the quantity,
 *     computed from the exact pmf) with probability at most 1/4 (Chebyshev),
 *     and the median is off only if half the groups are, which by Hoeffding
 *     has probability at most exp(-2 G (1/4)^2) = exp(-G / 8) = 2.1e-9.
 */
#include "../../src/privacy.c"

#include "pg_stubs.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define P_CHECK			1e-8
#define MOM_GROUPS		160
#define MAX_CHECKS		100
#define MAX_BINS		512

static int	failures = 0;
static int	checks = 0;

static void
verdict(int ok, const char *what, double got, double bound)
{
	checks++;
	if (!ok)
	{
		printf("FAIL %s: %.10g (bound %.10g)\n", what, got, bound);
		failures++;
	}
}

/* ---------------------------------------------------------------- chi-square */

/* Regularized upper incomplete gamma Q(a, x), for x > a + 1 (continued fraction). */
static double
gamma_q_cf(double a, double x)
{
	double		b = x + 1.0 - a;
	double		c = 1.0 / DBL_MIN;
	double		d = 1.0 / b;
	double		h = d;

	for (int i = 1; i < 10000; i++)
	{
		double		an = -i * (i - a);
		double		delta;

		b += 2.0;
		d = an * d + b;
		if (fabs(d) < DBL_MIN)
			d = DBL_MIN;
		c = b + an / c;
		if (fabs(c) < DBL_MIN)
			c = DBL_MIN;
		d = 1.0 / d;
		delta = d * c;
		h *= delta;
		if (fabs(delta - 1.0) < 1e-15)
			break;
	}
	return exp(-x + a * log(x) - lgamma(a)) * h;
}

/* Regularized upper incomplete gamma Q(a, x), for x <= a + 1 (series of P). */
static double
gamma_q_series(double a, double x)
{
	double		sum = 1.0 / a;
	double		term = sum;

	for (int n = 1; n < 10000; n++)
	{
		term *= x / (a + n);
		sum += term;
		if (term < sum * 1e-16)
			break;
	}
	return 1.0 - sum * exp(-x + a * log(x) - lgamma(a));
}

static double
chi2_sf(double x, int df)
{
	double		a = df / 2.0;

	if (x <= 0)
		return 1.0;
	return x / 2 < a + 1 ? gamma_q_series(a, x / 2) : gamma_q_cf(a, x / 2);
}

/* The chi-square value exceeded with probability p, by bisection. */
static double
chi2_threshold(int df, double p)
{
	double		lo = df,
				hi = df + 400.0 + 40.0 * sqrt(df);

	for (int i = 0; i < 200; i++)
	{
		double		mid = (lo + hi) / 2;

		if (chi2_sf(mid, df) > p)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* ---------------------------------------------------------------- distribution checks */

/*
 * Compare observed counts over k bins with the exact bin probabilities:
 * chi-square (asymptotic) and L1 (rigorous).  Two checks.
 */
static void
check_distribution(const char *name, const int64 *count, const double *prob, int k, int64 n)
{
	double		chi2 = 0.0,
				l1 = 0.0,
				total = 0.0,
				t;
	char		what[200];

	for (int j = 0; j < k; j++)
	{
		double		expected = prob[j] * n;

		total += prob[j];
		chi2 += (count[j] - expected) * (count[j] - expected) / expected;
		l1 += fabs((double) count[j] / n - prob[j]);
		if (expected < 100)
		{
			printf("FAIL %s: bin %d expects only %.1f rows (test design)\n", name, j, expected);
			failures++;
		}
	}
	if (fabs(total - 1.0) > 1e-9)
	{
		printf("FAIL %s: bin probabilities sum to %.12g (test design)\n", name, total);
		failures++;
	}
	snprintf(what, sizeof(what), "%s chi-square (%d bins)", name, k);
	verdict(chi2 <= chi2_threshold(k - 1, P_CHECK), what, chi2, chi2_threshold(k - 1, P_CHECK));
	t = sqrt(2.0 * (k * log(2.0) + log(1.0 / P_CHECK)) / n);
	snprintf(what, sizeof(what), "%s L1 distance (%d bins)", name, k);
	verdict(l1 <= t, what, l1, t);
}

/* Frequency of an event against its probability (Hoeffding).  One check. */
static void
check_frequency(const char *name, int64 hits, int64 n, double p)
{
	double		t = sqrt(log(2.0 / P_CHECK) / (2.0 * n));
	double		phat = (double) hits / n;

	verdict(fabs(phat - p) <= t, name, phat, p);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Median of MOM_GROUPS group means of values[0..n). */
static double
median_of_means(const double *values, int64 n)
{
	double		means[MOM_GROUPS];
	int64		size = n / MOM_GROUPS;

	for (int g = 0; g < MOM_GROUPS; g++)
	{
		double		s = 0;

		for (int64 i = 0; i < size; i++)
			s += values[g * size + i];
		means[g] = s / size;
	}
	qsort(means, MOM_GROUPS, sizeof(double), cmp_double);
	return (means[MOM_GROUPS / 2 - 1] + means[MOM_GROUPS / 2]) / 2;
}

/*
 * Mean and variance of integer samples against the exact values, by median
 * of means (the variance as the mean of (x - mean)^2 around the exact mean).
 * sd1 and sd2 are the exact standard deviations of x and (x - mean)^2.
 * Two checks.
 */
static void
check_moments(const char *name, const int64 *x, int64 n, double mean, double var,
			  double sd1, double sd2)
{
	double	   *v = malloc(sizeof(double) * n);
	double		bound1 = 2.0 * sd1 * sqrt((double) MOM_GROUPS / (n / MOM_GROUPS * MOM_GROUPS));
	double		bound2 = 2.0 * sd2 * sqrt((double) MOM_GROUPS / (n / MOM_GROUPS * MOM_GROUPS));
	double		m;
	char		what[200];

	for (int64 i = 0; i < n; i++)
		v[i] = (double) x[i];
	m = median_of_means(v, n);
	snprintf(what, sizeof(what), "%s mean %.6g vs %.6g", name, m, mean);
	verdict(fabs(m - mean) <= bound1, what, fabs(m - mean), bound1);
	for (int64 i = 0; i < n; i++)
		v[i] = ((double) x[i] - mean) * ((double) x[i] - mean);
	m = median_of_means(v, n);
	snprintf(what, sizeof(what), "%s variance %.6g vs %.6g", name, m, var);
	verdict(fabs(m - var) <= bound2, what, fabs(m - var), bound2);
	free(v);
}

/*
 * An integer distribution given by its unnormalised log-pmf over [-L, L]:
 * bins of consecutive integers, each with expected count >= 100 where
 * possible, the two tails pooled into the outer bins; then the
 * distribution, moments and the tail mass P(|X| >= tail) are checked.
 * Five checks.
 */
typedef double (*LogPmf) (double x, const void *arg);

static void
check_integer_sampler(const char *name, const int64 *x, int64 n, LogPmf logpmf, const void *arg,
					  int64 L, int64 tail)
{
	int64		size = 2 * L + 1;
	double	   *pmf = malloc(sizeof(double) * size);
	double		z = 0,
				mean = 0,
				var = 0,
				m4 = 0,
				ptail = 0;
	int64		lo_edge[MAX_BINS];
	double		prob[MAX_BINS];
	int64		count[MAX_BINS];
	int			k = 0;
	int64		tail_hits = 0;
	char		what[200];

	for (int64 i = 0; i < size; i++)
		z += (pmf[i] = exp(logpmf((double) (i - L), arg)));
	for (int64 i = 0; i < size; i++)
	{
		double		v = (double) (i - L);

		pmf[i] /= z;
		mean += pmf[i] * v;
		if (llabs(i - L) >= tail)
			ptail += pmf[i];
	}
	for (int64 i = 0; i < size; i++)
	{
		double		d = (double) (i - L) - mean;

		var += pmf[i] * d * d;
		m4 += pmf[i] * d * d * d * d;
	}

	/* bins: walk from -L, closing a bin once it expects >= 100 rows */
	{
		double		acc = 0;
		int64		start = 0;

		for (int64 i = 0; i < size; i++)
		{
			acc += pmf[i];
			if (acc * n >= 100 && k < MAX_BINS - 1)
			{
				lo_edge[k] = start;
				prob[k++] = acc;
				acc = 0;
				start = i + 1;
			}
		}
		/* the rest joins the last bin */
		prob[k - 1] += acc;
	}
	memset(count, 0, sizeof(count));
	for (int64 r = 0; r < n; r++)
	{
		int64		i = x[r] + L;
		int			b = 0;

		if (llabs(x[r]) >= tail)
			tail_hits++;
		if (i < 0)
			i = 0;
		if (i >= size)
			i = size - 1;
		/* last bin whose lower edge is <= i */
		{
			int			lo = 0,
						hi = k - 1;

			while (lo < hi)
			{
				int			mid = (lo + hi + 1) / 2;

				if (lo_edge[mid] <= i)
					lo = mid;
				else
					hi = mid - 1;
			}
			b = lo;
		}
		count[b]++;
	}
	check_distribution(name, count, prob, k, n);
	check_moments(name, x, n, mean, var, sqrt(var), sqrt(m4 - var * var));
	snprintf(what, sizeof(what), "%s tail P(|X| >= " INT64_FORMAT ")", name, tail);
	check_frequency(what, tail_hits, n, ptail);
	free(pmf);
}

/* ---------------------------------------------------------------- the samplers */

typedef struct LaplaceArg
{
	double		scale;
} LaplaceArg;

static double
laplace_logpmf(double x, const void *arg)
{
	return -fabs(x) / ((const LaplaceArg *) arg)->scale;
}

typedef struct GaussArg
{
	double		sigma2;
} GaussArg;

static double
gauss_logpmf(double x, const void *arg)
{
	return -x * x / (2.0 * ((const GaussArg *) arg)->sigma2);
}

#define N_SAMPLES	1000000

static void
test_uniform(SynthNoise *noise)
{
	int64		count[7] = {0};
	double		prob[7];
	int64		top[3] = {0};
	double		ptop[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
	uint128		big = ((uint128) 3) << 100;

	for (int i = 0; i < N_SAMPLES; i++)
		count[(int) synth_noise_below(noise, 7)]++;
	for (int j = 0; j < 7; j++)
		prob[j] = 1.0 / 7;
	check_distribution("below(7)", count, prob, 7, N_SAMPLES);

	/* a bound of 102 bits: the top part must be uniform over {0, 1, 2} */
	for (int i = 0; i < N_SAMPLES; i++)
	{
		uint128		r = synth_noise_below(noise, big);

		if (r >= big)
		{
			printf("FAIL below(3 * 2^100) returned a value out of range\n");
			failures++;
			break;
		}
		top[(int) (r >> 100)]++;
	}
	check_distribution("below(3 * 2^100)", top, ptop, 3, N_SAMPLES);
}

static void
test_bernoulli(SynthNoise *noise)
{
	/* gamma = num / den, including integer parts and a 90-bit denominator */
	static const struct
	{
		uint64		num;
		uint64		den;
	}			gammas[] = {{0, 1}, {1, 3}, {1, 1}, {7, 2}, {10, 1}, {123456789, 100000000}};
	uint128		den90 = ((uint128) 1) << 90;
	int64		hits = 0;
	char		what[100];

	for (int g = 0; g < (int) lengthof(gammas); g++)
	{
		hits = 0;
		for (int i = 0; i < N_SAMPLES; i++)
			hits += synth_noise_bernoulli_exp(noise, gammas[g].num, gammas[g].den);
		snprintf(what, sizeof(what), "Bernoulli(exp(-" UINT64_FORMAT "/" UINT64_FORMAT "))",
				 gammas[g].num, gammas[g].den);
		check_frequency(what, hits, N_SAMPLES, exp(-(double) gammas[g].num / gammas[g].den));
	}

	/* Bernoulli(p) with p = (2^90 / 3) / 2^90 */
	hits = 0;
	for (int i = 0; i < N_SAMPLES; i++)
		hits += synth_noise_bernoulli(noise, den90 / 3, den90);
	check_frequency("Bernoulli((2^90/3) / 2^90)", hits, N_SAMPLES, 1.0 / 3);

	/* gamma = 2^90 / 3 / 2^89 = 2/3 with huge numbers */
	hits = 0;
	for (int i = 0; i < N_SAMPLES; i++)
		hits += synth_noise_bernoulli_exp(noise, den90 / 3, den90 / 2);
	check_frequency("Bernoulli(exp(-(2^90/3) / 2^89))", hits, N_SAMPLES,
					exp(-(double) (den90 / 3) / (double) (den90 / 2)));
}

static void
test_geometric(SynthNoise *noise)
{
	/* P(k) = (1 - e^-x) e^(-k x), x = 2/3 */
	int64	   *x = malloc(sizeof(int64) * N_SAMPLES);
	double		rate = 2.0 / 3.0;
	double		q = exp(-rate);
	double		mean = q / (1 - q);
	double		var = q / ((1 - q) * (1 - q));
	int64		count[13] = {0};
	double		prob[13];
	double		rest = 1.0;

	for (int i = 0; i < N_SAMPLES; i++)
	{
		x[i] = (int64) synth_noise_geometric_exp(noise, 2, 3);
		count[Min(x[i], 12)]++;
	}
	for (int j = 0; j < 12; j++)
	{
		prob[j] = (1 - q) * pow(q, j);
		rest -= prob[j];
	}
	prob[12] = rest;
	check_distribution("geometric(1 - exp(-2/3))", count, prob, 13, N_SAMPLES);

	/* moments: fourth central moment of a geometric from its cumulants */
	{
		double		k4 = q * (1 + 4 * q + q * q) / pow(1 - q, 4);
		double		m4 = k4 + 3 * var * var;

		check_moments("geometric(1 - exp(-2/3))", x, N_SAMPLES, mean, var, sqrt(var),
					  sqrt(m4 - var * var));
	}
	free(x);
}

static void
test_laplace(SynthNoise *noise)
{
	static const struct
	{
		uint64		s;
		uint64		t;
	}			params[] = {{1, 1}, {1, 5}, {3, 2}};
	int64	   *x = malloc(sizeof(int64) * N_SAMPLES);

	for (int p = 0; p < (int) lengthof(params); p++)
	{
		LaplaceArg	arg = {(double) params[p].t / params[p].s};
		char		name[100];

		for (int i = 0; i < N_SAMPLES; i++)
			x[i] = synth_noise_discrete_laplace(noise, params[p].s, params[p].t);
		snprintf(name, sizeof(name), "discrete Laplace(scale " UINT64_FORMAT "/" UINT64_FORMAT ")",
				 params[p].t, params[p].s);
		check_integer_sampler(name, x, N_SAMPLES, laplace_logpmf, &arg,
							  (int64) ceil(60 * arg.scale) + 10, (int64) ceil(3 * arg.scale));
	}
	free(x);
}

static void
test_gaussian(SynthNoise *noise)
{
	static const double sigma2s[] = {0.3, 1.0, 7.5, 1000.0, 1.0e7};
	int64	   *x = malloc(sizeof(int64) * N_SAMPLES);

	for (int p = 0; p < (int) lengthof(sigma2s); p++)
	{
		uint64		sn,
					sd;
		GaussArg	arg;
		char		name[100];

		synth_noise_rational_up(sigma2s[p], &sn, &sd);
		arg.sigma2 = (double) sn / (double) sd;
		for (int i = 0; i < N_SAMPLES; i++)
			x[i] = synth_noise_discrete_gaussian(noise, sn, sd);
		snprintf(name, sizeof(name), "discrete Gaussian(sigma^2 %g)", sigma2s[p]);
		check_integer_sampler(name, x, N_SAMPLES, gauss_logpmf, &arg,
							  (int64) ceil(12 * sqrt(arg.sigma2)) + 10,
							  (int64) ceil(2 * sqrt(arg.sigma2)));
	}
	free(x);
}

static void
test_exponential(SynthNoise *noise)
{
	/* epsilon 1/2, sensitivity 1: P(i) proportional to exp(scores[i] / 4) */
	static const int64 scores[] = {0, -3, -10, -1, 5, 5};
	int			m = lengthof(scores);
	int64		count[6] = {0};
	double		prob[6];
	double		z = 0;

	for (int i = 0; i < m; i++)
		z += (prob[i] = exp(scores[i] / 4.0));
	for (int i = 0; i < m; i++)
		prob[i] /= z;
	for (int i = 0; i < N_SAMPLES; i++)
		count[synth_noise_exponential(noise, scores, m, 1, 2, 1)]++;
	check_distribution("exponential mechanism", count, prob, m, N_SAMPLES);
}

/* Rounding to rationals goes the stated way and keeps 30 bits. */
static void
test_rationals(void)
{
	static const double xs[] = {1e-9, 0.3, 1.0, 7.5, 1234.5678, 2147483647.5, 1e12, 3e15};

	for (int i = 0; i < (int) lengthof(xs); i++)
	{
		uint64		n,
					d;
		long double up,
					down;

		synth_noise_rational_up(xs[i], &n, &d);
		up = (long double) n / d;
		synth_noise_rational_down(xs[i], &n, &d);
		down = (long double) n / d;
		if (up < xs[i] || down > xs[i] || (up - down) > xs[i] * ldexp(1.0, -30))
		{
			printf("FAIL rational of %g: [%.20Lg, %.20Lg]\n", xs[i], down, up);
			failures++;
		}
	}
}

int
main(void)
{
	SynthNoise	noise;
	int64		a[64],
				b[64];

	/* the chi-square quantiles against mpmath's (see the header) */
	if (fabs(chi2_threshold(2, 1e-8) - 36.8413614879) > 1e-6 ||
		fabs(chi2_threshold(10, 1e-8) - 57.6639616262) > 1e-6 ||
		fabs(chi2_threshold(100, 1e-8) - 200.631908737) > 1e-6)
	{
		printf("FAIL chi-square quantiles: %.10g %.10g %.10g\n", chi2_threshold(2, 1e-8),
			   chi2_threshold(10, 1e-8), chi2_threshold(100, 1e-8));
		failures++;
	}

	/* the same bytes give the same noise */
	stub_random_seed(7);
	synth_noise_init(&noise);
	for (int i = 0; i < 64; i++)
		a[i] = synth_noise_discrete_gaussian(&noise, 1000, 1);
	stub_random_seed(7);
	synth_noise_init(&noise);
	for (int i = 0; i < 64; i++)
		b[i] = synth_noise_discrete_gaussian(&noise, 1000, 1);
	if (memcmp(a, b, sizeof(a)) != 0)
	{
		printf("FAIL the same bytes gave different noise\n");
		failures++;
	}

	stub_random_seed(20261122);
	synth_noise_init(&noise);
	test_rationals();
	test_uniform(&noise);
	test_bernoulli(&noise);
	test_geometric(&noise);
	test_laplace(&noise);
	test_gaussian(&noise);
	test_exponential(&noise);

	if (checks >= MAX_CHECKS)
	{
		printf("FAIL %d statistical checks: the union bound needs fewer than %d\n", checks, MAX_CHECKS);
		failures++;
	}
	printf("privacy_test: %s (%d statistical checks at %g each, %d failures, " UINT64_FORMAT " random bytes)\n",
		   failures ? "FAIL" : "ok", checks, P_CHECK, failures, noise.bytes_used);
	return failures ? 1 : 0;
}
