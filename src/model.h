/*-------------------------------------------------------------------------
 *
 * model.h
 *	  A trained model in memory: per-column encoders and the method's
 *	  parameters; how it is fitted, sampled, stored and loaded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_MODEL_H
#define SYNTH_MODEL_H

#include "synth.h"

#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#define SYNTH_MODEL_MAGIC		"SYNTHMDL"
#define SYNTH_MODEL_VERSION		1

typedef enum SynthMethod
{
	SYNTH_METHOD_COPULA = 1,
	SYNTH_METHOD_MST = 2,
	SYNTH_METHOD_CTGAN = 3,
	SYNTH_METHOD_TVAE = 4
} SynthMethod;

struct SynthNeural;				/* model_neural.c */

/*
 * One attribute of the source table as the model knows it.  Every attribute
 * is recorded (also those not modelled) so that a changed table is refused.
 */
typedef struct SynthEncoder
{
	char	   *name;
	Oid			typid;
	int32		typmod;
	bool		notnull;
	bool		modelled;		/* false: excluded; generated as default or NULL */
	SynthColumnKind kind;
	SynthValueType vtype;
	Oid			basetypid;		/* not stored: resolved when loaded */
	int32		basetypmod;

	double		null_rate;		/* share of NULLs in the table */

	/* SYNTH_KIND_CONTINUOUS: quantile knots at p = (i + 0.5) / nknots */
	int			nknots;
	double	   *knots;
	int			scale;			/* numeric: digits after the point */
	bool		bounded;		/* mst: u maps linearly onto [lower, upper] (not stored here) */
	double		lower;
	double		upper;

	/* SYNTH_KIND_CATEGORICAL: emitted categories, most frequent first */
	int			ncats;
	char	  **cats;
	double	   *cat_cum;		/* cumulative probability over emitted categories */
	double		rare_share;		/* share of rows in suppressed rare categories */

	/* SYNTH_KIND_FREETEXT and text keys: masked shapes ('a', 'A', '9', punctuation) */
	int			nshapes;
	char	  **shapes;

	/* SYNTH_KIND_KEY: generated values are key_base + 1, key_base + 2, ... */
	double		key_base;

	int			dim;			/* dimension in the copula, or -1 */
	int			null_dim;		/* continuous: dimension of its NULL indicator, or -1 */

	/* output state, not stored: built by synth_encoder_prepare_output */
	Datum	   *cat_datums;
	Oid			typinput;
	Oid			typioparam;
	void	   *domain_extra;
} SynthEncoder;

typedef struct SynthModel
{
	SynthMethod method;
	int			natts;
	SynthEncoder *encoders;
	int64		n_rows;

	/* copula: dim x dim lower Cholesky factor of the normal-score correlation */
	int			dim;
	double	   *chol;

	/* tvae, ctgan: dim uniform scores per row as the copula's, from a network */
	struct SynthNeural *neural;

	/* mst: a tree of 2-way marginals measured under differential privacy */
	struct SynthMst *mst;
} SynthModel;

/* train.c */
extern int64 synth_train_relation(Oid relid, const char *method_name, Jsonb *options);
extern Jsonb *synth_options_with_named(FunctionCallInfo fcinfo, int optarg, int firstnamed);

/* transform.c */
extern void synth_encoder_fit(SynthEncoder *enc, SynthColumn *col, SynthSample *sample,
							  int colidx, int rare_k);
extern double synth_encoder_to_uniform(SynthEncoder *enc, double value, const int *catmap,
									   SynthRng *rng);
extern void synth_encoder_prepare_output(SynthEncoder *enc);
extern Datum synth_encoder_decode(SynthEncoder *enc, double u, SynthRng *rng, bool *isnull);
extern Datum synth_encoder_key(SynthEncoder *enc, int64 index, SynthRng *rng);
extern Datum synth_encoder_freetext(SynthEncoder *enc, SynthRng *rng);
extern void synth_encoder_continuous_interval(const SynthEncoder *enc, double x,
											  double *lo, double *hi);
extern int	synth_encoder_category_index(const SynthEncoder *enc, const char *label);
extern void synth_encoder_category_interval(const SynthEncoder *enc, int index,
											double *lo, double *hi);
extern const char *synth_kind_name(SynthColumnKind kind);
extern const char *synth_vtype_name(SynthValueType vtype);
extern List *synth_enum_labels(Oid enumtypid);

