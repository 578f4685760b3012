/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background training jobs: one launcher per cluster and dynamic job
 *	  workers, one database each.
 *
 * The launcher is a static background worker, connected to no database.  It
 * keeps a list of the connectable databases, and starts a job worker in a
 * database when it is told that jobs wait there (a backend that queued jobs
 * tells it when its transaction commits; a worker that claimed a job tells it
 * how many more are queued), when it starts (after a restart or a crash,
 * every database is looked at once) and every synth.poll_interval for the
 * databases that have synth.  Never more than synth.max_workers job workers
 * run at once.
 *
 * A job worker claims jobs one at a time with a row lock (FOR UPDATE SKIP
 * LOCKED) and marks the job running in its own transaction, recording the
 * job in its shared-memory slot before that transaction commits: a job is
 * "running with a live worker" exactly when some slot holds it, so a running
 * job that no slot holds was left by a crash and is resumed.  Storing the
 * model, spending privacy budget and marking the job succeeded are one
 * transaction, so a model is stored once or not at all; a neural training
 * commits its read first and trains between transactions, checkpointing as
 * it goes (synth_job_detach, checkpoint.c).  On error the transaction is
 * aborted and the job is marked failed (or cancelled) in a new one; a worker
 * terminated by pg_terminate_backend fails its job as it exits.  The worker
 * exits when no job is left.
 *
 * The training runs as the role that queued the job, never as the worker's
 * superuser session, and with the synth.* settings that role's session had.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "worker.h"

#include <limits.h>
#include <math.h>
#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

int			synth_max_workers = SYNTH_DEFAULT_MAX_WORKERS;
int			synth_poll_interval_ms = SYNTH_DEFAULT_POLL_MS;
int			synth_checkpoint_interval_s = SYNTH_DEFAULT_CHECKPOINT_S;

SynthShared *synth_shared = NULL;
static LWLock *synth_jobs_lock = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* In a job worker: its slot. */
static SynthWorkerSlot *MySlot = NULL;

PGDLLEXPORT void synth_launcher_main(Datum main_arg);
PGDLLEXPORT void synth_job_worker_main(Datum main_arg);

/* ---------------------------------------------------------------- setup */

static void
synth_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SynthShared)));
	RequestNamedLWLockTranche("synth jobs", 1);
}

