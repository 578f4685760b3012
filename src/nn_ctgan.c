/*-------------------------------------------------------------------------
 *
 * nn_ctgan.c
 *	  The CTGAN networks: a residual generator and a packed WGAN-GP critic,
 *	  their losses and training steps, and generation, on the engine of nn.c.
 *
 * Shapes: B rows (a multiple of pac) of the encoded width W plus the
 * conditional vector's CW slots (nn.h's NnLayout); the critic sees B / pac
 * packed rows of pac (W + CW) values, which is the same memory read as
 * (B / pac, pac (W + CW)).  The residual concatenations cost nothing: each
 * layer writes its output just left of its input in one wide buffer,
 * [h_k | ... | h_1 | noise | cond], so layer i's input is the buffer's
 * right part from its own input on.
 *
 * Server-free like nn.c; src/model_ctgan.c drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "nn.h"

/* The defaults of sdv-dev/CTGAN's CTGAN synthesizer. */
void
nn_ctgan_config_default(NnCtganConfig *config)
{
	config->embedding_dim = 128;
	config->ngenerator = 2;
	config->generator[0] = config->generator[1] = 256;
	config->ndiscriminator = 2;
	config->discriminator[0] = config->discriminator[1] = 256;
	config->pac = 10;
	config->tau = 0.2f;
	config->gp_lambda = 10;
	config->leaky_slope = 0.2f;
	config->dropout = 0.5f;
	config->gen_adam.lr = 2e-4f;
	config->gen_adam.beta1 = 0.5f;
	config->gen_adam.beta2 = 0.9f;
	config->gen_adam.eps = 1e-8f;
	config->gen_adam.weight_decay = 1e-6f;
	config->dis_adam = config->gen_adam;
}

void
nn_ctgan_declare(NnCtgan *net, const NnCtganConfig *config, const NnLayout *layout)
{
	int			width;

	net->config = *config;
	net->layout = layout;
	net->gen_in = config->embedding_dim + layout->cond_width;
	net->row = layout->width + layout->cond_width;
	width = net->gen_in;
	net->max_hidden = 1;
	for (int i = 0; i < config->ngenerator; i++)
	{
		nn_linear_declare(&net->gen, &net->gfc[i], width, config->generator[i]);
		nn_batchnorm_declare(&net->gen, &net->gbn[i], config->generator[i]);
		width += config->generator[i];
		if (config->generator[i] > net->max_hidden)
			net->max_hidden = config->generator[i];
	}
	net->wide = width;
	nn_linear_declare(&net->gen, &net->gout, width, layout->width);
	nn_params_finish(&net->gen);

	nn_critic_declare(&net->dis, &net->critic, config->pac * net->row, config->ndiscriminator,
					  config->discriminator, config->leaky_slope, config->dropout);
	nn_params_finish(&net->dis);
}

/* Buffers for batches of up to batch rows; the critic's and gradients only when training. */
void
nn_ctgan_layout(NnCtgan *net, NnArena *arena, int batch, bool training)
{
	size_t		b = batch;

	net->batch = batch;
	net->cond = nn_take(arena, b * (net->layout->cond_width > 0 ? net->layout->cond_width : 1));
	net->real = nn_take(arena, b * net->row);
	net->noise = nn_take(arena, b * net->config.embedding_dim);
	net->hidden = nn_take(arena, b * net->wide);
	for (int i = 0; i < net->config.ngenerator; i++)
	{
		net->pre[i] = nn_take(arena, b * net->config.generator[i]);
		net->saved[i].mean = nn_take(arena, net->config.generator[i]);
		net->saved[i].rstd = nn_take(arena, net->config.generator[i]);
	}
	net->normed = nn_take(arena, b * net->max_hidden);
	net->fake = nn_take(arena, b * net->layout->width);
	net->fakeact = nn_take(arena, b * net->row);
	if (!training)
		return;
	net->mixed = nn_take(arena, b * net->row);
	net->alpha = nn_take(arena, b / net->config.pac + 1);
	net->dfakeact = nn_take(arena, b * net->row);
	net->dfake = nn_take(arena, b * net->layout->width);
	net->dhidden = nn_take(arena, b * net->wide);
	net->dnormed = nn_take(arena, b * net->max_hidden);
	net->dpre = nn_take(arena, b * net->max_hidden);
	net->loss = nn_take(arena, b);
	nn_critic_layout(&net->critic, arena, batch / net->config.pac);
}

