/*-------------------------------------------------------------------------
 *
 * nn.c
 *	  The training engine: parameters, Adam, and layers as forward/backward
 *	  function pairs over a backend's operations.
 *
 * As in llm.c, a network's parameters live in one allocation, its gradients
 * in another and Adam's two moments in two more; a layer holds the indices of
 * its tensors, never pointers of its own.  Forward functions write their
 * outputs; backward functions add parameter gradients (so that several
 * passes can accumulate) and write or add input gradients as they say.
 *
 * No server headers and no allocation here (see nn.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>

#include "nn.h"

#define NN_ALIGN_BYTES		64

/* ---------------------------------------------------------------- random numbers */

/* Take n counters of the stream; returns the first. */
uint64_t
nn_rng_take(NnRng *rng, size_t n)
{
	uint64_t	first = rng->counter;

	rng->counter += n;
	return first;
}

/* ---------------------------------------------------------------- memory layout */

/* count values from the arena, aligned for vector loads; NULL when measuring. */
SynthReal *
nn_take(NnArena *arena, size_t count)
{
	size_t		start = (arena->used + NN_ALIGN_BYTES - 1) & ~(size_t) (NN_ALIGN_BYTES - 1);

	arena->used = start + count * sizeof(SynthReal);
	return arena->base ? (SynthReal *) (arena->base + start) : NULL;
}

/* ---------------------------------------------------------------- parameters */

int
nn_params_declare(NnParams *p, size_t count, bool trained, NnInit init, int fan_in,
				  SynthReal value)
{
	NnTensor   *t;

	if (p->ntensors >= NN_MAX_TENSORS)
		return -1;
	t = &p->tensors[p->ntensors];
	t->offset = 0;
	t->count = count;
	t->trained = trained;
	t->init = init;
	t->fan_in = fan_in;
	t->value = value;
	return p->ntensors++;
}

/* Place the tensors: trained ones first, then state. */
void
nn_params_finish(NnParams *p)
{
	size_t		offset = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < p->ntensors; i++)
		{
			NnTensor   *t = &p->tensors[i];

			if (t->trained != (pass == 0))
				continue;
			t->offset = offset;
			offset += t->count;
			if (pass == 0)
				p->count = offset;
		}
	p->state_count = offset - p->count;
}

void
nn_params_bind(NnParams *p, SynthReal *values, SynthReal *grads, SynthReal *m, SynthReal *v)
{
	p->values = values;
	p->grads = grads;
	p->m = m;
	p->v = v;
}

SynthReal *
nn_value(const NnParams *p, int tensor)
{
	return p->values + p->tensors[tensor].offset;
}

/* The gradient of a trained tensor. */
SynthReal *
nn_grad(const NnParams *p, int tensor)
{
	return p->grads + p->tensors[tensor].offset;
}

/* Initial values (as torch initialises the same layers); zero gradients and moments. */
void
nn_params_init(const SynthBackend *be, NnParams *p, NnRng *rng)
{
	for (int i = 0; i < p->ntensors; i++)
	{
		NnTensor   *t = &p->tensors[i];
		SynthReal  *x = nn_value(p, i);

		if (t->init == NN_INIT_UNIFORM_FAN_IN)
		{
			SynthReal	bound = (SynthReal) (1.0 / sqrt((double) t->fan_in));

			be->fill_uniform(be, t->count, -bound, bound, rng->seed,
							 nn_rng_take(rng, t->count), x);
		}
		else
			be->fill(be, t->count, t->value, x);
	}
	if (p->grads)
		be->fill(be, p->count, 0, p->grads);
	if (p->m)
		be->fill(be, p->count, 0, p->m);
	if (p->v)
		be->fill(be, p->count, 0, p->v);
	p->step = 0;
}

void
nn_params_zero_grad(const SynthBackend *be, NnParams *p)
{
	be->fill(be, p->count, 0, p->grads);
}

/* One Adam step over every trained parameter. */
void
nn_adam_step(const SynthBackend *be, NnParams *p, const NnAdam *opt)
{
	p->step++;
	be->adam(be, p->count, opt->lr, opt->beta1, opt->beta2, opt->eps, opt->weight_decay,
			 p->step, p->values, p->grads, p->m, p->v);
}

/* ---------------------------------------------------------------- linear */