static void
synth_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	synth_shared = ShmemInitStruct("synth jobs", sizeof(SynthShared), &found);
	if (!found)
		memset(synth_shared, 0, sizeof(SynthShared));
	synth_jobs_lock = &(GetNamedLWLockTranche("synth jobs"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * GUCs of the background jobs; with synth in shared_preload_libraries also
 * the shared memory and the launcher.
 */
void
SynthWorkerInit(void)
{
	BackgroundWorker bgw;

	DefineCustomIntVariable("synth.max_workers",
							"Background training jobs that run at once, in all databases.",
							"Each job worker is a background worker: max_worker_processes must leave room for them and the launcher.",
							&synth_max_workers,
							SYNTH_DEFAULT_MAX_WORKERS, 0, SYNTH_MAX_JOB_WORKERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("synth.poll_interval",
							"How often the launcher looks for jobs it was not told about.",
							"Queued jobs start at once; this catches jobs left behind by a worker that exited.",
							&synth_poll_interval_ms,
							SYNTH_DEFAULT_POLL_MS, 100, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("synth.checkpoint_interval",
							"Time between checkpoints of a background training with epochs; 0 disables them.",
							NULL,
							&synth_checkpoint_interval_s,
							SYNTH_DEFAULT_CHECKPOINT_S, 0, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = synth_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = synth_shmem_startup;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "synth");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "synth_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "synth launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "synth launcher");
	RegisterBackgroundWorker(&bgw);
}

/* ---------------------------------------------------------------- shared state */

/* Tell the launcher that database dboid has jobs (or, with -1, no synth). */
void
synth_worker_hint(Oid dboid, int jobs)
{
	Latch	   *latch;
	int			i;

	if (synth_shared == NULL)
		return;
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	for (i = 0; i < synth_shared->nhints; i++)
		if (synth_shared->hints[i].dboid == dboid)
			break;
	if (i < synth_shared->nhints)
		synth_shared->hints[i].jobs = jobs < 0 ? jobs : Max(synth_shared->hints[i].jobs, jobs);
	else if (i < SYNTH_HINT_QUEUE)
	{
		synth_shared->hints[i].dboid = dboid;
		synth_shared->hints[i].jobs = jobs;
		synth_shared->nhints++;
	}
	else
		synth_shared->hints_overflowed = true;
	latch = synth_shared->launcher_latch;
	LWLockRelease(synth_jobs_lock);

	if (latch)
		SetLatch(latch);
}

/* Is a worker running this job now? */
bool
synth_job_is_live(Oid dboid, int64 job_id)
{
	bool		live = false;

	if (synth_shared == NULL)
		return false;
	LWLockAcquire(synth_jobs_lock, LW_SHARED);
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
	{
		SynthWorkerSlot *slot = &synth_shared->slots[i];

		if (slot->in_use && slot->dboid == dboid && slot->job_id == job_id && slot->pid != 0)
			live = true;
	}
	LWLockRelease(synth_jobs_lock);
	return live;
}

/*
 * Ask the worker running a job to stop it: flag its slot and interrupt it
 * (SIGINT, as pg_cancel_backend does).  The signal is sent under the lock, so
 * it reaches the worker before the worker can let go of the job and take
 * another.  Safe in a commit callback: no ereport.  Returns whether a worker
 * was running the job.
 */
bool
synth_job_signal_cancel(Oid dboid, int64 job_id)
{
	bool		signalled = false;

	if (synth_shared == NULL)
		return false;
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
	{
		SynthWorkerSlot *slot = &synth_shared->slots[i];

		if (slot->in_use && slot->dboid == dboid && slot->job_id == job_id && slot->pid != 0)
		{
			slot->cancel_requested = true;
			kill(slot->pid, SIGINT);
			signalled = true;
		}
	}
	LWLockRelease(synth_jobs_lock);
	return signalled;
}

/* Copy the slots of dboid's workers that run a job; returns how many. */
int
synth_job_slots_copy(Oid dboid, SynthWorkerSlot *slots)
{
	int			n = 0;

	if (synth_shared == NULL)
		return 0;
	LWLockAcquire(synth_jobs_lock, LW_SHARED);
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
		if (synth_shared->slots[i].in_use && synth_shared->slots[i].dboid == dboid &&
			synth_shared->slots[i].job_id != 0)
			slots[n++] = synth_shared->slots[i];
	LWLockRelease(synth_jobs_lock);
	return n;
}

/* The job this process runs, or 0. */
int64
synth_current_job(void)
{
	int64		job_id;

	if (MySlot == NULL)
		return 0;
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	job_id = MySlot->job_id;
	LWLockRelease(synth_jobs_lock);
	return job_id;
}

/* ---------------------------------------------------------------- progress */

/* A job worker whose postmaster died stops at the next progress report. */
static inline void
CheckPostmasterAlive(void)
{
	if (!PostmasterIsAlive())
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("synth job worker exiting because the postmaster died")));
}

void
synth_job_progress_phase(const char *phase)
{
	TimestampTz now;

	if (MySlot == NULL)
		return;
	CheckPostmasterAlive();
	now = GetCurrentTimestamp();
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	strlcpy(MySlot->phase, phase, SYNTH_PHASE_LEN);
	MySlot->updated_at = now;
	LWLockRelease(synth_jobs_lock);
}

void
synth_job_progress_rows(int64 rows_read)
{
	TimestampTz now;

	if (MySlot == NULL)
		return;
	CheckPostmasterAlive();
	now = GetCurrentTimestamp();
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	MySlot->rows_read = rows_read;
	MySlot->updated_at = now;
	LWLockRelease(synth_jobs_lock);
}

void
synth_job_progress_epoch(int epoch, int epochs, const char *losses_json)
{
	TimestampTz now;

	if (MySlot == NULL)
		return;
	CheckPostmasterAlive();
	now = GetCurrentTimestamp();
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	MySlot->epoch = epoch;
	MySlot->epochs = epochs;
	strlcpy(MySlot->losses, losses_json ? losses_json : "", SYNTH_LOSSES_LEN);
	MySlot->updated_at = now;
	LWLockRelease(synth_jobs_lock);
}

/* The neural methods' hook after each epoch (model.h): epoch, epochs and loss. */
static void
job_epoch_hook(void *arg, int epoch, int epochs, double loss)
{
	char		losses[64];

	if (isfinite(loss))
		snprintf(losses, sizeof(losses), "{\"loss\": %.6g}", loss);
	else
		strlcpy(losses, "{\"loss\": null}", sizeof(losses));
	synth_job_progress_phase("training");
	synth_job_progress_epoch(epoch, epochs, losses);
}

/* ---------------------------------------------------------------- launcher */

/* A database as the launcher knows it. */
typedef struct LauncherDb
{
	Oid			dboid;
	int			wanted;			/* job workers to start there */
	bool		has_synth;		/* false once a worker found synth missing */
	bool		seen;			/* in the latest look at pg_database */
} LauncherDb;

static LauncherDb *launcher_dbs = NULL;
static int	launcher_ndbs = 0;
static int	launcher_dbs_capacity = 0;
static int	launcher_next_db = 0;	/* round robin over databases */
static BackgroundWorkerHandle *launcher_handles[SYNTH_MAX_JOB_WORKERS];
static uint32 launcher_generations[SYNTH_MAX_JOB_WORKERS];

static LauncherDb *
launcher_find_db(Oid dboid, bool create)
{
	LauncherDb *db;

	for (int i = 0; i < launcher_ndbs; i++)
		if (launcher_dbs[i].dboid == dboid)
			return &launcher_dbs[i];
	if (!create)
		return NULL;
	if (launcher_ndbs == launcher_dbs_capacity)
	{
		launcher_dbs_capacity = Max(16, launcher_dbs_capacity * 2);
		launcher_dbs = launcher_dbs == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(LauncherDb) * launcher_dbs_capacity) :
			repalloc(launcher_dbs, sizeof(LauncherDb) * launcher_dbs_capacity);
	}
	db = &launcher_dbs[launcher_ndbs++];
	db->dboid = dboid;
	db->wanted = 1;				/* never looked at: look once */
	db->has_synth = true;
	db->seen = true;
	return db;
}

/* Job workers running (or starting) in a database; dboid 0: in all. */
static int
launcher_running(Oid dboid)
{
	int			n = 0;

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
		if (synth_shared->slots[i].in_use &&
			(dboid == InvalidOid || synth_shared->slots[i].dboid == dboid))
			n++;
	LWLockRelease(synth_jobs_lock);
	return n;
}

