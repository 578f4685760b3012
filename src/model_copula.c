/*-------------------------------------------------------------------------
 *
 * model_copula.c
 *	  Gaussian copula: the correlation of normal scores over the per-column
 *	  marginals of transform.c, fitted from a sample and sampled in batches.
 *
 * Each modelled column maps to a uniform score u and a normal score
 * z = Phi^-1(u); a continuous column with NULLs also has a NULL indicator.  The copula is the
 * correlation R of z; sampling draws z = L e with R = L L^T and maps each
 * Phi(z) back through the column's marginal.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include <cblas.h>

#define COPULA_FIT_CHUNK	4096	/* rows of normal scores per syrk */
#define COPULA_U_EPS		1e-9	/* keeps Phi^-1 finite */

/* Where a sample row's value stands among the column's non-NULL values. */
typedef struct RankSpan
{
	int32		below;			/* values strictly below it */
	int32		ties;			/* values equal to it (itself included); -1: NULL */
} RankSpan;

typedef struct ValueRow
{
	double		value;
	int32		row;
} ValueRow;

static int
cmp_value_row(const void *a, const void *b)
{
	double		x = ((const ValueRow *) a)->value;
	double		y = ((const ValueRow *) b)->value;

	return (x > y) - (x < y);
}

/* Rank every row of a sample column once: one sort, no searches. */
static RankSpan *
rank_column(const double *values, int64 m, int64 *nvalid)
{
	ValueRow   *pairs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ValueRow) * Max(m, 1));
	RankSpan   *spans = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RankSpan) * Max(m, 1));
	int64		n = 0;

	for (int64 r = 0; r < m; r++)
	{
		spans[r].below = 0;
		spans[r].ties = -1;
		if (!isnan(values[r]))
		{
			pairs[n].value = values[r];
			pairs[n].row = (int32) r;
			n++;
		}
	}
	qsort(pairs, n, sizeof(ValueRow), cmp_value_row);
	for (int64 i = 0; i < n;)
	{
		int64		j = i;

		while (j < n && pairs[j].value == pairs[i].value)
			j++;
		for (int64 k = i; k < j; k++)
		{
			spans[pairs[k].row].below = (int32) i;
			spans[pairs[k].row].ties = (int32) (j - i);
		}
		i = j;
	}
	pfree(pairs);
	*nvalid = n;
	return spans;
}

/*
 * In-place Cholesky factorisation of the d x d symmetric matrix a (row-major,
 * lower triangle used); false if it is not positive definite.
 */
static bool
cholesky(double *a, int d)
{
	for (int j = 0; j < d; j++)
	{
		double		s = a[j * d + j];

		for (int k = 0; k < j; k++)
			s -= a[j * d + k] * a[j * d + k];
		if (s <= 1e-12)
			return false;
		a[j * d + j] = sqrt(s);
		for (int i = j + 1; i < d; i++)
		{
			double		t = a[i * d + j];

			for (int k = 0; k < j; k++)
				t -= a[i * d + k] * a[j * d + k];
			a[i * d + j] = t / a[j * d + j];
		}
		for (int k = j + 1; k < d; k++)
			a[j * d + k] = 0.0;
	}
	return true;
}

typedef struct CategoryScore
{
	int			pos;
	double		score;
} CategoryScore;

static int
cmp_category_score(const void *a, const void *b)
{
	const CategoryScore *x = a;
	const CategoryScore *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return x->pos - y->pos;
}

/*
 * Order a categorical column's categories along their association with the
 * continuous columns, so that the copula's single dimension for the column
 * carries as much of that association as a rank correlation can.  Each
 * category gets the mean normal score of every continuous column over its
 * rows; the categories are sorted by their projection on the first principal
 * axis of those means (weighted by frequency).  Without continuous columns,
 * or for two categories, the order (most frequent first) is kept.
 */
