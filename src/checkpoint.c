/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Checkpoints of a background training with epochs, in synth.checkpoints,
 *	  and the neural methods' checkpoint format.
 *
 * A neural training that runs as a job trains between transactions (its
 * rows are in memory; worker.c's synth_job_detach).  Before its first epoch
 * it asks synth_neural_resume() for the job's last checkpoint and goes on
 * from the epoch after it; after each epoch synth_neural_checkpoint() saves
 * one when synth.checkpoint_interval has passed, committed in a transaction
 * of its own so that it survives a crash.  The row is deleted in the
 * transaction that stores the model, or ends the job otherwise (worker.c).
 *
 * The state is a versioned, checksummed image, as model_io.c writes weights:
 * "SYNTHCKP" | uint32 version | uint32 method | uint32 payload length |
 * uint32 CRC-32C of the payload | payload.  The payload is the epoch done,
 * what the checkpoint is for (epochs, batch size, rows, width, CRC-32C of
 * the encoded rows, precision), the last losses, both random streams, every
 * network being trained (values with batch-norm statistics, Adam moments
 * and step count) and the host arrays the loop tracks (tvae's row order).
 * A resumed training that restores it computes the same weights as one that
 * was never interrupted.  A checkpoint that is corrupt, of another format
 * version or made for other rows is discarded with a WARNING, and the
 * training starts from epoch 1: a job should finish, and its checkpoint is
 * only a shortcut.
 *
 * The copula and mst have no epochs and never checkpoint; a resumed copula
 * or mst job starts over (see doc/operations.md).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model_neural.h"
#include "worker.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "portability/instr_time.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define SYNTH_CHECKPOINT_MAGIC		"SYNTHCKP"
#define SYNTH_CHECKPOINT_VERSION	1
#define HEADER_BYTES				(8 + 4 * 4)

static int64 clock_job = 0;		/* the job the clock below is for */
static TimestampTz last_checkpoint = 0;

/* ---------------------------------------------------------------- synth.checkpoints */

/* Start the job's checkpoint clock: the first checkpoint is due an interval from now. */
void
synth_checkpoint_clock_start(void)
{
	clock_job = synth_current_job();
	last_checkpoint = GetCurrentTimestamp();
}

/*
 * Is a checkpoint due?  False outside a job and with synth.checkpoint_interval
 * = 0; the first call of a job starts its clock.
 */
bool
synth_checkpoint_due(void)
{
	int64		job_id = synth_current_job();
	TimestampTz now;

	if (job_id == 0 || synth_checkpoint_interval_s <= 0)
		return false;
	now = GetCurrentTimestamp();
	if (clock_job != job_id)
	{
		clock_job = job_id;
		last_checkpoint = now;
	}
	return TimestampDifferenceExceeds(last_checkpoint, now, synth_checkpoint_interval_s * 1000);
}

/* Save state as the job's checkpoint after epoch; commits its own transaction. */
void
synth_checkpoint_save(int epoch, bytea *state)
{
	int64		job_id = synth_current_job();
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			argtypes[3] = {INT8OID, INT4OID, BYTEAOID};
	Datum		args[3];

	if (job_id == 0)
		elog(ERROR, "synth: a checkpoint is saved only by a background job");
	if (IsTransactionState())
		elog(ERROR, "synth: a checkpoint is saved between transactions");

	args[0] = Int64GetDatum(job_id);
	args[1] = Int32GetDatum(epoch);
	args[2] = PointerGetDatum(state);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	synth_job_check_target();
	if (SPI_execute_with_args("INSERT INTO synth.checkpoints (job_id, epoch, state, attempt) "
							  "SELECT $1, $2, $3, q.attempts FROM synth.job_queue q WHERE q.id = $1 "
							  "ON CONFLICT (job_id) DO UPDATE SET epoch = excluded.epoch, "
							  "state = excluded.state, attempt = excluded.attempt, "
							  "created_at = clock_timestamp()",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "synth: could not save the checkpoint of job " INT64_FORMAT, job_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(callercxt);

	clock_job = job_id;
	last_checkpoint = GetCurrentTimestamp();
}

/*
 * The job's last checkpoint, in the caller's memory context, or NULL;
 * *epoch receives the epoch it was saved after.  Between transactions it
 * reads in a transaction of its own.
 */
bytea *
synth_checkpoint_load(int *epoch)
{
	int64		job_id = synth_current_job();
	MemoryContext callercxt = CurrentMemoryContext;
	bool		own_transaction = !IsTransactionState();
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	bytea	   *state = NULL;

	*epoch = 0;
	if (job_id == 0)
		return NULL;
	args[0] = Int64GetDatum(job_id);
	if (own_transaction)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (SPI_execute_with_args("SELECT epoch, state FROM synth.checkpoints WHERE job_id = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read the checkpoint of job " INT64_FORMAT, job_id);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		value;
		MemoryContext oldcxt;

		*epoch = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		oldcxt = MemoryContextSwitchTo(callercxt);
		state = DatumGetByteaPCopy(value);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	if (own_transaction)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(callercxt);
	}
	return state;
}

/* ---------------------------------------------------------------- the neural checkpoint format */

/* What a checkpoint is for: a resumed training must have the same. */
typedef struct RunIdentity
{
	int32		epochs;
	int32		batch_size;
	int32		width;
	int32		real_size;
	int64		nrows;
	uint32		data_crc;
} RunIdentity;

static void
run_identity(SynthModel *model, SynthNeuralRun *run, RunIdentity *id)
{
	memset(id, 0, sizeof(*id));
	id->epochs = run->epochs;
	id->batch_size = run->batch_size;
	id->width = model->neural->layout.width;
	id->real_size = (int32) sizeof(SynthReal);
	id->nrows = run->nrows;
	id->data_crc = run->data_crc;
}

/* Bytes of the payload of run's state. */
static size_t
payload_size(SynthNeuralRun *run)
{
	size_t		n = sizeof(int32) + sizeof(RunIdentity) + 2 * sizeof(double) +
		sizeof(NnRng) + sizeof(SynthRng) + sizeof(int32);

	for (int i = 0; i < run->nparams_tracked; i++)
	{
		NnParams   *p = run->params_tracked[i];

		n += 2 * sizeof(int64) + sizeof(int32) +
			sizeof(SynthReal) * (p->count + p->state_count + 2 * p->count);
	}
	n += sizeof(int32);
	for (int i = 0; i < run->nhost_tracked; i++)
		n += sizeof(int64) + run->host_tracked_len[i];
	return n;
}

static char *
put(char *p, const void *v, size_t len)
{
	memcpy(p, v, len);
	return p + len;
}

/* The checkpoint image of run after epoch. */
static bytea *
checkpoint_image(SynthModel *model, SynthNeuralRun *run, int epoch)
{
	SynthNeural *nn = model->neural;
	const SynthBackend *be = run->backend;
	size_t		len = payload_size(run);
	bytea	   *image;
	char	   *start;
	char	   *p;
	RunIdentity id;
	int32		n;
	uint32		v;
	pg_crc32c	crc;

	if (HEADER_BYTES + len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the checkpoint of this training would take %zu bytes, more than a bytea holds", len),
				 errhint("Set synth.checkpoint_interval to 0 to train without checkpoints, or train a smaller network.")));
	image = palloc(VARHDRSZ + HEADER_BYTES + len);
	SET_VARSIZE(image, VARHDRSZ + HEADER_BYTES + len);
	start = p = VARDATA(image) + HEADER_BYTES;

	n = epoch;
	p = put(p, &n, sizeof(n));
	run_identity(model, run, &id);
	p = put(p, &id, sizeof(id));
	p = put(p, &nn->last_loss, sizeof(double));
	p = put(p, &nn->last_loss2, sizeof(double));
	p = put(p, &run->rng, sizeof(NnRng));
	p = put(p, &run->host_rng, sizeof(SynthRng));
	n = run->nparams_tracked;
	p = put(p, &n, sizeof(n));
	for (int i = 0; i < run->nparams_tracked; i++)
	{
		NnParams   *params = run->params_tracked[i];
		int64		count = (int64) params->count;
		int64		state_count = (int64) params->state_count;
		size_t		bytes;

		p = put(p, &count, sizeof(count));
		p = put(p, &state_count, sizeof(state_count));
		p = put(p, &params->step, sizeof(int32));
		bytes = sizeof(SynthReal) * (params->count + params->state_count);
		synth_buffer_download(be, p, params->values, bytes);
		p += bytes;
		bytes = sizeof(SynthReal) * params->count;
		synth_buffer_download(be, p, params->m, bytes);
		p += bytes;
		synth_buffer_download(be, p, params->v, bytes);
		p += bytes;
	}
	n = run->nhost_tracked;
	p = put(p, &n, sizeof(n));
	for (int i = 0; i < run->nhost_tracked; i++)
	{
		int64		bytes = (int64) run->host_tracked_len[i];

		p = put(p, &bytes, sizeof(bytes));
		p = put(p, run->host_tracked[i], run->host_tracked_len[i]);
	}
	Assert((size_t) (p - start) == len);

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, start, len);
	FIN_CRC32C(crc);
	p = VARDATA(image);
	memcpy(p, SYNTH_CHECKPOINT_MAGIC, 8);
	v = SYNTH_CHECKPOINT_VERSION;
	memcpy(p + 8, &v, 4);
	v = (uint32) model->method;
	memcpy(p + 12, &v, 4);
	v = (uint32) len;
	memcpy(p + 16, &v, 4);
	memcpy(p + 20, &crc, 4);
	return image;
}

/* A bounds-checked cursor over a checkpoint's payload. */
typedef struct CheckpointReader
{
	const char *p;
	const char *end;
	const char *problem;		/* why it cannot be restored, or NULL */
} CheckpointReader;

static bool
get(CheckpointReader *r, void *out, size_t len)
{
	if (r->problem != NULL)
		return false;
	if ((size_t) (r->end - r->p) < len)
	{
		r->problem = "The checkpoint ends before the training's state does.";
		return false;
	}
	if (out != NULL)
		memcpy(out, r->p, len);
	r->p += len;
	return true;
}

/*
 * Read image into run, or with apply false only check that it can be:
 * returns false with r->problem set when it cannot.
 */
static bool
read_image(SynthModel *model, SynthNeuralRun *run, bytea *image, bool apply, int *epoch,
		   CheckpointReader *r)
{
	const char *p = VARDATA_ANY(image);
	size_t		len = VARSIZE_ANY_EXHDR(image);
	uint32		version,
				method,
				payload_len;
	pg_crc32c	crc,
				stored_crc;
	RunIdentity id,
				stored_id;
	double		losses[2] = {0, 0};
	NnRng		rng = {0, 0};
	SynthRng	host_rng = {{0, 0, 0, 0}};
	int32		n = 0;

	r->problem = NULL;
	if (len < HEADER_BYTES || memcmp(p, SYNTH_CHECKPOINT_MAGIC, 8) != 0)
	{
		r->problem = "The checkpoint does not begin with the synth checkpoint header.";
		return false;
	}
	memcpy(&version, p + 8, 4);
	memcpy(&method, p + 12, 4);
	memcpy(&payload_len, p + 16, 4);
	memcpy(&stored_crc, p + 20, 4);
	if (version != SYNTH_CHECKPOINT_VERSION)
		r->problem = psprintf("The checkpoint has format version %u; this synth reads version %d.",
							  version, SYNTH_CHECKPOINT_VERSION);
	else if (method != (uint32) model->method)
		r->problem = "The checkpoint is of another method.";
	else if ((size_t) payload_len != len - HEADER_BYTES)
		r->problem = "The checkpoint is truncated or has trailing bytes.";
	if (r->problem != NULL)
		return false;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, p + HEADER_BYTES, payload_len);
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, stored_crc))
	{
		r->problem = "The checksum of the checkpoint does not match.";
		return false;
	}

	r->p = p + HEADER_BYTES;
	r->end = r->p + payload_len;
	get(r, &n, sizeof(n));
	get(r, &stored_id, sizeof(stored_id));
	run_identity(model, run, &id);
	if (r->problem == NULL && (n < 1 || n > id.epochs))
		r->problem = "The checkpoint's epoch is out of range.";
	else if (r->problem == NULL && memcmp(&id, &stored_id, sizeof(id)) != 0)
		r->problem = "The checkpoint was made for other rows or other training options (the table changed since).";
	*epoch = n;
	get(r, losses, sizeof(losses));
	get(r, &rng, sizeof(rng));
	get(r, &host_rng, sizeof(host_rng));
	if (get(r, &n, sizeof(n)) && n != run->nparams_tracked)
		r->problem = "The checkpoint has another number of networks.";
	for (int i = 0; i < run->nparams_tracked && r->problem == NULL; i++)
	{
		NnParams   *params = run->params_tracked[i];
		int64		count,
					state_count;
		int32		step;
		size_t		bytes;

		get(r, &count, sizeof(count));
		get(r, &state_count, sizeof(state_count));
		get(r, &step, sizeof(step));
		if (r->problem == NULL &&
			(count != (int64) params->count || state_count != (int64) params->state_count || step < 0))
			r->problem = "A network of the checkpoint has another shape.";
		bytes = sizeof(SynthReal) * (params->count + params->state_count);
		if (apply && r->problem == NULL)
		{
			params->step = step;
			synth_buffer_upload(run->backend, params->values, r->p, bytes);
		}
		get(r, NULL, bytes);
		bytes = sizeof(SynthReal) * params->count;
		if (apply && r->problem == NULL)
			synth_buffer_upload(run->backend, params->m, r->p, bytes);
		get(r, NULL, bytes);
		if (apply && r->problem == NULL)
			synth_buffer_upload(run->backend, params->v, r->p, bytes);
		get(r, NULL, bytes);
	}
	if (get(r, &n, sizeof(n)) && n != run->nhost_tracked)
		r->problem = "The checkpoint has another number of arrays.";
	for (int i = 0; i < run->nhost_tracked && r->problem == NULL; i++)
	{
		int64		bytes;

		get(r, &bytes, sizeof(bytes));
		if (r->problem == NULL && bytes != (int64) run->host_tracked_len[i])
			r->problem = "An array of the checkpoint has another length.";
		else
			get(r, apply ? run->host_tracked[i] : NULL, run->host_tracked_len[i]);
	}
	if (r->problem == NULL && r->p != r->end)
		r->problem = "The checkpoint has trailing bytes.";
	if (r->problem != NULL)
		return false;
	if (apply)
	{
		model->neural->last_loss = losses[0];
		model->neural->last_loss2 = losses[1];
		run->rng = rng;
		run->host_rng = host_rng;
	}
	return true;
}

