/*-------------------------------------------------------------------------
 *
 * reader.c
 *	  Read a table once, through one snapshot, in batches, into a bounded
 *	  uniform sample of its rows plus exact per-column counts.
 *
 * A cursor holds one snapshot for its lifetime, so every batch sees the same
 * table.  Rows go into a reservoir (Vitter's algorithm R) whose size follows
 * from synth.train_memory; category counts are exact over all rows.  Memory
 * is bounded by the GUC and the category limits, never by the table's size.
 *
 * A private training reads differently (synth_read_relation_poisson): each
 * row is kept independently with a fixed probability, drawn from the secret
 * stream (privacy_stream.c), and a sample that outgrows its bound is an
 * error, never a reservoir: what differential privacy's accounting assumes
 * of a Poisson sample.  synth_count_relation counts the rows a read would
 * see, for the private training's noisy row count.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "privacy.h"
#include "worker.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Bytes of category strings one column may hold before it counts as free text. */
#define SYNTH_MAX_DICT_BYTES	(4 * 1024 * 1024)

/*
 * A dictionary of a column's distinct values (as their text output) with
 * exact counts: open addressing over indexes into the value arrays.
 */
struct SynthCategoryDict
{
	int			count;
	int			capacity;		/* of values/counts */
	char	  **values;
	int64	   *counts;
	uint32	   *hashes;
	int		   *slots;			/* -1 = empty; size nslots, a power of two */
	int			nslots;
	Size		bytes;
	MemoryContext cxt;
};

static SynthCategoryDict *
dict_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "synth category dictionary",
											  ALLOCSET_DEFAULT_SIZES);
	SynthCategoryDict *dict = MemoryContextAllocZero(cxt, sizeof(SynthCategoryDict));

	dict->cxt = cxt;
	dict->capacity = 64;
	dict->values = MemoryContextAlloc(cxt, sizeof(char *) * dict->capacity);
	dict->counts = MemoryContextAlloc(cxt, sizeof(int64) * dict->capacity);
	dict->hashes = MemoryContextAlloc(cxt, sizeof(uint32) * dict->capacity);
	dict->nslots = 256;
	dict->slots = MemoryContextAlloc(cxt, sizeof(int) * dict->nslots);
	memset(dict->slots, -1, sizeof(int) * dict->nslots);
	return dict;
}

static int
dict_find_slot(SynthCategoryDict *dict, const char *value, uint32 hash)
{
	uint32		mask = dict->nslots - 1;
	uint32		pos = hash & mask;

	for (;;)
	{
		int			idx = dict->slots[pos];

		if (idx < 0 || (dict->hashes[idx] == hash && strcmp(dict->values[idx], value) == 0))
			return pos;
		pos = (pos + 1) & mask;
	}
}

static void
dict_grow_slots(SynthCategoryDict *dict)
{
	int			nslots = dict->nslots * 2;
	int		   *slots = MemoryContextAlloc(dict->cxt, sizeof(int) * nslots);

	memset(slots, -1, sizeof(int) * nslots);
	for (int i = 0; i < dict->count; i++)
	{
		uint32		pos = dict->hashes[i] & (nslots - 1);

		while (slots[pos] >= 0)
			pos = (pos + 1) & (nslots - 1);
		slots[pos] = i;
	}
	pfree(dict->slots);
	dict->slots = slots;
	dict->nslots = nslots;
}

/*
 * Count one occurrence of value; returns its index, or -1 when the value is
 * new and the dictionary is full (then nothing is added).
 */
static int
dict_add(SynthCategoryDict *dict, const char *value, bool full)
{
	uint32		hash = hash_bytes((const unsigned char *) value, strlen(value));
	int			pos = dict_find_slot(dict, value, hash);
	int			idx = dict->slots[pos];
	Size		len;

	if (idx >= 0)
	{
		dict->counts[idx]++;
		return idx;
	}
	if (full)
		return -1;

	if (dict->count == dict->capacity)
	{
		dict->capacity *= 2;
		dict->values = repalloc(dict->values, sizeof(char *) * dict->capacity);
		dict->counts = repalloc(dict->counts, sizeof(int64) * dict->capacity);
		dict->hashes = repalloc(dict->hashes, sizeof(uint32) * dict->capacity);
	}
	len = strlen(value) + 1;
	idx = dict->count++;
	dict->values[idx] = MemoryContextAlloc(dict->cxt, len);
	memcpy(dict->values[idx], value, len);
	dict->counts[idx] = 1;
	dict->hashes[idx] = hash;
	dict->slots[pos] = idx;
	dict->bytes += len;
	if (dict->count * 2 > dict->nslots)
		dict_grow_slots(dict);
	return idx;
}

