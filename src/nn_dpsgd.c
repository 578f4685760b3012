/*-------------------------------------------------------------------------
 *
 * nn_dpsgd.c
 *	  Per-sample gradient clipping for DP-SGD: the sum over a batch of each
 *	  row's own loss gradient, each scaled to an L2 norm of at most
 *	  max_norm, for TVAE (whole batches at once) and CTGAN's critic (a row
 *	  at a time).
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
 * its per-row share (with the row's partner fake row) is computed by
 * running the critic on that one pair.
 *
 * Server-free (nn.h); test/unit/nn_test.c checks each row's gradient
 * against finite differences of that row's loss.
 *
 *-------------------------------------------------------------------------
 */
#include "nn_dpsgd.h"

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
 * Row r's own critic gradient into the critic's gradients (overwritten): of
 * its WGAN-GP loss score(fake) - score(real_r) plus the gradient penalty at
 * alpha_r real_r + (1 - alpha_r) fake, with fake its partner fake row
 * r mod nfake.  Clipping the pair together keeps the real and the fake
 * terms in balance (the fake rows see no data; clipping them is for the
 * optimisation, not the privacy).  net->real holds the real rows,
 * net->fakeact nfake fake rows, net->alpha the interpolation weights.
 */
void
nn_ctgan_critic_row_grad(const SynthBackend *be, NnCtgan *net, int r, int nfake, NnRng *rng)
{
	NnCritic   *c = &net->critic;
	int			row = net->row;
	const SynthReal *real = net->real + (size_t) r * row;
	const SynthReal *fake = net->fakeact + (size_t) (r % nfake) * row;
	SynthReal  *mixed = net->mixed + (size_t) r * row;

	nn_params_zero_grad(be, &net->dis);
	be->lerp_rows(be, 1, row, net->alpha + r, real, fake, mixed);
	(void) nn_critic_penalty(be, &net->dis, c, 1, mixed, rng, net->config.gp_lambda);
	nn_critic_forward(be, &net->dis, c, 1, real, rng);
	nn_critic_backward(be, &net->dis, c, 1, real, -1, true, NULL, 0);
	nn_critic_forward(be, &net->dis, c, 1, fake, rng);
	nn_critic_backward(be, &net->dis, c, 1, fake, 1, true, NULL, 0);
}

/*
 * DP-SGD's clipped sum of the critic gradients of the B real rows in
 * net->real: sum (the critic's count, backend memory) adds
 * sum_r min(1, C / ||g_r||) g_r.  The interpolation weights are drawn here.
 */
void
nn_ctgan_critic_clipped_grads(const SynthBackend *be, NnCtgan *net, int B, int nfake, NnRng *rng,
							  SynthReal max_norm, SynthReal *sum, SynthReal *work)
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
