/*
 * nn_test.c
 *	  Unit test of the training engine (src/nn.c) on the CPU backend: every
 *	  layer's and loss piece's backward pass against central finite
 *	  differences, and the gradient of the critic's gradient penalty (the
 *	  gradient of a gradient norm) likewise.
 *
 * Built with -DSYNTH_REAL_DOUBLE (see Makefile), so that finite differences
 * are exact to about 1e-8; a gradient passes when its relative error
 * |analytic - numeric| / max(|analytic| + |numeric|, 1e-3) is below 1e-5.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn_dpsgd.h"

#ifndef SYNTH_REAL_DOUBLE
#error "nn_test checks gradients by finite differences: build it with -DSYNTH_REAL_DOUBLE"
#endif

#define FD_STEP			1e-5
#define FD_TOLERANCE	1e-5
#define FD_FLOOR		1e-3
#define FD_MAX_CHECKS	60		/* elements checked per tensor, spread over it */

static const SynthBackend *be;
static int	failures = 0;
static int	checks = 0;
static unsigned long long lcg = 20250101ULL;

static double
rand_uniform(double lo, double hi)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * ((double) (lcg >> 11) / 9007199254740992.0);
}

static SynthReal *
alloc_random(size_t n, double lo, double hi)
{
	SynthReal  *x = malloc(sizeof(SynthReal) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		x[i] = rand_uniform(lo, hi);
	return x;
}

static SynthReal *
alloc_zero(size_t n)
{
	return calloc(n ? n : 1, sizeof(SynthReal));
}

/* A scalar function of the current values, the thing differentiated. */
typedef double (*LossFunc) (void *ctx);

/*
 * Compare analytic gradient grad (n) of loss with respect to x (n) with
 * central differences, on up to FD_MAX_CHECKS elements.
 */
static void
check_gradient(const char *what, LossFunc loss, void *ctx, SynthReal *x,
			   const SynthReal *grad, size_t n)
{
	size_t		stride = n > FD_MAX_CHECKS ? n / FD_MAX_CHECKS : 1;
	double		worst = 0.0;
	size_t		worst_at = 0;

	for (size_t i = 0; i < n; i += stride)
	{
		SynthReal	saved = x[i];
		double		up,
					down,
					numeric,
					err;

		x[i] = saved + FD_STEP;
		up = loss(ctx);
		x[i] = saved - FD_STEP;
		down = loss(ctx);
		x[i] = saved;
		numeric = (up - down) / (2 * FD_STEP);
		err = fabs(grad[i] - numeric) / fmax(fabs(grad[i]) + fabs(numeric), FD_FLOOR);
		if (err > worst)
		{
			worst = err;
			worst_at = i;
		}
	}
	checks++;
	if (!(worst <= FD_TOLERANCE))
	{
		printf("FAIL %s: relative error %.3g at element %zu (analytic %.10g)\n",
			   what, worst, worst_at, grad[worst_at]);
		failures++;
	}
}

/* sum_i w_i y_i: a loss with dL/dy = w */
static double
weighted_sum(const SynthReal *y, const SynthReal *w, int rows, int cols, int ld)
{
	double		s = 0.0;

	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++)
			s += (double) y[(size_t) r * ld + c] * w[(size_t) r * cols + c];
	return s;
}

/* ---------------------------------------------------------------- linear */

typedef struct LinearCase
{
	NnParams	p;
	NnLinear	l;
	int			B,
				ldi,
				ldo;
	SynthReal  *inp,
			   *out,
			   *w;
} LinearCase;

static double
linear_loss(void *arg)
{
	LinearCase *t = arg;

	nn_linear_forward(be, &t->p, &t->l, t->B, t->inp, t->ldi, t->out, t->ldo);
	return weighted_sum(t->out, t->w, t->B, t->l.out, t->ldo);
}

static void
test_linear(void)
{
	LinearCase	t;
	NnRng		rng = {1, 0};
	SynthReal  *dinp,
			   *dout;

	memset(&t, 0, sizeof(t));
	t.B = 7;
	t.ldi = 13 + 2;				/* strided input and output */
	t.ldo = 5 + 3;
	nn_linear_declare(&t.p, &t.l, 13, 5);
	nn_params_finish(&t.p);
	nn_params_bind(&t.p, alloc_zero(t.p.count), alloc_zero(t.p.count), NULL, NULL);
	nn_params_init(be, &t.p, &rng);
	t.inp = alloc_random((size_t) t.B * t.ldi, -1, 1);
	t.out = alloc_zero((size_t) t.B * t.ldo);
	t.w = alloc_random((size_t) t.B * 5, -1, 1);
	dout = alloc_zero((size_t) t.B * t.ldo);
	for (int r = 0; r < t.B; r++)
		memcpy(dout + (size_t) r * t.ldo, t.w + (size_t) r * 5, 5 * sizeof(SynthReal));
	dinp = alloc_zero((size_t) t.B * t.ldi);	/* padding stays 0, as its gradient is */

	nn_linear_backward(be, &t.p, &t.l, t.B, t.inp, t.ldi, dout, t.ldo, true, dinp, t.ldi, 0);
	check_gradient("linear dinp", linear_loss, &t, t.inp, dinp, (size_t) t.B * t.ldi - 2);
	check_gradient("linear dW", linear_loss, &t, nn_value(&t.p, t.l.w),
				   nn_grad(&t.p, t.l.w), (size_t) 13 * 5);
	check_gradient("linear db", linear_loss, &t, nn_value(&t.p, t.l.b),
				   nn_grad(&t.p, t.l.b), 5);

	/* dinp_beta = 1 adds to what is there */
	{
		SynthReal  *acc = alloc_random((size_t) t.B * t.ldi, -1, 1);
		SynthReal  *expect = malloc(sizeof(SynthReal) * t.B * t.ldi);
		double		worst = 0;

		for (int i = 0; i < t.B * t.ldi; i++)
			expect[i] = acc[i] + dinp[i];
		nn_linear_backward(be, &t.p, &t.l, t.B, t.inp, t.ldi, dout, t.ldo, false, acc, t.ldi, 1);
		for (int r = 0; r < t.B; r++)
			for (int c = 0; c < 13; c++)
				worst = fmax(worst, fabs(acc[r * t.ldi + c] - expect[r * t.ldi + c]));
		checks++;
		if (worst > 1e-12)
		{
			printf("FAIL linear dinp_beta: differs by %g\n", worst);
			failures++;
		}
		free(acc);
		free(expect);
	}
}

/* ---------------------------------------------------------------- activations */

typedef struct ActCase
{
	SynthActivation f;
	SynthReal	slope;
	int			B,
				C,
				ldi,
				ldo;
	SynthReal  *inp,
			   *out,
			   *w;
} ActCase;

static double
act_loss(void *arg)
{
	ActCase    *t = arg;

	be->act_forward(be, t->f, t->slope, t->B, t->C, t->inp, t->ldi, t->out, t->ldo);
	return weighted_sum(t->out, t->w, t->B, t->C, t->ldo);
}