void
nn_linear_declare(NnParams *p, NnLinear *l, int in, int out)
{
	l->in = in;
	l->out = out;
	l->w = nn_params_declare(p, (size_t) out * in, true, NN_INIT_UNIFORM_FAN_IN, in, 0);
	l->b = nn_params_declare(p, (size_t) out, true, NN_INIT_UNIFORM_FAN_IN, in, 0);
}

/* out (B, out) = inp (B, in) W^T + b */
void
nn_linear_forward(const SynthBackend *be, const NnParams *p, const NnLinear *l,
				  int B, const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	be->matmul(be, false, true, B, l->out, l->in, 1, inp, ldi, nn_value(p, l->w), l->in,
			   0, out, ldo);
	be->bias_add(be, B, l->out, nn_value(p, l->b), out, ldo);
}

/*
 * dout (B, out): dW (out, in) += dout^T inp, db (out) += column sums of dout;
 * dinp (B, in) = dout W + dinp_beta dinp.
 */
void
nn_linear_backward(const SynthBackend *be, const NnParams *p, const NnLinear *l,
				   int B, const SynthReal *inp, int ldi,
				   const SynthReal *dout, int ldd, bool dparams,
				   SynthReal *dinp, int ldn, SynthReal dinp_beta)
{
	if (dparams)
	{
		be->matmul(be, true, false, l->out, l->in, B, 1, dout, ldd, inp, ldi,
				   1, nn_grad(p, l->w), l->in);
		be->bias_grad(be, B, l->out, dout, ldd, nn_grad(p, l->b));
	}
	if (dinp)
		be->matmul(be, false, false, B, l->in, l->out, 1, dout, ldd, nn_value(p, l->w), l->in,
				   dinp_beta, dinp, ldn);
}

/* ---------------------------------------------------------------- activations */

/* out (B, C) = max(inp, 0) */
void
nn_relu_forward(const SynthBackend *be, int B, int C,
				const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	be->act_forward(be, SYNTH_ACT_RELU, 0, B, C, inp, ldi, out, ldo);
}

/* dinp (B, C) = dout where out > 0, else 0 */
void
nn_relu_backward(const SynthBackend *be, int B, int C,
				 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
				 SynthReal *dinp, int ldn)
{
	be->act_backward(be, SYNTH_ACT_RELU, 0, B, C, out, ldo, dout, ldd, dinp, ldn);
}

/* out (B, C) = inp where inp > 0, else slope * inp */
void
nn_leaky_relu_forward(const SynthBackend *be, int B, int C, SynthReal slope,
					  const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	be->act_forward(be, SYNTH_ACT_LEAKY_RELU, slope, B, C, inp, ldi, out, ldo);
}

void
nn_leaky_relu_backward(const SynthBackend *be, int B, int C, SynthReal slope,
					   const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
					   SynthReal *dinp, int ldn)
{
	be->act_backward(be, SYNTH_ACT_LEAKY_RELU, slope, B, C, out, ldo, dout, ldd, dinp, ldn);
}

/* out (B, C) = tanh(inp); backward dinp = dout (1 - out^2) */
void
nn_tanh_forward(const SynthBackend *be, int B, int C,
				const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	be->act_forward(be, SYNTH_ACT_TANH, 0, B, C, inp, ldi, out, ldo);
}

void
nn_tanh_backward(const SynthBackend *be, int B, int C,
				 const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
				 SynthReal *dinp, int ldn)
{
	be->act_backward(be, SYNTH_ACT_TANH, 0, B, C, out, ldo, dout, ldd, dinp, ldn);
}

/* ---------------------------------------------------------------- batch norm */

#define NN_BATCHNORM_EPS		1e-5
#define NN_BATCHNORM_MOMENTUM	0.1

void
nn_batchnorm_declare(NnParams *p, NnBatchNorm *l, int dim)
{
	l->dim = dim;
	l->gamma = nn_params_declare(p, dim, true, NN_INIT_CONSTANT, 0, 1);
	l->beta = nn_params_declare(p, dim, true, NN_INIT_CONSTANT, 0, 0);
	l->running_mean = nn_params_declare(p, dim, false, NN_INIT_CONSTANT, 0, 0);
	l->running_var = nn_params_declare(p, dim, false, NN_INIT_CONSTANT, 0, 1);
}

