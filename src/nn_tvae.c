/*-------------------------------------------------------------------------
 *
 * nn_tvae.c
 *	  The TVAE network: encoder, reparameterised latent, decoder, its loss,
 *	  one training step and sampling, on the engine of nn.c.
 *
 * Shapes: B rows of the encoded width W (nn.h's NnLayout), latent E.
 * Server-free like nn.c; src/model_tvae.c drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "nn.h"

#define TVAE_SIGMA_INIT		0.1
#define TVAE_SIGMA_MIN		0.01
#define TVAE_SIGMA_MAX		1.0

/* The defaults of sdv-dev/CTGAN's TVAESynthesizer. */
void
nn_tvae_config_default(NnTvaeConfig *config)
{
	config->embedding_dim = 128;
	config->ncompress = 2;
	config->compress[0] = config->compress[1] = 128;
	config->ndecompress = 2;
	config->decompress[0] = config->decompress[1] = 128;
	config->loss_factor = 2;
	config->adam.lr = 1e-3f;
	config->adam.beta1 = 0.9f;
	config->adam.beta2 = 0.999f;
	config->adam.eps = 1e-8f;
	config->adam.weight_decay = 1e-5f;
}

/* Declare every tensor of the network (sizes from config and layout). */
void
nn_tvae_declare(NnTvae *net, const NnTvaeConfig *config, const NnLayout *layout)
{
	NnParams   *p = &net->params;
	int			width = layout->width;
	int			e = config->embedding_dim;

	net->config = *config;
	net->layout = layout;
	net->max_hidden = 1;
	for (int i = 0; i < config->ncompress; i++)
	{
		nn_linear_declare(p, &net->enc[i], width, config->compress[i]);
		width = config->compress[i];
		if (width > net->max_hidden)
			net->max_hidden = width;
	}
	nn_linear_declare(p, &net->fc_mu, width, e);
	nn_linear_declare(p, &net->fc_logvar, width, e);
	width = e;
	for (int i = 0; i < config->ndecompress; i++)
	{
		nn_linear_declare(p, &net->dec[i], width, config->decompress[i]);
		width = config->decompress[i];
		if (width > net->max_hidden)
			net->max_hidden = width;
	}
	nn_linear_declare(p, &net->dec[config->ndecompress], width, layout->width);
	net->sigma = nn_params_declare(p, layout->nalpha > 0 ? layout->nalpha : 1, true,
								   NN_INIT_CONSTANT, 0, (SynthReal) TVAE_SIGMA_INIT);
	nn_params_finish(p);
}

/* Buffers for batches of up to batch rows. */
void
nn_tvae_layout(NnTvae *net, NnArena *arena, int batch)
{
	size_t		b = batch;
	size_t		w = net->layout->width;
	size_t		e = net->config.embedding_dim;

	net->batch = batch;
	net->x = nn_take(arena, b * w);
	for (int i = 0; i < net->config.ncompress; i++)
		net->h[i] = nn_take(arena, b * net->config.compress[i]);
	net->mu = nn_take(arena, b * e);
	net->logvar = nn_take(arena, b * e);
	net->eps = nn_take(arena, b * e);
	net->z = nn_take(arena, b * e);
	for (int i = 0; i < net->config.ndecompress; i++)
		net->g[i] = nn_take(arena, b * net->config.decompress[i]);
	net->rec = nn_take(arena, b * w);
	net->out = nn_take(arena, b * w);
	net->drec = nn_take(arena, b * w);
	net->dsigma = nn_take(arena, net->params.tensors[net->sigma].count);
	net->work1 = nn_take(arena, b * net->max_hidden);
	net->work2 = nn_take(arena, b * net->max_hidden);
	net->dz = nn_take(arena, b * e);
	net->dmu = nn_take(arena, b * e);
	net->dlogvar = nn_take(arena, b * e);
	net->loss = nn_take(arena, b);
}

