/*-------------------------------------------------------------------------
 *
 * nn_dpsgd.c
 *	  Per-sample gradient clipping for DP-SGD: the sum over a batch of each
 *	  row's own loss gradient, each scaled to an L2 norm of at most
 *	  max_norm, for TVAE and CTGAN's critic, whole batches at once.
 *
 * TVAE has no layer that mixes rows (no batch norm), so row r's gradient
 * is the backward pass of row r's own upstream gradients, and a linear
 * layer's share of it is the outer product dout_r inp_r^T (plus dout_r for
 * the bias), of squared norm ||dout_r||^2 (||inp_r||^2 + 1) (Goodfellow
 * 2015; "ghost clipping", Li et al. 2022).  So two backward passes do it:
 * the first only adds up each row's squared norm over the layers, the
 * second scales each row's upstream gradients by its clipping factor
 * min(1, C / norm_r) and accumulates the parameters' gradients as usual;
 * the backward pass being linear in the upstream gradients, that is
 * sum_r factor_r g_r.  Per-sample gradients are never materialised.
 *
 * A row's loss is its own, not divided by the batch size: the TVAE
 * reconstruction (times loss_factor) and KL terms, and its gradient by the
 * decoder's sigma.  The caller divides the noisy sum by the expected batch
 * size.
 *
 * CTGAN's critic loss has a gradient penalty, a gradient of a gradient;
 * its per-pair share is a sum of three outer products per layer, whose
 * norm comes from row dot products (below).
 *
 * Server-free (nn.h); test/unit/nn_test.c checks each row's gradient
 * against finite differences of that row's loss.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "nn_dpsgd.h"

#define CLIP_MAX(a, b)	((a) > (b) ? (a) : (b))
#define CLIP_MIN(a, b)	((a) < (b) ? (a) : (b))

/* ---------------------------------------------------------------- TVAE */

/* Buffers for batches of up to batch rows. */
void
nn_tvae_clip_layout(const NnTvae *net, NnTvaeClip *clip, NnArena *arena, int batch)
{
	size_t		b = batch;
	size_t		e = net->config.embedding_dim;
	size_t		nalpha = net->layout->nalpha > 0 ? net->layout->nalpha : 1;

	clip->batch = batch;
	clip->norm2 = nn_take(arena, b);
	clip->factor = nn_take(arena, b);
	clip->kl_dmu = nn_take(arena, b * e);
	clip->kl_dlogvar = nn_take(arena, b * e);
	clip->dsigma_rows = nn_take(arena, b * nalpha);
	clip->scratch_row = nn_take(arena, net->layout->width);
	clip->scratch_loss = nn_take(arena, b);
}

/*
 * Forward pass of x (B, W), then each row's own upstream gradients: drec
 * (B, W) of its reconstruction loss, dsigma_rows (B, nalpha) and the KL
 * term's kl_dmu, kl_dlogvar (B, E).  Returns the sum of the rows' losses.
 */
static double
tvae_row_upstream(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B, NnRng *rng)
{
	const NnParams *p = &net->params;
	const NnLayout *layout = net->layout;
	int			w = layout->width;
	int			e = net->config.embedding_dim;
	int			nalpha = layout->nalpha;
	SynthReal	lf = net->config.loss_factor;
	const SynthReal *sigma = nn_value(p, net->sigma);
	double		loss;

	loss = nn_tvae_forward(be, net, B, rng) * B;

	/* the reconstruction's gradient, per row (not divided by B) */
	be->fill(be, (size_t) B * w, 0, net->drec);
	if (nalpha > 0)
		be->gaussian_nll(be, B, nalpha, lf, net->rec, w, net->x, w, sigma, net->drec, w,
						 clip->dsigma_rows, clip->scratch_loss);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		be->softmax_xent(be, B, layout->span_len[s], lf, net->rec + start, w,
						 net->x + start, w, net->drec + start, w, clip->scratch_loss);
	}

	/* sigma's gradient, a row at a time: gaussian_nll sums it over its rows */
	be->fill(be, (size_t) B * (nalpha > 0 ? nalpha : 1), 0, clip->dsigma_rows);
	for (int r = 0; r < B && nalpha > 0; r++)
		be->gaussian_nll(be, 1, nalpha, lf, net->rec + (size_t) r * w, w,
						 net->x + (size_t) r * w, w, sigma, clip->scratch_row, w,
						 clip->dsigma_rows + (size_t) r * nalpha, clip->scratch_loss);

	/* the KL term's, per row */
	be->fill(be, (size_t) B * e, 0, clip->kl_dmu);
	be->fill(be, (size_t) B * e, 0, clip->kl_dlogvar);
	be->kl_normal(be, B, e, 1, net->mu, net->logvar, clip->kl_dmu, clip->kl_dlogvar,
				  clip->scratch_loss);
	return loss;
}