/* Read pg_database: new databases are looked at once, dropped ones forgotten. */
static void
launcher_scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			kept = 0;
	MemoryContext loopcxt = CurrentMemoryContext;

	for (int i = 0; i < launcher_ndbs; i++)
		launcher_dbs[i].seen = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database form = (Form_pg_database) GETSTRUCT(tup);

		if (!form->datallowconn || form->datistemplate)
			continue;
#ifdef DATCONNLIMIT_INVALID_DB
		if (database_is_invalid_form(form))
			continue;			/* an interrupted DROP DATABASE (15.4 and later) */
#endif
		launcher_find_db(form->oid, true)->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(loopcxt);

	for (int i = 0; i < launcher_ndbs; i++)
		if (launcher_dbs[i].seen)
			launcher_dbs[kept++] = launcher_dbs[i];
	launcher_ndbs = kept;
	launcher_next_db = 0;
}

/* Every database with synth and no worker gets one, to look for jobs. */
static void
launcher_poll(void)
{
	launcher_scan_databases();
	for (int i = 0; i < launcher_ndbs; i++)
		if (launcher_dbs[i].has_synth && launcher_running(launcher_dbs[i].dboid) == 0)
			launcher_dbs[i].wanted = Max(launcher_dbs[i].wanted, 1);
}

/* Take what backends and workers told us. */
static void
launcher_take_hints(void)
{
	SynthHint	hints[SYNTH_HINT_QUEUE];
	int			nhints;
	bool		overflowed;

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	nhints = synth_shared->nhints;
	memcpy(hints, synth_shared->hints, sizeof(SynthHint) * nhints);
	overflowed = synth_shared->hints_overflowed;
	synth_shared->nhints = 0;
	synth_shared->hints_overflowed = false;
	LWLockRelease(synth_jobs_lock);

	if (overflowed)
		launcher_poll();
	for (int i = 0; i < nhints; i++)
	{
		LauncherDb *db = launcher_find_db(hints[i].dboid, true);

		if (hints[i].jobs < 0)
		{
			db->has_synth = false;
			db->wanted = 0;
		}
		else
		{
			db->has_synth = true;
			db->wanted = Min(Max(db->wanted, hints[i].jobs), SYNTH_MAX_JOB_WORKERS);
		}
	}
}

/* Forget workers that stopped; free the slot of one that never attached. */
static void
launcher_reap_workers(void)
{
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
	{
		pid_t		pid;

		if (launcher_handles[i] == NULL ||
			GetBackgroundWorkerPid(launcher_handles[i], &pid) != BGWH_STOPPED)
			continue;
		LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
		if (synth_shared->slots[i].in_use &&
			synth_shared->slots[i].generation == launcher_generations[i])
			synth_shared->slots[i].in_use = false;
		LWLockRelease(synth_jobs_lock);
		pfree(launcher_handles[i]);
		launcher_handles[i] = NULL;
	}
}

/* Reserve a free slot for a worker in dboid; -1 when all are taken. */
static int
launcher_reserve_slot(Oid dboid)
{
	int			slotno = -1;

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
	{
		SynthWorkerSlot *slot = &synth_shared->slots[i];

		if (slot->in_use)
			continue;
		slot->in_use = true;
		slot->generation++;
		slot->dboid = dboid;
		slot->pid = 0;
		slot->job_id = 0;
		slot->cancel_requested = false;
		launcher_generations[i] = slot->generation;
		slotno = i;
		break;
	}
	LWLockRelease(synth_jobs_lock);
	return slotno;
}

/*
 * Start job workers where they are wanted, up to synth.max_workers.  Returns
 * false when the postmaster had no background worker slot left.
 */
static bool
launcher_start_workers(void)
{
	int			running = launcher_running(InvalidOid);

	for (int tried = 0; tried < launcher_ndbs && running < synth_max_workers;)
	{
		LauncherDb *db = &launcher_dbs[launcher_next_db % launcher_ndbs];
		BackgroundWorker bgw;
		MemoryContext oldcxt;
		bool		registered;
		int			slotno;

		if (db->wanted <= 0)
		{
			launcher_next_db = (launcher_next_db + 1) % launcher_ndbs;
			tried++;
			continue;
		}
		slotno = launcher_reserve_slot(db->dboid);
		if (slotno < 0)
			break;

		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
		bgw.bgw_restart_time = BGW_NEVER_RESTART;
		snprintf(bgw.bgw_library_name, BGW_MAXLEN, "synth");
		snprintf(bgw.bgw_function_name, BGW_MAXLEN, "synth_job_worker_main");
		snprintf(bgw.bgw_name, BGW_MAXLEN, "synth job worker for database %u", db->dboid);
		snprintf(bgw.bgw_type, BGW_MAXLEN, "synth job worker");
		bgw.bgw_main_arg = Int32GetDatum(slotno);
		memcpy(bgw.bgw_extra, &launcher_generations[slotno], sizeof(uint32));
		bgw.bgw_notify_pid = MyProcPid;

		/* the handle outlives the launcher's loop context */
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		registered = RegisterDynamicBackgroundWorker(&bgw, &launcher_handles[slotno]);
		MemoryContextSwitchTo(oldcxt);
		if (!registered)
		{
			LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
			synth_shared->slots[slotno].in_use = false;
			LWLockRelease(synth_jobs_lock);
			launcher_handles[slotno] = NULL;
			ereport(LOG,
					(errmsg("synth launcher could not start a job worker: no background worker slot is free"),
					 errhint("Raise max_worker_processes to at least synth.max_workers plus one, and restart.")));
			return false;
		}
		db->wanted--;
		running++;
		tried = 0;
	}
	return true;
}

