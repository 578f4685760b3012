/*
 * random_test.c
 *	  Unit test of src/random.c: the normal CDF and its inverse against known
 *	  values, and the seeded generator's determinism and moments.
 */
#include "../../src/random.c"

#include <stdio.h>

/* postgres.h maps printf to the server's pg_printf, absent here */
#undef printf

static int	failures = 0;

static void
check(int ok, const char *what, double got, double want)
{
	if (!ok)
	{
		printf("FAIL %s: got %.15g want %.15g\n", what, got, want);
		failures++;
	}
}

int
main(void)
{
	/* reference quantiles of the standard normal */
	static const double p[] = {0.5, 0.975, 0.841344746068543, 1e-10, 0.999999};
	static const double q[] = {0.0, 1.959963984540054, 1.0, -6.361340902404056, 4.753424308822899};
	SynthRng	a,
				b;
	double		sum = 0,
				sumsq = 0;
	int			n = 1000000;

	for (int i = 0; i < 5; i++)
		check(fabs(synth_norm_quantile(p[i]) - q[i]) < 1e-9 * (1 + fabs(q[i])),
			  "quantile", synth_norm_quantile(p[i]), q[i]);
	/* above 5, 1 - cdf(x) is below double precision's resolution near 1 */
	for (double x = -8; x <= 5; x += 0.01)
		check(fabs(synth_norm_quantile(synth_norm_cdf(x)) - x) < 1e-7,
			  "quantile(cdf(x))", synth_norm_quantile(synth_norm_cdf(x)), x);
	check(fabs(synth_norm_cdf(1.959963984540054) - 0.975) < 1e-15, "cdf", synth_norm_cdf(1.96), 0.975);

	synth_rng_seed(&a, 42);
	synth_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		check(synth_rng_next(&a) == synth_rng_next(&b), "same seed", 0, 0);
	synth_rng_seed(&b, 43);
	check(synth_rng_next(&a) != synth_rng_next(&b), "other seed", 0, 0);

	for (int i = 0; i < n; i++)
	{
		double		u = synth_rng_uniform(&a);
		double		z = synth_rng_normal(&a);

		check(u > 0 && u < 1, "uniform in (0,1)", u, 0.5);
		check(synth_rng_below(&a, 7) < 7, "below", 0, 7);
		sum += z;
		sumsq += z * z;
	}
	/* mean within 5 standard errors, variance within 1 % */
	check(fabs(sum / n) < 5.0 / sqrt(n), "normal mean", sum / n, 0);
	check(fabs(sumsq / n - 1.0) < 0.01, "normal variance", sumsq / n, 1);

	printf("random_test: %s (%d failures)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
