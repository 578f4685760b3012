/*-------------------------------------------------------------------------
 *
 * gbt.c
 *	  Gradient-boosted decision trees over binned features (see gbt.h).
 *
 * The learner follows the second-order boosting of XGBoost and LightGBM:
 * each round computes the gradient g and hessian h of the loss at every
 * row's current score, grows one tree per output on histograms of (g, h)
 * per feature bin, and adds -G / (H + lambda) times the learning rate at
 * each leaf.  A split's gain is GL^2/(HL+l) + GR^2/(HR+l) - G^2/(H+l).
 * Categories are split as LightGBM does: the node's categories sorted by
 * G / (H + smoothing), and the best prefix of that order goes left.
 *
 *-------------------------------------------------------------------------
 */
#include "gbt.h"

#include <math.h>

#include "miscadmin.h"

/* Added to a category's hessian when categories are ordered for a split. */
#define SYNTH_GBT_CAT_SMOOTH	10.0

/* Hessians are kept above this so that leaves stay finite. */
#define SYNTH_GBT_MIN_HESSIAN	1e-6

/* A split must gain at least this much. */
#define SYNTH_GBT_MIN_GAIN		1e-9

void
synth_gbt_default_params(SynthGbtParams *params)
{
	params->trees = 100;
	params->depth = 5;
	params->learning_rate = 0.1;
	params->lambda = 1.0;
	params->min_leaf = 10;
}

/* ---- binning ---- */

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Numeric feature: up to 255 quantile bins over the non-NULL values (one per
 * distinct value when there are few), bin 0 for NULL.
 */
static int
bin_numeric(const double *col, int nrows, double *scratch, uint8 *out)
{
	double		edges[SYNTH_GBT_MAX_BINS - 1];
	int			nedges = 0;
	int			n = 0;
	int			ndistinct = 0;

	for (int r = 0; r < nrows; r++)
		if (!isnan(col[r]))
			scratch[n++] = col[r];
	if (n == 0)
	{
		memset(out, SYNTH_GBT_NULL_BIN, nrows);
		return 1;
	}
	qsort(scratch, n, sizeof(double), compare_double);
	for (int i = 0; i < n; i++)
		if (i == 0 || scratch[i] != scratch[i - 1])
			ndistinct++;

	if (ndistinct <= SYNTH_GBT_MAX_BINS - 1)
	{
		for (int i = 0; i < n; i++)
			if (i == 0 || scratch[i] != scratch[i - 1])
				edges[nedges++] = scratch[i];
	}
	else
	{
		/* the upper edge of bin j is the (j / 255)-quantile; the last is the maximum */
		for (int j = 1; j <= SYNTH_GBT_MAX_BINS - 1; j++)
		{
			double		v = scratch[(int64) j * n / (SYNTH_GBT_MAX_BINS - 1) - 1];

			if (nedges == 0 || v > edges[nedges - 1])
				edges[nedges++] = v;
		}
	}

	for (int r = 0; r < nrows; r++)
	{
		int			lo = 0;
		int			hi = nedges - 1;

		if (isnan(col[r]))
		{
			out[r] = SYNTH_GBT_NULL_BIN;
			continue;
		}
		/* the first edge >= value */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (col[r] <= edges[mid])
				hi = mid;
			else
				lo = mid + 1;
		}
		out[r] = (uint8) (1 + lo);
	}
	return 1 + nedges;
}

typedef struct CategoryCount
{
	int64		count;
	int			code;
} CategoryCount;

static int
compare_category_count(const void *a, const void *b)
{
	const CategoryCount *x = a;
	const CategoryCount *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->code > y->code) - (x->code < y->code);
}

/*
 * Categorical feature: the 254 most frequent categories get a bin each, the
 * others share the last bin, NULL has bin 0.
 */