static void
launcher_exit(int code, Datum arg)
{
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	synth_shared->launcher_pid = 0;
	synth_shared->launcher_latch = NULL;
	LWLockRelease(synth_jobs_lock);
}

void
synth_launcher_main(Datum main_arg)
{
	TimestampTz next_poll;
	MemoryContext loopcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/*
	 * A launcher restarted after an error finds the slots of the previous
	 * one: workers that attached free theirs; reserved ones never will.
	 */
	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	synth_shared->launcher_pid = MyProcPid;
	synth_shared->launcher_latch = MyLatch;
	for (int i = 0; i < SYNTH_MAX_JOB_WORKERS; i++)
	{
		SynthWorkerSlot *slot = &synth_shared->slots[i];

		if (slot->in_use && (slot->pid == 0 || kill(slot->pid, 0) != 0))
		{
			slot->in_use = false;
			slot->generation++;
		}
	}
	LWLockRelease(synth_jobs_lock);
	before_shmem_exit(launcher_exit, 0);

	if (synth_max_workers + 1 > max_worker_processes)
		ereport(LOG,
				(errmsg("synth.max_workers is %d but max_worker_processes is %d",
						synth_max_workers, max_worker_processes),
				 errhint("The launcher and each job worker take a background worker slot; parallel queries and other extensions take some too.")));
	ereport(LOG, (errmsg("synth launcher started, synth.max_workers = %d", synth_max_workers)));

	/* every database once: jobs queued or left running before a restart */
	launcher_scan_databases();
	next_poll = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), synth_poll_interval_ms);
	loopcxt = AllocSetContextCreate(TopMemoryContext, "synth launcher loop", ALLOCSET_DEFAULT_SIZES);

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		long		timeout_ms;
		bool		started;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			launcher_poll();	/* synth.max_workers may have been raised */
		}

		launcher_reap_workers();
		launcher_take_hints();
		now = GetCurrentTimestamp();
		if (now >= next_poll)
		{
			launcher_poll();
			next_poll = TimestampTzPlusMilliseconds(now, synth_poll_interval_ms);
		}
		started = launcher_start_workers();

		timeout_ms = TimestampDifferenceMilliseconds(now, next_poll);
		if (!started)
			timeout_ms = Min(timeout_ms, 1000);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout_ms, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

/* ---------------------------------------------------------------- job worker */

/* A claimed job, copied out of its row. */
typedef struct SynthJob
{
	int64		id;
	Oid			relid;
	char	   *schema_name;
	char	   *table_name;
	char	   *method;
	char	   *options;		/* jsonb as text */
	char	   *settings;		/* jsonb object of synth.* settings as text */
	Oid			role;
	int			attempts;
} SynthJob;

/*
 * The job run_job is training, and the worker's own user and security
 * context, for a training that commits its transaction and trains between
 * transactions (synth_job_detach).
 */
static SynthJob *TrainingJob = NULL;
static bool training_may_detach = false;
static bool training_detached = false;
static Oid	worker_user = InvalidOid;
static int	worker_sec = 0;

/* Copy a column of the current SPI row into cxt; NULL stays NULL. */
static char *
spi_text(int row, int col, MemoryContext cxt)
{
	char	   *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return value ? MemoryContextStrdup(cxt, value) : NULL;
}

