/*
 * accountant_test.c
 *	  Unit test of src/accountant.c against reference values computed
 *	  independently by test/unit/accountant_reference.py (mpmath, 40 digits):
 *
 *	  - RDP of the sampled Gaussian by numerical integration of
 *	    E_{z ~ N(0, s^2)} [((1 - q) + q exp((2z - 1) / (2 s^2)))^alpha]
 *	    (the accountant uses the binomial and erfc series instead);
 *	  - DP-SGD epsilon with Balle et al.'s conversion minimised over real
 *	    orders by golden-section search (the accountant scans a grid, then
 *	    refines);
 *	  - the noise multiplier that reaches a target epsilon, by secant
 *	    iterations on sigma over that epsilon (the accountant bisects);
 *	  - zCDP to (epsilon, delta) (Canonne, Kamath, Steinke 2020, Corollary 13)
 *	    minimised over real orders by golden-section search (the accountant
 *	    bisects on the derivative), and its inverses by root finding;
 *	  - amplification by Poisson subsampling (Balle, Barthe, Gaboardi 2018):
 *	    the epsilon on a sample at rate p that amplifies to a given one, at
 *	    40 digits; here to 1e-9, and the round trip exact to 1e-9 and safe.
 *
 *	  Every value must agree to 1e-3 relative.  Conversions must also err on
 *	  the safe side where the reference is the exact optimum: the
 *	  accountant's epsilon and delta may not be below the reference's by
 *	  more than rounding (1e-9 relative), its rho not above it.
 */
#include "../../src/accountant.c"

#include "pg_stubs.h"

#include <math.h>

#define TOLERANCE		1e-3
#define SAFE_SLACK		1e-9

static int	failures = 0;
static int	checks = 0;

static void
check_close(const char *what, double got, double want)
{
	checks++;
	if (!(fabs(got - want) <= TOLERANCE * fabs(want)))
	{
		printf("FAIL %s: got %.12g want %.12g (relative error %.3g)\n", what, got, want,
			   fabs(got - want) / fabs(want));
		failures++;
	}
}

static void
check_not_below(const char *what, double got, double want)
{
	checks++;
	if (got < want * (1 - SAFE_SLACK))
	{
		printf("FAIL %s is on the unsafe side: got %.15g, the exact optimum is %.15g\n", what, got, want);
		failures++;
	}
}

/* {q, sigma, alpha, rdp}: one step's RDP, by numerical integration */
static const double rdp_reference[][4] = {
	{0.01, 1.0, 2, 0.00017181342207454794},
	{0.01, 1.0, 32, 11.246275937048069},
	{0.01, 1.1, 7.5, 0.00054025945258032215},
	{0.004, 1.1, 12.25, 0.00013989752344124882},
	{0.1, 2.0, 3.5, 0.005176257366098426},
	{0.1, 0.8, 20, 13.201226217902215},
	{0.5, 4.0, 1.5, 0.011902091926305566},
	{0.02, 0.7, 64, 61.33200384029069},
	{0.001, 0.6, 1.25, 9.0105487328114466e-6},
	{1.0, 1.3, 5.5, 1.6272189349112425},
	/* fractional orders where the series' cancellation is worst (checked separately) */
	{0.01, 1.0, 20.5, 5.4086675940546861},
	{0.01, 1.0, 64.5, 27.572307448878238},
	{0.1, 0.8, 20.5, 13.594958620186299},
	{0.1, 0.8, 2.5, 0.058087571083751345},
};

/* {q, sigma, steps, delta, epsilon}: DP-SGD's epsilon at the best real order */
static const double dpsgd_reference[][5] = {
	{256.0 / 60000, 1.1, 14040, 1e-05, 2.594342392051593},	/* MNIST, 60 epochs of batch 256 */
	{0.01, 1.0, 1000, 1e-05, 2.1013221312346264},
	{0.001, 0.8, 10000, 1e-06, 1.703625277718391},
	{0.05, 2.0, 500, 1e-05, 2.7685760952021052},
	{0.02, 5.0, 100, 1e-06, 0.17184987884527597},
};

