/*-------------------------------------------------------------------------
 *
 * nn.h
 *	  The training engine of the neural methods: layers as forward/backward
 *	  pairs, parameters with their gradients and Adam state, and the networks
 *	  built from them.  Every computation goes through a
 *	  backend's operations (src/backend.h), so one code path runs on the CPU
 *	  and on the GPU.
 *
 * Like backend.h, this needs no server headers: test/unit and test/gpu link
 * nn.c, nn_tvae.c and nn_ctgan.c into standalone programs.  Nothing here
 * allocates memory: the caller lays buffers out with an NnArena and owns
 * them (palloc'd host memory or device memory from the backend).
 *
 * Shapes are written as (rows, cols) of row-major matrices; B is the batch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_NN_H
#define SYNTH_NN_H

#include "backend.h"

#define NN_MAX_TENSORS		64		/* named parameter tensors of one network */

/* ---------------------------------------------------------------- random numbers */

/*
 * A stream of counter-based random numbers (backend.h): each call takes the
 * next n counters of the stream, so a seed reproduces a whole training.
 */
typedef struct NnRng
{
	uint64_t	seed;
	uint64_t	counter;
} NnRng;

extern uint64_t nn_rng_take(NnRng *rng, size_t n);

/* ---------------------------------------------------------------- memory layout */

/*
 * Carves one allocation into buffers.  With base NULL it only measures:
 * lay out once to learn the size, allocate, lay out again for real.
 */
typedef struct NnArena
{
	char	   *base;
	size_t		used;			/* bytes */
} NnArena;

extern SynthReal *nn_take(NnArena *arena, size_t count);

/* ---------------------------------------------------------------- parameters */

typedef enum NnInit
{
	NN_INIT_UNIFORM_FAN_IN,		/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch.nn.Linear */
	NN_INIT_CONSTANT			/* every value = value */
} NnInit;

/* A tensor of a network: where it lives in the values and how it starts. */
typedef struct NnTensor
{
	size_t		offset;
	size_t		count;
	bool		trained;		/* false: state (running statistics), no gradient */
	NnInit		init;
	int			fan_in;
	SynthReal	value;
} NnTensor;

/*
 * Every tensor of a network in one allocation each: values (trained
 * parameters first, then state such as batch-norm running statistics),
 * gradients and the two Adam moments of the trained parameters.
 */
typedef struct NnParams
{
	int			ntensors;
	NnTensor	tensors[NN_MAX_TENSORS];
	size_t		count;			/* trained values */
	size_t		state_count;	/* state values after them */
	SynthReal  *values;			/* count + state_count */
	SynthReal  *grads;			/* count; NULL when only sampling */
	SynthReal  *m;				/* count */
	SynthReal  *v;				/* count */
	int			step;			/* Adam steps taken */
} NnParams;

typedef struct NnAdam
{
	SynthReal	lr;
	SynthReal	beta1;
	SynthReal	beta2;
	SynthReal	eps;
	SynthReal	weight_decay;	/* L2, added to the gradient as torch.optim.Adam does */
} NnAdam;

/* Declare a tensor; returns its index (its offset is known once all are declared). */
extern int	nn_params_declare(NnParams *p, size_t count, bool trained, NnInit init,
							  int fan_in, SynthReal value);
extern void nn_params_finish(NnParams *p);
extern void nn_params_bind(NnParams *p, SynthReal *values, SynthReal *grads,
						   SynthReal *m, SynthReal *v);
extern SynthReal *nn_value(const NnParams *p, int tensor);
extern SynthReal *nn_grad(const NnParams *p, int tensor);
extern void nn_params_init(const SynthBackend *be, NnParams *p, NnRng *rng);
extern void nn_params_zero_grad(const SynthBackend *be, NnParams *p);
extern void nn_adam_step(const SynthBackend *be, NnParams *p, const NnAdam *opt);

/* ---------------------------------------------------------------- layers */

/* linear: out (B, out) = inp (B, in) W^T + b, with W (out, in) and b (out) */
typedef struct NnLinear
{
	int			in;
	int			out;
	int			w;				/* tensor indices */
	int			b;
} NnLinear;

extern void nn_linear_declare(NnParams *p, NnLinear *l, int in, int out);
extern void nn_linear_forward(const SynthBackend *be, const NnParams *p, const NnLinear *l,
							  int B, const SynthReal *inp, int ldi, SynthReal *out, int ldo);

/*
 * dW += dout^T inp, db += column sums of dout (skipped when dparams is
 * false); dinp (B, in) = dout W + dinp_beta dinp (skipped when dinp is NULL).
 */
