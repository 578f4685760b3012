/*-------------------------------------------------------------------------
 *
 * synth.c
 *	  Module entry: GUCs and the initialisation of each concern.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "backend.h"
#include "quality.h"
#include "worker.h"

#include "fmgr.h"
#include <limits.h>

#include "utils/guc.h"

PG_MODULE_MAGIC;

int			synth_train_memory_kb = SYNTH_DEFAULT_TRAIN_MEMORY_KB;
int			synth_read_batch_rows = SYNTH_DEFAULT_READ_BATCH;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("synth.train_memory",
							"Memory for the rows a training reads; larger tables are sampled.",
							"Training keeps a uniform sample of rows that fits in this much memory.",
							&synth_train_memory_kb,
							SYNTH_DEFAULT_TRAIN_MEMORY_KB, 1024, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("synth.read_batch_rows",
							"Rows fetched from the table per batch while training.",
							NULL,
							&synth_read_batch_rows,
							SYNTH_DEFAULT_READ_BATCH, 100, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	SynthBackendInit();
	SynthWorkerInit();
	SynthQualityInit();

	MarkGUCPrefixReserved("synth");
}