/* {rho, epsilon, delta}: zCDP to (epsilon, delta) */
static const double zcdp_delta_reference[][3] = {
	{0.025, 1.0, 1.3361319064032233e-6},
	{0.1, 2.0, 4.3252108690925609e-6},
	{0.5, 5.0, 2.896122809384795e-6},
	{0.01, 0.5, 3.5058780600523915e-5},
	{1.0, 6.0, 0.0002315377085060476},
};

/* {rho, delta, epsilon} */
static const double zcdp_epsilon_reference[][3] = {
	{0.025, 1e-06, 1.014074254726128},
	{0.1, 1e-05, 1.9142388320035978},
	{0.005, 1e-09, 0.56489328430203606},
	{2.0, 1e-06, 11.688596249354894},
};

/* {epsilon, delta, rho} */
static const double zcdp_rho_reference[][3] = {
	{1.0, 1e-06, 0.024355970359538373},
	{0.3, 1e-06, 0.0025396425230235613},
	{3.0, 1e-05, 0.22424916824634534},
	{10.0, 1e-09, 1.0907857043970156},
};

/* {q, steps, delta, epsilon, sigma}: the noise multiplier whose epsilon is the target */
/* {epsilon, p, epsilon_inner}: log(1 + (e^epsilon - 1) / p), mpmath */
static const double subsample_reference[][3] = {
	{1.0, 0.5, 1.48988012564475},
	{0.99, 0.01, 5.1365243337289555},
	{0.3, 0.001, 5.8603838849203421},
	{3.0, 0.2, 4.5687933451994734},
	{10.0, 0.05, 12.995689142690594},
};

static const double calibration_cases[][5] = {
	{0.01, 1000, 1e-5, 1.0, 1.513057072836527},
	{256.0 / 60000, 14040, 1e-5, 3.0, 1.0135277095417624},
	{0.002, 5000, 1e-6, 0.5, 1.5415634336836036},
};