extern void nn_linear_backward(const SynthBackend *be, const NnParams *p, const NnLinear *l,
							   int B, const SynthReal *inp, int ldi,
							   const SynthReal *dout, int ldd, bool dparams,
							   SynthReal *dinp, int ldn, SynthReal dinp_beta);

/* relu, leaky relu, tanh: out (B, C) = f(inp); backward from out, in place allowed */
extern void nn_relu_forward(const SynthBackend *be, int B, int C,
							const SynthReal *inp, int ldi, SynthReal *out, int ldo);
extern void nn_relu_backward(const SynthBackend *be, int B, int C,
							 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
							 SynthReal *dinp, int ldn);
extern void nn_leaky_relu_forward(const SynthBackend *be, int B, int C, SynthReal slope,
								  const SynthReal *inp, int ldi, SynthReal *out, int ldo);
extern void nn_leaky_relu_backward(const SynthBackend *be, int B, int C, SynthReal slope,
								   const SynthReal *out, int ldo,
								   const SynthReal *dout, int ldd, SynthReal *dinp, int ldn);
extern void nn_tanh_forward(const SynthBackend *be, int B, int C,
							const SynthReal *inp, int ldi, SynthReal *out, int ldo);
extern void nn_tanh_backward(const SynthBackend *be, int B, int C,
							 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
							 SynthReal *dinp, int ldn);

/* batch norm over (B, C), contiguous, as torch.nn.BatchNorm1d (eps 1e-5, momentum 0.1) */
typedef struct NnBatchNorm
{
	int			dim;
	int			gamma;			/* tensor indices */
	int			beta;
	int			running_mean;
	int			running_var;
} NnBatchNorm;

/* Batch statistics of one forward pass, kept for its backward pass. */
typedef struct NnBatchNormSaved
{
	SynthReal  *mean;			/* (C) */
	SynthReal  *rstd;			/* (C) */
} NnBatchNormSaved;

extern void nn_batchnorm_declare(NnParams *p, NnBatchNorm *l, int dim);
extern void nn_batchnorm_forward(const SynthBackend *be, const NnParams *p, const NnBatchNorm *l,
								 int B, bool training, const SynthReal *inp,
								 NnBatchNormSaved *saved, SynthReal *out);
extern void nn_batchnorm_backward(const SynthBackend *be, const NnParams *p, const NnBatchNorm *l,
								  int B, const SynthReal *inp, const NnBatchNormSaved *saved,
								  const SynthReal *dout, SynthReal *dinp);

/* dropout of probability p over n values: out = inp * mask; backward dinp = dout * mask */
extern void nn_dropout_forward(const SynthBackend *be, size_t n, SynthReal p, NnRng *rng,
							   const SynthReal *inp, SynthReal *mask, SynthReal *out);
extern void nn_dropout_backward(const SynthBackend *be, size_t n, const SynthReal *mask,
								const SynthReal *dout, SynthReal *dinp);

/* softmax (or gumbel-softmax when rng is given) of temperature tau over rows of (B, C) */
extern void nn_softmax_forward(const SynthBackend *be, int B, int C, SynthReal tau, NnRng *rng,
							   const SynthReal *inp, int ldi, SynthReal *out, int ldo);
extern void nn_softmax_backward(const SynthBackend *be, int B, int C, SynthReal tau,
								const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
								SynthReal *dinp, int ldn);

/* VAE latent: z (n) = mu + eps exp(logvar / 2) with eps standard normal draws */
extern void nn_reparam_forward(const SynthBackend *be, size_t n, NnRng *rng,
							   const SynthReal *mu, const SynthReal *logvar,
							   SynthReal *eps, SynthReal *z);
extern void nn_reparam_backward(const SynthBackend *be, size_t n, const SynthReal *logvar,
								const SynthReal *eps, const SynthReal *dz,
								SynthReal *dmu, SynthReal *dlogvar);

/* ---------------------------------------------------------------- critic */

#define NN_MAX_HIDDEN		4

/*
 * A WGAN critic: (Linear, LeakyReLU, Dropout) per hidden layer, then Linear
 * to one score per row; inp (rows, in) -> score (rows).
 */
typedef struct NnCritic
{
	int			in;
	int			nhidden;
	int			max_hidden;
	SynthReal	slope;			/* LeakyReLU */
	SynthReal	dropout;
	NnLinear	fc[NN_MAX_HIDDEN + 1];

	int			rows;			/* buffers hold up to this many rows */
	SynthReal  *h[NN_MAX_HIDDEN];	/* (rows, hidden i) after activation and dropout */
	SynthReal  *mask[NN_MAX_HIDDEN];	/* dropout masks */
	SynthReal  *deriv[NN_MAX_HIDDEN];	/* mask * LeakyReLU' */
	SynthReal  *ga[NN_MAX_HIDDEN];	/* penalty: d score / d pre-activation i */
	SynthReal  *work1;			/* (rows, max hidden) */
	SynthReal  *work2;
	SynthReal  *score;			/* (rows) */
	SynthReal  *dscore;			/* (rows) */
	SynthReal  *ones;			/* (rows) */
	SynthReal  *ginp;			/* (rows, in) d score / d inp */
	SynthReal  *dginp;			/* (rows, in) */
	SynthReal  *loss;			/* (rows) */
} NnCritic;