/* Enter value with no occurrence yet (a public label), unless it is there. */
static void
dict_seed(SynthCategoryDict *dict, const char *value)
{
	int			idx = dict_add(dict, value, false);

	dict->counts[idx]--;
}

/* A dictionary without a limit on its values (dp_domains.c's exact counts). */
SynthCategoryDict *
synth_dict_create(MemoryContext parent)
{
	return dict_create(parent);
}

/* Count one occurrence of value; returns its index. */
int
synth_dict_add(SynthCategoryDict *dict, const char *value)
{
	return dict_add(dict, value, false);
}

int
synth_dict_count(SynthCategoryDict *dict)
{
	return dict ? dict->count : 0;
}

const char *
synth_dict_value(SynthCategoryDict *dict, int index)
{
	Assert(index >= 0 && index < dict->count);
	return dict->values[index];
}

int64
synth_dict_frequency(SynthCategoryDict *dict, int index)
{
	Assert(index >= 0 && index < dict->count);
	return dict->counts[index];
}

int
synth_dict_lookup(SynthCategoryDict *dict, const char *value)
{
	uint32		hash;

	if (dict == NULL)
		return -1;
	hash = hash_bytes((const unsigned char *) value, strlen(value));
	return dict->slots[dict_find_slot(dict, value, hash)];
}

/*
 * The value type of a base type; *supported is false for types synth cannot
 * model (the caller names the column and the option that excludes it).
 */
SynthValueType
synth_value_type(Oid basetypid, bool *supported)
{
	*supported = true;
	switch (basetypid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return SYNTH_VT_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return SYNTH_VT_FLOAT;
		case NUMERICOID:
			return SYNTH_VT_NUMERIC;
		case DATEOID:
			return SYNTH_VT_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return SYNTH_VT_TIMESTAMP;
		case BOOLOID:
			return SYNTH_VT_BOOL;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return SYNTH_VT_TEXT;
		case UUIDOID:
			return SYNTH_VT_UUID;
		case INTERVALOID:
			return SYNTH_VT_INTERVAL;
		case TIMEOID:
			return SYNTH_VT_TIME;
		case JSONOID:
		case JSONBOID:
		case BYTEAOID:
		case TSVECTOROID:
		case INETOID:
		case CIDROID:
		case MACADDROID:
			return SYNTH_VT_OPAQUE;
		default:
			if (type_is_enum(basetypid))
				return SYNTH_VT_ENUM;
			if (OidIsValid(get_element_type(basetypid)))
				return SYNTH_VT_OPAQUE;		/* arrays */
			*supported = false;
			return SYNTH_VT_TEXT;
	}
}

/* Scale (digits after the point) of a numeric value. */
static int
numeric_value_scale(Datum value)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_scale, value));
}

/*
 * A continuous value as a double: numbers as themselves, dates in days and
 * timestamps in microseconds from PostgreSQL's epoch.  *scale, when given,
 * receives a numeric's scale.
 */
double
synth_datum_to_double(Datum value, SynthValueType vtype, int *scale)
{
	switch (vtype)
	{
		case SYNTH_VT_INT:
			return (double) DatumGetInt64(value);
		case SYNTH_VT_FLOAT:
			return DatumGetFloat8(value);
		case SYNTH_VT_NUMERIC:
			if (scale)
				*scale = numeric_value_scale(value);
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
		case SYNTH_VT_DATE:
			return (double) DatumGetDateADT(value);
		case SYNTH_VT_TIMESTAMP:
			return (double) DatumGetTimestamp(value);
		case SYNTH_VT_INTERVAL:
			{
				Interval   *span = DatumGetIntervalP(value);

				return (double) span->time + (double) span->day * USECS_PER_DAY +
					(double) span->month * DAYS_PER_MONTH * USECS_PER_DAY;
			}
		case SYNTH_VT_TIME:
			return (double) DatumGetTimeADT(value);
		case SYNTH_VT_BOOL:
			return DatumGetBool(value) ? 1.0 : 0.0;
		default:
			elog(ERROR, "synth: value type %d is not continuous", (int) vtype);
	}
	return 0.0;					/* keep compiler quiet */
}