/*
 * The backward pass of the upstream gradients in drec, kl_dmu, kl_dlogvar
 * (as nn_tvae_backward, sigma aside).  With norms, only each row's squared
 * gradient norm is added to norm2, layer by layer; otherwise the
 * parameters' gradients accumulate.
 */
static void
tvae_backward_rows(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B, bool norms)
{
	const NnParams *p = &net->params;
	int			w = net->layout->width;
	int			e = net->config.embedding_dim;
	int			nd = net->config.ndecompress;
	int			nc = net->config.ncompress;
	SynthReal  *dout = net->drec;
	int			ldd = w;

	/* decoder: dout is the gradient by layer i's output, before its ReLU */
	for (int i = nd; i >= 0; i--)
	{
		const NnLinear *l = &net->dec[i];
		const SynthReal *inp = i > 0 ? net->g[i - 1] : net->z;
		SynthReal  *dinp = i > 0 ? ((i % 2) ? net->work1 : net->work2) : net->dz;

		if (norms)
			be->grad_norms_linear(be, B, l->in, l->out, inp, l->in, dout, ldd, clip->norm2);
		nn_linear_backward(be, p, l, B, inp, l->in, dout, ldd, !norms, dinp, l->in, 0);
		if (i > 0)
			nn_relu_backward(be, B, l->in, net->g[i - 1], l->in, dinp, l->in, dinp, l->in);
		dout = dinp;
		ldd = l->in;
	}

	/* latent: reparameterisation, then each row's KL term */
	nn_reparam_backward(be, (size_t) B * e, net->logvar, net->eps, net->dz, net->dmu, net->dlogvar);
	be->axpby(be, (size_t) B * e, 1, clip->kl_dmu, 1, net->dmu);
	be->axpby(be, (size_t) B * e, 1, clip->kl_dlogvar, 1, net->dlogvar);

	/* encoder */
	{
		const SynthReal *hidden = nc > 0 ? net->h[nc - 1] : net->x;
		int			width = net->fc_mu.in;
		SynthReal  *dh = net->work1;

		if (norms)
		{
			be->grad_norms_linear(be, B, width, e, hidden, width, net->dmu, e, clip->norm2);
			be->grad_norms_linear(be, B, width, e, hidden, width, net->dlogvar, e, clip->norm2);
		}
		nn_linear_backward(be, p, &net->fc_mu, B, hidden, width, net->dmu, e, !norms,
						   dh, width, 0);
		nn_linear_backward(be, p, &net->fc_logvar, B, hidden, width, net->dlogvar, e, !norms,
						   dh, width, 1);
		dout = dh;
		ldd = width;
	}
	for (int i = nc - 1; i >= 0; i--)
	{
		const NnLinear *l = &net->enc[i];
		const SynthReal *inp = i > 0 ? net->h[i - 1] : net->x;
		SynthReal  *dinp = i > 0 ? ((dout == net->work1) ? net->work2 : net->work1) : NULL;

		nn_relu_backward(be, B, l->out, net->h[i], l->out, dout, ldd, dout, ldd);
		if (norms)
			be->grad_norms_linear(be, B, l->in, l->out, inp, l->in, dout, ldd, clip->norm2);
		nn_linear_backward(be, p, l, B, inp, l->in, dout, ldd, !norms, dinp, l->in, 0);
		dout = dinp;
		ldd = l->in;
	}
}

/* Add sum_r factor[r] g_r to the parameters' gradients (upstream gradients prepared). */
static void
tvae_weighted_grads(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B,
					const SynthReal *factor)
{
	const NnParams *p = &net->params;
	int			w = net->layout->width;
	int			e = net->config.embedding_dim;
	int			nalpha = net->layout->nalpha;

	be->scale_rows(be, B, w, factor, net->drec, w);
	be->scale_rows(be, B, e, factor, clip->kl_dmu, e);
	be->scale_rows(be, B, e, factor, clip->kl_dlogvar, e);
	/* sigma: (1, B) factors times (B, nalpha) rows */
	if (nalpha > 0)
		be->matmul(be, false, false, 1, nalpha, B, 1, factor, B, clip->dsigma_rows, nalpha,
				   1, nn_grad(p, net->sigma), nalpha);
	tvae_backward_rows(be, net, clip, B, false);
}