extern void nn_critic_declare(NnParams *p, NnCritic *c, int in, int nhidden, const int *hidden,
							  SynthReal slope, SynthReal dropout);
extern void nn_critic_layout(NnCritic *c, NnArena *arena, int rows);
extern void nn_critic_forward(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows,
							  const SynthReal *inp, NnRng *rng);
extern void nn_critic_score_grads(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows);
extern void nn_critic_backward(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows,
							   const SynthReal *inp, SynthReal dscore, bool dparams,
							   SynthReal *dinp, int ldn);
extern double nn_critic_penalty(const SynthBackend *be, NnParams *p, NnCritic *c, int rows,
								const SynthReal *inp, NnRng *rng, SynthReal lambda);

/* ---------------------------------------------------------------- encoded rows */

/*
 * How a table's rows are encoded for the networks (src/model_neural.c): the
 * first nalpha columns are the continuous columns' positions inside their
 * mode, in [-1, 1] (tanh outputs), followed by nspans one-hot spans (softmax
 * outputs): each continuous column's mode and each categorical column's
 * category.  Spans of categorical columns are "discrete": CTGAN's
 * conditional vector has one slot per slot of every discrete span.
 */
typedef struct NnLayout
{
	int			width;
	int			nalpha;
	int			nspans;
	int		   *span_start;		/* column of the span's first slot */
	int		   *span_len;
	bool	   *span_discrete;
	int		   *span_cond;		/* discrete: first slot in the conditional vector; else -1 */
	int			cond_width;		/* slots of all discrete spans */
} NnLayout;

/* ---------------------------------------------------------------- TVAE (nn_tvae.c) */

/*
 * The variational autoencoder of Xu et al. 2019 as sdv-dev/CTGAN builds it:
 * encoder (Linear, ReLU) per compress size, then Linear to mu and to logvar;
 * decoder (Linear, ReLU) per decompress size, then Linear to the encoded row,
 * and a trained sigma per continuous position.  The loss is loss_factor times
 * the reconstruction (Gaussian on tanh of the positions, cross-entropy on the
 * spans) plus the KL divergence, both per row.
 */
typedef struct NnTvaeConfig
{
	int			embedding_dim;	/* 128 */
	int			ncompress;
	int			compress[NN_MAX_HIDDEN];	/* 128, 128 */
	int			ndecompress;
	int			decompress[NN_MAX_HIDDEN];	/* 128, 128 */
	SynthReal	loss_factor;	/* 2 */
	NnAdam		adam;			/* lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-5 */
} NnTvaeConfig;

typedef struct NnTvae
{
	NnTvaeConfig config;
	const NnLayout *layout;
	NnParams	params;
	NnLinear	enc[NN_MAX_HIDDEN];
	NnLinear	fc_mu;
	NnLinear	fc_logvar;
	NnLinear	dec[NN_MAX_HIDDEN + 1];	/* the last maps to the encoded row */
	int			sigma;			/* tensor (nalpha): noise of the continuous positions */
	int			max_hidden;

	/* buffers for batches of up to batch rows */
	int			batch;
	SynthReal  *x;				/* (B, width) real rows, filled by the caller */
	SynthReal  *h[NN_MAX_HIDDEN];	/* (B, compress i) after ReLU */
	SynthReal  *mu;				/* (B, E) */
	SynthReal  *logvar;			/* (B, E) */
	SynthReal  *eps;			/* (B, E) */
	SynthReal  *z;				/* (B, E) latent rows; noise when sampling */
	SynthReal  *g[NN_MAX_HIDDEN];	/* (B, decompress i) after ReLU */
	SynthReal  *rec;			/* (B, width) decoder output */
	SynthReal  *out;			/* (B, width) sampled rows: tanh positions, span probabilities */
	SynthReal  *drec;			/* (B, width) */
	SynthReal  *dsigma;			/* (nalpha) */
	SynthReal  *work1;			/* (B, max hidden) */
	SynthReal  *work2;			/* (B, max hidden) */
	SynthReal  *dz;				/* (B, E) */
	SynthReal  *dmu;			/* (B, E) */
	SynthReal  *dlogvar;		/* (B, E) */
	SynthReal  *loss;			/* (B) */
} NnTvae;

