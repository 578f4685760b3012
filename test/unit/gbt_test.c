/*
 * gbt_test.c
 *	  Unit test of src/gbt.c: the boosted trees learn an interaction no single
 *	  feature shows (XOR), a set of categories, a NULL branch, three classes
 *	  and a smooth regression; the same input gives the same model; ROC AUC on
 *	  known cases.
 */
#include "../../src/gbt.c"

#include <stdio.h>
#include <stdlib.h>

/* postgres.h maps printf to the server's pg_printf, absent here */
#undef printf

/* Stand-ins for the server's allocator and interrupt check. */
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

void *
palloc(Size size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
palloc0(Size size)
{
	void	   *p = calloc(1, size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	void	   *p = realloc(pointer, size);

	if (p == NULL)
		abort();
	return p;
}

void
pfree(void *pointer)
{
	free(pointer);
}

MemoryContext CurrentMemoryContext = NULL;

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return palloc(size);
}

/* port.h maps qsort to pg_qsort, which lives in libpgport */
#undef qsort
void
pg_qsort(void *base, size_t nel, size_t elsize, int (*cmp) (const void *, const void *))
{
	qsort(base, nel, elsize, cmp);
}

static int	failures = 0;

static void
check(int ok, const char *what, double got, double want)
{
	if (!ok)
	{
		printf("FAIL %s: got %.6g, want %.6g\n", what, got, want);
		failures++;
	}
}

/* splitmix64: uniform doubles in [0, 1) for the test data */
static uint64 rng_state = 12345;

static double
uniform(void)
{
	uint64		z = (rng_state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	z ^= z >> 31;
	return (z >> 11) * (1.0 / 9007199254740992.0);
}

#define N		3000
#define NTRAIN	2000

static int	train_rows[NTRAIN];
static int	test_rows[N - NTRAIN];

/* AUC on the test rows of a binary model fitted on the training rows. */
static double
fit_binary_auc(const double *x, int nfeatures, const bool *categorical, const double *y,
			   double *pred)
{
	SynthGbtParams params;
	SynthGbtData *data = synth_gbt_bin(x, N, nfeatures, categorical);
	SynthGbtModel *model;
	bool		positive[N - NTRAIN];

	synth_gbt_default_params(&params);
	model = synth_gbt_fit(data, train_rows, NTRAIN, y, SYNTH_GBT_BINARY, 2, &params);
	synth_gbt_predict(model, data, test_rows, N - NTRAIN, pred);
	for (int i = 0; i < N - NTRAIN; i++)
		positive[i] = y[test_rows[i]] > 0.5;
	return synth_roc_auc(pred, positive, N - NTRAIN);
}

int
main(void)
{
	static double x[3 * N];
	static double y[N];
	static double pred[3 * (N - NTRAIN)];
	static double pred2[3 * (N - NTRAIN)];
	bool		numeric[3] = {false, false, false};
	bool		cat_first[3] = {true, false, false};
	double		auc;

	for (int i = 0; i < NTRAIN; i++)
		train_rows[i] = i;
	for (int i = NTRAIN; i < N; i++)
		test_rows[i - NTRAIN] = i;

	/* ROC AUC on known cases */
	{
		double		s[4] = {0.1, 0.4, 0.35, 0.8};
		bool		l[4] = {false, false, true, true};
		double		t[4] = {0.5, 0.5, 0.5, 0.5};

		check(fabs(synth_roc_auc(s, l, 4) - 0.75) < 1e-12, "auc of a known case",
			  synth_roc_auc(s, l, 4), 0.75);
		check(fabs(synth_roc_auc(t, l, 4) - 0.5) < 1e-12, "auc of ties", synth_roc_auc(t, l, 4), 0.5);
		check(isnan(synth_roc_auc(s, l, 2)), "auc without positives", synth_roc_auc(s, l, 2), NAN);
	}

	/* XOR of two signs: no single feature tells anything */
	for (int i = 0; i < N; i++)
	{
		x[i] = uniform() * 2 - 1;
		x[N + i] = uniform() * 2 - 1;
		y[i] = (x[i] > 0) == (x[N + i] > 0) ? 1.0 : 0.0;
	}
	auc = fit_binary_auc(x, 2, numeric, y, pred);
	check(auc > 0.97, "xor auc", auc, 0.97);

	/* determinism: the same data gives the same predictions */
	fit_binary_auc(x, 2, numeric, y, pred2);
	check(memcmp(pred, pred2, sizeof(double) * (N - NTRAIN)) == 0, "same predictions", 0, 0);

	/* a set of categories, in no order of their codes, with a numeric noise feature */
	for (int i = 0; i < N; i++)
	{
		int			c = (int) (uniform() * 30);

		x[i] = c;
		x[N + i] = uniform();
		y[i] = (c * 7) % 30 < 12 ? 1.0 : 0.0;
	}
	auc = fit_binary_auc(x, 2, cat_first, y, pred);
	check(auc > 0.97, "category set auc", auc, 0.97);

	/* NULL as its own branch: positive when NULL or above 0.7 */
	for (int i = 0; i < N; i++)
	{
		bool		null = uniform() < 0.3;

		x[i] = null ? NAN : uniform();
		y[i] = null || x[i] > 0.7 ? 1.0 : 0.0;
	}
	auc = fit_binary_auc(x, 1, numeric, y, pred);
	check(auc > 0.99, "null branch auc", auc, 0.99);

	/* three classes by regions of two features */
	{
		SynthGbtParams params;
		SynthGbtData *data;
		SynthGbtModel *model;
		int			right = 0;

		for (int i = 0; i < N; i++)
		{
			x[i] = uniform();
			x[N + i] = uniform();
			y[i] = x[i] < 0.33 ? 0 : (x[N + i] < 0.5 ? 1 : 2);
		}
		synth_gbt_default_params(&params);
		data = synth_gbt_bin(x, N, 2, numeric);
		model = synth_gbt_fit(data, train_rows, NTRAIN, y, SYNTH_GBT_MULTICLASS, 3, &params);
		synth_gbt_predict(model, data, test_rows, N - NTRAIN, pred);
		for (int i = 0; i < N - NTRAIN; i++)
		{
			double	   *p = pred + 3 * i;
			int			best = p[0] >= p[1] && p[0] >= p[2] ? 0 : (p[1] >= p[2] ? 1 : 2);

			right += best == (int) y[test_rows[i]];
		}
		check(right > 0.95 * (N - NTRAIN), "multiclass accuracy",
			  (double) right / (N - NTRAIN), 0.95);
	}

	/* regression of a smooth function of two features */
	{
		SynthGbtParams params;
		SynthGbtData *data;
		SynthGbtModel *model;
		double		sse = 0.0;
		double		sst = 0.0;
		double		mean = 0.0;

		for (int i = 0; i < N; i++)
		{
			x[i] = uniform() * 2 - 1;
			x[N + i] = uniform() * 2 - 1;
			y[i] = sin(3 * x[i]) + x[N + i] * x[N + i] + 100.0;
		}
		synth_gbt_default_params(&params);
		data = synth_gbt_bin(x, N, 2, numeric);
		model = synth_gbt_fit(data, train_rows, NTRAIN, y, SYNTH_GBT_REGRESSION, 1, &params);
		synth_gbt_predict(model, data, test_rows, N - NTRAIN, pred);
		for (int i = 0; i < N - NTRAIN; i++)
			mean += y[test_rows[i]] / (N - NTRAIN);
		for (int i = 0; i < N - NTRAIN; i++)
		{
			sse += (pred[i] - y[test_rows[i]]) * (pred[i] - y[test_rows[i]]);
			sst += (mean - y[test_rows[i]]) * (mean - y[test_rows[i]]);
		}
		check(1 - sse / sst > 0.95, "regression r2", 1 - sse / sst, 0.95);
	}

	printf("gbt_test: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}