/* out (B, C) = batch-normalised inp (B, C); training uses and saves batch statistics */
void
nn_batchnorm_forward(const SynthBackend *be, const NnParams *p, const NnBatchNorm *l,
					 int B, bool training, const SynthReal *inp,
					 NnBatchNormSaved *saved, SynthReal *out)
{
	be->batchnorm_forward(be, B, l->dim, training, (SynthReal) NN_BATCHNORM_MOMENTUM,
						  (SynthReal) NN_BATCHNORM_EPS, inp,
						  nn_value(p, l->gamma), nn_value(p, l->beta),
						  nn_value(p, l->running_mean), nn_value(p, l->running_var),
						  saved ? saved->mean : NULL, saved ? saved->rstd : NULL, out);
}

/* dinp (B, C) from dout (B, C); dgamma, dbeta (C) add */
void
nn_batchnorm_backward(const SynthBackend *be, const NnParams *p, const NnBatchNorm *l,
					  int B, const SynthReal *inp, const NnBatchNormSaved *saved,
					  const SynthReal *dout, SynthReal *dinp)
{
	be->batchnorm_backward(be, B, l->dim, inp, nn_value(p, l->gamma), saved->mean, saved->rstd,
						   dout, dinp, nn_grad(p, l->gamma), nn_grad(p, l->beta));
}

/* ---------------------------------------------------------------- dropout */

/* out (n) = inp * mask, mask = 0 with probability p, else 1 / (1 - p) */
void
nn_dropout_forward(const SynthBackend *be, size_t n, SynthReal p, NnRng *rng,
				   const SynthReal *inp, SynthReal *mask, SynthReal *out)
{
	be->dropout_forward(be, n, p, rng->seed, nn_rng_take(rng, n), inp, mask, out);
}

void
nn_dropout_backward(const SynthBackend *be, size_t n, const SynthReal *mask,
					const SynthReal *dout, SynthReal *dinp)
{
	be->mul(be, n, dout, mask, dinp);
}

/* ---------------------------------------------------------------- softmax */

/* out (B, C) = softmax((inp + gumbel noise when rng) / tau) per row */
void
nn_softmax_forward(const SynthBackend *be, int B, int C, SynthReal tau, NnRng *rng,
				   const SynthReal *inp, int ldi, SynthReal *out, int ldo)
{
	if (rng)
		be->softmax_forward(be, B, C, tau, true, rng->seed,
							nn_rng_take(rng, (size_t) B * C), inp, ldi, out, ldo);
	else
		be->softmax_forward(be, B, C, tau, false, 0, 0, inp, ldi, out, ldo);
}

void
nn_softmax_backward(const SynthBackend *be, int B, int C, SynthReal tau,
					const SynthReal *out, int ldo, const SynthReal *dout, int ldd,
					SynthReal *dinp, int ldn)
{
	be->softmax_backward(be, B, C, tau, out, ldo, dout, ldd, dinp, ldn);
}

/* ---------------------------------------------------------------- VAE latent */

/* eps (n) = standard normal draws; z (n) = mu + eps exp(logvar / 2) */
void
nn_reparam_forward(const SynthBackend *be, size_t n, NnRng *rng,
				   const SynthReal *mu, const SynthReal *logvar, SynthReal *eps, SynthReal *z)
{
	be->fill_normal(be, n, 0, 1, rng->seed, nn_rng_take(rng, n), eps);
	be->reparam_forward(be, n, mu, logvar, eps, z);
}

/* dmu, dlogvar (n) written from dz */
void
nn_reparam_backward(const SynthBackend *be, size_t n, const SynthReal *logvar,
					const SynthReal *eps, const SynthReal *dz, SynthReal *dmu, SynthReal *dlogvar)
{
	be->reparam_backward(be, n, logvar, eps, dz, dmu, dlogvar);
}

/* ---------------------------------------------------------------- critic */

/*
 * The critic of a Wasserstein GAN: (Linear, LeakyReLU, Dropout) per hidden
 * layer, then Linear to one score per row.  Besides its forward and backward
 * passes it computes the gradient penalty of WGAN-GP, which needs the
 * gradient of the score with respect to the input and then the gradient of
 * that gradient's norm with respect to the parameters.
 */
void
nn_critic_declare(NnParams *p, NnCritic *c, int in, int nhidden, const int *hidden,
				  SynthReal slope, SynthReal dropout)
{
	int			width = in;

	c->in = in;
	c->nhidden = nhidden;
	c->slope = slope;
	c->dropout = dropout;
	c->max_hidden = 1;
	for (int i = 0; i < nhidden; i++)
	{
		nn_linear_declare(p, &c->fc[i], width, hidden[i]);
		width = hidden[i];
		if (width > c->max_hidden)
			c->max_hidden = width;
	}
	nn_linear_declare(p, &c->fc[nhidden], width, 1);
}

