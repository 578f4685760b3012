/*-------------------------------------------------------------------------
 *
 * holdout.c
 *	  Which rows of a table synth_train holds out, so that the quality report
 *	  can measure a model on rows it never saw.
 *
 * A row is held out when a 64-bit hash of its values, seeded, falls below
 * the fraction: no state is kept, so the report recomputes the same split
 * from what the model's spec records (fraction, seed, rule and the hashed
 * columns).  The hash reads values, not their position on disk, so the
 * split survives VACUUM FULL, CLUSTER and pg_dump; views have it too.
 * Identical rows land on the same side (a table with a key has none).
 *
 * The hash of a value must not depend on settings: numbers, dates, times,
 * intervals and booleans are hashed as their value (a double, as the reader
 * reads them; -0 is 0), everything else as its text output (text, enum
 * labels, uuids, json), whose form no setting changes.  Mixing is done on 64-bit integers
 * and bytes, so the split is the same on every platform.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "quality.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#define HOLDOUT_NULL_HASH		UINT64CONST(0x243F6A8885A308D3)
#define HOLDOUT_COLUMN_STEP		UINT64CONST(0x9E3779B97F4A7C15)

/* splitmix64's finaliser: a bijective mix of 64 bits. */
static inline uint64
mix64(uint64 z)
{
	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* FNV-1a over bytes, then mixed. */
static uint64
hash_text(const char *s)
{
	uint64		h = UINT64CONST(0xCBF29CE484222325);

	for (; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= UINT64CONST(0x100000001B3);
	}
	return mix64(h);
}

static uint64
hash_double(double v)
{
	uint64		bits;

	if (v == 0.0)
		v = 0.0;				/* -0 is 0 */
	if (isnan(v))
		v = NAN;
	memcpy(&bits, &v, sizeof(bits));
	return mix64(bits);
}

/* Are the column's values hashed as numbers? */
static bool
hashed_as_number(SynthValueType vtype)
{
	switch (vtype)
	{
		case SYNTH_VT_INT:
		case SYNTH_VT_FLOAT:
		case SYNTH_VT_NUMERIC:
		case SYNTH_VT_DATE:
		case SYNTH_VT_TIMESTAMP:
		case SYNTH_VT_INTERVAL:
		case SYNTH_VT_TIME:
		case SYNTH_VT_BOOL:
			return true;
		default:
			return false;
	}
}

/* A number-like value as the double the reader would read. */
static double
number_value(SynthColumn *col, Datum value)
{
	switch (col->basetypid)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		default:
			return synth_datum_to_double(value, col->vtype, NULL);
	}
}

/* Ensure a holdout option is a fraction of rows synth can hold out. */
double
synth_holdout_fraction_option(const char *key, JsonbValue *v)
{
	double		d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key),
				 errhint("Give the fraction of rows to hold out, e.g. '{\"holdout\": 0.2}'.")));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (!(d > 0.0 && d <= SYNTH_HOLDOUT_MAX_FRACTION))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be above 0 and at most %g", key,
						SYNTH_HOLDOUT_MAX_FRACTION),
				 errhint("Give the fraction of rows to hold out, e.g. '{\"holdout\": 0.2}'.")));
	return d;
}

/*
 * Set up the split over cols, which are the attributes 1 .. ncols of the
 * tuples it will see (the reader's SELECT list).
 */
void
synth_holdout_init(SynthHoldout *holdout, double fraction, uint64 seed,
				   SynthColumn *cols, int ncols)
{
	memset(holdout, 0, sizeof(SynthHoldout));
	holdout->fraction = fraction;
	holdout->seed = seed;
	holdout->ncols = ncols;
	holdout->cols = cols;
	holdout->attnums = palloc(sizeof(AttrNumber) * Max(ncols, 1));
	holdout->typoutputs = palloc(sizeof(Oid) * Max(ncols, 1));
	for (int c = 0; c < ncols; c++)
	{
		bool		varlena;

		holdout->attnums[c] = (AttrNumber) (c + 1);
		getTypeOutputInfo(cols[c].typid, &holdout->typoutputs[c], &varlena);
	}
}

/* Is this row held out? */
bool
synth_holdout_contains(SynthHoldout *holdout, HeapTuple tuple, TupleDesc desc)
{
	uint64		hash = mix64(holdout->seed ^ UINT64CONST(0x6A09E667F3BCC909));

	for (int c = 0; c < holdout->ncols; c++)
	{
		SynthColumn *col = &holdout->cols[c];
		bool		isnull;
		Datum		value = heap_getattr(tuple, holdout->attnums[c], desc, &isnull);
		uint64		h;

		if (isnull)
			h = HOLDOUT_NULL_HASH;
		else if (hashed_as_number(col->vtype))
			h = hash_double(number_value(col, value));
		else
			h = hash_text(OidOutputFunctionCall(holdout->typoutputs[c], value));
		hash = mix64(hash ^ (h + (uint64) (c + 1) * HOLDOUT_COLUMN_STEP));
	}
	/* the top 53 bits as a uniform number in [0, 1) */
	return (double) (hash >> 11) * (1.0 / 9007199254740992.0) < holdout->fraction;
}

/*
 * The reader's row callback: keeps the rows on the side holdout->keep_holdout
 * asks for and counts both sides.
 */
bool
synth_holdout_filter(void *arg, HeapTuple tuple, TupleDesc desc)
{
	SynthHoldout *holdout = (SynthHoldout *) arg;
	bool		held = synth_holdout_contains(holdout, tuple, desc);

	if (held)
		holdout->held_out++;
	else
		holdout->training++;
	return held == holdout->keep_holdout;
}

/* The spec member that says how to recompute the split. */
void
synth_holdout_spec_json(SynthHoldout *holdout, StringInfo buf)
{
	appendStringInfo(buf, "{\"fraction\": %.17g, \"seed\": " INT64_FORMAT
					 ", \"rule\": \"%s\", \"rows\": " INT64_FORMAT
					 ", \"training_rows\": " INT64_FORMAT ", \"columns\": [",
					 holdout->fraction, (int64) holdout->seed, SYNTH_HOLDOUT_RULE,
					 holdout->held_out, holdout->training);
	for (int c = 0; c < holdout->ncols; c++)
	{
		if (c > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, holdout->cols[c].name);
	}
	appendStringInfoString(buf, "]}");
}
