/*-------------------------------------------------------------------------
 *
 * nn_dpsgd.h
 *	  DP-SGD's per-sample clipping for the networks of nn.h: the sum over a
 *	  batch's rows of each row's own loss gradient, scaled down to an L2
 *	  norm of at most max_norm (src/nn_dpsgd.c).  Noise, sampling and
 *	  accounting are the caller's (src/dpsgd.c).
 *
 * Server-free like nn.h: the unit tests check every per-sample gradient
 * against the gradient of that one row's loss.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_NN_DPSGD_H
#define SYNTH_NN_DPSGD_H

#include "nn.h"

/*
 * TVAE: per-row buffers besides the network's (nn_tvae_layout), for
 * batches of up to batch rows.
 */
typedef struct NnTvaeClip
{
	int			batch;
	SynthReal  *norm2;			/* (B) squared norms of the rows' gradients */
	SynthReal  *factor;			/* (B) their clipping factors */
	SynthReal  *kl_dmu;			/* (B, E) each row's KL gradient by mu */
	SynthReal  *kl_dlogvar;		/* (B, E) and by logvar */
	SynthReal  *dsigma_rows;	/* (B, nalpha) each row's gradient by sigma */
	SynthReal  *scratch_row;	/* (width) */
	SynthReal  *scratch_loss;	/* (B) */
} NnTvaeClip;

extern void nn_tvae_clip_layout(const NnTvae *net, NnTvaeClip *clip, NnArena *arena, int batch);
extern double nn_tvae_clipped_grads(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip,
									int B, NnRng *rng, SynthReal max_norm);
extern void nn_tvae_row_grads(const SynthBackend *be, NnTvae *net, NnTvaeClip *clip, int B,
							  NnRng *rng, const SynthReal *factor);

/*
 * CTGAN's critic: pair r's loss is score(fake) - score(real_r) plus the
 * gradient penalty at alpha_r real_r + (1 - alpha_r) fake, fake being
 * packed fake row r mod nfake (pairs are packed rows of pac rows; DP-SGD
 * trains with pac 1).  The clipped sum of the B pairs' gradients is
 * computed for the whole batch at once ("ghost clipping", nn_dpsgd.c),
 * with buffers for up to batch pairs besides the network's:
 */
typedef struct NnCtganClip
{
	int			batch;
	NnCritic	critic;			/* the critic's layers, buffers for 3 batch rows */
	SynthReal  *input;			/* (3 B, in) the real, fake and mixed rows */
	SynthReal  *dg[NN_MAX_HIDDEN + 1];	/* (B, fc[i].in) penalty's d / d (input of layer i) */
	SynthReal  *norm2;			/* (B) squared norms of the pairs' gradients */
	SynthReal  *factor;			/* (B) their clipping factors */
	SynthReal  *weight;			/* (3 B) each row's seed: -factor, factor, factor */
	SynthReal  *dots;			/* (2 B) */
	SynthReal  *tmp;			/* (B, max(in, max hidden)) */
	SynthReal  *ones;			/* (max(in, max hidden)) */
} NnCtganClip;

extern void nn_ctgan_clip_layout(const NnCtgan *net, NnCtganClip *clip, NnArena *arena,
								 int batch);
extern void nn_ctgan_critic_clipped_grads(const SynthBackend *be, NnCtgan *net,
										  NnCtganClip *clip, int B, int nfake, NnRng *rng,
										  SynthReal max_norm, SynthReal *sum);
extern void nn_ctgan_critic_pair_grads(const SynthBackend *be, NnCtgan *net, NnCtganClip *clip,
									   int B, int nfake, NnRng *rng, const SynthReal *factor,
									   SynthReal *sum);

/*
 * The reference the tests check the batched sum against: pair r's gradient
 * computed on its own, into the critic's gradients, and the clipped sum of
 * those one pair at a time (work is (2 B) backend memory).
 */
extern void nn_ctgan_critic_row_grad(const SynthBackend *be, NnCtgan *net, int r, int nfake,
									 NnRng *rng);
extern void nn_ctgan_critic_clipped_grads_reference(const SynthBackend *be, NnCtgan *net, int B,
													int nfake, NnRng *rng, SynthReal max_norm,
													SynthReal *sum, SynthReal *work);

#endif							/* SYNTH_NN_DPSGD_H */