/* Buffers for passes over up to rows rows. */
void
nn_critic_layout(NnCritic *c, NnArena *arena, int rows)
{
	c->rows = rows;
	for (int i = 0; i < c->nhidden; i++)
	{
		size_t		n = (size_t) rows * c->fc[i].out;

		c->h[i] = nn_take(arena, n);
		c->mask[i] = nn_take(arena, n);
		c->deriv[i] = nn_take(arena, n);
		c->ga[i] = nn_take(arena, n);
	}
	c->work1 = nn_take(arena, (size_t) rows * c->max_hidden);
	c->work2 = nn_take(arena, (size_t) rows * c->max_hidden);
	c->score = nn_take(arena, rows);
	c->dscore = nn_take(arena, rows);
	c->ones = nn_take(arena, rows);
	c->ginp = nn_take(arena, (size_t) rows * c->in);
	c->dginp = nn_take(arena, (size_t) rows * c->in);
	c->loss = nn_take(arena, rows);
}

/*
 * score (rows) of inp (rows, in).  Keeps each hidden layer's output h and
 * deriv = dropout mask * leaky relu' for the backward passes.  Dropout only
 * with rng (training).
 */
void
nn_critic_forward(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows,
				  const SynthReal *inp, NnRng *rng)
{
	const SynthReal *x = inp;
	int			ldx = c->in;

	for (int i = 0; i < c->nhidden; i++)
	{
		int			width = c->fc[i].out;
		size_t		n = (size_t) rows * width;

		nn_linear_forward(be, p, &c->fc[i], rows, x, ldx, c->h[i], width);
		nn_leaky_relu_forward(be, rows, width, c->slope, c->h[i], width, c->h[i], width);
		if (rng)
			nn_dropout_forward(be, n, c->dropout, rng, c->h[i], c->mask[i], c->h[i]);
		else
			be->fill(be, n, 1, c->mask[i]);
		/* where the mask is 0, so is h, and the product below is 0 as it must be */
		nn_leaky_relu_backward(be, rows, width, c->slope, c->h[i], width,
							   c->mask[i], width, c->deriv[i], width);
		x = c->h[i];
		ldx = width;
	}
	nn_linear_forward(be, p, &c->fc[c->nhidden], rows, x, ldx, c->score, 1);
}

/*
 * Backward pass of a loss whose gradient by every score is dscore: adds
 * parameter gradients (when dparams) and writes dinp (rows, in) when given.
 */
void
nn_critic_backward(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows,
				   const SynthReal *inp, SynthReal dscore, bool dparams,
				   SynthReal *dinp, int ldn)
{
	SynthReal  *dh = c->work1;
	SynthReal  *da = c->work2;

	be->fill(be, rows, dscore, c->dscore);
	for (int i = c->nhidden; i >= 0; i--)
	{
		const NnLinear *l = &c->fc[i];
		const SynthReal *x = i > 0 ? c->h[i - 1] : inp;
		const SynthReal *dout = i == c->nhidden ? c->dscore : da;
		SynthReal  *dx = i > 0 ? dh : dinp;

		nn_linear_backward(be, p, l, rows, x, l->in, dout, l->out, dparams,
						   dx, i > 0 ? l->in : ldn, 0);
		if (i > 0)
			be->mul(be, (size_t) rows * l->in, dh, c->deriv[i - 1], da);
	}
}

/*
 * After nn_critic_forward: each row's score gradient by every hidden
 * layer's pre-activation, ga_k-1 = 1 W_k * deriv_k-1 and ga_i-1 = (ga_i
 * W_i) * deriv_i-1, into c->ga.
 */
void
nn_critic_score_grads(const SynthBackend *be, const NnParams *p, NnCritic *c, int rows)
{
	int			k = c->nhidden;
	const NnLinear *last = &c->fc[k];

	be->fill(be, rows, 1, c->ones);
	be->matmul(be, false, false, rows, last->in, 1, 1, c->ones, 1,
			   nn_value(p, last->w), last->in, 0, c->ga[k - 1], last->in);
	be->mul(be, (size_t) rows * last->in, c->ga[k - 1], c->deriv[k - 1], c->ga[k - 1]);
	for (int i = k - 1; i >= 1; i--)
	{
		const NnLinear *l = &c->fc[i];

		be->matmul(be, false, false, rows, l->in, l->out, 1, c->ga[i], l->out,
				   nn_value(p, l->w), l->in, 0, c->ga[i - 1], l->in);
		be->mul(be, (size_t) rows * l->in, c->ga[i - 1], c->deriv[i - 1], c->ga[i - 1]);
	}
}