static Datum
spi_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* End a job that will not run (again): state, error, notification. */
static void
end_job_now(int64 job_id, const char *state, const char *error)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		args[3];

	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(state);
	args[2] = CStringGetTextDatum(error);
	if (SPI_execute_with_args("UPDATE synth.job_queue SET state = $2, error = $3, finished_at = clock_timestamp() "
							  "WHERE id = $1",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "synth: could not end job " INT64_FORMAT, job_id);
	if (SPI_execute_with_args("DELETE FROM synth.checkpoints WHERE job_id = $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "synth: could not delete the checkpoints of job " INT64_FORMAT, job_id);
	Async_Notify(SYNTH_JOBS_CHANNEL, psprintf(INT64_FORMAT " %s", job_id, state));
}

/*
 * Claim the oldest job that is queued, or running with no live worker (a
 * crash left it): lock its row, mark it running, record it in this worker's
 * slot, commit.  Returns false when there is none.
 */
static bool
claim_job(SynthJob *job, MemoryContext jobcxt)
{
	Oid			argtypes[2] = {INT8OID, INT4OID};
	bool		claimed = false;
	int64	   *candidates;
	uint64		ncandidates;

	/* a cancel is for a running training only */
	HOLD_CANCEL_INTERRUPTS();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "synth: looking for a job");

	if (SPI_execute("SELECT id FROM synth.job_queue WHERE state IN ('queued', 'running') "
					"ORDER BY id LIMIT 1000", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "synth: could not read synth.job_queue");
	ncandidates = SPI_processed;
	candidates = palloc(sizeof(int64) * Max(ncandidates, 1));
	for (uint64 i = 0; i < ncandidates; i++)
	{
		bool		isnull;

		candidates[i] = DatumGetInt64(spi_datum(i, 1, &isnull));
	}

	for (uint64 i = 0; i < ncandidates && !claimed; i++)
	{
		Datum		args[2];
		char	   *state;
		bool		cancel_requested;
		int			attempts;
		bool		isnull;

		if (synth_job_is_live(MyDatabaseId, candidates[i]))
			continue;

		/* the latest version of the row, unless another worker holds it */
		args[0] = Int64GetDatum(candidates[i]);
		if (SPI_execute_with_args("SELECT state, cancel_requested, attempts FROM synth.job_queue "
								  "WHERE id = $1 FOR UPDATE SKIP LOCKED",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "synth: could not lock job " INT64_FORMAT, candidates[i]);
		if (SPI_processed != 1)
			continue;
		state = spi_text(0, 1, CurrentMemoryContext);
		cancel_requested = DatumGetBool(spi_datum(0, 2, &isnull));
		attempts = DatumGetInt32(spi_datum(0, 3, &isnull));

		if (strcmp(state, "running") == 0)
		{
			int			barren = attempts;
			bool		checkpointed = false;

			/* its claimer committed before we got the lock: live, or left by a crash */
			if (synth_job_is_live(MyDatabaseId, candidates[i]))
				continue;
			if (cancel_requested)
			{
				end_job_now(candidates[i], "cancelled",
							"cancelled by synth_job_cancel while its worker was gone");
				continue;
			}
			/*
			 * Give up after SYNTH_JOB_MAX_ATTEMPTS interrupted attempts in a
			 * row that saved no checkpoint: a training that crashes the
			 * server would crash it at every restart, but one that goes on
			 * saving checkpoints is making progress.
			 */
			if (SPI_execute_with_args("SELECT epoch, attempt FROM synth.checkpoints WHERE job_id = $1",
									  1, argtypes, args, NULL, false, 0) == SPI_OK_SELECT &&
				SPI_processed == 1)
			{
				checkpointed = true;
				barren = attempts - DatumGetInt32(spi_datum(0, 2, &isnull));
			}
			if (barren >= SYNTH_JOB_MAX_ATTEMPTS)
			{
				end_job_now(candidates[i], "failed",
							psprintf("the job was interrupted %d times in a row without saving a checkpoint (server crash or worker exit); it is not retried",
									 barren));
				continue;
			}
			if (checkpointed)
				ereport(LOG,
						(errmsg("synth job " INT64_FORMAT " was interrupted; resuming it from its checkpoint after epoch %d",
								candidates[i], DatumGetInt32(spi_datum(0, 1, &isnull)))));
			else
				ereport(LOG,
						(errmsg("synth job " INT64_FORMAT " was interrupted; resuming it from its start",
								candidates[i])));
		}
		else if (strcmp(state, "queued") != 0)
			continue;

		args[1] = Int32GetDatum(MyProcPid);
		if (SPI_execute_with_args("UPDATE synth.job_queue SET state = 'running', started_at = clock_timestamp(), "
								  "worker_pid = $2, attempts = attempts + 1, phase = 'starting', "
								  "rows_read = 0, epoch = NULL, epochs = NULL, losses = NULL, error = NULL "
								  "WHERE id = $1 "
								  "RETURNING source_relid, source_schema, source_table, method, "
								  "options::text, settings::text, submitted_by::oid, attempts",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "synth: could not claim job " INT64_FORMAT, candidates[i]);

		job->id = candidates[i];
		job->relid = DatumGetObjectId(spi_datum(0, 1, &isnull));
		job->schema_name = spi_text(0, 2, jobcxt);
		job->table_name = spi_text(0, 3, jobcxt);
		job->method = spi_text(0, 4, jobcxt);
		job->options = spi_text(0, 5, jobcxt);
		job->settings = spi_text(0, 6, jobcxt);
		job->role = DatumGetObjectId(spi_datum(0, 7, &isnull));
		job->attempts = DatumGetInt32(spi_datum(0, 8, &isnull));

		/* before the commit: from now on the job is live */
		LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
		MySlot->job_id = job->id;
		MySlot->cancel_requested = false;
		strlcpy(MySlot->phase, "starting", SYNTH_PHASE_LEN);
		MySlot->rows_read = 0;
		MySlot->epoch = -1;
		MySlot->epochs = -1;
		MySlot->losses[0] = '\0';
		MySlot->updated_at = GetCurrentTimestamp();
		LWLockRelease(synth_jobs_lock);
		claimed = true;
	}

	/* more jobs wait: another worker may take them */
	if (claimed &&
		SPI_execute("SELECT count(*) FROM synth.job_queue WHERE state = 'queued'", false, 0) == SPI_OK_SELECT)
	{
		bool		isnull;
		int64		queued = DatumGetInt64(spi_datum(0, 1, &isnull));

		if (queued > 0)
			synth_worker_hint(MyDatabaseId, (int) Min(queued, SYNTH_MAX_JOB_WORKERS));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(jobcxt);
	RESUME_CANCEL_INTERRUPTS();
	pgstat_report_activity(STATE_IDLE, NULL);
	return claimed;
}

/* Apply the synth.* settings of the session that queued the job, until the transaction ends. */
static void
apply_job_settings(const char *settings)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(settings)));
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && name != NULL && v.type == jbvString &&
				 strncmp(name, "synth.", 6) == 0)
			(void) set_config_option(name, pnstrdup(v.val.string.val, v.val.string.len),
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
									 true, WARNING, false);
	}
}

