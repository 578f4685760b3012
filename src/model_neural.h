/*-------------------------------------------------------------------------
 *
 * model_neural.h
 *	  What the neural methods (model_neural.c, model_tvae.c, model_ctgan.c)
 *	  share: how a model's columns are encoded into network rows, and a
 *	  training run's backend, memory and data.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_MODEL_NEURAL_H
#define SYNTH_MODEL_NEURAL_H

#include "model.h"
#include "nn.h"

/*
 * One modelled column in the encoded rows.  A continuous column has a
 * position (in [-1, 1]) inside one of its modes, and a span whose first
 * nmodes slots are the modes; mode k covers the uniform scores
 * [bounds[k], bounds[k + 1]) of the column's quantile encoder (transform.c).
 * A categorical column's span has one slot per emitted category, in the
 * encoder's order.  Either may end with a slot for the rare categories
 * (categorical) and one for NULL.
 */
typedef struct SynthNeuralColumn
{
	int			encoder;		/* index in the model's encoders */
	bool		continuous;
	int			alpha;			/* continuous: column of the position, else -1 */
	int			span;			/* index of its span in the layout */
	int			nslots;
	int			rare_slot;		/* or -1 */
	int			null_slot;		/* or -1 */
	int			nmodes;			/* continuous */
	double	   *bounds;			/* continuous: nmodes + 1 */
} SynthNeuralColumn;

/* The neural part of a model: encoding, network configuration, weights. */
typedef struct SynthNeural
{
	SynthMethod method;
	int			ncols;
	SynthNeuralColumn *cols;
	NnLayout	layout;
	double	   *slot_share;		/* cond_width: share of rows in each discrete slot */

	NnTvae		tvae;			/* the network of the method */
	NnCtgan		ctgan;
	NnParams   *params;			/* the tensors that are stored: &tvae.params or &ctgan.gen */
	SynthReal  *weights;		/* host copy of params' values (count + state_count) */

	/* for the spec and metrics */
	int			epochs;
	int			batch_size;
	double		last_loss;		/* mean loss of the last epoch (generator's for ctgan) */
	double		last_loss2;		/* ctgan: critic's */
	const char *device_name;

	/* generation, set up on first use (not stored) */
	struct SynthNeuralRun *sample_run;	/* backend and buffers */
	int			sample_batch;
	SynthReal  *host_rows;		/* (sample_batch, width) downloaded rows */
	SynthReal  *host_cond;		/* ctgan: (sample_batch, cond_width) */
	double	   *cond_cum;		/* ctgan: (cond_width) shares of a condition's slots */
	int		   *cond_slot;		/* ctgan: (sample_batch) each row's conditioned slot */
	SynthReal  *sigma;			/* tvae: (nalpha) */
	double	   *candidates;		/* (sample_batch, dim) uniform scores before conditions */
} SynthNeural;

#define SYNTH_NEURAL_MAX_TRACKED	8	/* networks, and host arrays, in a checkpoint */

/*
 * A training run: the backend, a memory context that owns every buffer
 * (device buffers are freed when it goes, also on error), the encoded rows
 * and the random streams.
 */
typedef struct SynthNeuralRun
{
	const SynthBackend *backend;
	MemoryContext cxt;
	int			nbuffers;
	int			maxbuffers;
	void	  **buffers;		/* device buffers to free with cxt */

	SynthReal  *data;			/* host (nrows, width) encoded rows */
	int64		nrows;
	int			epochs;
	int			batch_size;
	int			progress_every;
	const SynthNeuralOptions *opts;
	NnRng		rng;			/* the networks' stream */
	SynthRng	host_rng;		/* batches and conditional vectors */

	/* ctgan: for each discrete slot, the rows that have it */
	int64	   *slot_rows_start;	/* cond_width + 1 offsets into slot_rows */
	int64	   *slot_rows;

	/*
	 * A background job trains between transactions and checkpoints what is
	 * tracked here besides the streams and losses (checkpoint.c): every
	 * network allocated for training, and host arrays the loop keeps.
	 */
	bool		detached;
	uint32		data_crc;		/* of data: a checkpoint is for these rows only */
	int			nparams_tracked;
	NnParams   *params_tracked[SYNTH_NEURAL_MAX_TRACKED];
	int			nhost_tracked;
	void	   *host_tracked[SYNTH_NEURAL_MAX_TRACKED];
	size_t		host_tracked_len[SYNTH_NEURAL_MAX_TRACKED];

	/*
	 * A private training (dpsgd.c): DP-SGD steps planned and done.  A
	 * checkpoint of it would keep these and the networks, never the secret
	 * stream (a resumed run draws from a fresh key); private trainings run
	 * in one transaction and are not checkpointed in this version.
	 */
	int64		dp_steps;
	int64		dp_steps_done;
} SynthNeuralRun;

/* model_neural.c */
extern SynthNeuralRun *synth_neural_run_create(const SynthBackend *backend, MemoryContext parent,
											   const char *name);
extern const SynthBackend *synth_neural_backend(int device);
extern SynthReal *synth_neural_buffer(SynthNeuralRun *run, size_t count);
extern void synth_neural_params_alloc(SynthNeuralRun *run, NnParams *p, bool training);
extern void synth_neural_download_weights(SynthNeural *neural, const SynthBackend *be);
extern void synth_neural_progress(SynthNeuralRun *run, const char *method, int epoch,
								  double loss, const char *loss_name, double loss2,
								  const char *loss2_name);
extern void synth_neural_decode(SynthModel *model, const SynthReal *rows, int nrows, int ld,
								const SynthReal *sigma, SynthRng *rng, double *u);
extern void synth_neural_slot_interval(const SynthEncoder *enc, const SynthNeuralColumn *col,
									   int slot, double *lo, double *hi);

/* model_tvae.c */
extern void synth_tvae_train(SynthModel *model, SynthNeuralRun *run);
extern void synth_tvae_prepare(SynthModel *model);
extern void synth_tvae_generate(SynthModel *model, int rows, uint64 seed, SynthRng *rng,
								double *u);

/* model_ctgan.c */
extern void synth_ctgan_train(SynthModel *model, SynthNeuralRun *run);
extern void synth_ctgan_prepare(SynthModel *model);
extern void synth_ctgan_generate(SynthModel *model, int rows, uint64 seed, SynthRng *rng,
								 SynthAllowedSet *const *allowed, double *u);

/*
 * checkpoint.c: a neural training that runs as a background job resumes from
 * its job's checkpoint (returns the last epoch done, 0: none) and saves one
 * after an epoch when synth.checkpoint_interval says so.  Outside a job both
 * do nothing.
 */
extern void synth_neural_track(SynthNeuralRun *run, void *host, size_t len);
extern int	synth_neural_resume(SynthModel *model, SynthNeuralRun *run);
extern void synth_neural_checkpoint(SynthModel *model, SynthNeuralRun *run, int epoch);

#endif							/* SYNTH_MODEL_NEURAL_H */