/*
 * DP-SGD's clipped sum for the rows in x (B, W): adds sum_r min(1, C /
 * ||g_r||) g_r to the parameters' gradients, g_r being row r's own loss
 * gradient (the caller zeroes the gradients first, and may call this for
 * several parts of one batch).  Leaves the squared norms in clip->norm2 and
 * the factors in clip->factor; returns the sum of the rows' losses.
 */
double
nn_tvae_clipped_grads(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B, NnRng *rng,
					  SynthReal max_norm)
{
	int			nalpha = net->layout->nalpha;
	double		loss;

	if (B <= 0)
		return 0.0;
	loss = tvae_row_upstream(be, net, clip, B, rng);
	be->fill(be, B, 0, clip->norm2);
	if (nalpha > 0)
		be->row_sumsq(be, B, nalpha, clip->dsigma_rows, nalpha, clip->norm2);
	tvae_backward_rows(be, net, clip, B, true);
	be->clip_factors(be, B, max_norm, clip->norm2, clip->factor);
	tvae_weighted_grads(be, net, clip, B, clip->factor);
	return loss;
}

/*
 * Without clipping: add sum_r factor[r] g_r (factor in backend memory) to
 * the gradients, for the rows in x; with factor one-hot, that is one row's
 * own gradient.  Also leaves the rows' squared norms in clip->norm2 (what
 * nn_tvae_clipped_grads would clip).  For the tests.
 */
void
nn_tvae_row_grads(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B, NnRng *rng,
				  const SynthReal *factor)
{
	NnRng		again = *rng;
	int			nalpha = net->layout->nalpha;

	(void) tvae_row_upstream(be, net, clip, B, rng);
	be->fill(be, B, 0, clip->norm2);
	if (nalpha > 0)
		be->row_sumsq(be, B, nalpha, clip->dsigma_rows, nalpha, clip->norm2);
	tvae_backward_rows(be, net, clip, B, true);
	/* the same forward pass again (same latent noise) for the weighted sum */
	(void) tvae_row_upstream(be, net, clip, B, &again);
	tvae_weighted_grads(be, net, clip, B, factor);
}

/* ---------------------------------------------------------------- CTGAN's critic */

/*
 * Pair r's loss is score(fake) - score(real_r) plus lambda (||d score /
 * d mixed_r|| - 1)^2 at mixed_r = alpha_r real_r + (1 - alpha_r) fake, fake
 * being packed fake row r mod nfake.  The critic mixes no rows (LeakyReLU
 * and dropout are elementwise), so with the notation of nn_critic_penalty
 * (x_i the input of linear layer i, of k + 1; u_i = d score / d
 * pre-activation i of a row, the chain ga_i; dg_i the penalty's gradient
 * back through the chain, dg_0 = dP/dg) pair r's gradient is, by layer:
 *
 *   hidden W_i:  -u_i(real) x_i(real)^T + u_i(fake) x_i(fake)^T
 *				  + u_i(mixed) dg_i(mixed)^T
 *   hidden b_i:  -u_i(real) + u_i(fake)	(the penalty has none: g does
 *				  not depend on the biases, LeakyReLU'' being 0)
 *   last W_k:	  -x_k(real) + x_k(fake) + dg_k(mixed)
 *   last b_k:	  -1 + 1 = 0
 *
 * (derived from nn_critic_backward, which seeds u with dscore -1 and +1,
 * and nn_critic_penalty's dW_i += ga_i^T dg_i; the unit test checks it
 * against the pair-at-a-time reference).  A hidden W_i's share of the
 * squared norm is || sum_k a_k b_k^T ||^2 = sum_{k,l} (a_k . a_l)(b_k . b_l)
 * over its three terms, from row dot products; the others are plain
 * vectors.  So one forward pass of the 3 B rows (real rows, each pair's
 * fake row, mixed rows), the input-gradient chain of all of them and the
 * penalty's chain of the mixed rows give every pair's norm; scaling each
 * row's u (and so the penalty's term, linear in it) by its pair's factor,
 * -factor for the real row, then gives the clipped sum in one product per
 * term.  Per-pair gradients are never materialised.
 *
 * Dropout: every row of a pass gets its own masks, as in the reference,
 * which runs a pair's three rows separately (each pair's fake row is a
 * copy, not shared); only the order of the draws differs, so the masks
 * (not their distribution) differ from the reference's.
 */

