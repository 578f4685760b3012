/*-------------------------------------------------------------------------
 *
 * privacy.h
 *	  Differential privacy: exact noise from a secure generator (privacy.c),
 *	  the accountant (accountant.c), budgets and the ledger (ledger.c), and
 *	  the options a private training takes.
 *
 * privacy.c and accountant.c need no server beyond pg_strong_random and
 * elog, so the unit tests build them standalone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_PRIVACY_H
#define SYNTH_PRIVACY_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#ifndef HAVE_INT128
#error "synth's exact noise samplers need a 128-bit integer type"
#endif

/* Limits and defaults */
#define SYNTH_NOISE_BUFFER			512		/* secure random bytes fetched at a time */
#define SYNTH_NOISE_MIN_SIGMA2		(1.0 / 1048576.0)	/* 2^-20 */
#define SYNTH_NOISE_MAX_SIGMA2		281474976710656.0	/* 2^48 */
#define SYNTH_DEFAULT_DELTA			1e-6	/* of synth_set_budget */
#define SYNTH_MST_DEFAULT_BINS		32		/* equal-width bins of a continuous column */
#define SYNTH_MST_MAX_BINS			1024

/*
 * A source of cryptographically secure random bytes: pg_strong_random, read
 * a buffer at a time.  Never seeded, never the model's generator.
 */
typedef struct SynthNoise
{
	uint8		buf[SYNTH_NOISE_BUFFER];
	int			pos;			/* next unread byte; SYNTH_NOISE_BUFFER: empty */
	uint64		bytes_used;
} SynthNoise;

/* privacy.c: exact samplers on integers and rationals */
extern void synth_noise_init(SynthNoise *noise);
extern uint64 synth_noise_uint64(SynthNoise *noise);
extern uint128 synth_noise_below(SynthNoise *noise, uint128 bound);
extern bool synth_noise_bernoulli(SynthNoise *noise, uint128 num, uint128 den);
extern bool synth_noise_bernoulli_exp(SynthNoise *noise, uint128 num, uint128 den);
extern uint64 synth_noise_geometric_exp(SynthNoise *noise, uint64 num, uint64 den);
extern int64 synth_noise_discrete_laplace(SynthNoise *noise, uint64 s, uint64 t);
extern int64 synth_noise_discrete_gaussian(SynthNoise *noise, uint64 sn, uint64 sd);
extern void synth_noise_rational_up(double x, uint64 *num, uint64 *den);
extern void synth_noise_rational_down(double x, uint64 *num, uint64 *den);
extern int	synth_noise_exponential(SynthNoise *noise, const int64 *scores, int m,
									uint64 eps_num, uint64 eps_den, uint64 sensitivity);

/*
 * privacy_stream.c: DP-SGD's secret stream, ChaCha20 keyed from
 * pg_strong_random: Poisson sampling and Gaussian gradient noise.
 */
#define SYNTH_SECURE_WORDS			256		/* 16 ChaCha20 blocks at a time */

typedef struct SynthSecureStream
{
	uint32		key[8];
	uint32		nonce[3];
	uint32		counter;
	uint32		words[SYNTH_SECURE_WORDS];
	int			pos;			/* next unused word; SYNTH_SECURE_WORDS: empty */
	uint64		words_used;
} SynthSecureStream;

extern void synth_chacha20_block(const uint32 key[8], uint32 counter, const uint32 nonce[3],
								 uint32 out[16]);
extern void synth_secure_init(SynthSecureStream *s);
extern uint64 synth_secure_uint64(SynthSecureStream *s);
extern double synth_secure_uniform(SynthSecureStream *s);
extern uint64 synth_secure_bernoulli_threshold(double q, double *rate);
extern bool synth_secure_bernoulli(SynthSecureStream *s, uint64 threshold);
extern void synth_secure_gaussian(SynthSecureStream *s, size_t n, double std, float *out);

/* accountant.c: Renyi DP of the sampled Gaussian, zCDP, conversions */
#define SYNTH_RDP_MAX_ORDER			10000.0

extern double synth_rdp_sampled_gaussian(double q, double sigma, double alpha);
extern double synth_rdp_to_epsilon(double alpha, double rdp, double delta);
extern double synth_dpsgd_epsilon(double q, double sigma, int64 steps, double delta,
								  double *best_alpha);
extern double synth_dpsgd_calibrate(double q, int64 steps, double epsilon, double delta);
extern double synth_zcdp_best_order(double rho, double delta);
extern double synth_dpsgd_calibrate_at(double q, int64 steps, double alpha, double rdp_budget);
extern double synth_zcdp_delta(double rho, double epsilon);
extern double synth_zcdp_epsilon(double rho, double delta);
extern double synth_zcdp_rho(double epsilon, double delta);
extern double synth_gaussian_rho(double sensitivity, double sigma2);
extern double synth_exponential_rho(double epsilon);
extern double synth_subsample_epsilon(double epsilon_inner, double p);
extern void synth_subsample_inner(double epsilon, double delta, double p,
								  double *epsilon_inner, double *delta_inner);