static void
test_activation(SynthActivation f, SynthReal slope, const char *name)
{
	ActCase		t = {f, slope, 6, 9, 11, 10, NULL, NULL, NULL};
	SynthReal  *dout = alloc_zero((size_t) t.B * t.ldo);
	SynthReal  *dinp = alloc_zero((size_t) t.B * t.ldi);

	t.inp = alloc_random((size_t) t.B * t.ldi, -2, 2);
	/* keep inputs away from the kink at 0, where the derivative jumps */
	for (int i = 0; i < t.B * t.ldi; i++)
		if (fabs(t.inp[i]) < 0.01)
			t.inp[i] = 0.5;
	t.out = alloc_zero((size_t) t.B * t.ldo);
	t.w = alloc_random((size_t) t.B * t.C, -1, 1);
	for (int r = 0; r < t.B; r++)
		memcpy(dout + (size_t) r * t.ldo, t.w + (size_t) r * t.C, t.C * sizeof(SynthReal));
	act_loss(&t);
	be->act_backward(be, f, slope, t.B, t.C, t.out, t.ldo, dout, t.ldo, dinp, t.ldi);
	check_gradient(name, act_loss, &t, t.inp, dinp, (size_t) t.B * t.ldi - 2);
}

/* ---------------------------------------------------------------- batch norm */

typedef struct BatchNormCase
{
	NnParams	p;
	NnBatchNorm l;
	NnBatchNormSaved saved;
	int			B;
	SynthReal  *inp,
			   *out,
			   *w;
} BatchNormCase;

static double
batchnorm_loss(void *arg)
{
	BatchNormCase *t = arg;

	nn_batchnorm_forward(be, &t->p, &t->l, t->B, true, t->inp, &t->saved, t->out);
	return weighted_sum(t->out, t->w, t->B, t->l.dim, t->l.dim);
}

static void
test_batchnorm(void)
{
	BatchNormCase t;
	NnRng		rng = {2, 0};
	SynthReal  *dinp;
	int			C = 6;

	memset(&t, 0, sizeof(t));
	t.B = 9;
	nn_batchnorm_declare(&t.p, &t.l, C);
	nn_params_finish(&t.p);
	nn_params_bind(&t.p, alloc_zero(t.p.count + t.p.state_count), alloc_zero(t.p.count),
				   NULL, NULL);
	nn_params_init(be, &t.p, &rng);
	/* gamma and beta other than 1 and 0 */
	for (int c = 0; c < C; c++)
	{
		nn_value(&t.p, t.l.gamma)[c] = rand_uniform(0.5, 1.5);
		nn_value(&t.p, t.l.beta)[c] = rand_uniform(-0.5, 0.5);
	}
	t.saved.mean = alloc_zero(C);
	t.saved.rstd = alloc_zero(C);
	t.inp = alloc_random((size_t) t.B * C, -2, 2);
	t.out = alloc_zero((size_t) t.B * C);
	t.w = alloc_random((size_t) t.B * C, -1, 1);
	dinp = alloc_zero((size_t) t.B * C);
	batchnorm_loss(&t);
	nn_batchnorm_backward(be, &t.p, &t.l, t.B, t.inp, &t.saved, t.w, dinp);
	check_gradient("batchnorm dinp", batchnorm_loss, &t, t.inp, dinp, (size_t) t.B * C);
	check_gradient("batchnorm dgamma", batchnorm_loss, &t, nn_value(&t.p, t.l.gamma),
				   nn_grad(&t.p, t.l.gamma), C);
	check_gradient("batchnorm dbeta", batchnorm_loss, &t, nn_value(&t.p, t.l.beta),
				   nn_grad(&t.p, t.l.beta), C);

	/* one training pass moves the running statistics by momentum 0.1 */
	{
		SynthReal  *rm = nn_value(&t.p, t.l.running_mean);
		SynthReal  *rv = nn_value(&t.p, t.l.running_var);
		double		mean = 0.0,
					ss = 0.0,
					expect;

		for (int c = 0; c < C; c++)
		{
			rm[c] = 0;
			rv[c] = 1;
		}
		batchnorm_loss(&t);
		for (int r = 0; r < t.B; r++)
			mean += t.inp[r * C] / t.B;
		for (int r = 0; r < t.B; r++)
			ss += (t.inp[r * C] - mean) * (t.inp[r * C] - mean);
		checks++;
		if (fabs(rm[0] - 0.1 * mean) > 1e-12 || fabs(rv[0] - (0.9 + 0.1 * ss / (t.B - 1))) > 1e-12)
		{
			printf("FAIL batchnorm running statistics: %g %g\n", rm[0], rv[0]);
			failures++;
		}
		/* inference normalises with them */
		nn_batchnorm_forward(be, &t.p, &t.l, t.B, false, t.inp, NULL, t.out);
		expect = nn_value(&t.p, t.l.gamma)[0] * (t.inp[0] - rm[0]) / sqrt(rv[0] + 1e-5) +
			nn_value(&t.p, t.l.beta)[0];
		checks++;
		if (fabs(t.out[0] - expect) > 1e-12)
		{
			printf("FAIL batchnorm inference: %g, expected %g\n", t.out[0], expect);
			failures++;
		}
	}
}

/* ---------------------------------------------------------------- dropout */

typedef struct DropoutCase
{
	size_t		n;
	SynthReal  *inp,
			   *out,
			   *mask,
			   *w;
} DropoutCase;

static double
dropout_loss(void *arg)
{
	DropoutCase *t = arg;
	NnRng		rng = {3, 100};	/* the same mask every time */

	nn_dropout_forward(be, t->n, 0.5, &rng, t->inp, t->mask, t->out);
	return weighted_sum(t->out, t->w, 1, (int) t->n, (int) t->n);
}

static void
test_dropout(void)
{
	DropoutCase t;
	SynthReal  *dinp;
	int			zeros = 0;

	t.n = 400;
	t.inp = alloc_random(t.n, -1, 1);
	t.out = alloc_zero(t.n);
	t.mask = alloc_zero(t.n);
	t.w = alloc_random(t.n, -1, 1);
	dinp = alloc_zero(t.n);
	dropout_loss(&t);
	nn_dropout_backward(be, t.n, t.mask, t.w, dinp);
	check_gradient("dropout", dropout_loss, &t, t.inp, dinp, t.n);
	for (size_t i = 0; i < t.n; i++)
		zeros += t.mask[i] == 0;
	checks++;
	if (zeros < 150 || zeros > 250)
	{
		printf("FAIL dropout: %d of 400 dropped, expected about 200\n", zeros);
		failures++;
	}
}

/* ---------------------------------------------------------------- softmax */

typedef struct SoftmaxCase
{
	int			B,
				C,
				ldi,
				ldo;
	SynthReal	tau;
	bool		gumbel;
	SynthReal  *inp,
			   *out,
			   *w;
} SoftmaxCase;

static double
softmax_loss(void *arg)
{
	SoftmaxCase *t = arg;
	NnRng		rng = {4, 7};

	nn_softmax_forward(be, t->B, t->C, t->tau, t->gumbel ? &rng : NULL,
					   t->inp, t->ldi, t->out, t->ldo);
	return weighted_sum(t->out, t->w, t->B, t->C, t->ldo);
}

