/*-------------------------------------------------------------------------
 *
 * random.c
 *	  The model's pseudo-random numbers and the normal distribution.
 *
 * Sampling from a model uses xoshiro256** seeded through splitmix64, so the
 * same seed gives the same rows on every platform.  This generator is for
 * sampling only: it is not a source of noise for differential privacy.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"

#include <math.h>

static inline uint64
rotl(uint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64
splitmix64(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

void
synth_rng_seed(SynthRng *rng, uint64 seed)
{
	uint64		state = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&state);
}

uint64
synth_rng_next(SynthRng *rng)
{
	uint64	   *s = rng->s;
	uint64		result = rotl(s[1] * 5, 7) * 9;
	uint64		t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in the open interval (0, 1): never 0, never 1. */
double
synth_rng_uniform(SynthRng *rng)
{
	return ((double) (synth_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, bound), without modulo bias (Lemire's method). */
uint64
synth_rng_below(SynthRng *rng, uint64 bound)
{
	uint64		threshold;

	if (bound <= 1)
		return 0;
	threshold = (-bound) % bound;
	for (;;)
	{
		uint64		r = synth_rng_next(rng);

		if (r >= threshold)
			return r % bound;
	}
}

/* Standard normal by the Marsaglia polar method. */
double
synth_rng_normal(SynthRng *rng)
{
	double		u,
				v,
				s;

	do
	{
		u = 2.0 * synth_rng_uniform(rng) - 1.0;
		v = 2.0 * synth_rng_uniform(rng) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	return u * sqrt(-2.0 * log(s) / s);
}

double
synth_norm_cdf(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

/*
 * Inverse of the standard normal CDF: a rational approximation (relative
 * error about 1e-9), refined by one Halley step against erfc.
 */
double
synth_norm_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02,
	-3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01,
	-1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00,
	4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
	2.445134137142996e+00, 3.754408661907416e+00};
	const double plow = 0.02425;
	double		q,
				r,
				x,
				e,
				u;

	if (p <= 0.0)
		return -HUGE_VAL;
	if (p >= 1.0)
		return HUGE_VAL;

	if (p < plow)
	{
		q = sqrt(-2.0 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}
	else if (p <= 1.0 - plow)
	{
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
	}
	else
	{
		q = sqrt(-2.0 * log(1.0 - p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}

	e = synth_norm_cdf(x) - p;
	u = e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
	return x - u / (1.0 + x * u / 2.0);
}
