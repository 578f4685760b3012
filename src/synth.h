/*-------------------------------------------------------------------------
 *
 * synth.h
 *	  Shared declarations of the synth extension: limits, GUCs, entry points
 *	  of each concern (reader, transform, copula, model I/O, catalog).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_H
#define SYNTH_H

#include "postgres.h"

#include "access/attnum.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/bitmapset.h"
#include "utils/relcache.h"

/* Limits and defaults */
#define SYNTH_MAX_COLUMNS			1600
#define SYNTH_DEFAULT_RARE_K		5		/* categories seen < k times are not emitted */
#define SYNTH_MAX_CATEGORIES		10000	/* beyond this a text column is free text */
#define SYNTH_NEAR_UNIQUE_RATIO		0.5		/* distinct/non-null above this: free text */
#define SYNTH_QUANTILE_KNOTS		1000	/* knots of a continuous marginal */
#define SYNTH_MAX_SHAPES			256		/* masked shapes kept for free text */
#define SYNTH_GENERATE_BATCH		4096	/* rows sampled per batch in generation */
#define SYNTH_DEFAULT_TRAIN_MEMORY_KB	(256 * 1024)
#define SYNTH_DEFAULT_READ_BATCH	10000

/* GUCs (synth.c; synth_device in backend.c) */
extern int	synth_train_memory_kb;
extern int	synth_read_batch_rows;
extern int	synth_device;

typedef enum SynthDevice
{
	SYNTH_DEVICE_AUTO,
	SYNTH_DEVICE_CPU,
	SYNTH_DEVICE_GPU
} SynthDevice;

/*
 * How a column is represented in a sample: continuous columns hold their value
 * as a double (days for date, microseconds for timestamps), categorical columns
 * hold the index of their category in the column's dictionary.  NULL is NaN in
 * both.  Key columns are read only for their extent (max) and never modelled.
 */
typedef enum SynthColumnKind
{
	SYNTH_KIND_CONTINUOUS,
	SYNTH_KIND_CATEGORICAL,
	SYNTH_KIND_FREETEXT,		/* near-unique text: only masked shapes are kept */
	SYNTH_KIND_KEY				/* PK/UNIQUE/identity/serial/uuid: fresh values */
} SynthColumnKind;

/* What the value of a continuous or key column is, to encode and decode it. */
typedef enum SynthValueType
{
	SYNTH_VT_INT,				/* int2/int4/int8 */
	SYNTH_VT_FLOAT,				/* float4/float8 */
	SYNTH_VT_NUMERIC,			/* numeric, scale kept */
	SYNTH_VT_DATE,				/* days since 2000-01-01 */
	SYNTH_VT_TIMESTAMP,			/* microseconds since 2000-01-01 */
	SYNTH_VT_BOOL,
	SYNTH_VT_TEXT,				/* text, varchar, bpchar */
	SYNTH_VT_ENUM,
	SYNTH_VT_UUID,
	SYNTH_VT_INTERVAL,			/* microseconds, a month as 30 days */
	SYNTH_VT_TIME,				/* microseconds since midnight */
	SYNTH_VT_OPAQUE				/* arrays, json, bytea, inet, ...: whole values as categories */
} SynthValueType;

typedef struct SynthCategoryDict SynthCategoryDict;	/* reader.c */

/* One column as the reader sees it. */
typedef struct SynthColumn
{
	char	   *name;
	AttrNumber	attnum;
	Oid			typid;			/* declared type (may be a domain) */
	int32		typmod;
	Oid			basetypid;		/* type under any domains */
	int32		basetypmod;
	bool		notnull;
	SynthColumnKind kind;
	SynthValueType vtype;
	char	  **seed_labels;	/* categorical: entered first in the dictionary (a private */
	int			nseed_labels;	/* training's public labels), so that no overflow drops them */

	/* filled while reading */
	int64		nnull;
	int64		nnonnull;
	int			max_scale;		/* numeric: largest scale seen */
	double		max_value;		/* key columns: largest value seen (numeric-like) */
	bool		overflow;		/* categorical: too many categories */
	SynthCategoryDict *dict;	/* categorical/freetext */
} SynthColumn;

/* A uniform sample of a table's rows, column-major, NaN = NULL. */
typedef struct SynthSample
{
	int			ncols;
	int64		capacity;		/* rows the sample can hold */
	int64		nrows;			/* rows in the sample */
	int64		nrows_total;	/* rows in the table */
	double	   *values;			/* values[col * capacity + row] */
} SynthSample;

/*
 * Called for every row read, before it is counted or sampled (exact-copy
 * checks, the holdout split); a row for which it returns false is skipped.
 */
typedef bool (*SynthRowCallback) (void *arg, HeapTuple tuple, TupleDesc desc);

/* reader.c */
extern SynthSample *synth_read_relation(Oid relid, SynthColumn *cols, int ncols,
										int64 max_rows, uint64 seed,
										SynthRowCallback callback, void *cbarg);
extern SynthSample *synth_read_relation_poisson(Oid relid, SynthColumn *cols, int ncols,
												int64 max_rows, bool every_row, uint64 threshold,
												SynthRowCallback callback, void *cbarg);
extern int64 synth_count_relation(Oid relid, SynthColumn *cols, int ncols,
								  SynthRowCallback callback, void *cbarg);
extern int64 synth_sample_capacity(int ncols);
extern SynthCategoryDict *synth_dict_create(MemoryContext parent);
extern int	synth_dict_add(SynthCategoryDict *dict, const char *value);
extern int	synth_dict_count(SynthCategoryDict *dict);
extern const char *synth_dict_value(SynthCategoryDict *dict, int index);
extern int64 synth_dict_frequency(SynthCategoryDict *dict, int index);
extern int	synth_dict_lookup(SynthCategoryDict *dict, const char *value);
extern SynthValueType synth_value_type(Oid basetypid, bool *supported);
extern double synth_datum_to_double(Datum value, SynthValueType vtype, int *scale);

/* catalog.c: attnums of PK/UNIQUE/identity/serial columns and uuid columns */
extern Bitmapset *synth_key_columns(Relation rel);

/* random numbers (random.c): xoshiro256** seeded by splitmix64 */
typedef struct SynthRng
{
	uint64		s[4];
} SynthRng;

extern void synth_rng_seed(SynthRng *rng, uint64 seed);
extern uint64 synth_rng_next(SynthRng *rng);
extern double synth_rng_uniform(SynthRng *rng);	/* in (0, 1) */
extern double synth_rng_normal(SynthRng *rng);
extern uint64 synth_rng_below(SynthRng *rng, uint64 bound);
extern double synth_norm_cdf(double z);
extern double synth_norm_quantile(double p);

#endif							/* SYNTH_H */