static void
order_categories(SynthEncoder *enc, SynthCategoryDict *dict,
				 const double *codes, int64 m, int ncont, const int *cont_dim,
				 RankSpan *const *ranks, const int64 *nvalid)
{
	int			k = enc->ncats;
	int			ndict = synth_dict_count(dict);
	int		   *pos_of;
	double	   *sum,
			   *cnt,
			   *weight,
			   *cov,
			   *axis,
			   *next;
	CategoryScore *scores;
	char	  **cats;
	double		cum;

	if (k <= 2 || ncont == 0)
		return;
	pos_of = palloc(sizeof(int) * Max(ndict, 1));
	sum = palloc0(sizeof(double) * k * ncont);
	cnt = palloc0(sizeof(double) * k * ncont);
	weight = palloc(sizeof(double) * k);
	cov = palloc0(sizeof(double) * ncont * ncont);
	axis = palloc(sizeof(double) * ncont);
	next = palloc(sizeof(double) * ncont);
	scores = palloc(sizeof(CategoryScore) * k);
	cats = palloc(sizeof(char *) * k);

	for (int i = 0; i < ndict; i++)
		pos_of[i] = -1;
	for (int c = 0; c < k; c++)
	{
		int			idx = synth_dict_lookup(dict, enc->cats[c]);

		if (idx >= 0)
			pos_of[idx] = c;
		weight[c] = enc->cat_cum[c] - (c == 0 ? enc->null_rate : enc->cat_cum[c - 1]);
	}

	for (int64 r = 0; r < m; r++)
	{
		int			pos;

		if (isnan(codes[r]) || codes[r] < 0)
			continue;
		pos = pos_of[(int) codes[r]];
		if (pos < 0)
			continue;
		for (int c = 0; c < ncont; c++)
		{
			int			j = cont_dim[c];
			RankSpan	span = ranks[j][r];
			double		p;

			if (span.ties < 0)
				continue;
			/* mid-rank among the non-NULL values */
			p = (span.below + 0.5 * span.ties) / (double) nvalid[j];
			p = Min(Max(p, COPULA_U_EPS), 1.0 - COPULA_U_EPS);
			sum[pos * ncont + c] += synth_norm_quantile(p);
			cnt[pos * ncont + c] += 1.0;
		}
	}
	for (int i = 0; i < k * ncont; i++)
		sum[i] = cnt[i] > 0 ? sum[i] / cnt[i] : 0.0;

	/* first principal axis of the category means, by power iteration */
	for (int c = 0; c < k; c++)
		for (int a = 0; a < ncont; a++)
			for (int b = 0; b < ncont; b++)
				cov[a * ncont + b] += weight[c] * sum[c * ncont + a] * sum[c * ncont + b];
	for (int a = 0; a < ncont; a++)
		axis[a] = 1.0 / sqrt(ncont);
	for (int iter = 0; iter < 100; iter++)
	{
		double		norm = 0.0;

		for (int a = 0; a < ncont; a++)
		{
			next[a] = 0.0;
			for (int b = 0; b < ncont; b++)
				next[a] += cov[a * ncont + b] * axis[b];
			norm += next[a] * next[a];
		}
		if (norm < 1e-20)
			return;				/* no association: keep the frequency order */
		norm = sqrt(norm);
		for (int a = 0; a < ncont; a++)
			axis[a] = next[a] / norm;
	}

	for (int c = 0; c < k; c++)
	{
		scores[c].pos = c;
		scores[c].score = 0.0;
		for (int a = 0; a < ncont; a++)
			scores[c].score += sum[c * ncont + a] * axis[a];
	}
	qsort(scores, k, sizeof(CategoryScore), cmp_category_score);

	cum = enc->null_rate;
	for (int c = 0; c < k; c++)
	{
		cats[c] = enc->cats[scores[c].pos];
		cum += weight[scores[c].pos];
		scores[c].score = cum;
	}
	for (int c = 0; c < k; c++)
	{
		enc->cats[c] = cats[c];
		enc->cat_cum[c] = scores[c].score;
	}
}

/*
 * Assign copula dimensions: one per modelled continuous or categorical
 * column, plus one NULL indicator per continuous column that has NULLs (so
 * that NULLs do not dilute the correlation of the values themselves).
 */
static int
assign_dimensions(SynthModel *model)
{
	int			d = 0;

	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *enc = &model->encoders[i];

		enc->dim = -1;
		enc->null_dim = -1;
		if (!enc->modelled || enc->null_rate >= 1.0 ||
			(enc->kind != SYNTH_KIND_CONTINUOUS && enc->kind != SYNTH_KIND_CATEGORICAL))
			continue;
		enc->dim = d++;
		if (enc->kind == SYNTH_KIND_CONTINUOUS && enc->null_rate > 0.0)
			enc->null_dim = d++;
	}
	return d;
}

/*
 * Fit the copula.  sample_col[i] is the sample column of encoder i (or -1).
 * Encoders must already be fitted; this assigns their dimensions.  The
 * correlation of two dimensions is taken over the rows where both are present
 * (a continuous value is absent where it is NULL), from moments that BLAS
 * accumulates a chunk of rows at a time.
 */