/* Buffers for up to batch pairs. */
void
nn_ctgan_clip_layout(const NnCtgan *net, NnCtganClip *clip, NnArena *arena, int batch)
{
	const NnCritic *c = &net->critic;
	size_t		b = batch;
	size_t		wide = CLIP_MAX(c->in, c->max_hidden);

	clip->batch = batch;
	clip->critic = *c;
	nn_critic_layout(&clip->critic, arena, 3 * batch);
	clip->input = nn_take(arena, 3 * b * c->in);
	for (int i = 0; i <= c->nhidden; i++)
		clip->dg[i] = nn_take(arena, b * c->fc[i].in);
	clip->norm2 = nn_take(arena, b);
	clip->factor = nn_take(arena, b);
	clip->weight = nn_take(arena, 3 * b);
	clip->dots = nn_take(arena, 2 * b);
	clip->tmp = nn_take(arena, b * wide);
	clip->ones = nn_take(arena, wide);
}

/* out (rows) = the row dot products of x and y (rows, n), both contiguous */
static void
row_dots(const SynthBackend *be, NnCtganClip *clip, int rows, int n, const SynthReal *x,
		 const SynthReal *y, SynthReal *out)
{
	be->mul(be, (size_t) rows * n, x, y, clip->tmp);
	be->matmul(be, false, false, rows, 1, n, 1, clip->tmp, n, clip->ones, 1, 0, out, 1);
}

/*
 * Forward pass of the pairs' 3 B rows, the chain u = d score / d
 * pre-activation of each, and the penalty's chain of the mixed rows into
 * clip->dg.  Draws the interpolation weights into net->alpha.
 */
static void
critic_pairs_forward(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip, int B, int nfake,
					 NnRng *rng)
{
	const NnParams *p = &net->dis;
	NnCritic   *c = &clip->critic;
	int			k = c->nhidden;
	int			in = c->in;
	int			rows = 3 * B;
	SynthReal  *real = clip->input;
	SynthReal  *fake = clip->input + (size_t) B * in;
	SynthReal  *mixed = clip->input + (size_t) 2 * B * in;

	be->fill_uniform(be, B, 0, 1, rng->seed, nn_rng_take(rng, B), net->alpha);
	be->copy2d(be, B, in, net->real, in, 0, real, in);
	for (int r = 0; r < B; r += nfake)
		be->copy2d(be, CLIP_MIN(nfake, B - r), in, net->fakeact, in, 0, fake + (size_t) r * in, in);
	be->lerp_rows(be, B, in, net->alpha, real, fake, mixed);

	nn_critic_forward(be, p, c, rows, clip->input, rng);

	/* u_k-1 = W_k * deriv_k-1, u_i = (u_i+1 W_i+1) * deriv_i, for every row */
	nn_critic_score_grads(be, p, c, rows);

	/* the mixed rows' input gradient g, dg_0 = dP/dg of each pair's own penalty */
	be->matmul(be, false, false, B, in, c->fc[0].out, 1,
			   c->ga[0] + (size_t) 2 * B * c->fc[0].out, c->fc[0].out,
			   nn_value(p, c->fc[0].w), in, 0, c->ginp, in);
	be->fill(be, B, 0, c->loss);
	be->fill(be, (size_t) B * in, 0, clip->dg[0]);
	be->norm_penalty(be, B, in, net->config.gp_lambda, c->ginp, clip->dg[0], c->loss);

	/* dg_i+1 = (dg_i W_i^T) * deriv_i of the mixed rows */
	for (int i = 0; i < k; i++)
	{
		const NnLinear *l = &c->fc[i];

		be->matmul(be, false, true, B, l->out, l->in, 1, clip->dg[i], l->in,
				   nn_value(p, l->w), l->in, 0, c->work1, l->out);
		be->mul(be, (size_t) B * l->out, c->work1, c->deriv[i] + (size_t) 2 * B * l->out,
				clip->dg[i + 1]);
	}
}

/* The input of layer i for the clip's rows (ld fc[i].in). */
static const SynthReal *
layer_input(NnCtganClip *clip, int i)
{
	return i == 0 ? clip->input : clip->critic.h[i - 1];
}