/* Integers of every width arrive as int64 in synth_datum_to_double. */
static Datum
widen_integer(Datum value, Oid basetypid)
{
	switch (basetypid)
	{
		case INT2OID:
			return Int64GetDatum((int64) DatumGetInt16(value));
		case INT4OID:
			return Int64GetDatum((int64) DatumGetInt32(value));
		default:
			return value;
	}
}

static Datum
widen_float(Datum value, Oid basetypid)
{
	if (basetypid == FLOAT4OID)
		return Float8GetDatum((double) DatumGetFloat4(value));
	return value;
}

/* Rows that fit in synth.train_memory for a sample of ncols columns. */
int64
synth_sample_capacity(int ncols)
{
	int64		bytes = (int64) synth_train_memory_kb * 1024;
	int64		per_row = (int64) Max(ncols, 1) * sizeof(double);

	return Max(bytes / per_row, 1000);
}

static char *
build_query(Relation rel, SynthColumn *cols, int ncols)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, quote_identifier(cols[i].name));
	}
	if (ncols == 0)
		appendStringInfoString(&buf, "NULL");
	appendStringInfo(&buf, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	return buf.data;
}

/* The value of one column as a double for the sample. */
static double
encode_value(SynthColumn *col, Datum value, Oid coltype, Oid typoutput)
{
	switch (col->kind)
	{
		case SYNTH_KIND_CONTINUOUS:
		case SYNTH_KIND_KEY:
			if (col->vtype == SYNTH_VT_INT)
				value = widen_integer(value, col->basetypid);
			else if (col->vtype == SYNTH_VT_FLOAT)
				value = widen_float(value, col->basetypid);
			if (col->kind == SYNTH_KIND_KEY)
			{
				double		v;

				if (col->vtype == SYNTH_VT_UUID || col->vtype == SYNTH_VT_TEXT ||
					col->vtype == SYNTH_VT_ENUM || col->vtype == SYNTH_VT_BOOL)
				{
					/* text keys keep their shapes only (free text) */
					if (col->vtype == SYNTH_VT_TEXT)
					{
						char	   *s = OidOutputFunctionCall(typoutput, value);

						if (!col->overflow && dict_add(col->dict, s, false) < 0)
							col->overflow = true;
						if (col->dict->bytes > SYNTH_MAX_DICT_BYTES ||
							col->dict->count >= SYNTH_MAX_CATEGORIES)
							col->overflow = true;
					}
					return 0.0;
				}
				v = synth_datum_to_double(value, col->vtype, NULL);
				if (col->nnonnull == 0 || v > col->max_value)
					col->max_value = v;
				return v;
			}
			else
			{
				int			scale = 0;
				double		v = synth_datum_to_double(value, col->vtype,
													  col->vtype == SYNTH_VT_NUMERIC ? &scale : NULL);

				if (scale > col->max_scale)
					col->max_scale = scale;
				return v;
			}
		case SYNTH_KIND_CATEGORICAL:
		case SYNTH_KIND_FREETEXT:
			{
				char	   *s = OidOutputFunctionCall(typoutput, value);
				int			idx = dict_add(col->dict, s, col->overflow);

				if (col->dict->bytes > SYNTH_MAX_DICT_BYTES ||
					col->dict->count >= SYNTH_MAX_CATEGORIES)
					col->overflow = true;
				return idx < 0 ? -1.0 : (double) idx;
			}
	}
	return 0.0;
}

/*
 * How a read keeps rows: a reservoir (the uniform sample of non-private
 * trainings), or, for a private training, each row with a fixed probability
 * from the secret stream and an error when the sample outgrows its bound.
 */
typedef struct ReadSampling
{
	bool		poisson;
	bool		every_row;		/* poisson: keep every row the callback keeps */
	uint64		threshold;		/* poisson: keep a row when a secret word is below it */
	SynthSecureStream stream;
} ReadSampling;

static SynthSample *read_relation(Oid relid, SynthColumn *cols, int ncols, int64 max_rows,
								  uint64 seed, SynthRowCallback callback, void *cbarg,
								  ReadSampling *sampling);

