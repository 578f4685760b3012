/*
 * dpsgd_test.c
 *	  Unit test of DP-SGD's secret stream (src/privacy_stream.c) and of the
 *	  accountant's pieces that DP-SGD adds (src/accountant.c):
 *
 *	  - ChaCha20's block function against RFC 8439's test vector (2.3.2);
 *	  - Bernoulli(q) draws at the rate it reports (at least q, within 2^-64),
 *	    and a frequency within 6 standard deviations of it;
 *	  - the Gaussian noise's mean, variance and two-sided 2-sigma tail
 *	    within 6 standard errors (each fails by chance with probability
 *	    below 1e-8);
 *	  - the order at which rho-zCDP converts best gives the epsilon of the
 *	    CKS conversion, and the noise multiplier calibrated at a fixed order
 *	    is the smallest that fits the budget there.
 *
 *	  The "secure" bytes come from pg_stubs.h's seeded stand-in, so the
 *	  verdict is the same on every run.
 */
#include "../../src/privacy_stream.c"
#include "../../src/accountant.c"

#include "pg_stubs.h"

#include <math.h>

static int	failures = 0;
static int	checks = 0;

static void
check(bool ok, const char *what, double got, double want)
{
	checks++;
	if (!ok)
	{
		printf("FAIL %s: got %.12g, want %.12g\n", what, got, want);
		failures++;
	}
}

static void
test_chacha20(void)
{
	static const uint32 expect[16] = {
		0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3,
		0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
		0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9,
		0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2};
	uint32		key[8];
	uint32		nonce[3] = {0x09000000, 0x4a000000, 0x00000000};
	uint32		out[16];
	int			wrong = 0;

	for (int i = 0; i < 8; i++)
		key[i] = (uint32) (4 * i) | ((uint32) (4 * i + 1) << 8) |
			((uint32) (4 * i + 2) << 16) | ((uint32) (4 * i + 3) << 24);
	synth_chacha20_block(key, 1, nonce, out);
	for (int i = 0; i < 16; i++)
		wrong += out[i] != expect[i];
	check(wrong == 0, "ChaCha20 block (RFC 8439 2.3.2): wrong words", wrong, 0);
}

static void
test_bernoulli(void)
{
	SynthSecureStream s;
	double		q = 0.1;
	double		rate;
	uint64		threshold = synth_secure_bernoulli_threshold(q, &rate);
	int64		n = 2000000,
				hits = 0;
	double		sd;

	synth_secure_init(&s);
	check(rate >= q && rate - q < 1e-15, "Bernoulli rate reported", rate, q);
	for (int64 i = 0; i < n; i++)
		hits += synth_secure_bernoulli(&s, threshold);
	sd = sqrt(rate * (1 - rate) / n);
	check(fabs((double) hits / n - rate) < 6 * sd, "Bernoulli(0.1) frequency", (double) hits / n, rate);
	threshold = synth_secure_bernoulli_threshold(1.0, &rate);
	check(rate == 1.0 && threshold == PG_UINT64_MAX, "Bernoulli(1) rate", rate, 1.0);
}

static void
test_gaussian(void)
{
	SynthSecureStream s;
	size_t		n = 1000000;
	float	   *x = malloc(sizeof(float) * n);
	double		std = 2.0,
				mean = 0,
				var = 0,
				tail = 0,
				p2 = 0.04550026389635842;

	synth_secure_init(&s);
	synth_secure_gaussian(&s, n, std, x);
	for (size_t i = 0; i < n; i++)
		mean += x[i];
	mean /= n;
	for (size_t i = 0; i < n; i++)
	{
		var += (x[i] - mean) * (x[i] - mean);
		tail += fabs(x[i]) > 2 * std;
	}
	var /= n - 1;
	tail /= n;
	check(fabs(mean) < 6 * std / sqrt(n), "Gaussian mean", mean, 0);
	check(fabs(var - std * std) < 6 * std * std * sqrt(2.0 / n), "Gaussian variance", var, std * std);
	check(fabs(tail - p2) < 6 * sqrt(p2 * (1 - p2) / n), "Gaussian 2-sigma tail", tail, p2);
	free(x);
}

static void
test_accounting(void)
{
	static const double cases[][2] = {{0.3, 1e-6}, {1, 1e-6}, {3, 1e-6}, {10, 1e-5}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		double		eps = cases[i][0],
					delta = cases[i][1];
		double		rho = synth_zcdp_rho(eps, delta);
		double		alpha = synth_zcdp_best_order(rho, delta);
		double		at = synth_rdp_to_epsilon(alpha, rho * alpha, delta);
		double		q = 0.0128;
		int64		steps = 1563;
		double		budget = 0.9 * rho * alpha;
		double		sigma = synth_dpsgd_calibrate_at(q, steps, alpha, budget);
		double		used = steps * synth_rdp_sampled_gaussian(q, sigma, alpha);
		double		less = steps * synth_rdp_sampled_gaussian(q, sigma * (1 - 1e-5), alpha);
		double		total = synth_rdp_to_epsilon(alpha, 0.1 * rho * alpha + used, delta);

		/* the best order reaches the CKS epsilon of rho (the same bound), and not more */
		check(at <= eps * (1 + 1e-9) && at >= eps * (1 - 1e-3), "epsilon of rho at the best order", at, eps);
		check(used <= budget, "calibrated at a fixed order: within the budget", used, budget);
		check(less > budget, "calibrated at a fixed order: the smallest sigma", less, budget);
		check(total <= eps * (1 + 1e-9), "marginals and DP-SGD together", total, eps);
	}
}

int
main(void)
{
	stub_random_seed(20261123);
	test_chacha20();
	test_bernoulli();
	test_gaussian();
	test_accounting();
	printf("dpsgd_test: %s (%d checks, %d failures)\n", failures ? "FAIL" : "ok", checks, failures);
	return failures ? 1 : 0;
}