/* norm2 (B) = each pair's squared gradient norm, from critic_pairs_forward's buffers */
static void
critic_pairs_norms(const SynthBackend *be, NnCtganClip *clip, int B)
{
	NnCritic   *c = &clip->critic;
	int			k = c->nhidden;
	SynthReal  *da = clip->dots;
	SynthReal  *db = clip->dots + B;

	be->fill(be, B, 0, clip->norm2);
	for (int i = 0; i < k; i++)
	{
		const NnLinear *l = &c->fc[i];
		const SynthReal *a[3],
				   *bv[3];
		const SynthReal *x = layer_input(clip, i);
		SynthReal	sign[3] = {-1, 1, 1};

		for (int t = 0; t < 3; t++)
			a[t] = c->ga[i] + (size_t) t * B * l->out;
		bv[0] = x;
		bv[1] = x + (size_t) B * l->in;
		bv[2] = clip->dg[i];
		/* W_i: sum over the terms' pairs of (a_s . a_t)(b_s . b_t) */
		for (int s = 0; s < 3; s++)
			for (int t = s; t < 3; t++)
			{
				row_dots(be, clip, B, l->out, a[s], a[t], da);
				row_dots(be, clip, B, l->in, bv[s], bv[t], db);
				be->mul(be, B, da, db, da);
				be->axpby(be, B, (s == t ? 1 : 2) * sign[s] * sign[t], da, 1, clip->norm2);
			}
		/* b_i: u(fake) - u(real) */
		be->copy2d(be, B, l->out, a[1], l->out, 0, clip->tmp, l->out);
		be->axpby(be, (size_t) B * l->out, -1, a[0], 1, clip->tmp);
		be->row_sumsq(be, B, l->out, clip->tmp, l->out, clip->norm2);
	}
	/* W_k: x_k(fake) - x_k(real) + dg_k */
	{
		const NnLinear *l = &c->fc[k];
		const SynthReal *x = layer_input(clip, k);

		be->copy2d(be, B, l->in, x + (size_t) B * l->in, l->in, 0, clip->tmp, l->in);
		be->axpby(be, (size_t) B * l->in, -1, x, 1, clip->tmp);
		be->axpby(be, (size_t) B * l->in, 1, clip->dg[k], 1, clip->tmp);
		be->row_sumsq(be, B, l->in, clip->tmp, l->in, clip->norm2);
	}
	/* rounding of the expansion may leave a tiny norm below 0 */
	be->clamp(be, B, 0, (SynthReal) INFINITY, clip->norm2);
}

/* sum (the critic's count) adds sum_r clip->factor[r] g_r; scales the u chains */
static void
critic_pairs_weighted(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip, int B,
					  SynthReal *sum)
{
	NnParams	q = net->dis;
	NnCritic   *c = &clip->critic;
	int			k = c->nhidden;
	SynthReal  *w = clip->weight;

	q.grads = sum;
	be->fill(be, (size_t) 3 * B, 0, w);
	be->axpby(be, B, -1, clip->factor, 1, w);
	be->axpby(be, B, 1, clip->factor, 1, w + B);
	be->axpby(be, B, 1, clip->factor, 1, w + 2 * B);
	for (int i = 0; i < k; i++)
	{
		const NnLinear *l = &c->fc[i];
		const SynthReal *x = layer_input(clip, i);
		SynthReal  *u = c->ga[i];

		be->scale_rows(be, 3 * B, l->out, w, u, l->out);
		be->matmul(be, true, false, l->out, l->in, 2 * B, 1, u, l->out, x, l->in,
				   1, nn_grad(&q, l->w), l->in);
		be->matmul(be, true, false, l->out, l->in, B, 1, u + (size_t) 2 * B * l->out, l->out,
				   clip->dg[i], l->in, 1, nn_grad(&q, l->w), l->in);
		be->bias_grad(be, 2 * B, l->out, u, l->out, nn_grad(&q, l->b));
	}
	{
		const NnLinear *l = &c->fc[k];

		be->matmul(be, true, false, 1, l->in, 2 * B, 1, w, 1, layer_input(clip, k), l->in,
				   1, nn_grad(&q, l->w), l->in);
		be->matmul(be, true, false, 1, l->in, B, 1, clip->factor, 1, clip->dg[k], l->in,
				   1, nn_grad(&q, l->w), l->in);
		/* the last bias's gradient is -factor + factor = 0 for every pair */
	}
}

/* The pairs' forward pass and each pair's squared gradient norm, into clip->norm2. */
static void
critic_pairs_measure(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip, int B, int nfake,
					 NnRng *rng)
{
	be->fill(be, CLIP_MAX(clip->critic.in, clip->critic.max_hidden), 1, clip->ones);
	critic_pairs_forward(be, net, clip, B, nfake, rng);
	critic_pairs_norms(be, clip, B);
}