static int
bin_categorical(const double *col, int nrows, uint8 *out)
{
	int			maxcode = -1;
	CategoryCount *counts;
	int		   *bin_of_code;
	int			ncodes = 0;
	int			nbins;

	for (int r = 0; r < nrows; r++)
		if (!isnan(col[r]) && (int) col[r] > maxcode)
			maxcode = (int) col[r];
	counts = palloc0(sizeof(CategoryCount) * (maxcode + 1 + 1));
	bin_of_code = palloc(sizeof(int) * (maxcode + 1 + 1));
	for (int c = 0; c <= maxcode; c++)
		counts[c].code = c;
	for (int r = 0; r < nrows; r++)
		if (!isnan(col[r]))
			counts[(int) col[r]].count++;
	qsort(counts, maxcode + 1, sizeof(CategoryCount), compare_category_count);
	for (int i = 0; i <= maxcode; i++)
	{
		if (counts[i].count == 0)
			break;
		bin_of_code[counts[i].code] = Min(1 + i, SYNTH_GBT_MAX_BINS - 1);
		ncodes++;
	}
	for (int r = 0; r < nrows; r++)
		out[r] = isnan(col[r]) ? SYNTH_GBT_NULL_BIN : (uint8) bin_of_code[(int) col[r]];
	nbins = 1 + Min(ncodes, SYNTH_GBT_MAX_BINS - 1);
	pfree(counts);
	pfree(bin_of_code);
	return nbins;
}

SynthGbtData *
synth_gbt_bin(const double *values, int nrows, int nfeatures, const bool *categorical)
{
	SynthGbtData *data = palloc0(sizeof(SynthGbtData));
	double	   *scratch = palloc(sizeof(double) * Max(nrows, 1));
	uint8	   *column = palloc(Max(nrows, 1));

	data->nrows = nrows;
	data->nfeatures = nfeatures;
	data->bins = palloc(Max((Size) nrows * nfeatures, 1));
	data->categorical = palloc(sizeof(bool) * Max(nfeatures, 1));
	data->nbins = palloc(sizeof(int) * Max(nfeatures, 1));
	for (int f = 0; f < nfeatures; f++)
	{
		const double *col = values + (Size) f * nrows;

		data->categorical[f] = categorical[f];
		data->nbins[f] = categorical[f] ? bin_categorical(col, nrows, column) :
			bin_numeric(col, nrows, scratch, column);
		for (int r = 0; r < nrows; r++)
			data->bins[(Size) r * nfeatures + f] = column[r];
	}
	pfree(scratch);
	pfree(column);
	return data;
}

/* ---- trees ---- */

/* Which way a row of the given bin goes at a split node. */
static inline bool
goes_left(const SynthGbtNode *node, bool categorical, uint8 bin)
{
	if (categorical)
		return (node->catmask[bin / 64] >> (bin % 64)) & 1;
	if (bin == SYNTH_GBT_NULL_BIN)
		return node->null_left;
	return bin <= node->threshold;
}

static int32
new_node(SynthGbtModel *model)
{
	if (model->nnodes == model->capacity)
	{
		model->capacity *= 2;
		model->nodes = repalloc(model->nodes, sizeof(SynthGbtNode) * model->capacity);
	}
	memset(&model->nodes[model->nnodes], 0, sizeof(SynthGbtNode));
	model->nodes[model->nnodes].left = -1;
	model->nodes[model->nnodes].right = -1;
	return model->nnodes++;
}

/* One bin of a node's histogram: sums of g and h over its rows, and their count. */
typedef struct HistBin
{
	double		g;
	double		h;
	double		n;
} HistBin;

/* What one tree's growth works with. */
typedef struct GrowState
{
	const SynthGbtData *data;
	const int  *rows;			/* data row of each position */
	const double *g;			/* per position */
	const double *h;
	int		   *idx;			/* positions, partitioned by node */
	int		   *offset;			/* per feature: its first bin in a histogram */
	int			total_bins;
	HistBin    *hists[2];		/* this level's and the next level's, per node */
	const SynthGbtParams *params;
} GrowState;

/* The best split found for a node. */
typedef struct Split
{
	double		gain;
	int			feature;
	uint8		threshold;
	bool		null_left;
	uint64		catmask[SYNTH_GBT_MAX_BINS / 64];
} Split;

/* The histogram of the rows at positions idx[begin, end), into hist. */
static void
build_histogram(GrowState *gs, int begin, int end, HistBin *hist)
{
	const SynthGbtData *data = gs->data;
	int			nf = data->nfeatures;

	memset(hist, 0, sizeof(HistBin) * gs->total_bins);
	for (int i = begin; i < end; i++)
	{
		int			pos = gs->idx[i];
		const uint8 *rowbins = data->bins + (Size) gs->rows[pos] * nf;
		double		g = gs->g[pos];
		double		h = gs->h[pos];

		for (int f = 0; f < nf; f++)
		{
			HistBin    *bin = &hist[gs->offset[f] + rowbins[f]];

			bin->g += g;
			bin->h += h;
			bin->n += 1.0;
		}
	}
}