/* model_copula.c */
#define SYNTH_GIBBS_SWEEPS	20
#define SYNTH_MAX_INTERVALS 64

/* A union of intervals [lo[i], hi[i]] of uniform scores a dimension may take. */
typedef struct SynthAllowedSet
{
	int			n;
	double		lo[SYNTH_MAX_INTERVALS];
	double		hi[SYNTH_MAX_INTERVALS];
} SynthAllowedSet;

typedef struct SynthCopulaCondition
{
	int			nk;				/* known dimensions */
	int			nu;				/* dimensions to sample */
	int		   *known;
	int		   *unknown;
	double	   *a;				/* nu x nk: regression of unknown on known */
	double	   *l;				/* nu x nu: Cholesky factor of the conditional correlation */

	/*
	 * Unknown dimensions restricted to sets of scores (drawn by Gibbs given
	 * the known ones), then the rest given both through rest; nr = 0: none.
	 */
	int			nr;
	int		   *rpos;			/* nr: positions in unknown[] */
	int		   *rn;				/* nr: intervals of each set */
	double	   *rzlo;			/* nr x SYNTH_MAX_INTERVALS: the sets in z */
	double	   *rzhi;
	double	   *rprec;			/* nr x nr: their precision given the known */
	double	   *rvar;			/* nr: their variances given the known */
	struct SynthCopulaCondition *rest;
} SynthCopulaCondition;

extern void synth_copula_fit(SynthModel *model, SynthColumn *cols, SynthSample *sample,
							 const int *sample_col, uint64 seed);
extern void synth_copula_sample(SynthModel *model, int nrows, SynthRng *rng, double *u);
extern SynthCopulaCondition *synth_copula_condition(SynthModel *model, const bool *is_known);
extern void synth_copula_sample_given(SynthModel *model, SynthCopulaCondition *cond, int nrows,
									  SynthRng *rng, double *u);
extern void synth_copula_sample_restricted(SynthModel *model, SynthAllowedSet *const *allowed,
										   int nrows, SynthRng *rng, double *u);
extern SynthCopulaCondition *synth_copula_condition_restricted(SynthModel *model,
																const bool *is_known,
																SynthAllowedSet *const *allowed);

/* generate.c: sampling batches of rows into per-encoder Datums */
typedef struct SynthGenerator
{
	SynthModel *model;
	SynthRng	rng;
	int64		next_index;		/* fresh-key index of the next row, from 1 */
	int			capacity;		/* rows per batch */
	double	   *u;				/* capacity x dim uniform scores */
	Datum	   *values;			/* capacity x natts, per encoder */
	bool	   *nulls;
	struct ExprState **defaults;	/* per encoder: default of a column not modelled */
	struct ExprContext *econtext;
	SynthCopulaCondition *cond; /* NULL: unconditional */
	SynthAllowedSet **allowed;	/* per dimension restrictions, or NULL */
	MemoryContext batchcxt;		/* reset before each batch */
	MemoryContext longcxt;		/* lives as long as the generator */
} SynthGenerator;

extern SynthGenerator *synth_generator_create(SynthModel *model, uint64 seed, int capacity);
extern void synth_generator_set_defaults(SynthGenerator *gen, Relation rel);
extern void synth_generator_condition(SynthGenerator *gen, const bool *known_dims);
extern void synth_generator_fill(SynthGenerator *gen, int rows);

/* condition.c: a predicate and category shares as copula restrictions */
typedef struct SynthCondition
{
	char	   *text;			/* the predicate as given, or NULL */
	struct ExprState *predicate;	/* over the row type, or NULL */
	struct ExprContext *econtext;
	struct TupleTableSlot *slot;
	SynthAllowedSet **allowed;	/* per copula dimension, NULL: free */
	struct Bitmapset *attrs;	/* the columns it reads (pull_varattnos offsets) */
	Datum	   *scratch_values;
	bool	   *scratch_nulls;
} SynthCondition;

typedef struct SynthStratum
{
	int			dim;			/* the rebalanced column's dimension */
	double		share;
	int64		rows;			/* rows of this category to generate */
	SynthAllowedSet set;		/* the category's scores */
} SynthStratum;

extern SynthCondition *synth_condition_build(SynthModel *model, Oid relid, TupleDesc desc,
											 const int *att_encoder, const char *predicate);