static void
test_softmax(bool gumbel, SynthReal tau, const char *name)
{
	SoftmaxCase t = {5, 7, 9, 8, tau, gumbel, NULL, NULL, NULL};
	SynthReal  *dout = alloc_zero((size_t) t.B * t.ldo);
	SynthReal  *dinp = alloc_zero((size_t) t.B * t.ldi);

	t.inp = alloc_random((size_t) t.B * t.ldi, -1, 1);
	t.out = alloc_zero((size_t) t.B * t.ldo);
	t.w = alloc_random((size_t) t.B * t.C, -1, 1);
	for (int r = 0; r < t.B; r++)
		memcpy(dout + (size_t) r * t.ldo, t.w + (size_t) r * t.C, t.C * sizeof(SynthReal));
	softmax_loss(&t);
	nn_softmax_backward(be, t.B, t.C, t.tau, t.out, t.ldo, dout, t.ldo, dinp, t.ldi);
	check_gradient(name, softmax_loss, &t, t.inp, dinp, (size_t) t.B * t.ldi - 2);
}

/* ---------------------------------------------------------------- loss pieces */

typedef struct LossCase
{
	int			kind;			/* 0 xent, 1 gaussian, 2 kl, 3 norm penalty */
	int			B,
				C,
				ld;
	SynthReal	scale;
	SynthReal  *a,				/* logits / z / mu / g */
			   *b,				/* target / x / logvar */
			   *sigma,
			   *da,
			   *db,
			   *dsigma,
			   *loss;
} LossCase;

static double
loss_value(LossCase *t, bool grads)
{
	size_t		n = (size_t) t->B * t->ld;
	SynthReal  *da = grads ? t->da : alloc_zero(n);
	SynthReal  *db = grads ? t->db : alloc_zero(n);
	SynthReal  *ds = grads ? t->dsigma : alloc_zero(t->C);
	double		total;

	memset(t->loss, 0, sizeof(SynthReal) * t->B);
	switch (t->kind)
	{
		case 0:
			be->softmax_xent(be, t->B, t->C, t->scale, t->a, t->ld, t->b, t->ld, da, t->ld, t->loss);
			break;
		case 1:
			be->gaussian_nll(be, t->B, t->C, t->scale, t->a, t->ld, t->b, t->ld, t->sigma,
							 da, t->ld, ds, t->loss);
			break;
		case 2:
			be->kl_normal(be, t->B, t->C, t->scale, t->a, t->b, da, db, t->loss);
			break;
		case 3:
			be->norm_penalty(be, t->B, t->C, t->scale, t->a, da, t->loss);
			break;
	}
	total = be->sum(be, t->B, t->loss);
	if (!grads)
	{
		free(da);
		free(db);
		free(ds);
	}
	return total;
}

static double
loss_func(void *arg)
{
	return loss_value(arg, false);
}

static void
test_loss(int kind, const char *name)
{
	LossCase	t;
	size_t		n;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	t.B = 6;
	t.C = 5;
	t.ld = kind <= 1 ? 8 : 5;	/* xent and gaussian read strided slices */
	t.scale = 0.7;
	n = (size_t) t.B * t.ld;
	t.a = alloc_random(n, -1, 1);
	t.b = alloc_random(n, -1, 1);
	t.sigma = alloc_random(t.C, 0.2, 1.0);
	t.da = alloc_zero(n);
	t.db = alloc_zero(n);
	t.dsigma = alloc_zero(t.C);
	t.loss = alloc_zero(t.B);
	if (kind == 0)
	{
		/* one-hot targets, one row without any (no loss there) */
		memset(t.b, 0, sizeof(SynthReal) * n);
		for (int r = 1; r < t.B; r++)
			t.b[(size_t) r * t.ld + r % t.C] = 1;
	}
	loss_value(&t, true);
	switch (kind)
	{
		case 0:
			check_gradient(name, loss_func, &t, t.a, t.da, n - 3);
			break;
		case 1:
			check_gradient("gaussian dz", loss_func, &t, t.a, t.da, n - 3);
			check_gradient("gaussian dsigma", loss_func, &t, t.sigma, t.dsigma, t.C);
			break;
		case 2:
			check_gradient("kl dmu", loss_func, &t, t.a, t.da, n);
			check_gradient("kl dlogvar", loss_func, &t, t.b, t.db, n);
			break;
		case 3:
			check_gradient(name, loss_func, &t, t.a, t.da, n);
			break;
	}
}

/* ---------------------------------------------------------------- reparameterisation */

typedef struct ReparamCase
{
	size_t		n;
	SynthReal  *mu,
			   *logvar,
			   *eps,
			   *z,
			   *w;
} ReparamCase;

static double
reparam_loss(void *arg)
{
	ReparamCase *t = arg;
	NnRng		rng = {5, 0};

	nn_reparam_forward(be, t->n, &rng, t->mu, t->logvar, t->eps, t->z);
	return weighted_sum(t->z, t->w, 1, (int) t->n, (int) t->n);
}

static void
test_reparam(void)
{
	ReparamCase t;
	SynthReal  *dmu,
			   *dlogvar;

	t.n = 30;
	t.mu = alloc_random(t.n, -1, 1);
	t.logvar = alloc_random(t.n, -1, 1);
	t.eps = alloc_zero(t.n);
	t.z = alloc_zero(t.n);
	t.w = alloc_random(t.n, -1, 1);
	dmu = alloc_zero(t.n);
	dlogvar = alloc_zero(t.n);
	reparam_loss(&t);
	nn_reparam_backward(be, t.n, t.logvar, t.eps, t.w, dmu, dlogvar);
	check_gradient("reparam dmu", reparam_loss, &t, t.mu, dmu, t.n);
	check_gradient("reparam dlogvar", reparam_loss, &t, t.logvar, dlogvar, t.n);
}

/* ---------------------------------------------------------------- critic */

typedef struct CriticCase
{
	NnParams	p;
	NnCritic	c;
	int			rows;
	SynthReal  *inp;
	SynthReal  *scratch_grads;
	bool		penalty;
} CriticCase;

/* mean score of the rows, or the gradient penalty, with fixed dropout masks */
static double
critic_loss(void *arg)
{
	CriticCase *t = arg;
	NnRng		rng = {6, 1000};

	if (t->penalty)
	{
		SynthReal  *grads = t->p.grads;
		double		value;

		/* the penalty adds to gradients: give it scratch ones */
		t->p.grads = t->scratch_grads;
		value = nn_critic_penalty(be, &t->p, &t->c, t->rows, t->inp, &rng, 10);
		t->p.grads = grads;
		return value;
	}
	nn_critic_forward(be, &t->p, &t->c, t->rows, t->inp, &rng);
	return be->sum(be, t->rows, t->c.score) / t->rows;
}