/*
 * Read the listed columns of relid into a uniform sample of at most max_rows
 * rows (0: as many as synth.train_memory allows).  Fills each column's counts,
 * dictionary and extents.  The caller has checked privileges and has an open
 * SPI connection or none (we connect here).
 */
SynthSample *
synth_read_relation(Oid relid, SynthColumn *cols, int ncols, int64 max_rows,
					uint64 seed, SynthRowCallback callback, void *cbarg)
{
	ReadSampling sampling = {false};

	return read_relation(relid, cols, ncols, max_rows, seed, callback, cbarg, &sampling);
}

/*
 * Read a Poisson sample of relid's rows for a private training: every row
 * the callback keeps (all rows without one) is kept independently when a
 * 64-bit word of a secret stream keyed from pg_strong_random falls below
 * threshold, i.e. with probability threshold / 2^64 (every_row: all of
 * them).  Counts, dictionaries and extents are those of the kept rows only:
 * nothing of a row left out is looked at beyond the callback.  More than
 * max_rows kept rows (0: what synth.train_memory allows) is an error, never
 * a truncation: the accounting assumes every drawn row is used.
 */
SynthSample *
synth_read_relation_poisson(Oid relid, SynthColumn *cols, int ncols, int64 max_rows,
							bool every_row, uint64 threshold,
							SynthRowCallback callback, void *cbarg)
{
	ReadSampling sampling = {true, every_row, threshold};

	if (!every_row)
		synth_secure_init(&sampling.stream);
	return read_relation(relid, cols, ncols, max_rows, 0, callback, cbarg, &sampling);
}

/*
 * The number of rows of relid that the callback keeps (all of them without
 * one), read through the caller's snapshot as the reads are.
 */