/* ---------------------------------------------------------------- the neural methods' hooks */

/* Keep len bytes of host memory at host in the run's checkpoints (the loop's own state). */
void
synth_neural_track(SynthNeuralRun *run, void *host, size_t len)
{
	if (run->nhost_tracked == SYNTH_NEURAL_MAX_TRACKED)
		elog(ERROR, "synth: too many arrays in one training run's checkpoints");
	run->host_tracked[run->nhost_tracked] = host;
	run->host_tracked_len[run->nhost_tracked] = len;
	run->nhost_tracked++;
}

/*
 * Before the first epoch, once every network is allocated and initialised
 * and the tracked arrays are set: restore the job's checkpoint, if it has
 * one that fits.  Returns the epoch it was made after, or 0.
 */
int
synth_neural_resume(SynthModel *model, SynthNeuralRun *run)
{
	int64		job_id = synth_current_job();
	int			epoch;
	bytea	   *image;
	CheckpointReader r;
	pg_crc32c	crc;

	if (!run->detached)
		return 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, run->data, sizeof(SynthReal) * run->nrows * model->neural->layout.width);
	FIN_CRC32C(crc);
	run->data_crc = crc;

	image = synth_checkpoint_load(&epoch);
	if (image != NULL &&
		(!read_image(model, run, image, false, &epoch, &r) ||
		 !read_image(model, run, image, true, &epoch, &r)))
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("synth job " INT64_FORMAT " discards its checkpoint and trains from epoch 1",
						job_id),
				 errdetail("%s", r.problem),
				 errhint("Nothing is to be done: the job goes on, only its progress before the checkpoint is lost.")));
		epoch = 0;
	}
	else if (image != NULL)
	{
		ereport(LOG,
				(errmsg("synth job " INT64_FORMAT " resumes %s from its checkpoint after epoch %d of %d",
						job_id, synth_method_name(model->method), epoch, run->epochs)));
		if (synth_progress_hook)
			synth_progress_hook(synth_progress_arg, epoch, run->epochs, model->neural->last_loss);
	}
	else
		epoch = 0;
	if (image != NULL)
		pfree(image);
	synth_checkpoint_clock_start();
	return epoch;
}

/*
 * After an epoch: save a checkpoint when one is due.  The last epoch needs
 * none (the model is stored next).  A configuration reload is taken here
 * too, since a long training does not return to the worker's loop.
 */
void
synth_neural_checkpoint(SynthModel *model, SynthNeuralRun *run, int epoch)
{
	bytea	   *image;
	instr_time	start,
				elapsed;

	if (!run->detached)
		return;
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	if (epoch >= run->epochs || !synth_checkpoint_due())
		return;
	INSTR_TIME_SET_CURRENT(start);
	image = checkpoint_image(model, run, epoch);
	synth_checkpoint_save(epoch, image);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	ereport(DEBUG1,
			(errmsg("synth job " INT64_FORMAT " saved a checkpoint after epoch %d: %zu bytes in %.3f ms",
					synth_current_job(), epoch, (size_t) VARSIZE(image),
					INSTR_TIME_GET_MILLISEC(elapsed))));
	pfree(image);
}