void
synth_copula_fit(SynthModel *model, SynthColumn *cols, SynthSample *sample,
				 const int *sample_col, uint64 seed)
{
	int			d = assign_dimensions(model);
	int		   *dim_enc;
	bool	   *dim_is_null;
	RankSpan  **ranks;
	int64	   *nvalid;
	int		  **catmap;
	double	   *s_ab,
			   *s_a,
			   *s_aa,
			   *n_ab;
	double	   *z,
			   *mask,
			   *z2;
	double	   *corr;
	SynthRng	rng;
	int64		m = sample->nrows;
	double		lambda;

	model->dim = d;
	model->chol = palloc0(sizeof(double) * Max(d * d, 1));
	if (d == 0 || m == 0)
	{
		for (int j = 0; j < d; j++)
			model->chol[j * d + j] = 1.0;
		return;
	}

	dim_enc = palloc(sizeof(int) * d);
	dim_is_null = palloc0(sizeof(bool) * d);
	ranks = palloc0(sizeof(RankSpan *) * d);
	nvalid = palloc0(sizeof(int64) * d);
	catmap = palloc0(sizeof(int *) * d);
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *enc = &model->encoders[i];
		int			j = enc->dim;
		int			sc = sample_col[i];

		if (j < 0)
			continue;
		dim_enc[j] = i;
		if (enc->null_dim >= 0)
		{
			dim_enc[enc->null_dim] = i;
			dim_is_null[enc->null_dim] = true;
		}
		if (enc->kind == SYNTH_KIND_CONTINUOUS)
		{
			ranks[j] = rank_column(sample->values + (int64) sc * sample->capacity, m, &nvalid[j]);
		}
	}

	/* categories in the order that carries their association best */
	{
		int			ncont = 0;
		int		   *cont_dim = palloc(sizeof(int) * d);

		for (int j = 0; j < d; j++)
			if (ranks[j] != NULL)
				cont_dim[ncont++] = j;
		for (int j = 0; j < d; j++)
		{
			int			i = dim_enc[j];
			SynthEncoder *enc = &model->encoders[i];

			if (dim_is_null[j] || enc->kind != SYNTH_KIND_CATEGORICAL)
				continue;
			order_categories(enc, cols[sample_col[i]].dict,
							 sample->values + (int64) sample_col[i] * sample->capacity, m,
							 ncont, cont_dim, ranks, nvalid);
		}
	}

	for (int j = 0; j < d; j++)
	{
		int			i = dim_enc[j];
		SynthEncoder *enc = &model->encoders[i];
		int			sc = sample_col[i];

		if (dim_is_null[j] || enc->kind != SYNTH_KIND_CATEGORICAL)
			continue;
		{
			SynthCategoryDict *dict = cols[sc].dict;
			int			n = synth_dict_count(dict);

			catmap[j] = palloc(sizeof(int) * Max(n, 1));
			for (int c = 0; c < n; c++)
				catmap[j][c] = -1;
			for (int c = 0; c < enc->ncats; c++)
			{
				int			idx = synth_dict_lookup(dict, enc->cats[c]);

				if (idx >= 0)
					catmap[j][idx] = c;
			}
		}
	}

	synth_rng_seed(&rng, seed ^ UINT64CONST(0x636f70756c61));
	s_ab = palloc0(sizeof(double) * d * d);
	s_a = palloc0(sizeof(double) * d * d);	/* sum of a over rows with b */
	s_aa = palloc0(sizeof(double) * d * d);
	n_ab = palloc0(sizeof(double) * d * d);
	z = palloc(sizeof(double) * COPULA_FIT_CHUNK * d);
	mask = palloc(sizeof(double) * COPULA_FIT_CHUNK * d);
	z2 = palloc(sizeof(double) * COPULA_FIT_CHUNK * d);
	for (int64 start = 0; start < m; start += COPULA_FIT_CHUNK)
	{
		int			rows = (int) Min((int64) COPULA_FIT_CHUNK, m - start);

		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < rows; r++)
		{
			for (int j = 0; j < d; j++)
			{
				int			i = dim_enc[j];
				SynthEncoder *enc = &model->encoders[i];
				double		value = sample->values[(int64) sample_col[i] * sample->capacity + start + r];
				double		u;
				int64		k = (int64) r * d + j;

				if (dim_is_null[j])
					u = isnan(value) ? enc->null_rate * synth_rng_uniform(&rng) :
						enc->null_rate + (1.0 - enc->null_rate) * synth_rng_uniform(&rng);
				else if (ranks[j] != NULL)
				{
					/* a continuous value at its rank, randomised within ties */
					RankSpan	span = ranks[j][start + r];

					u = span.ties < 0 ? NAN :
						(span.below + synth_rng_uniform(&rng) * span.ties) / (double) nvalid[j];
				}
				else
					u = synth_encoder_to_uniform(enc, value, catmap[j], &rng);
				if (isnan(u))
				{
					z[k] = 0.0;
					mask[k] = 0.0;
				}
				else
				{
					u = Min(Max(u, COPULA_U_EPS), 1.0 - COPULA_U_EPS);
					z[k] = synth_norm_quantile(u);
					mask[k] = 1.0;
				}
				z2[k] = z[k] * z[k];
			}
		}
		/* s_ab += Z^T Z, s_a += Z^T M, s_aa += (Z.Z)^T M, n_ab += M^T M */
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, rows,
					1.0, z, d, z, d, 1.0, s_ab, d);
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, rows,
					1.0, z, d, mask, d, 1.0, s_a, d);
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, rows,
					1.0, z2, d, mask, d, 1.0, s_aa, d);
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, rows,
					1.0, mask, d, mask, d, 1.0, n_ab, d);
	}

	/* pairwise correlation, shrunk towards the identity until it factorises */
	corr = palloc(sizeof(double) * d * d);
	for (lambda = 0.0;; lambda = (lambda == 0.0) ? 1e-6 : lambda * 10.0)
	{
		for (int a = 0; a < d; a++)
			for (int b = 0; b <= a; b++)
			{
				double		n = n_ab[a * d + b];
				double		r = 0.0;

				if (a == b)
					r = 1.0;
				else if (n >= 2.0)
				{
					/* moments of a and b over the rows where both are present */
					double		ma = s_a[a * d + b] / n;
					double		mb = s_a[b * d + a] / n;
					double		va = s_aa[a * d + b] / n - ma * ma;
					double		vb = s_aa[b * d + a] / n - mb * mb;
					double		cab = s_ab[a * d + b] / n - ma * mb;

					if (va > 1e-12 && vb > 1e-12)
						r = Max(Min(cab / sqrt(va * vb), 1.0), -1.0) * (1.0 - lambda);
				}
				corr[a * d + b] = r;
				corr[b * d + a] = r;
			}
		if (cholesky(corr, d) || lambda >= 1.0)
			break;
	}
	memcpy(model->chol, corr, sizeof(double) * d * d);

	for (int j = 0; j < d; j++)
	{
		if (ranks[j])
			pfree(ranks[j]);
		if (catmap[j])
			pfree(catmap[j]);
	}
	pfree(z);
	pfree(mask);
	pfree(z2);
	pfree(s_ab);
	pfree(s_a);
	pfree(s_aa);
	pfree(n_ab);
	pfree(corr);
}