extern void nn_tvae_config_default(NnTvaeConfig *config);
extern void nn_tvae_declare(NnTvae *net, const NnTvaeConfig *config, const NnLayout *layout);
extern void nn_tvae_layout(NnTvae *net, NnArena *arena, int batch);
extern double nn_tvae_forward(const SynthBackend *be, NnTvae *net, int B, NnRng *rng);
extern void nn_tvae_backward(const SynthBackend *be, NnTvae *net, int B);
extern double nn_tvae_step(const SynthBackend *be, NnTvae *net, int B, NnRng *rng);
extern void nn_tvae_sample(const SynthBackend *be, NnTvae *net, int B, NnRng *rng);

/* ---------------------------------------------------------------- CTGAN (nn_ctgan.c) */

/*
 * The conditional GAN of Xu et al. 2019 as sdv-dev/CTGAN builds it.  The
 * generator maps noise and a conditional vector through residual layers
 * (Linear, BatchNorm, ReLU, output concatenated with the layer's input) and
 * a Linear to logits of an encoded row, activated by tanh (positions) and a
 * Gumbel softmax (spans).  The critic (NnCritic) scores pac rows at once,
 * each with its conditional vector, and is trained as WGAN-GP.
 */
typedef struct NnCtganConfig
{
	int			embedding_dim;	/* 128 */
	int			ngenerator;
	int			generator[NN_MAX_HIDDEN];	/* 256, 256 */
	int			ndiscriminator;
	int			discriminator[NN_MAX_HIDDEN];	/* 256, 256 */
	int			pac;			/* 10 */
	SynthReal	tau;			/* Gumbel-softmax temperature 0.2 */
	SynthReal	gp_lambda;		/* 10 */
	SynthReal	leaky_slope;	/* 0.2 */
	SynthReal	dropout;		/* 0.5 */
	NnAdam		gen_adam;		/* lr 2e-4, betas 0.5/0.9, weight decay 1e-6 */
	NnAdam		dis_adam;		/* the same */
} NnCtganConfig;

typedef struct NnCtgan
{
	NnCtganConfig config;
	const NnLayout *layout;
	NnParams	gen;			/* generator */
	NnParams	dis;			/* critic */
	NnLinear	gfc[NN_MAX_HIDDEN];
	NnBatchNorm gbn[NN_MAX_HIDDEN];
	NnLinear	gout;
	NnCritic	critic;
	int			gen_in;			/* embedding + conditional vector */
	int			wide;			/* sum of the generator sizes + gen_in */
	int			row;			/* width + conditional vector: one row as the critic sees it */
	int			max_hidden;

	/* buffers for batches of up to batch rows (a multiple of pac) */
	int			batch;
	SynthReal  *cond;			/* (B, cond_width) conditions of the fake rows, by the caller */
	SynthReal  *real;			/* (B, row) real rows and their conditions, by the caller */
	SynthReal  *noise;			/* (B, embedding) */
	SynthReal  *hidden;			/* (B, wide): [h_k | ... | h_1 | noise | cond] */
	SynthReal  *pre[NN_MAX_HIDDEN];	/* (B, generator i) before batch norm */
	NnBatchNormSaved saved[NN_MAX_HIDDEN];
	SynthReal  *normed;			/* (B, max hidden) after batch norm */
	SynthReal  *fake;			/* (B, width) generator logits */
	SynthReal  *fakeact;		/* (B, row) activated rows and their conditions */
	SynthReal  *mixed;			/* (B, row) interpolated rows of the penalty */
	SynthReal  *alpha;			/* (B / pac) */
	SynthReal  *dfakeact;		/* (B, row) */
	SynthReal  *dfake;			/* (B, width) */
	SynthReal  *dhidden;		/* (B, wide) */
	SynthReal  *dnormed;		/* (B, max hidden) */
	SynthReal  *dpre;			/* (B, max hidden) */
	SynthReal  *loss;			/* (B) */
} NnCtgan;

extern void nn_ctgan_config_default(NnCtganConfig *config);
extern void nn_ctgan_declare(NnCtgan *net, const NnCtganConfig *config, const NnLayout *layout);
extern void nn_ctgan_layout(NnCtgan *net, NnArena *arena, int batch, bool training);
extern void nn_ctgan_generate(const SynthBackend *be, NnCtgan *net, int B, bool training,
							  NnRng *rng);
extern double nn_ctgan_critic_loss(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
								   double *penalty);
extern double nn_ctgan_critic_step(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
								   double *penalty);
extern double nn_ctgan_generator_loss(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
									  double *cond_loss);
extern double nn_ctgan_generator_step(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
									  double *cond_loss);

/* ---------------------------------------------------------------- all operations */

extern bool nn_backend_complete(const SynthBackend *be, const char **missing);

#endif							/* SYNTH_NN_H */