/*
 * The options of a private training (options jsonb of synth_train):
 * epsilon and delta, and for mst the public domain of each column.
 */
typedef struct SynthBoundsOption
{
	char	   *column;
	char	   *lower;			/* as text, read by the column's type */
	char	   *upper;
	bool		discovered;		/* dp_domains.c: the values below, not text */
	double		lower_value;
	double		upper_value;
	int			scale;			/* numeric: discovered scale, -1: none */
} SynthBoundsOption;

typedef struct SynthDomainOption
{
	char	   *column;
	List	   *values;			/* char * */
} SynthDomainOption;

typedef struct SynthPrivacyOptions
{
	double		epsilon;		/* 0: not given (no differential privacy) */
	double		delta;			/* < 0: not given (the budget's share) */
	int			bins;			/* 0: not given */
	List	   *bounds;			/* SynthBoundsOption */
	List	   *domains;		/* SynthDomainOption */
	double		max_grad_norm;	/* tvae, ctgan: DP-SGD's clipping bound, 0: not given */
	double		marginal_share; /* tvae, ctgan: share of rho for the encoders, 0: not given */
	double		domain_share;	/* share of (epsilon, delta) to discover missing domains; < 0: not given */
} SynthPrivacyOptions;

#define SYNTH_DEFAULT_DOMAIN_SHARE	0.3

/* What a modelled column lacks under DP (model_mst.c) */
typedef enum SynthMissingDomain
{
	SYNTH_MISSING_NONE,
	SYNTH_MISSING_BOUNDS,		/* a number, date or time column without public bounds */
	SYNTH_MISSING_LABELS		/* a text column without the "domains" option */
} SynthMissingDomain;

/* What a discovery of domains under DP spent and found (dp_domains.c) */
typedef struct SynthDomainDiscovery
{
	int			ncolumns;		/* 0: nothing was discovered (nothing spent) */
	int			ntext;
	int			nqueries;		/* histograms */
	int			nlabels;		/* labels released */
	double		epsilon;
	double		delta;
	double		rho;
	double		delta_zcdp;
	double		delta_threshold;
	double		sigma2;
	double		text_threshold;
	char	   *found;			/* what, as text */
	char	   *found_json;		/* "bounds": {...}, "labels_per_column": {...} */
} SynthDomainDiscovery;

/*
 * The public domain of a column under DP (model_mst.c plans it): a
 * continuous column's bounds, equal-width bins and the finer grid inside
 * them; a categorical column's labels, and whether values outside them
 * share an "other" cell; whether it may be NULL.
 */
typedef struct SynthPublicDomain
{
	bool		planned;		/* false: a key or a column not modelled */
	bool		continuous;
	bool		whole;			/* whole numbers: cells of integers */
	bool		nullable;
	double		lower;			/* bins cover [lower, upper) */
	double		upper;
	double		width;			/* of a bin */
	int			nbins;
	double		fine_width;		/* of a fine cell */
	int			fine_per_bin;
	int			nfine;
	int			nlabels;
	char	  **labels;
	bool		has_other;
	bool		trim;			/* char(n): labels compare without trailing blanks */
} SynthPublicDomain;

/* model_mst.c: the options */
extern bool synth_privacy_option_name(const char *key);
extern void synth_privacy_parse_options(Jsonb *options, SynthPrivacyOptions *opts);
struct SynthModel;
struct RelationData;
extern SynthPublicDomain *synth_public_domains(struct RelationData *rel, struct SynthModel *model,
											   SynthColumn *cols, const int *sample_col,
											   const SynthPrivacyOptions *opts);

extern SynthMissingDomain synth_missing_domain(struct RelationData *rel, SynthColumn *col,
											   const SynthPrivacyOptions *opts);
extern int	synth_missing_domains(struct RelationData *rel, struct SynthModel *model,
								  SynthColumn *cols, const int *sample_col,
								  const SynthPrivacyOptions *opts);
extern double synth_continuous_value(Datum value, Oid basetypid, SynthValueType vtype);
extern double synth_domain_share(const SynthPrivacyOptions *opts);

/* dp_domains.c: domains discovered under DP */
struct SynthHoldout;
extern SynthPrivacyOptions *synth_discover_domains(struct RelationData *rel, struct SynthModel *model,
												   SynthColumn *cols, int ncols, const int *sample_col,
												   const SynthPrivacyOptions *opts,
												   double epsilon, double delta,
												   struct SynthHoldout *holdout,
												   SynthDomainDiscovery *out);
extern void synth_discovery_json(StringInfo buf, const SynthDomainDiscovery *d);

/* ledger.c: budgets and the ledger */
extern double synth_budget_spend(Oid relid, double epsilon, double delta);
extern void synth_ledger_record(Oid relid, int64 model_id, const char *mechanism,
								const char *params_json, double epsilon, double delta);

#endif							/* SYNTH_PRIVACY_H */
