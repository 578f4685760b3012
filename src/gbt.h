/*-------------------------------------------------------------------------
 *
 * gbt.h
 *	  Gradient-boosted decision trees over binned features: the learner of
 *	  the quality report (detection of synthetic rows, train-synthetic-test-
 *	  real utility).
 *
 * Features are binned once (gbt.c: synth_gbt_bin) into at most 256 bins per
 * feature: bin 0 holds NULL, numeric values go into quantile bins, categories
 * into one bin each (the 254 most frequent; the rest share bin 255).  Trees
 * grow level by level to a fixed depth; a numeric split sends bins up to a
 * threshold one way and learns which way NULL goes, a categorical split sends
 * any set of categories (NULL among them) one way.  Leaves take the Newton
 * step of the loss: logistic (binary), softmax (multiclass), squared error
 * (regression).  Nothing is random: the same rows in the same order give the
 * same model.
 *
 * Uses palloc but no other server facility, so test/unit/gbt_test.c can
 * include gbt.c with stand-ins for palloc.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_GBT_H
#define SYNTH_GBT_H

#include "postgres.h"

#define SYNTH_GBT_MAX_BINS		256		/* per feature, NULL bin included */
#define SYNTH_GBT_NULL_BIN		0
#define SYNTH_GBT_MAX_DEPTH		8
#define SYNTH_GBT_MAX_CLASSES	16		/* classes of a multiclass target, "other" included */

typedef enum SynthGbtTask
{
	SYNTH_GBT_BINARY,			/* target 0/1; output P(1) */
	SYNTH_GBT_MULTICLASS,		/* target 0..K-1; output K probabilities */
	SYNTH_GBT_REGRESSION		/* target a number; output the prediction */
} SynthGbtTask;

typedef struct SynthGbtParams
{
	int			trees;			/* boosting rounds */
	int			depth;			/* levels of splits per tree */
	double		learning_rate;	/* shrinkage of every leaf */
	double		lambda;			/* L2 penalty on leaf values */
	int			min_leaf;		/* rows a leaf needs at least */
} SynthGbtParams;

/* A feature matrix as bins, row by row: bins[r * nfeatures + f]. */
typedef struct SynthGbtData
{
	int			nrows;
	int			nfeatures;
	uint8	   *bins;
	bool	   *categorical;	/* per feature */
	int		   *nbins;			/* per feature: bins in use, NULL bin included */
} SynthGbtData;

/* One node of a tree; a leaf has left == -1. */
typedef struct SynthGbtNode
{
	int32		left;
	int32		right;
	int16		feature;
	uint8		threshold;		/* numeric: bins 1 .. threshold go left */
	bool		null_left;		/* numeric: does the NULL bin go left? */
	double		value;			/* leaf: added to the raw score */
	uint64		catmask[SYNTH_GBT_MAX_BINS / 64];	/* categorical: bins set go left */
} SynthGbtNode;

typedef struct SynthGbtModel
{
	SynthGbtTask task;
	int			noutputs;		/* 1, or K classes */
	int			nfeatures;
	int			ntrees;			/* rounds x noutputs roots */
	int32	   *roots;			/* tree t of output k is roots[t * noutputs + k] */
	int			nnodes;
	int			capacity;
	SynthGbtNode *nodes;
	double	   *base;			/* per output: the raw score before any tree */
	double		target_mean;	/* regression: targets are standardised */
	double		target_scale;
	double	   *importance;		/* per feature: total gain of its splits */
} SynthGbtModel;

extern void synth_gbt_default_params(SynthGbtParams *params);

/*
 * Bin a column-major matrix values[f * nrows + r] (NaN is NULL; a categorical
 * feature holds non-negative category codes).
 */
extern SynthGbtData *synth_gbt_bin(const double *values, int nrows, int nfeatures,
								   const bool *categorical);

/*
 * Fit on the listed rows of data; target[r] is indexed by data row: a class
 * (0 .. noutputs-1, as a double) or a value.
 */
extern SynthGbtModel *synth_gbt_fit(const SynthGbtData *data, const int *rows, int nrows,
									const double *target, SynthGbtTask task, int nclasses,
									const SynthGbtParams *params);

/*
 * Predict the listed rows: out[i * noutputs + k] is the probability of class
 * k (binary: noutputs 1, P(1)) or the predicted value.
 */
extern void synth_gbt_predict(const SynthGbtModel *model, const SynthGbtData *data,
							  const int *rows, int nrows, double *out);

/* ROC AUC of scores against labels (ties count half); NaN without both classes. */
extern double synth_roc_auc(const double *score, const bool *positive, int n);

#endif							/* SYNTH_GBT_H */