/* Ensure the job's role and table still exist; the table stays locked. */
static void
CheckJobTarget(SynthJob *job)
{
	Relation	rel;

	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(job->role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that queued synth job " INT64_FORMAT " no longer exists", job->id),
				 errhint("Queue the job again as an existing role.")));

	rel = try_relation_open(job->relid, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s.%s\" of synth job " INT64_FORMAT " no longer exists",
						job->schema_name, job->table_name, job->id),
				 errdetail("The table was dropped after the job was queued."),
				 errhint("Queue a new job with synth_train_async once the table exists again.")));
	relation_close(rel, NoLock);
}

/* Is cxt TopTransactionContext or inside it? */
static bool
in_transaction_memory(MemoryContext cxt)
{
	for (; cxt != NULL; cxt = cxt->parent)
		if (cxt == TopTransactionContext)
			return true;
	return false;
}

/*
 * Commit the job's training transaction in the middle of a training, which
 * then goes on between transactions (returns true), or, outside a job,
 * return false and do nothing.
 *
 * A method with epochs calls this once its rows are in memory: what it
 * read stays read (through the snapshot it took), the snapshot is released
 * (a training of hours no longer holds back vacuum's horizon), and so are
 * the locks of the read, AccessShareLock of the table among them (DDL on it
 * no longer waits for the training).  Its checkpoints then commit in
 * transactions of their own (checkpoint.c) and survive a crash.
 * synth_job_attach() starts the transaction that stores the model, checks
 * again that the table exists, and spends privacy budget.  The caller's
 * memory context must outlive the transaction (run_job trains in one) and
 * nothing of the transaction may be held: no open relation, no SPI
 * connection, no snapshot besides run_job's.
 */
bool
synth_job_detach(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (TrainingJob == NULL || !training_may_detach || GetCurrentTransactionNestLevel() != 1)
		return false;
	if (in_transaction_memory(cxt))
		elog(ERROR, "synth: a training detached from its transaction must not keep its memory there");
	training_may_detach = false;

	/*
	 * Ensure what commits here is only a read: a write (privacy budget spent
	 * before reading the rows) would be made again by every resumed attempt.
	 * Such a training stays in its transaction, without checkpoints, and its
	 * write commits with its model.
	 */
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
	{
		ereport(LOG,
				(errmsg("synth job " INT64_FORMAT " trains without checkpoints: its transaction wrote to the database before training",
						TrainingJob->id),
				 errdetail("A resumed attempt of this job starts from epoch 1.")));
		return false;
	}

	SetUserIdAndSecContext(worker_user, worker_sec);
	PopActiveSnapshot();
	if (ActiveSnapshotSet())
		elog(ERROR, "synth: a training detached from its transaction must not hold a snapshot");
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	training_detached = true;
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("synth job " INT64_FORMAT ": training %s.%s between transactions (attempt %d)",
									TrainingJob->id, TrainingJob->schema_name,
									TrainingJob->table_name, TrainingJob->attempts));
	return true;
}

/*
 * After synth_job_detach, start the transaction that stores the model: the
 * job's settings and target are checked again, and it runs as the job's
 * role as before.
 */
void
synth_job_attach(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!training_detached)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	training_detached = false;
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("synth job " INT64_FORMAT ": storing the model of %s.%s (attempt %d)",
									TrainingJob->id, TrainingJob->schema_name,
									TrainingJob->table_name, TrainingJob->attempts));
	apply_job_settings(TrainingJob->settings);
	CheckJobTarget(TrainingJob);
	SetUserIdAndSecContext(TrainingJob->role,
						   worker_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	MemoryContextSwitchTo(cxt);
}

/*
 * In the transaction of a checkpoint, between epochs: ensure the table and
 * the role of the job being trained still exist, so that a job whose table
 * was dropped during its epochs fails at its next checkpoint, not hours
 * later when it comes to store its model.
 */
void
synth_job_check_target(void)
{
	if (TrainingJob != NULL)
		CheckJobTarget(TrainingJob);
}