/* A sibling's histogram: the parent's minus the other child's. */
static void
subtract_histogram(const GrowState *gs, const HistBin *parent, const HistBin *child,
				   HistBin *out)
{
	for (int b = 0; b < gs->total_bins; b++)
	{
		out[b].g = parent[b].g - child[b].g;
		out[b].h = parent[b].h - child[b].h;
		out[b].n = parent[b].n - child[b].n;
	}
}

static inline double
leaf_score(double g, double h, double lambda)
{
	return g * g / (h + lambda);
}

/* Numeric feature: thresholds over the value bins, NULL sent either way. */
static void
best_numeric_split(GrowState *gs, const HistBin *hist, int f, double G, double H, int N,
				   double parent, Split *best)
{
	const HistBin *hb = hist + gs->offset[f];
	int			nb = gs->data->nbins[f];
	double		lambda = gs->params->lambda;
	int			min_leaf = gs->params->min_leaf;

	for (int null_left = 0; null_left <= 1; null_left++)
	{
		double		GL = null_left ? hb[0].g : 0.0;
		double		HL = null_left ? hb[0].h : 0.0;
		int			NL = null_left ? (int) hb[0].n : 0;

		if (null_left && hb[0].n == 0)
			break;
		for (int b = 1; b < nb; b++)
		{
			double		gain;

			GL += hb[b].g;
			HL += hb[b].h;
			NL += (int) hb[b].n;
			if (NL < min_leaf)
				continue;
			if (N - NL < min_leaf)
				break;
			gain = leaf_score(GL, HL, lambda) + leaf_score(G - GL, H - HL, lambda) - parent;
			if (gain > best->gain)
			{
				best->gain = gain;
				best->feature = f;
				best->threshold = (uint8) b;
				best->null_left = null_left;
			}
		}
	}
}

typedef struct CategoryOrder
{
	double		ratio;
	int			bin;
} CategoryOrder;

static int
compare_category_order(const void *a, const void *b)
{
	const CategoryOrder *x = a;
	const CategoryOrder *y = b;

	if (x->ratio != y->ratio)
		return x->ratio < y->ratio ? -1 : 1;
	return (x->bin > y->bin) - (x->bin < y->bin);
}

/* Categorical feature: prefixes of the categories ordered by G / (H + smoothing). */
static void
best_categorical_split(GrowState *gs, const HistBin *hist, int f, double G, double H, int N,
					   double parent, Split *best)
{
	const HistBin *hb = hist + gs->offset[f];
	int			nb = gs->data->nbins[f];
	double		lambda = gs->params->lambda;
	int			min_leaf = gs->params->min_leaf;
	CategoryOrder order[SYNTH_GBT_MAX_BINS];
	int			m = 0;
	double		GL = 0.0;
	double		HL = 0.0;
	int			NL = 0;

	for (int b = 0; b < nb; b++)
	{
		if (hb[b].n == 0)
			continue;
		order[m].ratio = hb[b].g / (hb[b].h + SYNTH_GBT_CAT_SMOOTH);
		order[m].bin = b;
		m++;
	}
	if (m < 2)
		return;
	qsort(order, m, sizeof(CategoryOrder), compare_category_order);
	for (int k = 0; k < m - 1; k++)
	{
		int			b = order[k].bin;
		double		gain;

		GL += hb[b].g;
		HL += hb[b].h;
		NL += (int) hb[b].n;
		if (NL < min_leaf)
			continue;
		if (N - NL < min_leaf)
			break;
		gain = leaf_score(GL, HL, lambda) + leaf_score(G - GL, H - HL, lambda) - parent;
		if (gain > best->gain)
		{
			best->gain = gain;
			best->feature = f;
			memset(best->catmask, 0, sizeof(best->catmask));
			for (int j = 0; j <= k; j++)
				best->catmask[order[j].bin / 64] |= UINT64CONST(1) << (order[j].bin % 64);
		}
	}
}

/* Rows of positions idx[begin, end) that go left move to the front; returns the split point. */
static int
partition(GrowState *gs, const SynthGbtNode *node, int begin, int end)
{
	const SynthGbtData *data = gs->data;
	const uint8 *col = data->bins + node->feature;
	int			nf = data->nfeatures;
	bool		categorical = data->categorical[node->feature];
	int			i = begin;
	int			j = end - 1;

	while (i <= j)
	{
		if (goes_left(node, categorical, col[(Size) gs->rows[gs->idx[i]] * nf]))
			i++;
		else
		{
			int			tmp = gs->idx[i];

			gs->idx[i] = gs->idx[j];
			gs->idx[j] = tmp;
			j--;
		}
	}
	return i;
}