static void
test_critic(void)
{
	static const int hidden[] = {7, 6};
	CriticCase	t;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {7, 0};
	SynthReal  *dinp;
	int			in = 2 * 5;		/* pac 2 of 5-wide rows */
	char		name[64];

	memset(&t, 0, sizeof(t));
	t.rows = 4;
	nn_critic_declare(&t.p, &t.c, in, 2, hidden, 0.2, 0.5);
	nn_params_finish(&t.p);
	nn_params_bind(&t.p, alloc_zero(t.p.count), alloc_zero(t.p.count), NULL, NULL);
	t.scratch_grads = alloc_zero(t.p.count);
	nn_params_init(be, &t.p, &rng);
	nn_critic_layout(&t.c, &arena, t.rows);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_critic_layout(&t.c, &arena, t.rows);
	t.inp = alloc_random((size_t) t.rows * in, -1, 1);
	dinp = alloc_zero((size_t) t.rows * in);

	/* forward and backward of the mean score */
	critic_loss(&t);
	nn_critic_backward(be, &t.p, &t.c, t.rows, t.inp, (SynthReal) 1.0 / t.rows, true, dinp, in);
	check_gradient("critic dinp", critic_loss, &t, t.inp, dinp, (size_t) t.rows * in);
	for (int i = 0; i <= t.c.nhidden; i++)
	{
		snprintf(name, sizeof(name), "critic dW%d", i);
		check_gradient(name, critic_loss, &t, nn_value(&t.p, t.c.fc[i].w),
					   nn_grad(&t.p, t.c.fc[i].w), t.p.tensors[t.c.fc[i].w].count);
		snprintf(name, sizeof(name), "critic db%d", i);
		check_gradient(name, critic_loss, &t, nn_value(&t.p, t.c.fc[i].b),
					   nn_grad(&t.p, t.c.fc[i].b), t.p.tensors[t.c.fc[i].b].count);
	}

	/* the gradient penalty: its gradient by every parameter */
	{
		NnRng		prng = {6, 1000};
		double		value;

		t.penalty = true;
		nn_params_zero_grad(be, &t.p);
		value = nn_critic_penalty(be, &t.p, &t.c, t.rows, t.inp, &prng, 10);
		checks++;
		if (!(value > 0))
		{
			printf("FAIL critic penalty: value %g\n", value);
			failures++;
		}
		for (int i = 0; i <= t.c.nhidden; i++)
		{
			snprintf(name, sizeof(name), "penalty dW%d", i);
			check_gradient(name, critic_loss, &t, nn_value(&t.p, t.c.fc[i].w),
						   nn_grad(&t.p, t.c.fc[i].w), t.p.tensors[t.c.fc[i].w].count);
			snprintf(name, sizeof(name), "penalty db%d", i);
			check_gradient(name, critic_loss, &t, nn_value(&t.p, t.c.fc[i].b),
						   nn_grad(&t.p, t.c.fc[i].b), t.p.tensors[t.c.fc[i].b].count);
		}
		/* and by the input, through the penalty's own input gradient */
		t.penalty = false;
	}
}

/* ---------------------------------------------------------------- TVAE */

typedef struct TvaeCase
{
	NnTvae		net;
	NnLayout	layout;
	int			B;
} TvaeCase;

/* the whole TVAE loss, with the same latent noise every time */
static double
tvae_loss(void *arg)
{
	TvaeCase   *t = arg;
	NnRng		rng = {8, 0};

	return nn_tvae_forward(be, &t->net, t->B, &rng);
}

static void
test_tvae(void)
{
	static int	span_start[] = {2, 5};
	static int	span_len[] = {3, 2};
	static bool span_discrete[] = {false, true};
	static int	span_cond[] = {-1, 0};
	TvaeCase	t;
	NnTvaeConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {9, 0};
	NnParams   *p;
	char		name[64];

	memset(&t, 0, sizeof(t));
	t.B = 6;
	t.layout.width = 7;
	t.layout.nalpha = 2;
	t.layout.nspans = 2;
	t.layout.span_start = span_start;
	t.layout.span_len = span_len;
	t.layout.span_discrete = span_discrete;
	t.layout.span_cond = span_cond;
	t.layout.cond_width = 2;
	nn_tvae_config_default(&config);
	config.embedding_dim = 3;
	config.ncompress = 2;
	config.compress[0] = 5;
	config.compress[1] = 4;
	config.ndecompress = 1;
	config.decompress[0] = 6;
	nn_tvae_declare(&t.net, &config, &t.layout);
	p = &t.net.params;
	nn_params_bind(p, alloc_zero(p->count), alloc_zero(p->count), alloc_zero(p->count),
				   alloc_zero(p->count));
	nn_params_init(be, p, &rng);
	/* sigma away from its initial 0.1, so that its gradient is not dominated by 1/sigma */
	for (size_t i = 0; i < 2; i++)
		nn_value(p, t.net.sigma)[i] = 0.5 + 0.2 * i;
	nn_tvae_layout(&t.net, &arena, t.B);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_tvae_layout(&t.net, &arena, t.B);
	for (int r = 0; r < t.B; r++)
	{
		SynthReal  *row = t.net.x + r * 7;

		row[0] = rand_uniform(-1, 1);
		row[1] = rand_uniform(-1, 1);
		row[2 + r % 3] = 1;
		row[5 + r % 2] = 1;
	}

	nn_params_zero_grad(be, p);
	tvae_loss(&t);
	nn_tvae_backward(be, &t.net, t.B);
	for (int i = 0; i < p->ntensors; i++)
	{
		snprintf(name, sizeof(name), "tvae tensor %d", i);
		check_gradient(name, tvae_loss, &t, nn_value(p, i), nn_grad(p, i), p->tensors[i].count);
	}

	/* training lowers the loss */
	{
		NnRng		train = {10, 0};
		double		first = 0,
					last = 0;

		for (int step = 0; step < 300; step++)
		{
			double		loss = nn_tvae_step(be, &t.net, t.B, &train);

			if (step < 10)
				first += loss;
			if (step >= 290)
				last += loss;
		}
		checks++;
		if (!(last < first))
		{
			printf("FAIL tvae training: loss %g over the first steps, %g over the last\n",
				   first / 10, last / 10);
			failures++;
		}
	}
}

/* ---------------------------------------------------------------- CTGAN */

typedef struct CtganCase
{
	NnCtgan		net;
	NnLayout	layout;
	int			B;
	bool		critic;			/* differentiate the critic's loss, else the generator's */
	SynthReal  *scratch;		/* gradients of the side not differentiated */
} CtganCase;

/* either loss with the same noise, Gumbel draws and dropout masks every time */
static double
ctgan_loss(void *arg)
{
	CtganCase  *t = arg;
	NnRng		rng = {11, 0};
	NnParams   *p = t->critic ? &t->net.dis : &t->net.gen;
	SynthReal  *grads = p->grads;
	double		extra,
				loss;

	p->grads = t->scratch;		/* the pass adds to gradients: give it scratch ones */
	loss = t->critic ? nn_ctgan_critic_loss(be, &t->net, t->B, &rng, &extra) + extra :
		nn_ctgan_generator_loss(be, &t->net, t->B, &rng, &extra);
	p->grads = grads;
	return loss;
}