/*
 * fakeact (B, row) = activated generator rows for standard normal noise and
 * the conditions in cond, followed by those conditions.  Batch norm uses the
 * batch's statistics when training, the running ones otherwise.
 */
void
nn_ctgan_generate(const SynthBackend *be, NnCtgan *net, int B, bool training, NnRng *rng)
{
	const NnLayout *layout = net->layout;
	const NnParams *p = &net->gen;
	int			e = net->config.embedding_dim;
	int			cw = layout->cond_width;
	int			w = layout->width;
	int			x = net->wide - net->gen_in;	/* where the current input starts */
	size_t		n = (size_t) B * e;

	/* noise and conditions, at the right end of the wide buffer */
	be->fill_normal(be, n, 0, 1, rng->seed, nn_rng_take(rng, n), net->noise);
	be->copy2d(be, B, e, net->noise, e, 0, net->hidden + x, net->wide);
	if (cw > 0)
		be->copy2d(be, B, cw, net->cond, cw, 0, net->hidden + x + e, net->wide);

	/* residual layers: out = [relu(bn(fc(in))) | in] */
	for (int i = 0; i < net->config.ngenerator; i++)
	{
		int			g = net->config.generator[i];

		nn_linear_forward(be, p, &net->gfc[i], B, net->hidden + x, net->wide, net->pre[i], g);
		nn_batchnorm_forward(be, p, &net->gbn[i], B, training, net->pre[i], &net->saved[i],
							 net->normed);
		x -= g;
		nn_relu_forward(be, B, g, net->normed, g, net->hidden + x, net->wide);
	}
	nn_linear_forward(be, p, &net->gout, B, net->hidden, net->wide, net->fake, w);

	/* activation: tanh on the positions, Gumbel softmax on each span */
	if (layout->nalpha > 0)
		nn_tanh_forward(be, B, layout->nalpha, net->fake, w, net->fakeact, net->row);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		nn_softmax_forward(be, B, layout->span_len[s], net->config.tau, rng,
						   net->fake + start, w, net->fakeact + start, net->row);
	}
	if (cw > 0)
		be->copy2d(be, B, cw, net->cond, cw, 0, net->fakeact + w, net->row);
}

/*
 * The critic's loss E[score(fake)] - E[score(real)] plus the gradient
 * penalty on rows between real and fake, for fresh fake rows of the
 * conditions in cond and the real rows in real: returns the loss (penalty
 * in *penalty) and adds its gradients to the critic's.
 */
double
nn_ctgan_critic_loss(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng, double *penalty)
{
	NnCritic   *c = &net->critic;
	int			rows = B / net->config.pac;
	int			packed = net->config.pac * net->row;
	double		fake_score,
				real_score;

	nn_ctgan_generate(be, net, B, true, rng);

	be->fill_uniform(be, rows, 0, 1, rng->seed, nn_rng_take(rng, rows), net->alpha);
	be->lerp_rows(be, rows, packed, net->alpha, net->real, net->fakeact, net->mixed);
	*penalty = nn_critic_penalty(be, &net->dis, c, rows, net->mixed, rng, net->config.gp_lambda);

	nn_critic_forward(be, &net->dis, c, rows, net->fakeact, rng);
	fake_score = be->sum(be, rows, c->score) / rows;
	nn_critic_backward(be, &net->dis, c, rows, net->fakeact, (SynthReal) 1.0 / rows, true, NULL, 0);

	nn_critic_forward(be, &net->dis, c, rows, net->real, rng);
	real_score = be->sum(be, rows, c->score) / rows;
	nn_critic_backward(be, &net->dis, c, rows, net->real, (SynthReal) -1.0 / rows, true, NULL, 0);

	return fake_score - real_score;
}