/* A node waiting to be split or made a leaf. */
typedef struct Pending
{
	int32		node;
	int			begin;
	int			end;
	int			slot;			/* its histogram in this level's buffer, or -1 */
} Pending;

/* May a node of this many rows at this depth still be split? */
static inline bool
splittable(const SynthGbtParams *params, int depth, int nrows)
{
	return depth < params->depth && nrows >= 2 * params->min_leaf;
}

/*
 * Grow one tree on gs->g, gs->h and add its leaf values to score[pos *
 * stride].  Returns the root's index.  Level by level; a node's histogram is
 * built from its rows only for the smaller child of a split, the larger
 * child's is the parent's minus it.
 */
static int32
grow_tree(SynthGbtModel *model, GrowState *gs, int npos, double *score, int stride)
{
	const SynthGbtParams *params = gs->params;
	Pending    *level = palloc(sizeof(Pending) * ((Size) 1 << params->depth));
	Pending    *next = palloc(sizeof(Pending) * ((Size) 1 << params->depth));
	int			nlevel = 1;
	int32		root = new_node(model);

	for (int i = 0; i < npos; i++)
		gs->idx[i] = i;
	level[0].node = root;
	level[0].begin = 0;
	level[0].end = npos;
	level[0].slot = -1;

	for (int depth = 0; nlevel > 0; depth++)
	{
		int			nnext = 0;
		int			nslots = 0;

		for (int p = 0; p < nlevel; p++)
		{
			Pending    *pend = &level[p];
			HistBin    *hist = gs->hists[0] + (Size) Max(pend->slot, 0) * gs->total_bins;
			double		G = 0.0;
			double		H = 0.0;
			int			N = pend->end - pend->begin;
			Split		best;
			SynthGbtNode *node;

			for (int i = pend->begin; i < pend->end; i++)
			{
				G += gs->g[gs->idx[i]];
				H += gs->h[gs->idx[i]];
			}
			memset(&best, 0, sizeof(best));
			best.gain = SYNTH_GBT_MIN_GAIN;
			best.feature = -1;
			if (splittable(params, depth, N))
			{
				double		parent = leaf_score(G, H, params->lambda);

				if (pend->slot < 0)
					build_histogram(gs, pend->begin, pend->end, hist);
				for (int f = 0; f < gs->data->nfeatures; f++)
				{
					if (gs->data->categorical[f])
						best_categorical_split(gs, hist, f, G, H, N, parent, &best);
					else
						best_numeric_split(gs, hist, f, G, H, N, parent, &best);
				}
			}

			if (best.feature < 0)
			{
				/* a leaf: the Newton step, shrunk */
				double		value = -G / (H + params->lambda) * params->learning_rate;

				node = &model->nodes[pend->node];
				node->value = value;
				for (int i = pend->begin; i < pend->end; i++)
					score[(Size) gs->idx[i] * stride] += value;
				continue;
			}

			{
				int32		left = new_node(model);
				int32		right = new_node(model);
				int			mid;
				Pending    *l = &next[nnext];
				Pending    *r = &next[nnext + 1];

				node = &model->nodes[pend->node];
				node->feature = (int16) best.feature;
				node->threshold = best.threshold;
				node->null_left = best.null_left;
				memcpy(node->catmask, best.catmask, sizeof(node->catmask));
				node->left = left;
				node->right = right;
				model->importance[best.feature] += best.gain;
				mid = partition(gs, node, pend->begin, pend->end);

				l->node = left;
				l->begin = pend->begin;
				l->end = mid;
				r->node = right;
				r->begin = mid;
				r->end = pend->end;
				l->slot = r->slot = -1;

				/* the children's histograms, when they may split again */
				if (splittable(params, depth + 1, Max(mid - pend->begin, pend->end - mid)))
				{
					HistBin    *lh = gs->hists[1] + (Size) nslots * gs->total_bins;
					HistBin    *rh = lh + gs->total_bins;
					bool		left_smaller = mid - pend->begin <= pend->end - mid;

					build_histogram(gs, left_smaller ? l->begin : r->begin,
									left_smaller ? l->end : r->end,
									left_smaller ? lh : rh);
					subtract_histogram(gs, hist, left_smaller ? lh : rh, left_smaller ? rh : lh);
					l->slot = nslots;
					r->slot = nslots + 1;
					nslots += 2;
				}
				nnext += 2;
			}
		}
		{
			Pending    *tmp = level;
			HistBin    *tmph = gs->hists[0];

			level = next;
			next = tmp;
			nlevel = nnext;
			gs->hists[0] = gs->hists[1];
			gs->hists[1] = tmph;
		}
	}
	pfree(level);
	pfree(next);
	return root;
}