int64
synth_count_relation(Oid relid, SynthColumn *cols, int ncols, SynthRowCallback callback,
					 void *cbarg)
{
	Relation	rel;
	char	   *query;
	int64		count = 0;
	MemoryContext batchcxt;

	rel = relation_open(relid, AccessShareLock);
	if (callback)
		query = build_query(rel, cols, ncols);
	else
		query = psprintf("SELECT count(*) FROM %s",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)));
	relation_close(rel, NoLock);

	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "synth count batch",
									 ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	if (callback == NULL)
	{
		bool		isnull;

		if (SPI_execute(query, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "synth: could not count the rows of \"%s\"", get_rel_name(relid));
		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
		SPI_finish();
		MemoryContextDelete(batchcxt);
		return count;
	}

	{
		SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
		Portal		portal;

		if (plan == NULL)
			elog(ERROR, "synth: could not prepare \"%s\": %s", query,
				 SPI_result_code_string(SPI_result));
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
		for (;;)
		{
			MemoryContext oldcxt;
			uint64		nfetched;

			CHECK_FOR_INTERRUPTS();
			SPI_cursor_fetch(portal, true, synth_read_batch_rows);
			nfetched = SPI_processed;
			if (nfetched == 0)
				break;
			oldcxt = MemoryContextSwitchTo(batchcxt);
			for (uint64 r = 0; r < nfetched; r++)
				if (callback(cbarg, SPI_tuptable->vals[r], SPI_tuptable->tupdesc))
					count++;
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(batchcxt);
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
	}
	SPI_finish();
	MemoryContextDelete(batchcxt);
	return count;
}

static SynthSample *
read_relation(Oid relid, SynthColumn *cols, int ncols, int64 max_rows,
			  uint64 seed, SynthRowCallback callback, void *cbarg, ReadSampling *sampling)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext batchcxt;
	Relation	rel;
	char	   *query;
	char	   *relname;
	SynthSample *sample;
	SynthRng	rng;
	Portal		portal;
	SPIPlanPtr	plan;
	Oid		   *typoutputs;
	int64		capacity = synth_sample_capacity(ncols);

	if (max_rows > 0 && max_rows < capacity)
		capacity = max_rows;

	rel = relation_open(relid, AccessShareLock);
	query = build_query(rel, cols, ncols);
	relname = pstrdup(RelationGetRelationName(rel));
	relation_close(rel, NoLock);

	typoutputs = palloc(sizeof(Oid) * Max(ncols, 1));
	for (int i = 0; i < ncols; i++)
	{
		bool		varlena;

		getTypeOutputInfo(cols[i].typid, &typoutputs[i], &varlena);
		cols[i].nnull = 0;
		cols[i].nnonnull = 0;
		cols[i].max_scale = 0;
		cols[i].overflow = false;
		cols[i].dict = NULL;
		if (cols[i].kind == SYNTH_KIND_CATEGORICAL || cols[i].kind == SYNTH_KIND_FREETEXT ||
			(cols[i].kind == SYNTH_KIND_KEY && cols[i].vtype == SYNTH_VT_TEXT))
			cols[i].dict = dict_create(callercxt);
		/*
		 * Public labels first: a value that is one of them then always has
		 * its own entry, whatever the rows before it, so that a private
		 * training's cell of a row depends on that row alone.
		 */
		if (cols[i].dict)
			for (int k = 0; k < cols[i].nseed_labels; k++)
				dict_seed(cols[i].dict, cols[i].seed_labels[k]);
	}

	sample = palloc0(sizeof(SynthSample));
	sample->ncols = ncols;
	sample->capacity = Min(capacity, 65536);	/* grows on demand up to capacity */
	sample->values = MemoryContextAllocHuge(callercxt,
											sizeof(double) * Max(ncols, 1) * sample->capacity);
	synth_rng_seed(&rng, seed);

	batchcxt = AllocSetContextCreate(callercxt, "synth reader batch",
									 ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	for (;;)
	{
		MemoryContext oldcxt;
		uint64		nfetched;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, synth_read_batch_rows);
		nfetched = SPI_processed;
		if (nfetched == 0)
			break;

		oldcxt = MemoryContextSwitchTo(batchcxt);
		for (uint64 r = 0; r < nfetched; r++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int64		slot;

			/* the callback sees every row and may skip it (a holdout) */
			if (callback && !callback(cbarg, tuple, desc))
				continue;

			/* a private training's Poisson sample: the row is in or out, for good */
			if (sampling->poisson && !sampling->every_row &&
				!synth_secure_bernoulli(&sampling->stream, sampling->threshold))
				continue;
			if (sampling->poisson && sample->nrows == capacity)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the rows drawn from table \"%s\" for a private training do not fit in synth.train_memory",
								relname),
						 errdetail("More than " INT64_FORMAT " rows were drawn. A private training's sample is never truncated: its accounting assumes that every row drawn is used.",
								   capacity),
						 errhint("Train again (a fresh draw fits but with a tiny probability), or raise synth.train_memory.")));

			/* reservoir: the first rows fill it, later ones replace at random */
			if (sample->nrows < capacity)
			{
				if (sample->nrows == sample->capacity)
				{
					int64		newcap = Min(sample->capacity * 2, capacity);
					double	   *grown = MemoryContextAllocHuge(callercxt,
															   sizeof(double) * Max(ncols, 1) * newcap);

					for (int c = 0; c < ncols; c++)
						memcpy(grown + c * newcap, sample->values + c * sample->capacity,
							   sizeof(double) * sample->nrows);
					pfree(sample->values);
					sample->values = grown;
					sample->capacity = newcap;
				}
				slot = sample->nrows++;
			}
			else
			{
				int64		j = (int64) synth_rng_below(&rng, (uint64) sample->nrows_total + 1);

				slot = j < capacity ? j : -1;
			}
			sample->nrows_total++;

			for (int c = 0; c < ncols; c++)
			{
				SynthColumn *col = &cols[c];
				bool		isnull;
				Datum		value = heap_getattr(tuple, c + 1, desc, &isnull);
				double		v;

				if (isnull)
				{
					col->nnull++;
					v = NAN;
				}
				else
				{
					v = encode_value(col, value, col->typid, typoutputs[c]);
					col->nnonnull++;
				}
				if (slot >= 0)
					sample->values[c * sample->capacity + slot] = v;
			}
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(batchcxt);
		SPI_freetuptable(SPI_tuptable);
		synth_job_progress_rows(sample->nrows_total);
	}

	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(batchcxt);

	if (sample->nrows_total > capacity && !sampling->poisson)
		ereport(NOTICE,
				(errmsg("synth read a uniform sample of " INT64_FORMAT " of " INT64_FORMAT " rows",
						capacity, sample->nrows_total),
				 errhint("The sample is bounded by synth.train_memory and by any sample_rows option: raise them to read more rows.")));
	return sample;
}