int
main(void)
{
	char		what[200];

	for (int i = 0; i < (int) lengthof(rdp_reference); i++)
	{
		const double *r = rdp_reference[i];

		snprintf(what, sizeof(what), "RDP(q %g, sigma %g, alpha %g)", r[0], r[1], r[2]);
		check_close(what, synth_rdp_sampled_gaussian(r[0], r[1], r[2]), r[3]);
	}
	/* RDP does not decrease with the order */
	for (double a = 1.1; a < 200; a *= 1.1)
	{
		checks++;
		if (synth_rdp_sampled_gaussian(0.01, 1.0, a * 1.1) < synth_rdp_sampled_gaussian(0.01, 1.0, a))
		{
			printf("FAIL RDP decreases between orders %g and %g\n", a, a * 1.1);
			failures++;
		}
	}

	for (int i = 0; i < (int) lengthof(dpsgd_reference); i++)
	{
		const double *r = dpsgd_reference[i];
		double		alpha;
		double		eps = synth_dpsgd_epsilon(r[0], r[1], (int64) r[2], r[3], &alpha);

		snprintf(what, sizeof(what), "DP-SGD epsilon(q %g, sigma %g, %g steps, delta %g)", r[0], r[1], r[2], r[3]);
		check_close(what, eps, r[4]);
		check_not_below(what, eps, r[4]);
	}

	/*
	 * Calibration: the sigma found agrees with the reference, reaches the
	 * target, and 0.1 % less noise would not.
	 */
	for (int i = 0; i < (int) lengthof(calibration_cases); i++)
	{
		const double *r = calibration_cases[i];
		double		sigma = synth_dpsgd_calibrate(r[0], (int64) r[1], r[3], r[2]);

		snprintf(what, sizeof(what), "calibrated sigma %g (q %g, %g steps, delta %g, epsilon %g)",
				 sigma, r[0], r[1], r[2], r[3]);
		check_close(what, sigma, r[4]);
		checks++;
		if (synth_dpsgd_epsilon(r[0], sigma, (int64) r[1], r[2], NULL) > r[3] ||
			synth_dpsgd_epsilon(r[0], sigma * (1 - TOLERANCE), (int64) r[1], r[2], NULL) <= r[3])
		{
			printf("FAIL %s: not the smallest sigma that reaches the target\n", what);
			failures++;
		}
	}

	for (int i = 0; i < (int) lengthof(zcdp_delta_reference); i++)
	{
		const double *r = zcdp_delta_reference[i];
		double		delta = synth_zcdp_delta(r[0], r[1]);

		snprintf(what, sizeof(what), "zCDP delta(rho %g, epsilon %g)", r[0], r[1]);
		check_close(what, delta, r[2]);
		check_not_below(what, delta, r[2]);
	}
	for (int i = 0; i < (int) lengthof(zcdp_epsilon_reference); i++)
	{
		const double *r = zcdp_epsilon_reference[i];
		double		eps = synth_zcdp_epsilon(r[0], r[1]);

		snprintf(what, sizeof(what), "zCDP epsilon(rho %g, delta %g)", r[0], r[1]);
		check_close(what, eps, r[2]);
		check_not_below(what, eps, r[2]);
	}
	for (int i = 0; i < (int) lengthof(zcdp_rho_reference); i++)
	{
		const double *r = zcdp_rho_reference[i];
		double		rho = synth_zcdp_rho(r[0], r[1]);

		snprintf(what, sizeof(what), "zCDP rho(epsilon %g, delta %g)", r[0], r[1]);
		check_close(what, rho, r[2]);
		/* rho errs downwards: the reference may not be below it */
		check_not_below(what, r[2], rho);
	}
	/* a Gaussian of variance 1/(2 rho) on a sensitivity-1 count is rho-zCDP */
	check_close("Gaussian rho", synth_gaussian_rho(1.0, 1.0 / (2 * 0.3)), 0.3);
	check_close("exponential mechanism rho", synth_exponential_rho(0.4), 0.02);

	/*
	 * Subsampling: the inner (epsilon, delta) agree with the reference, and
	 * amplified back give the outer ones to 1e-9, never above them.
	 */
	for (int i = 0; i < (int) lengthof(subsample_reference); i++)
	{
		const double *r = subsample_reference[i];
		double		eps_in,
					delta_in,
					eps_back;

		synth_subsample_inner(r[0], 1e-6, r[1], &eps_in, &delta_in);
		eps_back = synth_subsample_epsilon(eps_in, r[1]);
		snprintf(what, sizeof(what), "subsampling(epsilon %g, p %g)", r[0], r[1]);
		checks++;
		if (!(fabs(eps_in - r[2]) <= 1e-9 * r[2]) || !(fabs(eps_back - r[0]) <= 1e-9 * r[0]) ||
			eps_back > r[0] || !(fabs(delta_in * r[1] - 1e-6) <= 1e-9 * 1e-6) || delta_in * r[1] > 1e-6)
		{
			printf("FAIL %s: inner epsilon %.17g (want %.17g), back %.17g, delta back %.17g\n",
				   what, eps_in, r[2], eps_back, delta_in * r[1]);
			failures++;
		}
	}
	/* p = 1 changes nothing; a smaller p allows a larger inner epsilon */
	check_close("subsampling at p 1", synth_subsample_epsilon(0.7, 1.0), 0.7);
	checks++;
	if (!(synth_subsample_epsilon(2.0, 0.1) < synth_subsample_epsilon(2.0, 0.2)))
	{
		printf("FAIL amplification does not grow with the rate\n");
		failures++;
	}

	printf("accountant_test: %s (%d checks, %d failures)\n", failures ? "FAIL" : "ok", checks, failures);
	return failures ? 1 : 0;
}