/*
 * Draw nrows rows of uniform scores u (nrows x dim, row-major) from the
 * copula: normal e, z = e L^T, u = Phi(z).
 */
void
synth_copula_sample(SynthModel *model, int nrows, SynthRng *rng, double *u)
{
	int			d = model->dim;
	int64		n = (int64) nrows * d;

	if (d == 0)
		return;
	for (int64 i = 0; i < n; i++)
		u[i] = synth_rng_normal(rng);
	cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
				nrows, d, 1.0, model->chol, d, u, d);
	for (int64 i = 0; i < n; i++)
		u[i] = synth_norm_cdf(u[i]);
}

/* Solve L L^T x = b in place for the d x d lower factor l (row-major). */
static void
cholesky_solve(const double *l, int d, double *b)
{
	for (int i = 0; i < d; i++)
	{
		double		t = b[i];

		for (int k = 0; k < i; k++)
			t -= l[i * d + k] * b[k];
		b[i] = t / l[i * d + i];
	}
	for (int i = d - 1; i >= 0; i--)
	{
		double		t = b[i];

		for (int k = i + 1; k < d; k++)
			t -= l[k * d + i] * b[k];
		b[i] = t / l[i * d + i];
	}
}

/*
 * Prepare sampling the other dimensions given the dimensions marked known:
 * z_U | z_K ~ N(A z_K, C) with A = S_UK S_KK^-1 and C = S_UU - A S_KU, where
 * S = L L^T is the copula's correlation.
 */