static inline double
sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* In place: raw scores of K outputs to probabilities. */
static void
softmax(double *s, int k)
{
	double		max = s[0];
	double		sum = 0.0;

	for (int j = 1; j < k; j++)
		max = Max(max, s[j]);
	for (int j = 0; j < k; j++)
	{
		s[j] = exp(s[j] - max);
		sum += s[j];
	}
	for (int j = 0; j < k; j++)
		s[j] /= sum;
}

SynthGbtModel *
synth_gbt_fit(const SynthGbtData *data, const int *rows, int nrows, const double *target,
			  SynthGbtTask task, int nclasses, const SynthGbtParams *params)
{
	SynthGbtModel *model = palloc0(sizeof(SynthGbtModel));
	int			K = task == SYNTH_GBT_MULTICLASS ? nclasses : 1;
	double	   *y = palloc(sizeof(double) * Max(nrows, 1));
	double	   *score = palloc(sizeof(double) * Max(nrows, 1) * K);
	double	   *prob = palloc(sizeof(double) * Max(nrows, 1) * K);
	double	   *g = palloc(sizeof(double) * Max(nrows, 1));
	double	   *h = palloc(sizeof(double) * Max(nrows, 1));
	GrowState	gs;

	Assert(params->depth >= 1 && params->depth <= SYNTH_GBT_MAX_DEPTH);
	model->task = task;
	model->noutputs = K;
	model->nfeatures = data->nfeatures;
	model->ntrees = params->trees * K;
	model->roots = palloc(sizeof(int32) * Max(model->ntrees, 1));
	model->capacity = 64;
	model->nodes = palloc(sizeof(SynthGbtNode) * model->capacity);
	model->base = palloc0(sizeof(double) * K);
	model->importance = palloc0(sizeof(double) * Max(data->nfeatures, 1));
	model->target_mean = 0.0;
	model->target_scale = 1.0;

	for (int i = 0; i < nrows; i++)
		y[i] = target[rows[i]];

	/* the starting score: the log-odds, log-priors or mean of the target */
	if (task == SYNTH_GBT_BINARY)
	{
		double		pos = 0.0;

		for (int i = 0; i < nrows; i++)
			pos += y[i];
		model->base[0] = log((pos + 0.5) / (nrows - pos + 0.5));
	}
	else if (task == SYNTH_GBT_MULTICLASS)
	{
		double	   *count = palloc0(sizeof(double) * K);

		for (int i = 0; i < nrows; i++)
			count[(int) y[i]] += 1.0;
		for (int k = 0; k < K; k++)
			model->base[k] = log((count[k] + 1.0) / (nrows + K));
		pfree(count);
	}
	else
	{
		double		sum = 0.0;
		double		ss = 0.0;

		for (int i = 0; i < nrows; i++)
			sum += y[i];
		model->target_mean = nrows > 0 ? sum / nrows : 0.0;
		for (int i = 0; i < nrows; i++)
			ss += (y[i] - model->target_mean) * (y[i] - model->target_mean);
		model->target_scale = nrows > 1 && ss > 0.0 ? sqrt(ss / nrows) : 1.0;
		for (int i = 0; i < nrows; i++)
			y[i] = (y[i] - model->target_mean) / model->target_scale;
	}
	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < K; k++)
			score[(Size) i * K + k] = model->base[k];

	memset(&gs, 0, sizeof(gs));
	gs.data = data;
	gs.rows = rows;
	gs.g = g;
	gs.h = h;
	gs.params = params;
	gs.idx = palloc(sizeof(int) * Max(nrows, 1));
	gs.offset = palloc(sizeof(int) * Max(data->nfeatures, 1));
	for (int f = 0; f < data->nfeatures; f++)
	{
		gs.offset[f] = gs.total_bins;
		gs.total_bins += data->nbins[f];
	}
	/*
	 * Histograms for the nodes of a level that may split, for this level and
	 * the next: children come in pairs of which one has 2 x min_leaf rows.
	 */
	{
		Size		slots = Min((Size) 1 << params->depth,
								(Size) nrows / Max(params->min_leaf, 1) + 2);

		for (int l = 0; l < 2; l++)
			gs.hists[l] = MemoryContextAllocHuge(CurrentMemoryContext,
												 sizeof(HistBin) * Max(gs.total_bins, 1) * slots);
	}

	for (int t = 0; t < params->trees; t++)
	{
		CHECK_FOR_INTERRUPTS();
		if (task == SYNTH_GBT_MULTICLASS)
		{
			memcpy(prob, score, sizeof(double) * nrows * K);
			for (int i = 0; i < nrows; i++)
				softmax(prob + (Size) i * K, K);
		}
		for (int k = 0; k < K; k++)
		{
			for (int i = 0; i < nrows; i++)
			{
				double		p;

				switch (task)
				{
					case SYNTH_GBT_BINARY:
						p = sigmoid(score[i]);
						g[i] = p - y[i];
						h[i] = Max(p * (1.0 - p), SYNTH_GBT_MIN_HESSIAN);
						break;
					case SYNTH_GBT_MULTICLASS:
						p = prob[(Size) i * K + k];
						g[i] = p - ((int) y[i] == k ? 1.0 : 0.0);
						h[i] = Max(p * (1.0 - p), SYNTH_GBT_MIN_HESSIAN);
						break;
					case SYNTH_GBT_REGRESSION:
						g[i] = score[i] - y[i];
						h[i] = 1.0;
						break;
				}
			}
			model->roots[t * K + k] = grow_tree(model, &gs, nrows, score + k, K);
		}
	}

	pfree(y);
	pfree(score);
	pfree(prob);
	pfree(g);
	pfree(h);
	pfree(gs.idx);
	pfree(gs.offset);
	pfree(gs.hists[0]);
	pfree(gs.hists[1]);
	return model;
}