/*
 * DP-SGD's clipped sum of the critic gradients of the B pairs of real rows
 * in net->real: sum (the critic's count, backend memory) adds
 * sum_r min(1, C / ||g_r||) g_r.  The interpolation weights are drawn here;
 * the critic's own gradients and buffers are left alone.  Leaves the
 * squared norms in clip->norm2 and the factors in clip->factor.
 */
void
nn_ctgan_critic_clipped_grads(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip, int B,
							  int nfake, NnRng *rng, SynthReal max_norm, SynthReal *sum)
{
	if (B <= 0)
		return;
	critic_pairs_measure(be, net, clip, B, nfake, rng);
	be->clip_factors(be, B, max_norm, clip->norm2, clip->factor);
	critic_pairs_weighted(be, net, clip, B, sum);
}

/*
 * Without clipping: sum adds sum_r factor[r] g_r (factor in backend
 * memory), with the same draws as nn_ctgan_critic_clipped_grads from the
 * same rng; with factor one-hot, that is one pair's own gradient.  Leaves
 * the squared norms in clip->norm2.  For the tests.
 */
void
nn_ctgan_critic_pair_grads(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip, int B,
						   int nfake, NnRng *rng, const SynthReal *factor, SynthReal *sum)
{
	if (B <= 0)
		return;
	critic_pairs_measure(be, net, clip, B, nfake, rng);
	be->copy2d(be, 1, B, factor, B, 0, clip->factor, B);
	critic_pairs_weighted(be, net, clip, B, sum);
}

/* ---------------------------------------------------------------- the reference */

/*
 * Pair r's own critic gradient into the critic's gradients (overwritten),
 * computed on its own: the critic run on the pair's mixed row (the
 * penalty), real row and fake row one at a time.  Clipping the pair
 * together keeps the real and the fake terms in balance (the fake rows see
 * no data; clipping them is for the optimisation, not the privacy).
 * net->real holds the real rows, net->fakeact nfake fake rows (packed
 * rows of the critic's width), net->alpha the interpolation weights.
 */
void
nn_ctgan_critic_row_grad(const SynthBackend *be, NnCtgan *net, int r, int nfake, NnRng *rng)
{
	NnCritic   *c = &net->critic;
	int			in = c->in;
	const SynthReal *real = net->real + (size_t) r * in;
	const SynthReal *fake = net->fakeact + (size_t) (r % nfake) * in;
	SynthReal  *mixed = net->mixed + (size_t) r * in;

	nn_params_zero_grad(be, &net->dis);
	be->lerp_rows(be, 1, in, net->alpha + r, real, fake, mixed);
	(void) nn_critic_penalty(be, &net->dis, c, 1, mixed, rng, net->config.gp_lambda);
	nn_critic_forward(be, &net->dis, c, 1, real, rng);
	nn_critic_backward(be, &net->dis, c, 1, real, -1, true, NULL, 0);
	nn_critic_forward(be, &net->dis, c, 1, fake, rng);
	nn_critic_backward(be, &net->dis, c, 1, fake, 1, true, NULL, 0);
}

/*
 * The clipped sum of nn_ctgan_critic_clipped_grads, a pair at a time (with
 * other dropout masks: the draws come in another order).  Overwrites the
 * critic's gradients.
 */
void
nn_ctgan_critic_clipped_grads_reference(const SynthBackend *be, NnCtgan *net, int B, int nfake,
										NnRng *rng, SynthReal max_norm, SynthReal *sum,
										SynthReal *work)
{
	size_t		count = net->dis.count;
	SynthReal  *norm2 = work;
	SynthReal  *factor = work + B;

	if (B <= 0)
		return;
	be->fill_uniform(be, B, 0, 1, rng->seed, nn_rng_take(rng, B), net->alpha);
	be->fill(be, B, 0, norm2);
	for (int r = 0; r < B; r++)
	{
		nn_ctgan_critic_row_grad(be, net, r, nfake, rng);
		be->row_sumsq(be, 1, (int) count, net->dis.grads, (int) count, norm2 + r);
		be->clip_factors(be, 1, max_norm, norm2 + r, factor + r);
		be->scale_rows(be, 1, (int) count, factor + r, net->dis.grads, (int) count);
		be->axpby(be, count, 1, net->dis.grads, 1, sum);
	}
}