static void
test_ctgan(void)
{
	static int	span_start[] = {2, 5, 7};
	static int	span_len[] = {3, 2, 3};
	static bool span_discrete[] = {false, true, true};
	static int	span_cond[] = {-1, 0, 2};
	CtganCase	t;
	NnCtganConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {12, 0};
	char		name[64];

	memset(&t, 0, sizeof(t));
	t.B = 8;
	t.layout.width = 10;
	t.layout.nalpha = 2;
	t.layout.nspans = 3;
	t.layout.span_start = span_start;
	t.layout.span_len = span_len;
	t.layout.span_discrete = span_discrete;
	t.layout.span_cond = span_cond;
	t.layout.cond_width = 5;
	nn_ctgan_config_default(&config);
	config.embedding_dim = 4;
	config.generator[0] = 6;
	config.generator[1] = 5;
	config.discriminator[0] = 7;
	config.discriminator[1] = 4;
	config.pac = 2;
	nn_ctgan_declare(&t.net, &config, &t.layout);
	nn_params_bind(&t.net.gen, alloc_zero(t.net.gen.count + t.net.gen.state_count),
				   alloc_zero(t.net.gen.count), alloc_zero(t.net.gen.count),
				   alloc_zero(t.net.gen.count));
	nn_params_bind(&t.net.dis, alloc_zero(t.net.dis.count), alloc_zero(t.net.dis.count),
				   alloc_zero(t.net.dis.count), alloc_zero(t.net.dis.count));
	nn_params_init(be, &t.net.gen, &rng);
	nn_params_init(be, &t.net.dis, &rng);
	t.scratch = alloc_zero(t.net.gen.count + t.net.dis.count);
	nn_ctgan_layout(&t.net, &arena, t.B, true);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_ctgan_layout(&t.net, &arena, t.B, true);
	/* conditions: one slot of one discrete span per row; real rows likewise */
	for (int r = 0; r < t.B; r++)
	{
		SynthReal  *cond = t.net.cond + r * 5;
		SynthReal  *real = t.net.real + r * 15;

		cond[r % 2 ? 0 + r % 2 : 2 + r % 3] = 1;
		real[0] = rand_uniform(-1, 1);
		real[1] = rand_uniform(-1, 1);
		real[2 + r % 3] = 1;
		real[5 + r % 2] = 1;
		real[7 + (r + 1) % 3] = 1;
		memcpy(real + 10, cond, 5 * sizeof(SynthReal));
	}

	for (int side = 0; side < 2; side++)
	{
		NnParams   *p = side ? &t.net.dis : &t.net.gen;

		t.critic = side == 1;
		nn_params_zero_grad(be, p);
		{
			SynthReal  *scratch = t.scratch;

			/* the analytic pass writes the real gradients */
			t.scratch = p->grads;
			ctgan_loss(&t);
			t.scratch = scratch;
		}
		for (int i = 0; i < p->ntensors; i++)
		{
			if (!p->tensors[i].trained)
				continue;
			snprintf(name, sizeof(name), "ctgan %s tensor %d", side ? "critic" : "generator", i);
			check_gradient(name, ctgan_loss, &t, nn_value(p, i), nn_grad(p, i),
						   p->tensors[i].count);
		}
	}

	/* steps run, and generation without training uses the running statistics */
	{
		NnRng		train = {13, 0};
		double		penalty,
					cond_loss;

		for (int step = 0; step < 20; step++)
		{
			nn_ctgan_critic_step(be, &t.net, t.B, &train, &penalty);
			nn_ctgan_generator_step(be, &t.net, t.B, &train, &cond_loss);
		}
		nn_ctgan_generate(be, &t.net, t.B, false, &train);
		checks++;
		for (int i = 0; i < t.B * 15; i++)
			if (!isfinite(t.net.fakeact[i]))
			{
				printf("FAIL ctgan generation: value %d is %g\n", i, t.net.fakeact[i]);
				failures++;
				break;
			}
	}
}

/* ---------------------------------------------------------------- DP-SGD's per-sample clipping */

typedef struct TvaeRowCase
{
	TvaeCase   *t;
	int			row;
} TvaeRowCase;

/* one row's own TVAE loss (not divided by the batch), the same latent noise every time */
static double
tvae_row_loss(void *arg)
{
	TvaeRowCase *rc = arg;

	(void) tvae_loss(rc->t);
	return rc->t->net.loss[rc->row] * rc->t->B;
}

/*
 * Each row's gradient (nn_tvae_row_grads with a one-hot factor) is the
 * gradient of that row's own loss; the squared norms that clipping uses are
 * those gradients' squared norms; the clipped sum is sum_r min(1, C/|g_r|) g_r.
 */