/* rec (B, W) = decoder(z (B, E)) */
static void
decode(const SynthBackend *be, NnTvae *net, int B)
{
	const NnParams *p = &net->params;
	const SynthReal *x = net->z;
	int			ldx = net->config.embedding_dim;

	for (int i = 0; i < net->config.ndecompress; i++)
	{
		int			width = net->config.decompress[i];

		nn_linear_forward(be, p, &net->dec[i], B, x, ldx, net->g[i], width);
		nn_relu_forward(be, B, width, net->g[i], width, net->g[i], width);
		x = net->g[i];
		ldx = width;
	}
	nn_linear_forward(be, p, &net->dec[net->config.ndecompress], B, x, ldx, net->rec,
					  net->layout->width);
}

/*
 * Forward pass of x (B, W) and the loss: returns the loss (the mean over
 * the rows, as the per-row terms are scaled by 1 / B) and leaves d loss / d rec in drec, d loss / d sigma in dsigma and the
 * per-row losses in loss.  The latent noise is drawn from rng.
 */
double
nn_tvae_forward(const SynthBackend *be, NnTvae *net, int B, NnRng *rng)
{
	const NnParams *p = &net->params;
	const NnLayout *layout = net->layout;
	int			w = layout->width;
	int			e = net->config.embedding_dim;
	SynthReal	scale = net->config.loss_factor / B;
	const SynthReal *x = net->x;
	int			ldx = w;

	/* encoder */
	for (int i = 0; i < net->config.ncompress; i++)
	{
		int			width = net->config.compress[i];

		nn_linear_forward(be, p, &net->enc[i], B, x, ldx, net->h[i], width);
		nn_relu_forward(be, B, width, net->h[i], width, net->h[i], width);
		x = net->h[i];
		ldx = width;
	}
	nn_linear_forward(be, p, &net->fc_mu, B, x, ldx, net->mu, e);
	nn_linear_forward(be, p, &net->fc_logvar, B, x, ldx, net->logvar, e);
	nn_reparam_forward(be, (size_t) B * e, rng, net->mu, net->logvar, net->eps, net->z);
	decode(be, net, B);

	/* reconstruction: Gaussian on the positions, cross-entropy on the spans */
	be->fill(be, B, 0, net->loss);
	be->fill(be, (size_t) B * w, 0, net->drec);
	be->fill(be, net->params.tensors[net->sigma].count, 0, net->dsigma);
	if (layout->nalpha > 0)
		be->gaussian_nll(be, B, layout->nalpha, scale, net->rec, w, net->x, w,
						 nn_value(p, net->sigma), net->drec, w, net->dsigma, net->loss);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		be->softmax_xent(be, B, layout->span_len[s], scale, net->rec + start, w,
						 net->x + start, w, net->drec + start, w, net->loss);
	}

	/*
	 * The KL term: its loss here, its gradients (to dmu, dlogvar) in the
	 * backward pass, after the reparameterisation has written them.
	 */
	{
		SynthReal  *scratch = net->dz;	/* not in use until the backward pass */

		be->fill(be, (size_t) B * e, 0, scratch);
		be->kl_normal(be, B, e, (SynthReal) 1.0 / B, net->mu, net->logvar, scratch, scratch,
					  net->loss);
	}
	return be->sum(be, B, net->loss);
}

