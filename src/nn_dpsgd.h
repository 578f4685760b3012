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
 * CTGAN's critic, with pac 1: row r's loss is score(fake) - score(real_r)
 * plus the gradient penalty at a point between real_r and fake, fake being
 * fake row r mod nfake.  Its gradient is computed one row at a time into
 * the critic's gradients, and the rows' gradients are added, clipped, to
 * sum (the critic's count); work is (2 B) backend memory.
 */
extern void nn_ctgan_critic_row_grad(const SynthBackend *be, NnCtgan *net, int r, int nfake,
									 NnRng *rng);
extern void nn_ctgan_critic_clipped_grads(const SynthBackend *be, NnCtgan *net, int B, int nfake,
										  NnRng *rng, SynthReal max_norm, SynthReal *sum,
										  SynthReal *work);

#endif							/* SYNTH_NN_DPSGD_H */