extern bool synth_condition_check(SynthCondition *cond, const Datum *values, const bool *nulls);
extern void synth_restrict_dim(SynthAllowedSet **allowed, int dim, const SynthAllowedSet *set);
extern List *synth_rebalance_strata(SynthModel *model, TupleDesc desc, const int *att_encoder,
									Jsonb *shares, int64 n);

/* model_neural.c, model_tvae.c, model_ctgan.c: the neural methods */
#define SYNTH_DEFAULT_MAX_MODES		10
#define SYNTH_MIN_MODE_WEIGHT		0.005	/* mixture components lighter than this are dropped */
#define SYNTH_MAX_ENCODED_WIDTH		100000	/* slots of an encoded row */

/* The options of synth_train that the neural methods read. */
typedef struct SynthNeuralOptions
{
	bool		given;			/* was any of them given? */
	int			epochs;			/* 0: the method's default */
	int			batch_size;
	int			device;			/* SynthDevice, or -1: synth.device */
	int			progress_every; /* epochs between progress NOTICEs, 0: none */
	int			embedding_dim;
	double		learning_rate;	/* 0: the method's default */
	int			pac;
	int			discriminator_steps;
	int			max_modes;
} SynthNeuralOptions;

/* Called after every epoch of a neural training (a background job records it). */
typedef void (*SynthProgressHook) (void *arg, int epoch, int epochs, double loss);
extern SynthProgressHook synth_progress_hook;
extern void *synth_progress_arg;

extern bool synth_method_is_neural(SynthMethod method);
extern const char *synth_method_name(SynthMethod method);
extern void synth_neural_options_init(SynthNeuralOptions *opts);
extern bool synth_neural_option(SynthNeuralOptions *opts, const char *key, JsonbValue *value);
extern void synth_neural_fit(SynthModel *model, SynthColumn *cols, SynthSample *sample,
							 const int *sample_col, const SynthNeuralOptions *opts, uint64 seed);
extern void synth_neural_spec_json(SynthModel *model, StringInfo buf);
extern void synth_neural_metrics_json(SynthModel *model, StringInfo buf);
extern void synth_neural_serialize(SynthModel *model, StringInfo buf);
extern const char *synth_neural_deserialize(SynthModel *model, const char *p, const char *end,
											int64 model_id);
struct SynthGenerator;
extern void synth_neural_sample(struct SynthGenerator *gen, int rows);

/* model_mst.c (privacy.h has its options) */
struct SynthPrivacyOptions;
extern int64 synth_mst_train(Relation rel, SynthModel *model, SynthColumn *cols, int ncols,
							 const int *sample_col, const struct SynthPrivacyOptions *opts,
							 const char *method_name, const char *reason, uint64 seed,
							 double holdout_fraction);
extern void synth_mst_sample(struct SynthGenerator *gen, int rows);

/* dpsgd.c: tvae and ctgan under differential privacy (privacy.h has the options) */
extern int64 synth_dp_neural_train(Relation rel, SynthModel *model, SynthColumn *cols, int ncols,
								   const int *sample_col, const struct SynthPrivacyOptions *popts,
								   const SynthNeuralOptions *nopts, const char *method_name,
								   const char *reason, uint64 seed, double holdout_fraction);
extern void synth_mst_serialize(SynthModel *model, StringInfo buf);
extern const char *synth_mst_deserialize(SynthModel *model, const char *p, const char *end,
										 int64 model_id);

/* model_io.c */
extern bytea *synth_model_serialize(SynthModel *model);
extern SynthModel *synth_model_deserialize(bytea *weights, int64 model_id);
extern void synth_model_spec_json(SynthModel *model, StringInfo buf);

/* catalog.c */
extern Oid	synth_catalog_owner(void);

/*
 * Statements run as the catalog's owner, with search_path pg_catalog (the
 * caller's search_path could otherwise put its own operators or functions
 * into the owner's queries).  Between begin and end; an error in between
 * needs no end (abort restores both).
 */
typedef struct SynthOwnerAccess
{
	Oid			saved_user;
	int			saved_sec;
	int			guc_level;
} SynthOwnerAccess;

extern void synth_owner_access_begin(SynthOwnerAccess *access);
extern void synth_owner_access_end(SynthOwnerAccess *access);
extern int64 synth_catalog_store(Relation rel, const char *method, int64 n_rows,
								 const char *spec_json, bytea *weights,
								 const char *metrics_json);
extern int64 synth_catalog_latest_model(Oid relid);
extern SynthModel *synth_catalog_load(int64 model_id, Oid *relid);

#endif							/* SYNTH_MODEL_H */
