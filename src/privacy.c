/*-------------------------------------------------------------------------
 *
 * privacy.c
 *	  Exact noise for differential privacy: Bernoulli(exp(-gamma)), discrete
 *	  Laplace, discrete Gaussian and the exponential mechanism, on integers
 *	  and rationals, from cryptographically secure random bytes.
 *
 * The samplers are those of Canonne, Kamath and Steinke, "The Discrete
 * Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1-3.  Every
 * probability they use is a ratio of integers, and every random choice is a
 * uniform integer drawn by rejection from secure bytes, so the output
 * distribution is exactly the one the privacy proofs assume: no floating
 * point touches the noise (floating-point Laplace noise leaks through the
 * gaps between representable doubles, Mironov 2012).
 *
 * Rationals are held in 128-bit integers.  A caller's real parameter (a
 * variance, an epsilon) becomes a rational by synth_noise_rational_up/down,
 * rounding towards more privacy: variances up, epsilons down.
 *
 * Bytes come from pg_strong_random (OpenSSL or the kernel); the unit tests
 * link a deterministic stand-in.  The model's seeded generator (random.c) is
 * never used for noise.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "privacy.h"

#include <math.h>

/* Refill the buffer from the secure generator. */
static void
noise_refill(SynthNoise *noise)
{
	if (!pg_strong_random(noise->buf, SYNTH_NOISE_BUFFER))
		elog(ERROR, "synth: could not read secure random bytes for privacy noise");
	noise->pos = 0;
}

void
synth_noise_init(SynthNoise *noise)
{
	noise->pos = SYNTH_NOISE_BUFFER;
	noise->bytes_used = 0;
}

/* The next nbytes (at most 8) secure bytes as an unsigned integer. */
static uint64
noise_bytes(SynthNoise *noise, int nbytes)
{
	uint64		v = 0;

	for (int i = 0; i < nbytes; i++)
	{
		if (noise->pos >= SYNTH_NOISE_BUFFER)
			noise_refill(noise);
		v = (v << 8) | noise->buf[noise->pos++];
	}
	noise->bytes_used += nbytes;
	return v;
}

uint64
synth_noise_uint64(SynthNoise *noise)
{
	return noise_bytes(noise, 8);
}

/* Number of bits needed to write v (0 for 0). */
static int
bit_length(uint128 v)
{
	uint64		hi = (uint64) (v >> 64);
	uint64		lo = (uint64) v;

	if (hi != 0)
		return 128 - __builtin_clzll(hi);
	if (lo != 0)
		return 64 - __builtin_clzll(lo);
	return 0;
}

/*
 * A uniform integer in [0, bound), bound >= 1: draw just enough bits and
 * reject values >= bound (each try succeeds with probability > 1/2).
 */
uint128
synth_noise_below(SynthNoise *noise, uint128 bound)
{
	int			bits;
	int			hibits;

	Assert(bound >= 1);
	if (bound == 1)
		return 0;
	bits = bit_length(bound - 1);
	hibits = Max(bits - 64, 0);
	for (;;)
	{
		uint128		r;
		int			lobits = bits - hibits;

		r = noise_bytes(noise, (lobits + 7) / 8);
		if (lobits < 64)
			r &= (((uint64) 1) << lobits) - 1;
		if (hibits > 0)
		{
			uint128		h = noise_bytes(noise, (hibits + 7) / 8);

			h &= (((uint64) 1) << hibits) - 1;
			r |= h << 64;
		}
		if (r < bound)
			return r;
	}
}

/* Bernoulli(num / den), 0 <= num <= den, den >= 1. */
bool
synth_noise_bernoulli(SynthNoise *noise, uint128 num, uint128 den)
{
	Assert(den >= 1 && num <= den);
	return synth_noise_below(noise, den) < num;
}

/*
 * Bernoulli(exp(-gamma)) for gamma = num / den in [0, 1] (CKS Algorithm 1):
 * count K = 1, 2, ... while Bernoulli(gamma / K) succeeds; exp(-gamma) is
 * the probability that the count stops at an odd K.
 */