SynthCopulaCondition *
synth_copula_condition(SynthModel *model, const bool *is_known)
{
	int			d = model->dim;
	const double *l = model->chol;
	SynthCopulaCondition *cond = palloc0(sizeof(SynthCopulaCondition));
	double	   *sigma = palloc0(sizeof(double) * Max(d * d, 1));
	double	   *skk;
	double	   *col;
	double		lambda;

	cond->known = palloc(sizeof(int) * Max(d, 1));
	cond->unknown = palloc(sizeof(int) * Max(d, 1));
	for (int j = 0; j < d; j++)
	{
		if (is_known[j])
			cond->known[cond->nk++] = j;
		else
			cond->unknown[cond->nu++] = j;
	}

	/* S = L L^T */
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, l, d, l, d,
				0.0, sigma, d);

	/* factor S_KK (shrunk towards the identity if it must be) */
	skk = palloc(sizeof(double) * Max(cond->nk * cond->nk, 1));
	for (lambda = 0.0;; lambda = (lambda == 0.0) ? 1e-9 : lambda * 10.0)
	{
		for (int a = 0; a < cond->nk; a++)
			for (int b = 0; b < cond->nk; b++)
				skk[a * cond->nk + b] = sigma[cond->known[a] * d + cond->known[b]] *
					(a == b ? 1.0 : 1.0 - lambda);
		if (cholesky(skk, cond->nk) || lambda >= 1.0)
			break;
	}

	/* A^T = S_KK^-1 S_KU, one column of S_KU at a time */
	cond->a = palloc0(sizeof(double) * Max(cond->nu * cond->nk, 1));
	col = palloc(sizeof(double) * Max(cond->nk, 1));
	for (int u = 0; u < cond->nu; u++)
	{
		for (int k = 0; k < cond->nk; k++)
			col[k] = sigma[cond->known[k] * d + cond->unknown[u]];
		if (cond->nk > 0)
			cholesky_solve(skk, cond->nk, col);
		for (int k = 0; k < cond->nk; k++)
			cond->a[u * cond->nk + k] = col[k];
	}

	/* C = S_UU - A S_KU, factored */
	cond->l = palloc(sizeof(double) * Max(cond->nu * cond->nu, 1));
	for (lambda = 0.0;; lambda = (lambda == 0.0) ? 1e-9 : lambda * 10.0)
	{
		for (int a = 0; a < cond->nu; a++)
			for (int b = 0; b < cond->nu; b++)
			{
				double		c = sigma[cond->unknown[a] * d + cond->unknown[b]];

				for (int k = 0; k < cond->nk; k++)
					c -= cond->a[a * cond->nk + k] * sigma[cond->known[k] * d + cond->unknown[b]];
				cond->l[a * cond->nu + b] = c + (a == b ? lambda : 0.0);
			}
		if (cholesky(cond->l, cond->nu) || lambda >= 1.0)
			break;
	}
	pfree(sigma);
	pfree(skk);
	pfree(col);
	return cond;
}

static void sample_given_restricted(SynthModel *model, SynthCopulaCondition *cond, int nrows,
									SynthRng *rng, double *u);

/*
 * Fill the unknown dimensions of nrows rows of uniform scores u (nrows x dim,
 * row-major) given the known dimensions, which the caller has filled.
 */
void
synth_copula_sample_given(SynthModel *model, SynthCopulaCondition *cond, int nrows,
						  SynthRng *rng, double *u)
{
	int			d = model->dim;
	double	   *zk;
	double	   *e;

	if (cond->nr > 0)
	{
		sample_given_restricted(model, cond, nrows, rng, u);
		return;
	}
	zk = palloc(sizeof(double) * Max(cond->nk, 1));
	e = palloc(sizeof(double) * Max(cond->nu, 1));

	for (int r = 0; r < nrows; r++)
	{
		double	   *row = u + (int64) r * d;

		for (int k = 0; k < cond->nk; k++)
			zk[k] = synth_norm_quantile(Min(Max(row[cond->known[k]], COPULA_U_EPS),
											1.0 - COPULA_U_EPS));
		for (int j = 0; j < cond->nu; j++)
			e[j] = synth_rng_normal(rng);
		for (int j = 0; j < cond->nu; j++)
		{
			double		z = 0.0;

			for (int k = 0; k < cond->nk; k++)
				z += cond->a[j * cond->nk + k] * zk[k];
			for (int k = 0; k <= j; k++)
				z += cond->l[j * cond->nu + k] * e[k];
			row[cond->unknown[j]] = synth_norm_cdf(z);
		}
	}
	pfree(zk);
	pfree(e);
}

