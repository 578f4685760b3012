/*-------------------------------------------------------------------------
 *
 * quality.h
 *	  The quality report (fidelity, utility, privacy), its gates, and the
 *	  holdout that lets it measure a model on rows the model never saw.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_QUALITY_H
#define SYNTH_QUALITY_H

#include "synth.h"
#include "gbt.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* ---- holdout.c ---- */

#define SYNTH_HOLDOUT_RULE			"row_hash_v1"
#define SYNTH_HOLDOUT_MAX_FRACTION	0.5

/* How rows split into training and holdout rows; see holdout.c. */
typedef struct SynthHoldout
{
	double		fraction;		/* of rows held out */
	uint64		seed;
	int			ncols;
	SynthColumn *cols;			/* the hashed columns */
	AttrNumber *attnums;		/* where each is in the tuples seen */
	Oid		   *typoutputs;
	bool		keep_holdout;	/* synth_holdout_filter keeps held-out rows, else training rows */
	int64		held_out;		/* rows seen on each side by synth_holdout_filter */
	int64		training;
} SynthHoldout;

extern double synth_holdout_fraction_option(const char *key, JsonbValue *v);
extern void synth_holdout_init(SynthHoldout *holdout, double fraction, uint64 seed,
							   SynthColumn *cols, int ncols);
extern bool synth_holdout_contains(SynthHoldout *holdout, HeapTuple tuple, TupleDesc desc);
extern bool synth_holdout_filter(void *arg, HeapTuple tuple, TupleDesc desc);
extern void synth_holdout_spec_json(SynthHoldout *holdout, StringInfo buf);

/* ---- quality.c ---- */

/* Defaults of the report's options; each is stated in the report it shapes. */
#define SYNTH_QUALITY_SAMPLE_ROWS	10000	/* rows per side: training, holdout, synthetic */
#define SYNTH_QUALITY_PRIVACY_ROWS	1000	/* query rows of the distance-based figures */
#define SYNTH_QUALITY_FOLDS			5		/* cross-validation of the detection classifier */
#define SYNTH_QUALITY_SEED			UINT64CONST(20261123)
#define SYNTH_QUALITY_MIN_TEST_ROWS	20		/* fewer held-out rows: no holdout */
#define SYNTH_QUALITY_COARSE_BINS	5		/* quantile bins of a number, for singling out */
#define SYNTH_QUALITY_SO_COLUMNS	3		/* columns of a singling-out predicate */

typedef struct SynthQualitySettings
{
	int64		sample_rows;
	int			privacy_rows;
	int			folds;
	uint64		seed;
	SynthGbtParams gbt;
} SynthQualitySettings;

/* A column the metrics compare. */
typedef struct SynthQualityColumn
{
	char	   *name;
	bool		categorical;	/* values are category codes; else numbers */
} SynthQualityColumn;

/*
 * Rows of one side, column-major: values[c * nrows + r].  Numbers as
 * themselves, categories as codes shared by every side, NaN for NULL.
 */
typedef struct SynthQualityRows
{
	int64		nrows;
	double	   *values;
} SynthQualityRows;

extern void synth_quality_default_settings(SynthQualitySettings *settings);
extern SynthQualityRows *synth_quality_rows(SynthSample *sample, SynthColumn *cols,
											SynthColumn *refcols, const int *cmp, int ncmp,
											int unseen_code_offset, int64 max_rows,
											SynthRng *rng);
extern double synth_quality_detection(const SynthQualityColumn *cols, int ncols,
									  const SynthQualityRows *real,
									  const SynthQualityRows *synthetic,
									  const SynthQualitySettings *settings,
									  double *importance);
extern bool synth_quality_near_unique(SynthColumn *col);

/* gates: synth.gates, and the check synth_generate makes when it is set */
extern char *synth_gates;
extern void SynthQualityInit(void);
extern void synth_gates_enforce(int64 model_id);
extern void synth_gates_validate(Jsonb *gates);
extern bool synth_gates_empty(Jsonb *gates);
extern void synth_gates_check_report(Jsonb *report, Jsonb *gates, const char *subject,
									 const char *hint);

/* ---- evaluate.c ---- */

/* A set of 64-bit row hashes, for exact copies. */
typedef struct SynthHashSet
{
	uint64	   *slots;
	uint64		nslots;			/* a power of two */
	int64		count;
	bool		full;			/* reached its limit: later hashes are not added */
	MemoryContext cxt;
} SynthHashSet;

extern void synth_hashset_init(SynthHashSet *set, MemoryContext cxt);
extern void synth_hashset_add(SynthHashSet *set, uint64 hash);
extern bool synth_hashset_contains(SynthHashSet *set, uint64 hash);
extern uint64 synth_value_hash(SynthColumn *col, int column_index, bool isnull, Datum value,
							   Oid typoutput);
extern int	synth_match_columns(Relation realrel, Relation synrel, SynthColumn **realcols,
								SynthColumn **syncols, const char *caller);
extern void synth_evaluate_samples(SynthColumn *realcols, SynthColumn *syncols, int ncols,
								   SynthSample *real, SynthSample *syn, double *column_shapes,
								   double *column_pair_trends, double *quality_score);

#endif							/* SYNTH_QUALITY_H */