/*
 * The gradient penalty lambda mean_r (||d score_r / d inp_r|| - 1)^2 of inp
 * (rows, in): returns it and adds its gradient to the parameters'.
 *
 * With deriv_i the diagonal of d h_i / d a_i, the input gradient is the
 * chain g = 1 W_k+1 D_k W_k ... D_1 W_1, linear in each W given the masks
 * (LeakyReLU' is piecewise constant, so its own derivative is 0 almost
 * everywhere, as autograd also finds).  Differentiating the penalty G =
 * dP/dg back through that chain gives, layer by layer,
 *   dW_i += ga_i^T dg_{i-1},  dga_i = dg_{i-1} W_i^T,  dg_i = dga_i * deriv_i,
 * where ga_i is the gradient by layer i's pre-activation in the first chain
 * and dg_0 = G; the last layer's weights get the column sums of dg_k.
 */
double
nn_critic_penalty(const SynthBackend *be, NnParams *p, NnCritic *c, int rows,
				  const SynthReal *inp, NnRng *rng, SynthReal lambda)
{
	int			k = c->nhidden;
	const NnLinear *last = &c->fc[k];
	SynthReal  *dg = c->work1;
	SynthReal  *dga = c->work2;

	nn_critic_forward(be, p, c, rows, inp, rng);

	nn_critic_score_grads(be, p, c, rows);
	be->matmul(be, false, false, rows, c->in, c->fc[0].out, 1, c->ga[0], c->fc[0].out,
			   nn_value(p, c->fc[0].w), c->in, 0, c->ginp, c->in);

	/* the penalty and G = dP / dg */
	be->fill(be, rows, 0, c->loss);
	be->fill(be, (size_t) rows * c->in, 0, c->dginp);
	be->norm_penalty(be, rows, c->in, lambda / rows, c->ginp, c->dginp, c->loss);

	/* back through the chain */
	for (int i = 0; i < k; i++)
	{
		const NnLinear *l = &c->fc[i];
		const SynthReal *upstream = i == 0 ? c->dginp : dg;
		int			ldu = l->in;

		be->matmul(be, true, false, l->out, l->in, rows, 1, c->ga[i], l->out,
				   upstream, ldu, 1, nn_grad(p, l->w), l->in);
		be->matmul(be, false, true, rows, l->out, l->in, 1, upstream, ldu,
				   nn_value(p, l->w), l->in, 0, dga, l->out);
		be->mul(be, (size_t) rows * l->out, dga, c->deriv[i], dg);
	}
	be->bias_grad(be, rows, last->in, dg, last->in, nn_grad(p, last->w));

	return be->sum(be, rows, c->loss);
}

/* ---------------------------------------------------------------- all operations */

/*
 * Does the backend have every operation the engine uses?  If not, *missing
 * names the first one that is absent.
 */
bool
nn_backend_complete(const SynthBackend *be, const char **missing)
{
	static const struct
	{
		SynthOp		op;
		const char *name;
	}			needed[] = {
		{SYNTH_OP_MATMUL, "matmul"},
		{SYNTH_OP_FILL, "fill"},
		{SYNTH_OP_AXPBY, "axpby"},
		{SYNTH_OP_COPY2D, "copy2d"},
		{SYNTH_OP_BIAS, "bias"},
		{SYNTH_OP_ACTIVATION, "activation"},
		{SYNTH_OP_BATCHNORM, "batchnorm"},
		{SYNTH_OP_DROPOUT, "dropout"},
		{SYNTH_OP_SOFTMAX, "softmax"},
		{SYNTH_OP_LOSS, "loss"},
		{SYNTH_OP_REPARAM, "reparam"},
		{SYNTH_OP_ADAM, "adam"},
		{SYNTH_OP_RANDOM, "random"},
		{SYNTH_OP_SUM, "sum"},
	};

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!be->supports(be, needed[i].op))
		{
			if (missing)
				*missing = needed[i].name;
			return false;
		}
	return true;
}