void
synth_gbt_predict(const SynthGbtModel *model, const SynthGbtData *data, const int *rows,
				  int nrows, double *out)
{
	int			K = model->noutputs;

	for (int i = 0; i < nrows; i++)
	{
		int			r = rows[i];
		double	   *s = out + (Size) i * K;

		for (int k = 0; k < K; k++)
			s[k] = model->base[k];
		for (int t = 0; t < model->ntrees; t++)
		{
			const SynthGbtNode *node = &model->nodes[model->roots[t]];

			while (node->left >= 0)
			{
				uint8		b = data->bins[(Size) r * data->nfeatures + node->feature];

				node = &model->nodes[goes_left(node, data->categorical[node->feature], b) ?
									 node->left : node->right];
			}
			s[t % K] += node->value;
		}
		switch (model->task)
		{
			case SYNTH_GBT_BINARY:
				s[0] = sigmoid(s[0]);
				break;
			case SYNTH_GBT_MULTICLASS:
				softmax(s, K);
				break;
			case SYNTH_GBT_REGRESSION:
				s[0] = s[0] * model->target_scale + model->target_mean;
				break;
		}
	}
}

/* ---- ROC AUC ---- */

typedef struct ScoredLabel
{
	double		score;
	bool		positive;
} ScoredLabel;

static int
compare_scored(const void *a, const void *b)
{
	double		x = ((const ScoredLabel *) a)->score;
	double		y = ((const ScoredLabel *) b)->score;

	return (x > y) - (x < y);
}

/*
 * The Mann-Whitney form: the mean rank of the positives among all scores,
 * ties given their average rank.
 */
double
synth_roc_auc(const double *score, const bool *positive, int n)
{
	ScoredLabel *items = palloc(sizeof(ScoredLabel) * Max(n, 1));
	double		rank_sum = 0.0;
	int64		npos = 0;
	int64		nneg;
	int			i = 0;

	for (int j = 0; j < n; j++)
	{
		items[j].score = score[j];
		items[j].positive = positive[j];
		npos += positive[j];
	}
	nneg = n - npos;
	if (npos == 0 || nneg == 0)
	{
		pfree(items);
		return NAN;
	}
	qsort(items, n, sizeof(ScoredLabel), compare_scored);
	while (i < n)
	{
		int			j = i;
		int64		pos_in_tie = 0;

		while (j < n && items[j].score == items[i].score)
		{
			pos_in_tie += items[j].positive;
			j++;
		}
		/* ranks i+1 .. j share their mean */
		rank_sum += pos_in_tie * ((double) (i + 1 + j) / 2.0);
		i = j;
	}
	pfree(items);
	return (rank_sum - (double) npos * (npos + 1) / 2.0) / ((double) npos * nneg);
}