/* One critic step: its loss (without the penalty, as the reference reports it). */
double
nn_ctgan_critic_step(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng, double *penalty)
{
	double		loss;

	nn_params_zero_grad(be, &net->dis);
	loss = nn_ctgan_critic_loss(be, net, B, rng, penalty);
	nn_adam_step(be, &net->dis, &net->config.dis_adam);
	return loss;
}

/*
 * The generator's loss -E[score(fake)] plus the cross-entropy of each fake
 * row's conditioned span against its condition (cond_loss), for fresh fake
 * rows of the conditions in cond: returns it and adds its gradients to the
 * generator's (the critic's are left alone).
 */
double
nn_ctgan_generator_loss(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
						double *cond_loss)
{
	const NnLayout *layout = net->layout;
	const NnParams *p = &net->gen;
	NnCritic   *c = &net->critic;
	int			rows = B / net->config.pac;
	int			w = layout->width;
	int			cw = layout->cond_width;
	double		score;
	int			x;

	nn_ctgan_generate(be, net, B, true, rng);
	nn_critic_forward(be, &net->dis, c, rows, net->fakeact, rng);
	score = be->sum(be, rows, c->score) / rows;
	nn_critic_backward(be, &net->dis, c, rows, net->fakeact, (SynthReal) -1.0 / rows, false,
					   net->dfakeact, net->config.pac * net->row);

	/* back through the activation: every column of dfake is written */
	if (layout->nalpha > 0)
		nn_tanh_backward(be, B, layout->nalpha, net->fakeact, net->row, net->dfakeact, net->row,
						 net->dfake, w);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		nn_softmax_backward(be, B, layout->span_len[s], net->config.tau,
							net->fakeact + start, net->row, net->dfakeact + start, net->row,
							net->dfake + start, w);
	}

	/* the conditioned span of each row should be its condition */
	be->fill(be, B, 0, net->loss);
	for (int s = 0; s < layout->nspans; s++)
	{
		int			start = layout->span_start[s];

		if (!layout->span_discrete[s])
			continue;
		be->softmax_xent(be, B, layout->span_len[s], (SynthReal) 1.0 / B,
						 net->fake + start, w, net->cond + layout->span_cond[s], cw,
						 net->dfake + start, w, net->loss);
	}
	*cond_loss = cw > 0 ? be->sum(be, B, net->loss) : 0.0;

	/* back through the generator */
	nn_linear_backward(be, p, &net->gout, B, net->hidden, net->wide, net->dfake, w, true,
					   net->dhidden, net->wide, 0);
	x = 0;
	for (int i = net->config.ngenerator - 1; i >= 0; i--)
	{
		int			g = net->config.generator[i];

		/* layer i's output is at x, its input from x + g on */
		nn_relu_backward(be, B, g, net->hidden + x, net->wide, net->dhidden + x, net->wide,
						 net->dnormed, g);
		nn_batchnorm_backward(be, p, &net->gbn[i], B, net->pre[i], &net->saved[i],
							  net->dnormed, net->dpre);
		nn_linear_backward(be, p, &net->gfc[i], B, net->hidden + x + g, net->wide,
						   net->dpre, g, true,
						   i > 0 ? net->dhidden + x + g : NULL, net->wide, 1);
		x += g;
	}
	return -score + *cond_loss;
}

/* One generator step: its loss. */
double
nn_ctgan_generator_step(const SynthBackend *be, NnCtgan *net, int B, NnRng *rng,
						double *cond_loss)
{
	double		loss;

	nn_params_zero_grad(be, &net->gen);
	loss = nn_ctgan_generator_loss(be, net, B, rng, cond_loss);
	nn_adam_step(be, &net->gen, &net->config.gen_adam);
	return loss;
}