/* In the training's transaction: mark the job succeeded with its model. */
static void
finish_job(SynthJob *job, int64 model_id)
{
	Oid			argtypes[6] = {INT8OID, INT8OID, INT8OID, INT4OID, INT4OID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		cancelled;

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	cancelled = MySlot->cancel_requested;
	args[2] = Int64GetDatum(MySlot->rows_read);
	args[3] = Int32GetDatum(MySlot->epoch);
	args[4] = Int32GetDatum(MySlot->epochs);
	nulls[3] = nulls[4] = MySlot->epoch < 0 ? 'n' : ' ';
	nulls[5] = MySlot->losses[0] == '\0' ? 'n' : ' ';
	args[5] = CStringGetTextDatum(MySlot->losses);
	LWLockRelease(synth_jobs_lock);
	args[0] = Int64GetDatum(job->id);
	args[1] = Int64GetDatum(model_id);

	if (!cancelled)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		/* a cancel that committed meanwhile is seen here, after its row lock */
		if (SPI_execute_with_args("UPDATE synth.job_queue SET state = 'succeeded', model_id = $2, "
								  "finished_at = clock_timestamp(), phase = 'done', rows_read = $3, epoch = $4, "
								  "epochs = $5, losses = $6::jsonb "
								  "WHERE id = $1 AND state = 'running' AND NOT cancel_requested",
								  6, argtypes, args, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "synth: could not mark job " INT64_FORMAT " succeeded", job->id);
		cancelled = SPI_processed != 1;
		if (!cancelled &&
			SPI_execute_with_args("DELETE FROM synth.checkpoints WHERE job_id = $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "synth: could not delete the checkpoints of job " INT64_FORMAT, job->id);
		SPI_finish();
	}
	if (cancelled)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("synth job " INT64_FORMAT " was cancelled", job->id)));
	Async_Notify(SYNTH_JOBS_CHANNEL, psprintf(INT64_FORMAT " succeeded", job->id));
}

/* After the training's transaction was aborted: mark the job failed or cancelled. */
static void
fail_job(SynthJob *job, ErrorData *edata)
{
	bool		cancel_requested;
	const char *state;
	StringInfoData error;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2];

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	cancel_requested = MySlot->cancel_requested;
	args[1] = Int64GetDatum(MySlot->rows_read);
	LWLockRelease(synth_jobs_lock);
	args[0] = Int64GetDatum(job->id);

	initStringInfo(&error);
	if (cancel_requested)
	{
		state = "cancelled";
		appendStringInfoString(&error, "cancelled by synth_job_cancel");
	}
	else
	{
		state = edata->sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "failed";
		appendStringInfoString(&error, edata->message);
		if (edata->detail)
			appendStringInfo(&error, "\nDETAIL:  %s", edata->detail);
		if (edata->hint)
			appendStringInfo(&error, "\nHINT:  %s", edata->hint);
	}
	ereport(LOG,
			(errmsg("synth job " INT64_FORMAT " %s: %s", job->id, state, edata->message)));

	HOLD_CANCEL_INTERRUPTS();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("UPDATE synth.job_queue SET phase = 'stopped', rows_read = $2 "
							  "WHERE id = $1",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "synth: could not update job " INT64_FORMAT, job->id);
	end_job_now(job->id, state, error.data);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	RESUME_CANCEL_INTERRUPTS();
}