/* The copula's correlation S = L L^T (d x d, row-major), palloc'd. */
static double *
copula_sigma(SynthModel *model)
{
	int			d = model->dim;
	double	   *sigma = palloc0(sizeof(double) * Max(d * d, 1));

	if (d > 0)
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, model->chol, d,
					model->chol, d, 0.0, sigma, d);
	return sigma;
}

/*
 * A draw of N(mu, sigma^2) restricted to the union of the intervals
 * [lo[i], hi[i]] (in z): an interval by its probability mass, then the
 * inverse CDF inside it.  Masses in the upper tail are taken from the
 * survival function so that they do not vanish in rounding.
 */
static double
truncated_normal(double mu, double sigma, const double *lo, const double *hi, int n,
				 SynthRng *rng)
{
	double		mass[SYNTH_MAX_INTERVALS];
	double		total = 0.0;
	double		pick;
	int			i;
	int			nearest = 0;
	double		nearest_gap = HUGE_VAL;

	n = Min(n, SYNTH_MAX_INTERVALS);
	for (i = 0; i < n; i++)
	{
		double		a = (lo[i] - mu) / sigma;
		double		b = (hi[i] - mu) / sigma;
		double		gap = a > 0 ? a : (b < 0 ? -b : 0.0);

		mass[i] = a > 0 ? synth_norm_cdf(-a) - synth_norm_cdf(-b) : synth_norm_cdf(b) - synth_norm_cdf(a);
		total += mass[i];
		if (gap < nearest_gap)
		{
			nearest_gap = gap;
			nearest = i;
		}
	}
	if (!(total > 1e-300))
		return Min(Max(mu, lo[nearest]), hi[nearest]);	/* far in a tail: its edge */

	pick = synth_rng_uniform(rng) * total;
	for (i = 0; i < n - 1 && pick > mass[i]; i++)
		pick -= mass[i];
	{
		double		a = (lo[i] - mu) / sigma;
		double		b = (hi[i] - mu) / sigma;
		double		z;

		if (a > 0)
		{
			double		sa = synth_norm_cdf(-a),
						sb = synth_norm_cdf(-b);

			z = -synth_norm_quantile(Min(Max(sb + synth_rng_uniform(rng) * (sa - sb), 1e-300), 1.0 - 1e-16));
		}
		else
		{
			double		fa = synth_norm_cdf(a),
						fb = synth_norm_cdf(b);

			z = synth_norm_quantile(Min(Max(fa + synth_rng_uniform(rng) * (fb - fa), 1e-300), 1.0 - 1e-16));
		}
		return Min(Max(mu + sigma * z, lo[i]), hi[i]);
	}
}

/*
 * Draw nrows rows of uniform scores u (nrows x dim) from the copula
 * restricted, for each dimension j with allowed[j] != NULL, to the union of
 * that set's intervals of uniform scores.  One restricted dimension is drawn
 * exactly from its truncated marginal; several by Gibbs sampling over the
 * restricted dimensions' truncated conditionals (SYNTH_GIBBS_SWEEPS sweeps
 * from an independent start); the free dimensions then follow exactly from
 * the conditional Gaussian given the restricted ones.
 */