static void
test_tvae_clip(void)
{
	static int	span_start[] = {2, 5};
	static int	span_len[] = {3, 2};
	static bool span_discrete[] = {false, true};
	static int	span_cond[] = {-1, 0};
	TvaeCase	t;
	NnTvaeConfig config;
	NnTvaeClip	clip;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {19, 0};
	NnParams   *p;
	SynthReal **row_grad;
	double	   *norm2;
	SynthReal  *factor;
	SynthReal  *expect;
	double		worst = 0,
				max_norm,
				median[6] = {0};
	char		name[64];

	memset(&t, 0, sizeof(t));
	t.B = 6;
	t.layout.width = 7;
	t.layout.nalpha = 2;
	t.layout.nspans = 2;
	t.layout.span_start = span_start;
	t.layout.span_len = span_len;
	t.layout.span_discrete = span_discrete;
	t.layout.span_cond = span_cond;
	t.layout.cond_width = 2;
	nn_tvae_config_default(&config);
	config.embedding_dim = 3;
	config.ncompress = 2;
	config.compress[0] = 5;
	config.compress[1] = 4;
	config.ndecompress = 2;
	config.decompress[0] = 6;
	config.decompress[1] = 3;
	nn_tvae_declare(&t.net, &config, &t.layout);
	p = &t.net.params;
	nn_params_bind(p, alloc_zero(p->count), alloc_zero(p->count), alloc_zero(p->count),
				   alloc_zero(p->count));
	nn_params_init(be, p, &rng);
	for (size_t i = 0; i < 2; i++)
		nn_value(p, t.net.sigma)[i] = 0.5 + 0.2 * i;
	nn_tvae_layout(&t.net, &arena, t.B);
	nn_tvae_clip_layout(&t.net, &clip, &arena, t.B);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_tvae_layout(&t.net, &arena, t.B);
	nn_tvae_clip_layout(&t.net, &clip, &arena, t.B);
	for (int r = 0; r < t.B; r++)
	{
		SynthReal  *row = t.net.x + r * 7;

		row[0] = rand_uniform(-1, 1);
		row[1] = rand_uniform(-1, 1);
		row[2 + r % 3] = 1;
		row[5 + r % 2] = 1;
	}

	row_grad = malloc(sizeof(SynthReal *) * t.B);
	norm2 = calloc(t.B, sizeof(double));
	factor = alloc_zero(t.B);
	for (int r = 0; r < t.B; r++)
	{
		TvaeRowCase rc = {&t, r};
		NnRng		noise = {8, 0};

		memset(factor, 0, sizeof(SynthReal) * t.B);
		factor[r] = 1;
		nn_params_zero_grad(be, p);
		nn_tvae_row_grads(be, &t.net, &clip, t.B, &noise, factor);
		row_grad[r] = malloc(sizeof(SynthReal) * p->count);
		memcpy(row_grad[r], p->grads, sizeof(SynthReal) * p->count);
		for (size_t i = 0; i < p->count; i++)
			norm2[r] += (double) row_grad[r][i] * row_grad[r][i];
		worst = fmax(worst, fabs(norm2[r] - clip.norm2[r]) / norm2[r]);
		for (int i = 0; i < p->ntensors; i++)
		{
			snprintf(name, sizeof(name), "tvae row %d's own gradient, tensor %d", r, i);
			check_gradient(name, tvae_row_loss, &rc, nn_value(p, i), row_grad[r] + p->tensors[i].offset,
						   p->tensors[i].count);
		}
	}
	checks++;
	if (!(worst < 1e-10))
	{
		printf("FAIL tvae per-sample norms: relative error %g against the rows' gradients\n", worst);
		failures++;
	}

	/* clip at about the median norm: some rows are scaled, some not */
	for (int r = 0; r < t.B; r++)
		median[r] = sqrt(norm2[r]);
	for (int i = 1; i < t.B; i++)
		for (int j = i; j > 0 && median[j - 1] > median[j]; j--)
		{
			double		x = median[j];

			median[j] = median[j - 1];
			median[j - 1] = x;
		}
	max_norm = (median[2] + median[3]) / 2;
	expect = alloc_zero(p->count);
	for (int r = 0; r < t.B; r++)
	{
		double		f = fmin(1.0, max_norm / sqrt(norm2[r]));

		for (size_t i = 0; i < p->count; i++)
			expect[i] += f * row_grad[r][i];
	}
	{
		NnRng		noise = {8, 0};

		nn_params_zero_grad(be, p);
		nn_tvae_clipped_grads(be, &t.net, &clip, t.B, &noise, max_norm);
	}
	worst = 0;
	for (size_t i = 0; i < p->count; i++)
		worst = fmax(worst, fabs(p->grads[i] - expect[i]) / fmax(fabs(expect[i]), 1e-6));
	checks++;
	if (!(worst < 1e-9))
	{
		printf("FAIL tvae clipped sum: relative error %g against sum_r min(1, C/|g_r|) g_r\n", worst);
		failures++;
	}
	{
		int			clipped = 0;

		for (int r = 0; r < t.B; r++)
			clipped += clip.factor[r] < 1;
		checks++;
		if (clipped != 3)
		{
			printf("FAIL tvae clipping at the median norm scaled %d rows of 6, not 3\n", clipped);
			failures++;
		}
	}
}

typedef struct CriticRowCase
{
	CtganCase  *t;
	int			row;
	int			nfake;
} CriticRowCase;

/* one real row's critic loss: penalty at its mixed row, minus its score, plus its fake partner's */
static double
critic_row_loss(void *arg)
{
	CriticRowCase *rc = arg;
	NnCtgan    *net = &rc->t->net;
	NnRng		rng = {14, 0};
	SynthReal  *grads = net->dis.grads;
	double		penalty,
				real;

	net->dis.grads = rc->t->scratch;
	penalty = nn_critic_penalty(be, &net->dis, &net->critic, 1,
								net->mixed + (size_t) rc->row * net->row, &rng,
								net->config.gp_lambda);
	nn_critic_forward(be, &net->dis, &net->critic, 1, net->real + (size_t) rc->row * net->row, &rng);
	real = net->critic.score[0];
	nn_critic_forward(be, &net->dis, &net->critic, 1,
					  net->fakeact + (size_t) (rc->row % rc->nfake) * net->row, &rng);
	net->dis.grads = grads;
	return penalty - real + net->critic.score[0];
}

/* CTGAN's critic under DP (pac 1): each row's gradient and the clipped sum. */
static void
test_ctgan_critic_clip(void)
{
	static int	span_start[] = {2, 5};
	static int	span_len[] = {3, 2};
	static bool span_discrete[] = {false, true};
	static int	span_cond[] = {-1, 0};
	CtganCase	t;
	NnCtganConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {15, 0};
	NnParams   *p;
	int			row = 7 + 2;
	int			nfake = 3;
	SynthReal  *sum,
			   *expect,
			   *work;
	double		worst = 0;
	char		name[64];

	memset(&t, 0, sizeof(t));
	t.B = 5;
	t.layout.width = 7;
	t.layout.nalpha = 2;
	t.layout.nspans = 2;
	t.layout.span_start = span_start;
	t.layout.span_len = span_len;
	t.layout.span_discrete = span_discrete;
	t.layout.span_cond = span_cond;
	t.layout.cond_width = 2;
	nn_ctgan_config_default(&config);
	config.embedding_dim = 4;
	config.generator[0] = 6;
	config.generator[1] = 5;
	config.discriminator[0] = 7;
	config.discriminator[1] = 4;
	config.pac = 1;
	nn_ctgan_declare(&t.net, &config, &t.layout);
	p = &t.net.dis;
	nn_params_bind(&t.net.gen, alloc_zero(t.net.gen.count + t.net.gen.state_count),
				   alloc_zero(t.net.gen.count), alloc_zero(t.net.gen.count),
				   alloc_zero(t.net.gen.count));
	nn_params_bind(p, alloc_zero(p->count), alloc_zero(p->count), alloc_zero(p->count),
				   alloc_zero(p->count));
	nn_params_init(be, &t.net.gen, &rng);
	nn_params_init(be, p, &rng);
	t.scratch = alloc_zero(p->count);
	nn_ctgan_layout(&t.net, &arena, t.B, true);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_ctgan_layout(&t.net, &arena, t.B, true);
	for (int r = 0; r < t.B; r++)
	{
		SynthReal  *real = t.net.real + r * row;

		real[0] = rand_uniform(-1, 1);
		real[1] = rand_uniform(-1, 1);
		real[2 + r % 3] = 1;
		real[5 + r % 2] = 1;
		real[7 + r % 2] = 1;
		t.net.cond[r * 2 + (r + 1) % 2] = 1;
		t.net.alpha[r] = rand_uniform(0, 1);
	}
	nn_ctgan_generate(be, &t.net, nfake, true, &rng);

	for (int r = 0; r < t.B; r++)
	{
		CriticRowCase rc = {&t, r, nfake};
		NnRng		noise = {14, 0};

		nn_ctgan_critic_row_grad(be, &t.net, r, nfake, &noise);
		for (int i = 0; i < p->ntensors; i++)
		{
			snprintf(name, sizeof(name), "critic row %d's own gradient, tensor %d", r, i);
			check_gradient(name, critic_row_loss, &rc, nn_value(p, i), nn_grad(p, i),
						   p->tensors[i].count);
		}
	}

	/* the clipped sum, against the rows' gradients computed one by one */
	sum = alloc_zero(p->count);
	expect = alloc_zero(p->count);
	work = alloc_zero(2 * t.B);
	{
		NnRng		a = {16, 0};
		NnRng		b = {16, 0};
		SynthReal	max_norm = 0.5;

		nn_ctgan_critic_clipped_grads_reference(be, &t.net, t.B, nfake, &a, max_norm, sum, work);
		be->fill_uniform(be, t.B, 0, 1, b.seed, nn_rng_take(&b, t.B), t.net.alpha);
		for (int r = 0; r < t.B; r++)
		{
			double		n2 = 0;

			nn_ctgan_critic_row_grad(be, &t.net, r, nfake, &b);
			for (size_t i = 0; i < p->count; i++)
				n2 += (double) p->grads[i] * p->grads[i];
			for (size_t i = 0; i < p->count; i++)
				expect[i] += fmin(1.0, max_norm / sqrt(n2)) * p->grads[i];
		}
	}
	for (size_t i = 0; i < p->count; i++)
		worst = fmax(worst, fabs(sum[i] - expect[i]) / fmax(fabs(expect[i]), 1e-6));
	checks++;
	if (!(worst < 1e-9))
	{
		printf("FAIL critic clipped sum: relative error %g\n", worst);
		failures++;
	}
}

