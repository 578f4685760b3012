/*
 * backend_test.c
 *	  Unit test of the CPU backend in single precision, built as in the
 *	  extension: the operations whose loops compute their own exp and log
 *	  (src/backend_cpu.c) or draw their random numbers in a vectorisable
 *	  order, against references computed here in double precision with
 *	  libm and the one-number-at-a-time draws of src/backend.h.
 *
 * Dropout masks must be exactly the reference's (the same uniforms against
 * the same p); everything else within a relative error stated per check.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifdef SYNTH_REAL_DOUBLE
#error "backend_test checks the single-precision backend: build it without SYNTH_REAL_DOUBLE"
#endif

#define ROWS		37
#define LD			61
#define MAX_N		(ROWS * LD)

static const SynthBackend *be;
static int	failures = 0;
static int	checks = 0;
static unsigned long long lcg = 20261123ULL;

static double
rand_uniform(double lo, double hi)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * ((double) (lcg >> 11) / 9007199254740992.0);
}

/* |got - want| <= tol (|want| + floor): one verdict per named check, the worst element */
static void
check_close(const char *what, const float *got, const double *want, int n, double tol,
			double floor)
{
	double		worst = 0;
	int			at = 0;

	checks++;
	for (int i = 0; i < n; i++)
	{
		double		err = fabs(got[i] - want[i]) / (fabs(want[i]) + floor);

		if (!(err <= worst))
		{
			worst = err;
			at = i;
		}
	}
	if (!(worst <= tol))
	{
		printf("FAIL %s: element %d is %.9g, want %.9g (relative error %.3g > %.3g)\n",
			   what, at, got[at], want[at], worst, tol);
		failures++;
	}
}

/* softmax((x + g) / tau) per row of cols, g the reference Gumbel noise when gumbel */
static void
test_softmax(int cols, float tau, bool gumbel)
{
	float		x[MAX_N],
				y[MAX_N];
	double		want[MAX_N];
	uint64_t	seed = 99,
				offset = 12345;
	char		what[80];

	for (int i = 0; i < MAX_N; i++)
	{
		x[i] = (float) rand_uniform(-4, 4);
		y[i] = 0;
		want[i] = 0;
	}
	be->softmax_forward(be, ROWS, cols, tau, gumbel, seed, offset, x, LD, y, LD);
	for (int r = 0; r < ROWS; r++)
	{
		double		v[LD],
					max = -INFINITY,
					sum = 0;

		for (int c = 0; c < cols; c++)
		{
			v[c] = x[r * LD + c];
			if (gumbel)
				v[c] += synth_random_gumbel(seed, offset + (uint64_t) r * cols + c);
			v[c] /= tau;
			max = fmax(max, v[c]);
		}
		for (int c = 0; c < cols; c++)
			sum += exp(v[c] - max);
		for (int c = 0; c < cols; c++)
			want[r * LD + c] = exp(v[c] - max) / sum;
	}
	snprintf(what, sizeof(what), "softmax of %d columns, tau %g%s", cols, tau,
			 gumbel ? ", gumbel" : "");
	/* tau 0.2 multiplies an error of the noise by 5 in the exponent */
	check_close(what, y, want, MAX_N, gumbel ? 1e-5 : 2e-6, 1e-30);
}

/* dropout's mask is exactly the reference's: keep where the uniform is >= p */
static void
test_dropout(float p, uint64_t offset)
{
	float		inp[MAX_N],
				mask[MAX_N],
				out[MAX_N];
	float		keep = (float) (1.0 / (1.0 - p));
	int			wrong = -1;

	for (int i = 0; i < MAX_N; i++)
		inp[i] = out[i] = (float) rand_uniform(-1, 1);
	/* in place, as the critic calls it */
	be->dropout_forward(be, MAX_N, p, 7, offset, out, mask, out);
	checks++;
	for (int i = 0; i < MAX_N && wrong < 0; i++)
	{
		float		want = synth_random_uniform(7, offset + i) >= p ? keep : 0;

		if (mask[i] != want || out[i] != inp[i] * want)
			wrong = i;
	}
	if (wrong >= 0)
	{
		printf("FAIL dropout p %g: element %d has mask %g, want %g\n", p, wrong, mask[wrong],
			   synth_random_uniform(7, offset + wrong) >= p ? keep : 0);
		failures++;
	}
}