/* Add the gradients of the loss of the last forward pass to the parameters'. */
void
nn_tvae_backward(const SynthBackend *be, NnTvae *net, int B)
{
	const NnParams *p = &net->params;
	int			w = net->layout->width;
	int			e = net->config.embedding_dim;
	int			nd = net->config.ndecompress;
	int			nc = net->config.ncompress;
	SynthReal  *dout = net->drec;
	int			ldd = w;

	/* sigma, whose gradient the forward pass computed with the loss */
	be->axpby(be, p->tensors[net->sigma].count, 1, net->dsigma, 1, nn_grad(p, net->sigma));

	/* decoder */
	for (int i = nd; i >= 0; i--)
	{
		const NnLinear *l = &net->dec[i];
		const SynthReal *inp = i > 0 ? net->g[i - 1] : net->z;
		SynthReal  *dinp = i > 0 ? ((i % 2) ? net->work1 : net->work2) : net->dz;

		nn_linear_backward(be, p, l, B, inp, l->in, dout, ldd, true, dinp, l->in, 0);
		if (i > 0)
			nn_relu_backward(be, B, l->in, net->g[i - 1], l->in, dinp, l->in, dinp, l->in);
		dout = dinp;
		ldd = l->in;
	}

	/* latent: reparameterisation, then the KL term */
	nn_reparam_backward(be, (size_t) B * e, net->logvar, net->eps, net->dz, net->dmu, net->dlogvar);
	be->kl_normal(be, B, e, (SynthReal) 1.0 / B, net->mu, net->logvar, net->dmu, net->dlogvar,
				  net->loss);

	/* encoder */
	{
		const SynthReal *hidden = nc > 0 ? net->h[nc - 1] : net->x;
		int			width = net->fc_mu.in;
		SynthReal  *dh = net->work1;

		nn_linear_backward(be, p, &net->fc_mu, B, hidden, width, net->dmu, e, true, dh, width, 0);
		nn_linear_backward(be, p, &net->fc_logvar, B, hidden, width, net->dlogvar, e, true,
						   dh, width, 1);
		dout = dh;
		ldd = width;
	}
	for (int i = nc - 1; i >= 0; i--)
	{
		const NnLinear *l = &net->enc[i];
		const SynthReal *inp = i > 0 ? net->h[i - 1] : net->x;
		SynthReal  *dinp = i > 0 ? ((dout == net->work1) ? net->work2 : net->work1) : NULL;

		/* through the ReLU of this layer's output, in place */
		nn_relu_backward(be, B, l->out, net->h[i], l->out, dout, ldd, dout, ldd);
		nn_linear_backward(be, p, l, B, inp, l->in, dout, ldd, true, dinp, l->in, 0);
		dout = dinp;
		ldd = l->in;
	}
}

/*
 * One training step on x (B, W): forward, backward, Adam, sigma clamped to
 * [0.01, 1] as the reference does.  Returns the loss.
 */
double
nn_tvae_step(const SynthBackend *be, NnTvae *net, int B, NnRng *rng)
{
	double		loss;

	nn_params_zero_grad(be, &net->params);
	loss = nn_tvae_forward(be, net, B, rng);
	nn_tvae_backward(be, net, B);
	nn_adam_step(be, &net->params, &net->config.adam);
	be->clamp(be, net->params.tensors[net->sigma].count, (SynthReal) TVAE_SIGMA_MIN,
			  (SynthReal) TVAE_SIGMA_MAX, nn_value(&net->params, net->sigma));
	return loss;
}

/*
 * Sample B rows into out (B, W): standard normal latent rows, decoded; the
 * positions through tanh, each span's slots through a Gumbel softmax, so
 * that the largest slot of a span is a draw from the decoder's categorical
 * distribution.  The caller adds the positions' noise (sigma).
 */
void
nn_tvae_sample(const SynthBackend *be, NnTvae *net, int B, NnRng *rng)
{
	const NnLayout *layout = net->layout;
	int			w = layout->width;
	size_t		n = (size_t) B * net->config.embedding_dim;

	be->fill_normal(be, n, 0, 1, rng->seed, nn_rng_take(rng, n), net->z);
	decode(be, net, B);
	if (layout->nalpha > 0)
		nn_tanh_forward(be, B, layout->nalpha, net->rec, w, net->out, w);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		nn_softmax_forward(be, B, layout->span_len[s], 1, rng, net->rec + start, w,
						   net->out + start, w);
	}
}
