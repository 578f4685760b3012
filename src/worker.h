/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  Background training jobs: the shared state of the launcher and the job
 *	  workers (worker.c), the SQL functions that queue, cancel and wait for
 *	  jobs (jobs.c), the progress a training reports while it runs as a job,
 *	  and checkpoints for methods with epochs (checkpoint.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_WORKER_H
#define SYNTH_WORKER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"

/* Limits and defaults */
#define SYNTH_MAX_JOB_WORKERS		64	/* upper bound of synth.max_workers */
#define SYNTH_DEFAULT_MAX_WORKERS	2
#define SYNTH_DEFAULT_POLL_MS		30000	/* launcher's look at every synth database */
#define SYNTH_DEFAULT_CHECKPOINT_S	300 /* synth.checkpoint_interval */
#define SYNTH_JOB_MAX_ATTEMPTS		3	/* starts of one job before it is given up */
#define SYNTH_HINT_QUEUE			64
#define SYNTH_PHASE_LEN				32
#define SYNTH_LOSSES_LEN			256
#define SYNTH_JOBS_CHANNEL			"synth_jobs"

/* GUCs (worker.c) */
extern int	synth_max_workers;
extern int	synth_poll_interval_ms;
extern int	synth_checkpoint_interval_s;

/*
 * One job worker as the launcher and the backends see it.  The launcher
 * reserves a slot before it starts a worker; the worker attaches to it, sets
 * job_id while it holds a job (before the transaction that marks the job
 * running commits, so a job is "running with a live worker" exactly when a
 * slot holds it) and frees the slot when it exits.
 */
typedef struct SynthWorkerSlot
{
	bool		in_use;
	uint32		generation;		/* bumped at each reservation */
	Oid			dboid;
	pid_t		pid;			/* 0 until the worker attached */
	int64		job_id;			/* 0: no job */
	bool		cancel_requested;

	/* live progress of job_id, shown by synth.jobs */
	char		phase[SYNTH_PHASE_LEN];
	int64		rows_read;
	int32		epoch;			/* -1: the method has no epochs */
	int32		epochs;
	char		losses[SYNTH_LOSSES_LEN];	/* a jsonb object as text, "" none */
	TimestampTz updated_at;
} SynthWorkerSlot;

/* "Database dboid has jobs more": what backends and workers tell the launcher. */
typedef struct SynthHint
{
	Oid			dboid;
	int			jobs;			/* -1: synth is not installed there */
} SynthHint;

/* Everything in it is protected by the LWLock of tranche "synth jobs". */
typedef struct SynthShared
{
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			nhints;
	bool		hints_overflowed;	/* some hints were dropped: look everywhere */
	SynthHint	hints[SYNTH_HINT_QUEUE];
	SynthWorkerSlot slots[SYNTH_MAX_JOB_WORKERS];
} SynthShared;

/* NULL unless synth is in shared_preload_libraries */
extern SynthShared *synth_shared;

/* worker.c */
extern void SynthWorkerInit(void);
extern void synth_worker_hint(Oid dboid, int jobs);
extern bool synth_job_is_live(Oid dboid, int64 job_id);
extern bool synth_job_signal_cancel(Oid dboid, int64 job_id);
extern int64 synth_current_job(void);
extern int	synth_job_slots_copy(Oid dboid, SynthWorkerSlot *slots);
extern bool synth_job_detach(void);
extern void synth_job_attach(void);
extern void synth_job_check_target(void);

/*
 * Progress of the training running in this process.  No-ops unless the
 * process is a job worker; there they update synth.jobs' live columns and
 * notice a dead postmaster.
 */
extern void synth_job_progress_phase(const char *phase);
extern void synth_job_progress_rows(int64 rows_read);
extern void synth_job_progress_epoch(int epoch, int epochs, const char *losses_json);

/* checkpoint.c: for methods with epochs, see doc/operations.md */
extern void synth_checkpoint_clock_start(void);
extern bool synth_checkpoint_due(void);
extern void synth_checkpoint_save(int epoch, bytea *state);
extern bytea *synth_checkpoint_load(int *epoch);

#endif							/* SYNTH_WORKER_H */