void
synth_copula_sample_restricted(SynthModel *model, SynthAllowedSet *const *allowed, int nrows,
							   SynthRng *rng, double *u)
{
	int			d = model->dim;
	int			nc = 0;
	int		   *cdims = palloc(sizeof(int) * Max(d, 1));
	bool	   *known = palloc0(sizeof(bool) * Max(d, 1));
	double	   *sigma,
			   *prec,
			   *zlo,
			   *zhi,
			   *z;
	SynthCopulaCondition *cond;

	for (int j = 0; j < d; j++)
		if (allowed[j] != NULL)
		{
			cdims[nc++] = j;
			known[j] = true;
		}
	if (nc == 0)
	{
		synth_copula_sample(model, nrows, rng, u);
		return;
	}

	/* precision of the restricted dimensions: conditionals for Gibbs */
	sigma = copula_sigma(model);
	prec = palloc0(sizeof(double) * nc * nc);
	{
		double	   *scc = palloc(sizeof(double) * nc * nc);
		double		lambda;

		for (lambda = 0.0;; lambda = (lambda == 0.0) ? 1e-9 : lambda * 10.0)
		{
			for (int a = 0; a < nc; a++)
				for (int b = 0; b < nc; b++)
					scc[a * nc + b] = sigma[cdims[a] * d + cdims[b]] * (a == b ? 1.0 : 1.0 - lambda);
			if (cholesky(scc, nc) || lambda >= 1.0)
				break;
		}
		for (int b = 0; b < nc; b++)
		{
			double	   *col = prec + b * nc;

			col[b] = 1.0;
			cholesky_solve(scc, nc, col);	/* column b of the inverse (symmetric) */
		}
		pfree(scc);
	}

	/* allowed intervals in z */
	zlo = palloc(sizeof(double) * nc * SYNTH_MAX_INTERVALS);
	zhi = palloc(sizeof(double) * nc * SYNTH_MAX_INTERVALS);
	for (int c = 0; c < nc; c++)
	{
		SynthAllowedSet *set = allowed[cdims[c]];

		for (int i = 0; i < set->n && i < SYNTH_MAX_INTERVALS; i++)
		{
			zlo[c * SYNTH_MAX_INTERVALS + i] = set->lo[i] <= 0.0 ? -HUGE_VAL : synth_norm_quantile(set->lo[i]);
			zhi[c * SYNTH_MAX_INTERVALS + i] = set->hi[i] >= 1.0 ? HUGE_VAL : synth_norm_quantile(set->hi[i]);
		}
	}

	z = palloc(sizeof(double) * nc);
	for (int r = 0; r < nrows; r++)
	{
		double	   *row = u + (int64) r * d;
		int			sweeps = nc == 1 ? 0 : SYNTH_GIBBS_SWEEPS;

		for (int c = 0; c < nc; c++)
			z[c] = truncated_normal(0.0, 1.0, zlo + c * SYNTH_MAX_INTERVALS, zhi + c * SYNTH_MAX_INTERVALS,
									allowed[cdims[c]]->n, rng);
		for (int s = 0; s < sweeps; s++)
			for (int c = 0; c < nc; c++)
			{
				double		pcc = prec[c * nc + c];
				double		mu = 0.0;

				for (int k = 0; k < nc; k++)
					if (k != c)
						mu -= prec[c * nc + k] * z[k] / pcc;
				z[c] = truncated_normal(mu, 1.0 / sqrt(pcc), zlo + c * SYNTH_MAX_INTERVALS, zhi + c * SYNTH_MAX_INTERVALS,
										allowed[cdims[c]]->n, rng);
			}
		for (int c = 0; c < nc; c++)
			row[cdims[c]] = synth_norm_cdf(z[c]);
	}

	cond = synth_copula_condition(model, known);
	synth_copula_sample_given(model, cond, nrows, rng, u);

	pfree(sigma);
	pfree(prec);
	pfree(zlo);
	pfree(zhi);
	pfree(z);
	pfree(cdims);
	pfree(known);
}

/*
 * Prepare sampling given the dimensions marked known (filled per row by the
 * caller) with, in addition, each other dimension j with allowed[j] != NULL
 * restricted to that set of scores.  Given the known z_K, the unknown z_U
 * are N(A z_K, C); the restricted ones z_R among them are drawn from that
 * Gaussian truncated to their sets (exactly when there is one, by Gibbs
 * sampling over their truncated conditionals when there are several, as
 * synth_copula_sample_restricted does without known dimensions), and the
 * free ones then exactly given z_K and z_R.
 */