/* fill_normal's pairs are synth_random_normal's numbers, from either parity of offset */
static void
test_normal(uint64_t offset, size_t n)
{
	float		x[MAX_N];
	double		want[MAX_N];
	char		what[80];

	be->fill_normal(be, n, 1.5f, 2.0f, 5, offset, x);
	for (size_t i = 0; i < n; i++)
		want[i] = 1.5 + 2.0 * synth_random_normal(5, offset + i);
	snprintf(what, sizeof(what), "fill_normal of %zu from offset %llu", n,
			 (unsigned long long) offset);
	check_close(what, x, want, (int) n, 1e-5, 1.0);

	/* number i is the same whichever call draws it (pairs cut by the ends included) */
	if (n > 7)
	{
		float		y[MAX_N];

		be->fill_normal(be, n - 7, 1.5f, 2.0f, 5, offset + 3, y);
		checks++;
		if (memcmp(x + 3, y, sizeof(float) * (n - 7)) != 0)
		{
			printf("FAIL fill_normal from offset %llu: not the numbers of offset %llu\n",
				   (unsigned long long) offset + 3, (unsigned long long) offset);
			failures++;
		}
	}
}

/* exp over the range where it is a normal float: z = exp(logvar / 2) through reparam_forward */
static void
test_exp(void)
{
	static float logvar[MAX_N],
				mu[MAX_N],
				eps[MAX_N],
				z[MAX_N];
	double		want[MAX_N];

	for (int i = 0; i < MAX_N; i++)
	{
		logvar[i] = (float) (-172.0 + 346.0 * i / (MAX_N - 1));	/* exp of -86 .. 87 */
		mu[i] = 0;
		eps[i] = 1;
		want[i] = exp(0.5 * (double) logvar[i]);
	}
	be->reparam_forward(be, MAX_N, mu, logvar, eps, z);
	check_close("exp over [-86, 87]", z, want, MAX_N, 3e-7, 0);
}

/* softmax cross-entropy and the KL term: losses and gradients */
static void
test_losses(void)
{
	float		z[MAX_N],
				t[MAX_N],
				dz[MAX_N],
				loss[ROWS],
				dmu[MAX_N],
				dlv[MAX_N];
	double		want_dz[MAX_N],
				want_loss[ROWS],
				want_dmu[MAX_N],
				want_dlv[MAX_N];
	int			cols = 23;
	float		scale = 0.37f;

	for (int i = 0; i < MAX_N; i++)
	{
		z[i] = (float) rand_uniform(-6, 6);
		t[i] = 0;
		dz[i] = 0.25f;
		want_dz[i] = 0.25;
	}
	for (int r = 0; r < ROWS; r++)
	{
		double		max = -INFINITY,
					sum = 0,
					logsum;

		if (r % 5 != 4)			/* some rows without a target: no loss */
			t[r * LD + r % cols] = 1;
		loss[r] = 1;
		want_loss[r] = 1;
		if (r % 5 == 4)
			continue;
		for (int c = 0; c < cols; c++)
			max = fmax(max, z[r * LD + c]);
		for (int c = 0; c < cols; c++)
			sum += exp(z[r * LD + c] - max);
		logsum = log(sum) + max;
		for (int c = 0; c < cols; c++)
			want_dz[r * LD + c] += scale * (exp(z[r * LD + c] - logsum) - t[r * LD + c]);
		want_loss[r] += scale * (logsum - z[r * LD + r % cols]);
	}
	be->softmax_xent(be, ROWS, cols, scale, z, LD, t, LD, dz, LD, loss);
	check_close("softmax_xent gradient", dz, want_dz, MAX_N, 1e-6, 0.1);
	check_close("softmax_xent loss", loss, want_loss, ROWS, 1e-6, 0);

	/* KL of N(mu, exp(lv)) from N(0, 1), contiguous (ROWS, LD) */
	for (int r = 0; r < ROWS; r++)
	{
		double		l = 0;

		for (int c = 0; c < LD; c++)
		{
			int			i = r * LD + c;

			z[i] = (float) rand_uniform(-2, 2);	/* mu */
			t[i] = (float) rand_uniform(-5, 3); /* logvar */
			dmu[i] = dlv[i] = 0.5f;
			want_dmu[i] = 0.5 + scale * z[i];
			want_dlv[i] = 0.5 + scale * 0.5 * (exp(t[i]) - 1);
			l += -0.5 * (1 + t[i] - (double) z[i] * z[i] - exp(t[i]));
		}
		loss[r] = 0;
		want_loss[r] = scale * l;
	}
	be->kl_normal(be, ROWS, LD, scale, z, t, dmu, dlv, loss);
	check_close("kl_normal dmu", dmu, want_dmu, MAX_N, 1e-6, 0.1);
	check_close("kl_normal dlogvar", dlv, want_dlv, MAX_N, 1e-6, 0.1);
	check_close("kl_normal loss", loss, want_loss, ROWS, 1e-6, 0);
}

