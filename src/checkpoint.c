/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Checkpoints of a background training with epochs, in synth.checkpoints.
 *
 * A method with epochs that runs as a job asks synth_checkpoint_due() after
 * each epoch and, when it says so, saves its state (parameters, optimizer
 * moments, epoch, RNG state: the method's own versioned format) with
 * synth_checkpoint_save().  A resumed job loads it with
 * synth_checkpoint_load() and goes on from the epoch after it.  The row is
 * deleted in the transaction that stores the model (or ends the job).
 *
 * A checkpoint must survive a crash of the training, so it is committed in
 * its own transaction: such a method reads its rows in one transaction,
 * trains between transactions, and stores its model in a last one.  The
 * copula has no epochs and no state worth keeping: it never checkpoints, and
 * a resumed copula job starts over (see doc/operations.md).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "worker.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static int64 clock_job = 0;		/* the job the clock below is for */
static TimestampTz last_checkpoint = 0;

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
	Oid			argtypes[3] = {INT8OID, INT4OID, BYTEAOID};
	Datum		args[3];

	if (job_id == 0)
		elog(ERROR, "synth: a checkpoint is saved only by a background job");
	if (IsTransactionState())
		elog(ERROR, "synth: a checkpoint is saved between transactions");

	args[0] = Int64GetDatum(job_id);
	args[1] = Int32GetDatum(epoch);
	args[2] = PointerGetDatum(state);
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("INSERT INTO synth.checkpoints (job_id, epoch, state) VALUES ($1, $2, $3) "
							  "ON CONFLICT (job_id) DO UPDATE SET epoch = excluded.epoch, "
							  "state = excluded.state, created_at = clock_timestamp()",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "synth: could not save the checkpoint of job " INT64_FORMAT, job_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	clock_job = job_id;
	last_checkpoint = GetCurrentTimestamp();
}

/*
 * The job's last checkpoint, in the caller's memory context and transaction,
 * or NULL; *epoch receives the epoch it was saved after.
 */
bytea *
synth_checkpoint_load(int *epoch)
{
	int64		job_id = synth_current_job();
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	bytea	   *state = NULL;

	*epoch = 0;
	if (job_id == 0)
		return NULL;
	args[0] = Int64GetDatum(job_id);
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
	return state;
}