static bool
bernoulli_exp_unit(SynthNoise *noise, uint128 num, uint128 den)
{
	uint128		k = 1;

	for (;;)
	{
		/* den * k stays far below 2^128: P(K > 40) < 1 / 40! */
		if (k > 1 && den > ((~(uint128) 0) / k))
			elog(ERROR, "synth: Bernoulli(exp(-x)) sampler out of range");
		if (!synth_noise_bernoulli(noise, num, den * k))
			break;
		k++;
	}
	return (k & 1) == 1;
}

/*
 * Bernoulli(exp(-gamma)) for any rational gamma = num / den >= 0: one
 * Bernoulli(exp(-1)) per unit of gamma's integer part (stopping at the first
 * failure), then the fractional rest.
 */
bool
synth_noise_bernoulli_exp(SynthNoise *noise, uint128 num, uint128 den)
{
	Assert(den >= 1);
	while (num > den)
	{
		if (!bernoulli_exp_unit(noise, 1, 1))
			return false;
		num -= den;
	}
	return bernoulli_exp_unit(noise, num, den);
}

/*
 * A geometric variable with P(X = k) = (1 - e^-x) e^(-k x) for x = num / den
 * (the number of failures before the first success): the fast version of
 * CKS Algorithm 2.  U uniform in [0, den) accepted with probability
 * exp(-U / den), V counts Bernoulli(exp(-1)) successes; then U + den V is
 * geometric with parameter 1 / den, and dividing by num rescales it.
 */
uint64
synth_noise_geometric_exp(SynthNoise *noise, uint64 num, uint64 den)
{
	uint64		u;
	uint64		v = 0;
	uint128		value;

	Assert(num >= 1 && den >= 1);
	for (;;)
	{
		u = (uint64) synth_noise_below(noise, den);
		if (synth_noise_bernoulli_exp(noise, u, den))
			break;
	}
	while (bernoulli_exp_unit(noise, 1, 1))
		v++;
	value = (uint128) v * den + u;
	return (uint64) (value / num);
}

/*
 * Discrete Laplace with scale t / s: P(x) proportional to exp(-|x| s / t),
 * x an integer (CKS Algorithm 2).  A sign and a geometric magnitude; the
 * negative zero is rejected so that 0 is not counted twice.
 */
int64
synth_noise_discrete_laplace(SynthNoise *noise, uint64 s, uint64 t)
{
	for (;;)
	{
		bool		negative = synth_noise_bernoulli(noise, 1, 2);
		uint64		magnitude = synth_noise_geometric_exp(noise, s, t);

		if (negative && magnitude == 0)
			continue;
		if (magnitude > (uint64) PG_INT64_MAX)
			elog(ERROR, "synth: discrete Laplace sample out of range");
		return negative ? -(int64) magnitude : (int64) magnitude;
	}
}

/* floor(sqrt(sn / sd)), exactly: the largest a with a^2 sd <= sn. */
static uint64
floor_sqrt_ratio(uint64 sn, uint64 sd)
{
	uint64		lo = 0;
	uint64		hi = (uint64) 1 << 32;	/* hi^2 sd > sn since sn < 2^64 */

	while (lo + 1 < hi)
	{
		uint64		mid = lo + (hi - lo) / 2;

		if ((uint128) mid * mid * sd <= sn)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Discrete Gaussian with variance parameter sigma^2 = sn / sd: P(x)
 * proportional to exp(-x^2 / (2 sigma^2)), x an integer (CKS Algorithm 3).
 * A discrete Laplace candidate Y of scale t = floor(sigma) + 1 is accepted
 * with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)), which in
 * integers is exp(-(|Y| t sd - sn)^2 / (2 sn sd t^2)).
 *
 * sigma^2 must lie in [2^-20, 2^48] with sn below 2^32 or sd = 1, as
 * synth_noise_rational_up makes it; then 2 sn sd t^2 < 2^98 and
 * | |Y| t sd - sn | stays below 2^64 unless |Y| exceeds 2^13 t, an event of
 * probability below exp(-2^13): that event is reported as an error, which
 * changes no output that is returned.
 */