/*
 * A critic of pac 2 for the batched clipping: npairs packed real rows,
 * nfake packed fake rows (nfake < npairs: pairs share fake rows).
 */
static void
critic_pairs_case(CtganCase *t, NnCtganClip *clip, int npairs, int nfake, SynthReal dropout)
{
	static int	span_start[] = {2, 5};
	static int	span_len[] = {3, 2};
	static bool span_discrete[] = {false, true};
	static int	span_cond[] = {-1, 0};
	NnCtganConfig config;
	NnArena		arena = {NULL, 0};
	NnRng		rng = {25, 0};
	NnParams   *p;
	int			row = 7 + 2;
	int			pac = 2;

	memset(t, 0, sizeof(*t));
	t->B = npairs * pac;
	t->layout.width = 7;
	t->layout.nalpha = 2;
	t->layout.nspans = 2;
	t->layout.span_start = span_start;
	t->layout.span_len = span_len;
	t->layout.span_discrete = span_discrete;
	t->layout.span_cond = span_cond;
	t->layout.cond_width = 2;
	nn_ctgan_config_default(&config);
	config.embedding_dim = 4;
	config.generator[0] = 6;
	config.generator[1] = 5;
	config.discriminator[0] = 7;
	config.discriminator[1] = 4;
	config.pac = pac;
	config.dropout = dropout;
	nn_ctgan_declare(&t->net, &config, &t->layout);
	p = &t->net.dis;
	nn_params_bind(&t->net.gen, alloc_zero(t->net.gen.count + t->net.gen.state_count),
				   alloc_zero(t->net.gen.count), alloc_zero(t->net.gen.count),
				   alloc_zero(t->net.gen.count));
	nn_params_bind(p, alloc_zero(p->count), alloc_zero(p->count), alloc_zero(p->count),
				   alloc_zero(p->count));
	nn_params_init(be, &t->net.gen, &rng);
	nn_params_init(be, p, &rng);
	nn_ctgan_layout(&t->net, &arena, t->B, true);
	nn_ctgan_clip_layout(&t->net, clip, &arena, npairs);
	arena.base = calloc(1, arena.used);
	arena.used = 0;
	nn_ctgan_layout(&t->net, &arena, t->B, true);
	nn_ctgan_clip_layout(&t->net, clip, &arena, npairs);
	for (int r = 0; r < t->B; r++)
	{
		SynthReal  *real = t->net.real + r * row;

		real[0] = rand_uniform(-2, 2);
		real[1] = rand_uniform(-2, 2);
		real[2 + r % 3] = 1;
		real[5 + r % 2] = 1;
		real[7 + r % 2] = 1;
		t->net.cond[r * 2 + (r + 1) % 2] = 1;
	}
	nn_ctgan_generate(be, &t->net, nfake * pac, true, &rng);
}

static double
relative_error(const SynthReal *x, const SynthReal *expect, size_t n)
{
	double		worst = 0;

	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(x[i] - expect[i]) / fmax(fabs(expect[i]), 1e-6));
	return worst;
}

/*
 * The batched clipped sum of the critic's pair gradients equals the
 * pair-at-a-time reference (without dropout: the two draw their masks in
 * another order), norms included, some pairs clipped and some not.
 */
static void
test_ctgan_critic_batched(void)
{
	CtganCase	t;
	NnCtganClip clip;
	int			npairs = 7;
	int			nfake = 3;
	NnParams   *p;
	SynthReal  *sum,
			   *expect,
			   *work;
	SynthReal	sorted[7];
	SynthReal	max_norm;
	double		worst;
	int			clipped = 0;

	critic_pairs_case(&t, &clip, npairs, nfake, 0);
	p = &t.net.dis;
	sum = alloc_zero(p->count);
	expect = alloc_zero(p->count);
	work = alloc_zero(2 * npairs);

	/* the norms, unclipped; then C between the smallest and the largest */
	{
		NnRng		a = {26, 0};

		nn_ctgan_critic_clipped_grads(be, &t.net, &clip, npairs, nfake, &a, 1e30, sum);
	}
	for (int r = 0; r < npairs; r++)
		sorted[r] = sqrt(clip.norm2[r]);
	for (int i = 1; i < npairs; i++)
		for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--)
		{
			SynthReal	x = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	max_norm = (sorted[2] + sorted[3]) / 2;

	{
		NnRng		a = {26, 0};
		NnRng		b = {26, 0};

		memset(sum, 0, sizeof(SynthReal) * p->count);
		nn_ctgan_critic_clipped_grads(be, &t.net, &clip, npairs, nfake, &a, max_norm, sum);
		nn_ctgan_critic_clipped_grads_reference(be, &t.net, npairs, nfake, &b, max_norm, expect,
												work);
	}
	worst = relative_error(clip.norm2, work, npairs);
	checks++;
	if (!(worst < 1e-9))
	{
		printf("FAIL batched critic norms: relative error %g against the pairs one by one\n",
			   worst);
		failures++;
	}
	worst = relative_error(sum, expect, p->count);
	checks++;
	if (!(worst < 1e-9))
	{
		printf("FAIL batched critic clipped sum: relative error %g against the reference\n",
			   worst);
		failures++;
	}
	for (int r = 0; r < npairs; r++)
		clipped += clip.factor[r] < 1;
	checks++;
	if (clipped != 4)
	{
		printf("FAIL batched critic: C between the 3rd and 4th norm clipped %d pairs of 7, not 4\n",
			   clipped);
		failures++;
	}
}

/*
 * With dropout: each pair's own gradient (one-hot factors, the same masks)
 * has the squared norm the batched pass found, its clipped contribution a
 * norm of at most C, and the clipped sum is the sum of the contributions.
 */