SynthCopulaCondition *
synth_copula_condition_restricted(SynthModel *model, const bool *is_known,
								  SynthAllowedSet *const *allowed)
{
	int			d = model->dim;
	SynthCopulaCondition *cond = synth_copula_condition(model, is_known);
	bool	   *known2;
	double	   *crr;
	double		lambda;
	int			nr = 0;

	cond->rpos = palloc(sizeof(int) * Max(cond->nu, 1));
	for (int j = 0; j < cond->nu; j++)
		if (allowed != NULL && allowed[cond->unknown[j]] != NULL)
			cond->rpos[nr++] = j;
	if (nr == 0)
		return cond;

	/* C_RR = (L L^T)_RR of the conditional factor */
	crr = palloc(sizeof(double) * nr * nr);
	cond->rvar = palloc(sizeof(double) * nr);
	for (int a = 0; a < nr; a++)
		for (int b = 0; b < nr; b++)
		{
			int			ia = cond->rpos[a],
						ib = cond->rpos[b];
			double		c = 0.0;

			for (int k = 0; k <= Min(ia, ib); k++)
				c += cond->l[ia * cond->nu + k] * cond->l[ib * cond->nu + k];
			crr[a * nr + b] = c;
		}
	for (int a = 0; a < nr; a++)
		cond->rvar[a] = Max(crr[a * nr + a], 1e-12);

	/* its inverse (shrunk towards the diagonal if it must be): the Gibbs conditionals */
	cond->rprec = palloc0(sizeof(double) * nr * nr);
	{
		double	   *f = palloc(sizeof(double) * nr * nr);

		for (lambda = 0.0;; lambda = (lambda == 0.0) ? 1e-9 : lambda * 10.0)
		{
			for (int a = 0; a < nr; a++)
				for (int b = 0; b < nr; b++)
					f[a * nr + b] = a == b ? cond->rvar[a] : crr[a * nr + b] * (1.0 - lambda);
			if (cholesky(f, nr) || lambda >= 1.0)
				break;
		}
		for (int b = 0; b < nr; b++)
		{
			double	   *col = cond->rprec + b * nr;

			col[b] = 1.0;
			cholesky_solve(f, nr, col);
		}
		pfree(f);
	}

	/* the sets in z */
	cond->rn = palloc(sizeof(int) * nr);
	cond->rzlo = palloc(sizeof(double) * nr * SYNTH_MAX_INTERVALS);
	cond->rzhi = palloc(sizeof(double) * nr * SYNTH_MAX_INTERVALS);
	for (int a = 0; a < nr; a++)
	{
		SynthAllowedSet *set = allowed[cond->unknown[cond->rpos[a]]];

		cond->rn[a] = Min(set->n, SYNTH_MAX_INTERVALS);
		for (int i = 0; i < cond->rn[a]; i++)
		{
			cond->rzlo[a * SYNTH_MAX_INTERVALS + i] = set->lo[i] <= 0.0 ? -HUGE_VAL : synth_norm_quantile(set->lo[i]);
			cond->rzhi[a * SYNTH_MAX_INTERVALS + i] = set->hi[i] >= 1.0 ? HUGE_VAL : synth_norm_quantile(set->hi[i]);
		}
	}

	/* the free dimensions given the known and the restricted ones */
	known2 = palloc(sizeof(bool) * Max(d, 1));
	memcpy(known2, is_known, sizeof(bool) * Max(d, 1));
	for (int a = 0; a < nr; a++)
		known2[cond->unknown[cond->rpos[a]]] = true;
	cond->rest = synth_copula_condition(model, known2);
	cond->nr = nr;
	pfree(known2);
	pfree(crr);
	return cond;
}

/* synth_copula_sample_given for a condition with restricted dimensions. */
static void
sample_given_restricted(SynthModel *model, SynthCopulaCondition *cond, int nrows,
						SynthRng *rng, double *u)
{
	int			d = model->dim;
	int			nr = cond->nr;
	double	   *zk = palloc(sizeof(double) * Max(cond->nk, 1));
	double	   *m = palloc(sizeof(double) * nr);
	double	   *z = palloc(sizeof(double) * nr);

	for (int r = 0; r < nrows; r++)
	{
		double	   *row = u + (int64) r * d;
		int			sweeps = nr == 1 ? 0 : SYNTH_GIBBS_SWEEPS;

		for (int k = 0; k < cond->nk; k++)
			zk[k] = synth_norm_quantile(Min(Max(row[cond->known[k]], COPULA_U_EPS),
											1.0 - COPULA_U_EPS));
		/* the restricted ones' mean given the known, a start from their truncated marginals */
		for (int a = 0; a < nr; a++)
		{
			int			j = cond->rpos[a];

			m[a] = 0.0;
			for (int k = 0; k < cond->nk; k++)
				m[a] += cond->a[j * cond->nk + k] * zk[k];
			z[a] = truncated_normal(m[a], sqrt(cond->rvar[a]), cond->rzlo + a * SYNTH_MAX_INTERVALS,
									cond->rzhi + a * SYNTH_MAX_INTERVALS, cond->rn[a], rng);
		}
		for (int s = 0; s < sweeps; s++)
			for (int a = 0; a < nr; a++)
			{
				double		pcc = cond->rprec[a * nr + a];
				double		mu = m[a];

				for (int b = 0; b < nr; b++)
					if (b != a)
						mu -= cond->rprec[a * nr + b] * (z[b] - m[b]) / pcc;
				z[a] = truncated_normal(mu, 1.0 / sqrt(pcc), cond->rzlo + a * SYNTH_MAX_INTERVALS,
										cond->rzhi + a * SYNTH_MAX_INTERVALS, cond->rn[a], rng);
			}
		for (int a = 0; a < nr; a++)
			row[cond->unknown[cond->rpos[a]]] = synth_norm_cdf(z[a]);
	}
	synth_copula_sample_given(model, cond->rest, nrows, rng, u);
	pfree(zk);
	pfree(m);
	pfree(z);
}