/* Train the claimed job as its role; store the model and succeed, or fail. */
static void
run_job(SynthJob *job, MemoryContext jobcxt)
{
	ErrorData  *edata = NULL;

	/*
	 * An interrupt that came while no cancel was requested for this job was
	 * meant for the previous one (signals are sent under the lock, before the
	 * previous job was let go, so it has arrived by now).
	 */
	LWLockAcquire(synth_jobs_lock, LW_SHARED);
	if (!MySlot->cancel_requested)
		QueryCancelPending = false;
	LWLockRelease(synth_jobs_lock);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("synth job " INT64_FORMAT ": training %s.%s (attempt %d)",
									job->id, job->schema_name, job->table_name, job->attempts));
	GetUserIdAndSecContext(&worker_user, &worker_sec);
	PG_TRY();
	{
		Jsonb	   *options;
		int64		model_id;

		/* in memory that outlives the transaction, should the training detach from it */
		MemoryContextSwitchTo(jobcxt);
		apply_job_settings(job->settings);
		/* a resumed job reads its rows in the same order, as its checkpoint needs */
		(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
		CheckJobTarget(job);
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(job->options)));

		synth_job_progress_phase("reading");
		SetUserIdAndSecContext(job->role,
							   worker_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		TrainingJob = job;
		training_may_detach = true;
		training_detached = false;
		model_id = synth_train_relation(job->relid, job->method, options);
		training_may_detach = false;
		if (training_detached)
			elog(ERROR, "synth: the training of job " INT64_FORMAT " did not attach to a transaction again",
				 job->id);
		SetUserIdAndSecContext(worker_user, worker_sec);

		finish_job(job, model_id);
		PopActiveSnapshot();
		CommitTransactionCommand();
		TrainingJob = NULL;
		ereport(LOG,
				(errmsg("synth job " INT64_FORMAT " succeeded: model " INT64_FORMAT " of %s.%s",
						job->id, model_id, job->schema_name, job->table_name)));
	}
	PG_CATCH();
	{
		TrainingJob = NULL;
		training_may_detach = false;
		training_detached = false;
		MemoryContextSwitchTo(jobcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();	/* also restores the user and the settings */
		SetUserIdAndSecContext(worker_user, worker_sec);	/* an error between transactions */
	}
	PG_END_TRY();

	if (edata != NULL)
		fail_job(job, edata);
	MemoryContextSwitchTo(jobcxt);

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	MySlot->job_id = 0;
	MySlot->cancel_requested = false;
	LWLockRelease(synth_jobs_lock);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The process that sent this worker SIGTERM, when it was not the postmaster
 * (pg_terminate_backend, or kill from a shell), or 0.
 */
static volatile sig_atomic_t terminated_by = 0;

#ifdef SA_SIGINFO
static void
job_worker_sigterm(int signo, siginfo_t *info, void *context)
{
	if (info != NULL && info->si_pid != PostmasterPid)
		terminated_by = (sig_atomic_t) info->si_pid;
	die(signo);
}
#endif

/*
 * A job worker terminated by another process than the postmaster fails its
 * job: a DBA who terminates a training wants it stopped, not resumed by the
 * next worker (a cancel would be cancelled; this says what happened).  The
 * postmaster's SIGTERM is a shutdown: the job stays running and is resumed
 * at the next start.  A before_shmem_exit callback registered after the
 * database connection, so it runs before the connection is shut down; like
 * PostgreSQL's removal of temporary relations, it aborts what was left and
 * runs one short transaction.  Should it fail, the job is resumed instead.
 */
static void
job_worker_terminated(int code, Datum arg)
{
	int64		job_id;
	bool		cancel_requested;
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		args[3];

	if (terminated_by == 0 || MySlot == NULL)
		return;
	LWLockAcquire(synth_jobs_lock, LW_SHARED);
	job_id = MySlot->job_id;
	cancel_requested = MySlot->cancel_requested;
	LWLockRelease(synth_jobs_lock);
	if (job_id == 0)
		return;

	args[0] = Int64GetDatum(job_id);
	args[1] = CStringGetTextDatum(cancel_requested ? "cancelled" : "failed");
	args[2] = CStringGetTextDatum(cancel_requested ? "cancelled by synth_job_cancel" :
								  psprintf("its worker (process %d) was terminated by process %d (pg_terminate_backend); "
										   "a terminated job is not resumed: queue it again with synth_train_async",
										   MyProcPid, (int) terminated_by));
	PG_TRY();
	{
		AbortOutOfAnyTransaction();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "synth: SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_execute_with_args("UPDATE synth.job_queue SET state = $2, error = $3, phase = 'stopped', "
								  "finished_at = clock_timestamp() WHERE id = $1 AND state = 'running'",
								  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "synth: could not end job " INT64_FORMAT, job_id);
		if (SPI_processed == 1)
		{
			if (SPI_execute_with_args("DELETE FROM synth.checkpoints WHERE job_id = $1",
									  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "synth: could not delete the checkpoints of job " INT64_FORMAT, job_id);
			Async_Notify(SYNTH_JOBS_CHANNEL,
						 psprintf(INT64_FORMAT " %s", job_id, cancel_requested ? "cancelled" : "failed"));
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		ereport(LOG,
				(errmsg("synth job " INT64_FORMAT " %s: its worker was terminated by process %d",
						job_id, cancel_requested ? "cancelled" : "failed", (int) terminated_by)));
		LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
		MySlot->job_id = 0;		/* ended: nobody resumes it */
		LWLockRelease(synth_jobs_lock);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
}

/*
 * Free the slot.  An on_shmem_exit callback registered before the database
 * connection: it runs after the transaction of an exiting worker was aborted
 * and after the worker left pg_stat_activity, so the launcher never starts a
 * replacement while this one is still there.  A worker that exits holding a
 * job (terminated, or an error while ending it) asks the launcher to let
 * another worker resume it.
 */
static void
job_worker_exit(int code, Datum arg)
{
	Oid			dboid;
	bool		had_job;
	Latch	   *latch;

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	dboid = MySlot->dboid;
	had_job = MySlot->job_id != 0;
	MySlot->in_use = false;
	MySlot->pid = 0;
	MySlot->job_id = 0;
	latch = synth_shared->launcher_latch;
	LWLockRelease(synth_jobs_lock);
	MySlot = NULL;

	if (had_job)
		synth_worker_hint(dboid, 1);
	else if (latch)
		SetLatch(latch);
}

/* Is synth installed in this database?  A worker started where it is not just says so. */
static bool
synth_installed_here(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("synth", true));
	CommitTransactionCommand();
	return installed;
}

void
synth_job_worker_main(Datum main_arg)
{
	int			slotno = DatumGetInt32(main_arg);
	uint32		generation;
	Oid			dboid = InvalidOid;
	MemoryContext jobcxt;

	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(uint32));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
#ifdef SA_SIGINFO
	{
		struct sigaction act;

		/* as die(), and who sent it: pg_terminate_backend fails the job */
		memset(&act, 0, sizeof(act));
		act.sa_sigaction = job_worker_sigterm;
		sigemptyset(&act.sa_mask);
		act.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(SIGTERM, &act, NULL);
	}
#else
	pqsignal(SIGTERM, die);
#endif
	pqsignal(SIGINT, StatementCancelHandler);	/* synth_job_cancel */
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(synth_jobs_lock, LW_EXCLUSIVE);
	if (synth_shared->slots[slotno].in_use && synth_shared->slots[slotno].generation == generation)
	{
		MySlot = &synth_shared->slots[slotno];
		MySlot->pid = MyProcPid;
		MySlot->job_id = 0;
		dboid = MySlot->dboid;
	}
	LWLockRelease(synth_jobs_lock);
	if (MySlot == NULL)
		proc_exit(0);			/* the launcher gave the slot away */
	on_shmem_exit(job_worker_exit, 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("application_name", "synth job worker", PGC_USERSET, PGC_S_SESSION);
	before_shmem_exit(job_worker_terminated, 0);

	if (!synth_installed_here())
	{
		synth_worker_hint(dboid, -1);
		proc_exit(0);
	}

	synth_progress_hook = job_epoch_hook;
	jobcxt = AllocSetContextCreate(TopMemoryContext, "synth job", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SynthJob	job;

		MemoryContextReset(jobcxt);
		MemoryContextSwitchTo(jobcxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (!claim_job(&job, jobcxt))
			break;
		run_job(&job, jobcxt);
	}
	proc_exit(0);
}