int64
synth_noise_discrete_gaussian(SynthNoise *noise, uint64 sn, uint64 sd)
{
	uint64		t;
	uint128		den;

	if (sd == 0 || sn == 0 ||
		(double) sn / (double) sd < SYNTH_NOISE_MIN_SIGMA2 * 0.999 ||
		(double) sn / (double) sd > SYNTH_NOISE_MAX_SIGMA2 * 1.001)
		elog(ERROR, "synth: discrete Gaussian variance " UINT64_FORMAT "/" UINT64_FORMAT " is out of range",
			 sn, sd);
	t = floor_sqrt_ratio(sn, sd) + 1;
	den = (uint128) 2 * sn * sd;
	if (den > ((~(uint128) 0) >> 2) / ((uint128) t * t))
		elog(ERROR, "synth: discrete Gaussian variance " UINT64_FORMAT "/" UINT64_FORMAT " is out of range",
			 sn, sd);
	den *= (uint128) t * t;

	for (;;)
	{
		int64		y = synth_noise_discrete_laplace(noise, 1, t);
		uint128		ay = (uint128) (y < 0 ? -(uint64) y : (uint64) y);
		uint128		scaled = ay * t * sd;
		uint128		diff = scaled > sn ? scaled - sn : sn - scaled;

		if (ay > ((uint128) 1 << 40) || diff >> 64 != 0)
			elog(ERROR, "synth: discrete Gaussian candidate out of range");
		if (synth_noise_bernoulli_exp(noise, diff * diff, den))
			return y;
	}
}

/*
 * A rational num / den >= x (up) or <= x (down) with den a power of two and
 * num in [2^31, 2^32) or den = 1: 31 bits of relative precision, the shape
 * synth_noise_discrete_gaussian wants.  x must lie in [2^-30, 2^62).
 */
static void
rational_round(double x, bool up, uint64 *num, uint64 *den)
{
	int			e;

	if (!(x > 0.0) || x >= 4.6e18 || x < ldexp(1.0, -30))
		elog(ERROR, "synth: cannot represent %g as a rational for the noise samplers", x);
	if (x >= ldexp(1.0, 31))
	{
		*num = (uint64) (up ? ceil(x) : floor(x));
		*den = 1;
		return;
	}
	(void) frexp(x, &e);		/* x = m 2^e, m in [0.5, 1) */
	*den = (uint64) 1 << (32 - e);
	*num = (uint64) (up ? ceil(ldexp(x, 32 - e)) : floor(ldexp(x, 32 - e)));
}

void
synth_noise_rational_up(double x, uint64 *num, uint64 *den)
{
	rational_round(x, true, num, den);
}

void
synth_noise_rational_down(double x, uint64 *num, uint64 *den)
{
	rational_round(x, false, num, den);
}

/*
 * The exponential mechanism, exactly: index i of m candidates with
 * probability proportional to exp(epsilon scores[i] / (2 sensitivity)),
 * epsilon = eps_num / eps_den.  Scores are integers (the caller scales real
 * scores to a grid) and sensitivity is in the same units.  Rejection: a
 * uniform candidate is accepted with probability
 * exp(-epsilon (best - scores[i]) / (2 sensitivity)), which is 1 for the best,
 * so a round succeeds with probability at least 1/m.
 */
int
synth_noise_exponential(SynthNoise *noise, const int64 *scores, int m,
						uint64 eps_num, uint64 eps_den, uint64 sensitivity)
{
	int64		best;
	uint128		den;

	Assert(m >= 1 && eps_den >= 1 && sensitivity >= 1);
	best = scores[0];
	for (int i = 1; i < m; i++)
		best = Max(best, scores[i]);
	den = (uint128) 2 * eps_den * sensitivity;
	for (;;)
	{
		int			i = (int) synth_noise_below(noise, (uint128) m);
		uint128		gap = (uint128) (uint64) (best - scores[i]);

		if (synth_noise_bernoulli_exp(noise, gap * eps_num, den))
			return i;
	}
}