/* activations' backward passes in place, as the networks call them */
static void
test_activation_in_place(SynthActivation f, float slope, const char *name)
{
	float		y[MAX_N],
				d[MAX_N];
	double		want[MAX_N];
	char		what[80];

	for (int i = 0; i < MAX_N; i++)
	{
		y[i] = (float) rand_uniform(-1, 1);
		if (f == SYNTH_ACT_RELU && y[i] < 0)
			y[i] = 0;
		d[i] = (float) rand_uniform(-1, 1);
		want[i] = f == SYNTH_ACT_TANH ? d[i] * (1 - (double) y[i] * y[i]) :
			y[i] > 0 ? d[i] : (f == SYNTH_ACT_RELU ? 0 : slope * d[i]);
	}
	be->act_backward(be, f, slope, ROWS, LD, y, LD, d, LD, d, LD);
	snprintf(what, sizeof(what), "%s backward in place", name);
	/* relu's are exact; tanh's 1 - y^2 is rounded in float */
	check_close(what, d, want, MAX_N, f == SYNTH_ACT_TANH ? 1e-5 : 0, 1e-3);
}

/* denormals read and computed as zero while switched off, and back after */
static void
test_denormals(void)
{
	volatile float tiny = 1e-30f;
	volatile float denormal = 1e-40f;
	unsigned int mode = synth_cpu_denormals_off();
	float		flushed = tiny * 1e-10f;
	float		read_as_zero = denormal * 2.0f;

	synth_cpu_denormals_restore(mode);
	checks++;
#if defined(__SSE2__)
	if (flushed != 0 || read_as_zero != 0 || tiny * 1e-10f == 0 || denormal * 2.0f == 0)
	{
		printf("FAIL denormals: off %g %g, restored %g %g\n", flushed, read_as_zero,
			   tiny * 1e-10f, denormal * 2.0f);
		failures++;
	}
#endif
}

int
main(void)
{
	be = synth_backend_cpu();

	for (int cols = 1; cols <= LD; cols += 6)
	{
		test_softmax(cols, 1.0f, false);
		test_softmax(cols, 0.2f, true);
	}
	test_softmax(2, 1.0f, true);
	test_dropout(0.5f, 0);
	test_dropout(0.1f, 1001);
	test_dropout(1.0f / 3, 77);
	test_normal(0, MAX_N);
	test_normal(1, MAX_N - 1);
	test_normal(2, 1);
	test_exp();
	test_losses();
	test_activation_in_place(SYNTH_ACT_RELU, 0, "relu");
	test_activation_in_place(SYNTH_ACT_LEAKY_RELU, 0.2f, "leaky relu");
	test_activation_in_place(SYNTH_ACT_TANH, 0, "tanh");
	test_denormals();

	printf("backend_test: %s (%d checks, %d failures)\n", failures ? "FAILED" : "ok", checks,
		   failures);
	return failures ? 1 : 0;
}