static void
test_ctgan_critic_batched_dropout(void)
{
	CtganCase	t;
	NnCtganClip clip;
	int			npairs = 7;
	int			nfake = 3;
	NnParams   *p;
	SynthReal  *sum,
			   *one,
			   *expect,
			   *factor,
			   *onehot,
			   *norm2;
	SynthReal	max_norm = 0.5;
	double		worst_norm = 0,
				worst_c = 0;

	critic_pairs_case(&t, &clip, npairs, nfake, 0.5);
	p = &t.net.dis;
	sum = alloc_zero(p->count);
	one = alloc_zero(p->count);
	expect = alloc_zero(p->count);
	factor = alloc_zero(npairs);
	onehot = alloc_zero(npairs);
	norm2 = alloc_zero(npairs);
	{
		NnRng		a = {27, 0};

		nn_ctgan_critic_clipped_grads(be, &t.net, &clip, npairs, nfake, &a, max_norm, sum);
	}
	memcpy(factor, clip.factor, sizeof(SynthReal) * npairs);
	memcpy(norm2, clip.norm2, sizeof(SynthReal) * npairs);
	for (int r = 0; r < npairs; r++)
	{
		NnRng		a = {27, 0};
		double		n2 = 0;

		memset(onehot, 0, sizeof(SynthReal) * npairs);
		onehot[r] = 1;
		memset(one, 0, sizeof(SynthReal) * p->count);
		nn_ctgan_critic_pair_grads(be, &t.net, &clip, npairs, nfake, &a, onehot, one);
		for (size_t i = 0; i < p->count; i++)
		{
			n2 += (double) one[i] * one[i];
			expect[i] += factor[r] * one[i];
		}
		worst_norm = fmax(worst_norm, fabs(n2 - norm2[r]) / n2);
		worst_c = fmax(worst_c, factor[r] * sqrt(n2) / max_norm);
	}
	checks++;
	if (!(worst_norm < 1e-9))
	{
		printf("FAIL batched critic with dropout: squared norms off by %g\n", worst_norm);
		failures++;
	}
	checks++;
	if (!(worst_c <= 1 + 1e-9 && worst_c > 0.999))
	{
		printf("FAIL batched critic with dropout: largest clipped norm %g C\n", worst_c);
		failures++;
	}
	checks++;
	if (!(relative_error(sum, expect, p->count) < 1e-9))
	{
		printf("FAIL batched critic with dropout: clipped sum off by %g\n",
			   relative_error(sum, expect, p->count));
		failures++;
	}
}

/* ---------------------------------------------------------------- Adam */

static void
test_adam(void)
{
	/* minimise sum (x - 3)^2 from 0: Adam with lr 0.1 gets there */
	NnParams	p;
	NnAdam		opt = {0.1, 0.9, 0.999, 1e-8, 0};
	int			t;

	memset(&p, 0, sizeof(p));
	t = nn_params_declare(&p, 4, true, NN_INIT_CONSTANT, 0, 0);
	nn_params_finish(&p);
	nn_params_bind(&p, alloc_zero(4), alloc_zero(4), alloc_zero(4), alloc_zero(4));
	for (int step = 0; step < 500; step++)
	{
		for (int i = 0; i < 4; i++)
			nn_grad(&p, t)[i] = 2 * (nn_value(&p, t)[i] - 3);
		nn_adam_step(be, &p, &opt);
	}
	checks++;
	if (fabs(nn_value(&p, t)[0] - 3) > 1e-3)
	{
		printf("FAIL adam: x = %g after 500 steps, expected 3\n", nn_value(&p, t)[0]);
		failures++;
	}

	/* the first step moves by lr against the gradient's sign, as torch does */
	{
		NnAdam		wd = {0.01, 0.5, 0.9, 1e-8, 0.5};

		nn_value(&p, t)[1] = 2;
		nn_grad(&p, t)[1] = -1;	/* with decay 0.5 * 2: gradient 0 */
		nn_value(&p, t)[2] = 2;
		nn_grad(&p, t)[2] = 1;	/* gradient 2 */
		memset(p.m, 0, 4 * sizeof(SynthReal));
		memset(p.v, 0, 4 * sizeof(SynthReal));
		p.step = 0;
		nn_adam_step(be, &p, &wd);
		checks++;
		if (fabs(nn_value(&p, t)[1] - 2) > 1e-9 || fabs(nn_value(&p, t)[2] - 1.99) > 1e-9)
		{
			printf("FAIL adam weight decay: %.12g %.12g\n", nn_value(&p, t)[1], nn_value(&p, t)[2]);
			failures++;
		}
	}
}

/* ---------------------------------------------------------------- random numbers */

static void
test_random(void)
{
	size_t		n = 200000;
	SynthReal  *x = alloc_zero(n);
	SynthReal  *y = alloc_zero(n);
	double		s = 0,
				ss = 0;

	be->fill_normal(be, n, 0, 1, 42, 0, x);
	for (size_t i = 0; i < n; i++)
	{
		s += x[i];
		ss += x[i] * x[i];
	}
	checks++;
	if (fabs(s / n) > 5 / sqrt(n) || fabs(ss / n - 1) > 0.02)
	{
		printf("FAIL fill_normal: mean %g variance %g\n", s / n, ss / n);
		failures++;
	}
	/* number i depends on (seed, offset + i) only */
	be->fill_normal(be, 10, 0, 1, 42, 5, y);
	checks++;
	if (memcmp(x + 5, y, 10 * sizeof(SynthReal)) != 0)
	{
		printf("FAIL fill_normal: offsets do not index one stream\n");
		failures++;
	}
	be->fill_uniform(be, n, 2, 3, 9, 0, x);
	s = 0;
	for (size_t i = 0; i < n; i++)
	{
		s += x[i];
		if (!(x[i] > 2 && x[i] < 3))
		{
			printf("FAIL fill_uniform: %g out of (2, 3)\n", x[i]);
			failures++;
			break;
		}
	}
	checks++;
	if (fabs(s / n - 2.5) > 0.005)
	{
		printf("FAIL fill_uniform: mean %g\n", s / n);
		failures++;
	}
	free(x);
	free(y);
}

int
main(void)
{
	const char *missing = NULL;

	be = synth_backend_cpu();
	checks++;
	if (!nn_backend_complete(be, &missing))
	{
		printf("FAIL the CPU backend lacks %s\n", missing);
		failures++;
	}
	test_linear();
	test_activation(SYNTH_ACT_RELU, 0, "relu");
	test_activation(SYNTH_ACT_LEAKY_RELU, 0.2, "leaky relu");
	test_activation(SYNTH_ACT_TANH, 0, "tanh");
	test_batchnorm();
	test_dropout();
	test_softmax(false, 1.0, "softmax");
	test_softmax(true, 0.2, "gumbel softmax");
	test_loss(0, "softmax xent");
	test_loss(1, "gaussian nll");
	test_loss(2, "kl normal");
	test_loss(3, "norm penalty");
	test_reparam();
	test_critic();
	test_tvae();
	test_ctgan();
	test_tvae_clip();
	test_ctgan_critic_clip();
	test_ctgan_critic_batched();
	test_ctgan_critic_batched_dropout();
	test_adam();
	test_random();

	printf("nn_test: %s (%d checks, %d failures)\n", failures ? "FAIL" : "ok", checks, failures);
	return failures ? 1 : 0;
}
