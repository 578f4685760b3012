/*-------------------------------------------------------------------------
 *
 * dp_domains.c
 *	  Domains discovered under differential privacy: the bounds of number,
 *	  date and time columns and the labels of text columns that have no
 *	  public domain (no "bounds" or "domains" option, no CHECK constraint),
 *	  measured with a share of the training's budget instead of read from
 *	  the data.
 *
 * One pass over every row (but a holdout's) fills, per column:
 *
 * - a number column: a histogram over a fixed grid of signed powers of two,
 *   ... (-2^(e+1), -2^e], ..., {|x| < 2^-20}, ..., [2^e, 2^(e+1)), ... for
 *   e from -20 to 127 (whole numbers: from 0 to 63, and the middle cell is
 *   0); a numeric column without a declared scale also a histogram of its
 *   values' scales, 0 to 15;
 * - a date or timestamp column: a histogram of calendar years, 1900 to
 *   2099, and one cell each for before and after;
 * - a text column: the exact count of each distinct value.
 *
 * Every cell of every histogram gets discrete Gaussian noise of variance
 * sigma^2 (privacy.c, from pg_strong_random).  A row falls in exactly one
 * cell of each of the q histograms, so all of them together are rho-zCDP
 * with rho = q / (2 sigma^2) (Bun and Steinke 2016) for rows added or
 * removed.  A number column's bounds are the outer edges of the first and
 * the last grid cell whose noisy count reaches the grid threshold (chosen
 * so that an empty grid of the column passes it with probability about
 * 1e-4: a wrong cell only widens the bounds); its scale the largest scale
 * that reaches it.  The grid is public, so these are post-processing.
 *
 * A text column's labels are the values whose noisy count reaches
 * tau = 1 + sigma sqrt(2 ln(1 / delta_t)), where delta_t is delta_thr over
 * the number of text columns: only values present in the data get a noisy
 * count, so a value that one row alone brings is released with probability
 * at most exp(-(tau - 1)^2 / (2 sigma^2)) <= delta_t (the discrete Gaussian
 * is sub-Gaussian, Canonne, Kamath, Steinke 2020).  For neighbours D and
 * D' = D + r, with E the event that one of r's new values passes (P[E] <=
 * delta_thr): given not-E, M(D') is distributed as the same mechanism run
 * on D' over D's values only, which is rho-zCDP close to M(D), so with
 * (eps_z, delta_z) the conversion of rho, M is
 * (eps_z, delta_z + e^eps_z delta_thr)-DP.  The split: (epsilon_d,
 * delta_d) = domain_share of the training's (epsilon, delta); delta_z =
 * delta_d / 2, delta_thr = delta_d / (2 e^epsilon_d), rho the largest with
 * (rho)-zCDP => (epsilon_d, delta_z).  The training then runs on the rest,
 * (epsilon - epsilon_d, delta - delta_d): the two compose sequentially.
 *
 * Only values at least about tau rows share are ever released as labels,
 * so no identifier is (a unique value is at most one row's).
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "privacy.h"
#include "quality.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#define GRID_EMIN			(-20)	/* |x| < 2^-20: the middle cell */
#define GRID_EMAX			127		/* |x| >= 2^127: the outer cells */
#define GRID_WHOLE_EMAX		63
#define YEAR_FIRST			1900
#define YEAR_LAST			2099
#define SCALE_MAX			15
#define GRID_FALSE_RATE		1e-4	/* chance that an empty grid passes */
#define GRID_NEXT_SIGMAS	3.0		/* a cell next to a passing one: 3 sigma */
#define YEAR_DAYS		365.2425
#define DAY_1900			(-36524.0)	/* 1900-01-01 in days from 2000-01-01 */
#define USECS_PER_DAY_D		86400000000.0

typedef enum DiscoverKind
{
	DISCOVER_NUMBER,
	DISCOVER_TIME,
	DISCOVER_TEXT
} DiscoverKind;

typedef struct DiscoverColumn
{
	int			col;			/* in cols (and the query's tuples) */
	DiscoverKind kind;
	bool		whole;
	int			emax;			/* grid: exponents 0 or GRID_EMIN up to emax */
	int			ncells;
	int64	   *counts;			/* grid or years */
	bool		want_scale;
	int64		scale_counts[SCALE_MAX + 1];
	SynthCategoryDict *dict;	/* text */
	Oid			typoutput;
	bool		trim;
} DiscoverColumn;

/* ---------------------------------------------------------------- grids */

static inline int
grid_emin(const DiscoverColumn *dc)
{
	return dc->whole ? 0 : GRID_EMIN;
}

/* exponents per sign */
static inline int
grid_side(const DiscoverColumn *dc)
{
	return dc->emax - grid_emin(dc) + 1;
}

/* The grid cell of x: negative exponents from the top down, the middle, positive. */
static int
grid_cell(const DiscoverColumn *dc, double x)
{
	int			side = grid_side(dc);
	double		ax = fabs(x);
	int			e;

	if (ax < ldexp(1.0, grid_emin(dc)))
		return side;
	if (isinf(ax))
		e = dc->emax;
	else
	{
		(void) frexp(ax, &e);	/* ax = m 2^e, m in [0.5, 1) */
		e = Min(e - 1, dc->emax);
	}
	e -= grid_emin(dc);
	return x < 0 ? side - 1 - e : side + 1 + e;
}

/* The lower (upper: false) edge of a grid cell, as a bound. */
static double
grid_edge(const DiscoverColumn *dc, int cell, bool lower)
{
	int			side = grid_side(dc);
	double		tiny = dc->whole ? 0.0 : ldexp(1.0, GRID_EMIN);
	double		edge;

	if (cell == side)
		return dc->whole ? 0.0 : lower ? -tiny : tiny;
	if (cell > side)
	{
		int			e = cell - side - 1 + grid_emin(dc);

		edge = lower ? ldexp(1.0, e) : ldexp(1.0, e + 1);
		if (!lower && dc->whole)
			edge -= 1;
		return edge;
	}
	{
		int			e = side - 1 - cell + grid_emin(dc);

		edge = lower ? -ldexp(1.0, e + 1) : -ldexp(1.0, e);
		if (lower && dc->whole)
			edge += 1;
		return edge;
	}
}

/* The year cell of a date (days) or timestamp (microseconds) from 2000-01-01. */
static int
year_cell(const SynthColumn *col, double x)
{
	double		days = col->vtype == SYNTH_VT_TIMESTAMP ? x / USECS_PER_DAY_D : x;
	double		y = floor((days - DAY_1900) / YEAR_DAYS);

	if (y < 0)
		return 0;
	if (y > YEAR_LAST - YEAR_FIRST)
		return YEAR_LAST - YEAR_FIRST + 2;
	return (int) y + 1;
}

/* The first day (or microsecond) of a year cell; lower false: the last of it. */
static double
year_edge(const SynthColumn *col, int cell, bool lower)
{
	double		start = ceil(DAY_1900 + (cell - 1) * YEAR_DAYS);
	double		next = ceil(DAY_1900 + cell * YEAR_DAYS);

	if (col->vtype == SYNTH_VT_TIMESTAMP)
		return lower ? start * USECS_PER_DAY_D : next * USECS_PER_DAY_D - 1;
	return lower ? start : next - 1;
}

/* Type limits of a whole number column, for bounds at the grid's ends. */
static void
whole_limits(const SynthColumn *col, double *lo, double *hi)
{
	switch (col->basetypid)
	{
		case INT2OID:
			*lo = -32768;
			*hi = 32767;
			break;
		case INT4OID:
			*lo = -2147483648.0;
			*hi = 2147483647.0;
			break;
		default:
			/* int8 and the rest: doubles near 2^63 */
			*lo = -9223372036854774784.0;
			*hi = 9223372036854774784.0;
	}
}

/* The smallest z with n cells of N(0, 1) all below z except with probability rate. */
static double
grid_threshold_sigmas(int n)
{
	double		lo = 0,
				hi = 40;

	for (int i = 0; i < 100; i++)
	{
		double		mid = (lo + hi) / 2;

		if (0.5 * erfc(mid / M_SQRT2) * n > GRID_FALSE_RATE)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* ---------------------------------------------------------------- bounds from noisy grids */

/*
 * A number column's bounds from its noisy grid y: the outer edges of the
 * first and last cell at or above the threshold, widened by each next cell
 * outwards at or above 3 sigma.  A range on one side of 0
 * whose inner edge is within a quarter of its outer one reaches 0 instead:
 * cells near 0 are narrow and hold few rows even where the values are
 * dense (0..33,000 spread evenly would otherwise lose its first 6 %).
 * Returns false when no cell reaches the threshold.
 */
static bool
number_bounds(const DiscoverColumn *dc, const SynthColumn *col, const int64 *y, double sigma,
			  double *lo, double *hi, double *threshold)
{
	int			first = -1,
				last = -1;

	*threshold = grid_threshold_sigmas(dc->ncells) * sigma;
	for (int c = 0; c < dc->ncells; c++)
		if ((double) y[c] >= *threshold)
		{
			if (first < 0)
				first = c;
			last = c;
		}
	if (first < 0)
		return false;
	/* cells next to the range need less: a wrong one only widens it by a cell */
	while (first > 0 && (double) y[first - 1] >= GRID_NEXT_SIGMAS * sigma)
		first--;
	while (last < dc->ncells - 1 && (double) y[last + 1] >= GRID_NEXT_SIGMAS * sigma)
		last++;
	*lo = grid_edge(dc, first, true);
	*hi = grid_edge(dc, last, false);
	/* the middle cell's edges are 0 unless it is alone */
	if (first == grid_side(dc) && last > first)
		*lo = 0;
	if (last == grid_side(dc) && first < last)
		*hi = 0;
	if (*lo > 0 && *lo <= *hi / 4)
		*lo = 0;
	if (*hi < 0 && *hi >= *lo / 4)
		*hi = 0;
	if (dc->whole)
	{
		double		tlo,
					thi;

		whole_limits(col, &tlo, &thi);
		*lo = Max(*lo, tlo);
		*hi = Min(*hi, thi);
	}
	return true;
}

/*
 * A date or time column's bounds from its noisy year counts y: at the
 * finest span of years (1, 2, 4, ... 128, the noisy counts of a span added
 * up, so its noise is sigma sqrt(span)) at which some span reaches its
 * threshold, and at the next two spans, the outer edges of the first and
 * last spans that do (wider bounds cost a little resolution; narrower ones
 * would clip the tails).  Years before 1900 or after 2099 are an error.
 */
static bool
time_bounds(Relation rel, const SynthColumn *col, const int64 *y, double sigma,
			double *lo, double *hi, double *threshold)
{
	int			nyears = YEAR_LAST - YEAR_FIRST + 1;
	int			nlevels = 8;
	int			found_level = -1;
	double		edge_threshold = grid_threshold_sigmas(2 * nlevels) * sigma;

	*threshold = 0;
	if ((double) y[0] >= edge_threshold || (double) y[nyears + 1] >= edge_threshold)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" of table \"%s\" has many values %s",
						col->name, RelationGetRelationName(rel),
						(double) y[0] >= edge_threshold ? "before 1900" : "after 2099"),
				 errdetail("Discovering bounds under differential privacy counts the years 1900 to 2099."),
				 errhint("Give its public bounds with the option \"bounds\".")));
	*lo = HUGE_VAL;
	*hi = -HUGE_VAL;
	for (int level = 0; level < nlevels; level++)
	{
		int			span = 1 << level;
		int			nspans = (nyears + span - 1) / span;
		double		t = grid_threshold_sigmas(nspans * nlevels) * sigma * sqrt(span);

		if (level == 0)
			*threshold = t;
		for (int k = 0; k < nspans; k++)
		{
			int64		sum = 0;
			int			first_year = k * span;
			int			last_year = Min((k + 1) * span, nyears) - 1;

			for (int j = first_year; j <= last_year; j++)
				sum += y[1 + j];
			if ((double) sum < t)
				continue;
			*lo = Min(*lo, year_edge(col, 1 + first_year, true));
			*hi = Max(*hi, year_edge(col, 1 + last_year, false));
			if (found_level < 0)
				found_level = level;
		}
		if (found_level >= 0 && level >= found_level + 2)
			break;
	}
	return found_level >= 0;
}

/* ---------------------------------------------------------------- which columns */

/*
 * Plan what to discover: the modelled columns without a public domain.
 * Returns the number of columns.
 */
static int
plan_discovery(Relation rel, SynthModel *model, SynthColumn *cols, const int *sample_col,
			   const SynthPrivacyOptions *opts, DiscoverColumn *dcs)
{
	int			n = 0;

	for (int i = 0; i < model->natts; i++)
	{
		SynthColumn *col;
		SynthMissingDomain missing;
		DiscoverColumn *dc;

		if (sample_col[i] < 0)
			continue;
		col = &cols[sample_col[i]];
		missing = synth_missing_domain(rel, col, opts);
		if (missing == SYNTH_MISSING_NONE)
			continue;
		dc = &dcs[n++];
		memset(dc, 0, sizeof(*dc));
		dc->col = sample_col[i];
		if (missing == SYNTH_MISSING_LABELS)
		{
			bool		varlena;

			dc->kind = DISCOVER_TEXT;
			dc->dict = synth_dict_create(CurrentMemoryContext);
			getTypeOutputInfo(col->typid, &dc->typoutput, &varlena);
			dc->trim = col->basetypid == BPCHAROID;
		}
		else if (col->vtype == SYNTH_VT_DATE || col->vtype == SYNTH_VT_TIMESTAMP)
		{
			dc->kind = DISCOVER_TIME;
			dc->whole = true;
			dc->ncells = YEAR_LAST - YEAR_FIRST + 3;
			dc->counts = palloc0(sizeof(int64) * dc->ncells);
		}
		else
		{
			dc->kind = DISCOVER_NUMBER;
			dc->whole = col->vtype == SYNTH_VT_INT;
			dc->emax = dc->whole ? GRID_WHOLE_EMAX : GRID_EMAX;
			dc->ncells = 2 * grid_side(dc) + 1;
			dc->counts = palloc0(sizeof(int64) * dc->ncells);
			dc->want_scale = col->vtype == SYNTH_VT_NUMERIC && col->basetypmod < (int32) VARHDRSZ;
		}
	}
	return n;
}

/* ---------------------------------------------------------------- reading */

static char *
rtrim_text(char *s)
{
	int			len = strlen(s);

	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
	return s;
}

/* What the reader's pass hands each row to. */
typedef struct CountState
{
	SynthColumn *cols;
	DiscoverColumn *dcs;
	int			ndc;
	SynthHoldout *holdout;
} CountState;

/* One row (but a holdout's) into the exact histograms; a SynthRowCallback. */
static bool
count_row(void *arg, HeapTuple tuple, TupleDesc desc)
{
	CountState *state = arg;

	if (state->holdout && !synth_holdout_filter(state->holdout, tuple, desc))
		return false;
	for (int k = 0; k < state->ndc; k++)
	{
		DiscoverColumn *dc = &state->dcs[k];
		SynthColumn *col = &state->cols[dc->col];
		bool		isnull;
		Datum		v = heap_getattr(tuple, dc->col + 1, desc, &isnull);
		double		x;

		if (isnull)
			continue;
		if (dc->kind == DISCOVER_TEXT)
		{
			char	   *s = OidOutputFunctionCall(dc->typoutput, v);

			synth_dict_add(dc->dict, dc->trim ? rtrim_text(s) : s);
			continue;
		}
		x = synth_continuous_value(v, col->basetypid, col->vtype);
		if (isnan(x))
			continue;
		if (dc->kind == DISCOVER_TIME)
			dc->counts[year_cell(col, x)]++;
		else
		{
			dc->counts[grid_cell(dc, x)]++;
			if (dc->want_scale)
			{
				int			scale = DatumGetInt32(DirectFunctionCall1(numeric_scale, v));

				dc->scale_counts[Max(Min(scale, SCALE_MAX), 0)]++;
			}
		}
	}
	return true;
}

/* ---------------------------------------------------------------- measuring */

static int
cmp_label(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

typedef struct NoisyLabel
{
	char	   *label;
	int64		y;
} NoisyLabel;

static int
cmp_noisy_desc(const void *a, const void *b)
{
	int64		ya = ((const NoisyLabel *) a)->y,
				yb = ((const NoisyLabel *) b)->y;

	return ya < yb ? 1 : ya > yb ? -1 : 0;
}

/* The discovery error for a column nothing of which reached the threshold. */
static void
nothing_found(Relation rel, SynthColumn *col, bool text, double threshold,
			  const SynthDomainDiscovery *out)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("no %s of column \"%s\" of table \"%s\" could be found under differential privacy",
					text ? "value" : "bounds", col->name, RelationGetRelationName(rel)),
			 errdetail("With (%.3g, %.3g) of the budget for the domains of %d columns, a %s needs a noisy count of about %.0f rows to be released.",
					   out->epsilon, out->delta, out->ncolumns,
					   text ? "value" : "range of values", threshold),
			 errhint("Give its public %s with the option \"%s\", leave it out with \"exclude\", or raise \"epsilon\" or \"domain_share\".",
					 text ? "values" : "bounds", text ? "domains" : "bounds")));
}

/*
 * Discover the domains that opts lacks, under (epsilon, delta)-DP as above:
 * reads every row (but a holdout's) once.  Returns opts with the
 * discovered bounds and domains added (a new struct; opts is unchanged),
 * and what was spent in *out.  The caller has spent the budget.
 */
SynthPrivacyOptions *
synth_discover_domains(Relation rel, SynthModel *model, SynthColumn *cols, int ncols,
					   const int *sample_col, const SynthPrivacyOptions *opts,
					   double epsilon, double delta, SynthHoldout *holdout,
					   SynthDomainDiscovery *out)
{
	SynthPrivacyOptions *result = palloc(sizeof(SynthPrivacyOptions));
	DiscoverColumn *dcs = palloc0(sizeof(DiscoverColumn) * Max(model->natts, 1));
	int			ndc;
	int			nqueries = 0;
	int			ntext = 0;
	uint64		sn,
				sd;
	SynthNoise	noise;
	double		sigma;
	StringInfoData found;
	StringInfoData bounds_json;
	StringInfoData values_json;

	*result = *opts;
	result->bounds = list_copy(opts->bounds);
	result->domains = list_copy(opts->domains);
	memset(out, 0, sizeof(*out));
	ndc = plan_discovery(rel, model, cols, sample_col, opts, dcs);
	if (ndc == 0)
		return result;
	for (int k = 0; k < ndc; k++)
	{
		nqueries += 1 + (dcs[k].want_scale ? 1 : 0);
		ntext += dcs[k].kind == DISCOVER_TEXT ? 1 : 0;
	}
	out->ntext = ntext;

	/* the split, fixed before reading */
	out->ncolumns = ndc;
	out->nqueries = nqueries;
	out->epsilon = epsilon;
	out->delta = delta;
	out->delta_zcdp = delta / 2;
	out->delta_threshold = ntext > 0 ? delta / (2 * exp(epsilon)) : 0.0;
	out->rho = synth_zcdp_rho(epsilon, out->delta_zcdp);
	synth_noise_rational_up(Max(nqueries / (2 * out->rho), SYNTH_NOISE_MIN_SIGMA2), &sn, &sd);
	out->sigma2 = (double) sn / sd;
	if (out->sigma2 > SYNTH_NOISE_MAX_SIGMA2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too small to discover the domains of %d columns", epsilon, ndc),
				 errdetail("The noise would exceed the range of synth's samplers (a standard deviation of 2^24)."),
				 errhint("Give the columns public \"bounds\" and \"domains\", or raise \"epsilon\" or \"domain_share\".")));
	out->rho = nqueries * synth_gaussian_rho(1.0, out->sigma2);
	sigma = sqrt(out->sigma2);
	if (ntext > 0)
		out->text_threshold = 1.0 + sigma * sqrt(2.0 * log(ntext / out->delta_threshold));

	{
		/* one pass over every planned column, in the reader's order (the holdout hashes them all) */
		CountState	state = {cols, dcs, ndc, holdout};

		(void) synth_count_relation(RelationGetRelid(rel), cols, ncols, count_row, &state);
	}

	/* measure; everything below the noisy counts is post-processing */
	synth_noise_init(&noise);
	initStringInfo(&found);
	initStringInfo(&bounds_json);
	initStringInfo(&values_json);
	for (int k = 0; k < ndc; k++)
	{
		DiscoverColumn *dc = &dcs[k];
		SynthColumn *col = &cols[dc->col];

		if (dc->kind == DISCOVER_TEXT)
		{
			int			n = synth_dict_count(dc->dict);
			NoisyLabel *kept = palloc(sizeof(NoisyLabel) * Max(n, 1));
			int			nkept = 0;
			SynthDomainOption *d = palloc0(sizeof(SynthDomainOption));
			char	  **labels;

			for (int i = 0; i < n; i++)
			{
				int64		y = synth_dict_frequency(dc->dict, i) +
					synth_noise_discrete_gaussian(&noise, sn, sd);

				if ((double) y >= out->text_threshold)
				{
					kept[nkept].label = pstrdup(synth_dict_value(dc->dict, i));
					kept[nkept++].y = y;
				}
			}
			if (nkept == 0)
				nothing_found(rel, col, true, out->text_threshold, out);
			/* the most frequent, if too many; listed in label order */
			if (nkept > SYNTH_MAX_CATEGORIES)
			{
				qsort(kept, nkept, sizeof(NoisyLabel), cmp_noisy_desc);
				nkept = SYNTH_MAX_CATEGORIES;
			}
			labels = palloc(sizeof(char *) * nkept);
			for (int i = 0; i < nkept; i++)
				labels[i] = kept[i].label;
			qsort(labels, nkept, sizeof(char *), cmp_label);
			d->column = col->name;
			for (int i = 0; i < nkept; i++)
				d->values = lappend(d->values, labels[i]);
			result->domains = lappend(result->domains, d);
			out->nlabels += nkept;
			appendStringInfo(&found, "%s%s: %d values", found.len ? "; " : "",
							 quote_identifier(col->name), nkept);
			appendStringInfoString(&values_json, values_json.len ? ", " : "");
			escape_json(&values_json, col->name);
			appendStringInfo(&values_json, ": %d", nkept);
		}
		else
		{
			int64	   *y = palloc(sizeof(int64) * dc->ncells);
			SynthBoundsOption *b = palloc0(sizeof(SynthBoundsOption));
			double		threshold;
			bool		ok;

			for (int c = 0; c < dc->ncells; c++)
				y[c] = dc->counts[c] + synth_noise_discrete_gaussian(&noise, sn, sd);
			b->column = col->name;
			b->discovered = true;
			b->scale = -1;
			if (dc->kind == DISCOVER_TIME)
				ok = time_bounds(rel, col, y, sigma, &b->lower_value, &b->upper_value, &threshold);
			else
				ok = number_bounds(dc, col, y, sigma, &b->lower_value, &b->upper_value, &threshold);
			if (!ok)
				nothing_found(rel, col, false, threshold, out);
			if (dc->want_scale)
			{
				double		scale_threshold = grid_threshold_sigmas(SCALE_MAX + 1) * sigma;

				b->scale = 0;
				for (int sc = 0; sc <= SCALE_MAX; sc++)
					if ((double) (dc->scale_counts[sc] +
								  synth_noise_discrete_gaussian(&noise, sn, sd)) >= scale_threshold)
						b->scale = sc;
			}
			result->bounds = lappend(result->bounds, b);
			appendStringInfo(&found, "%s%s: [%.15g, %.15g]", found.len ? "; " : "",
							 quote_identifier(col->name), b->lower_value, b->upper_value);
			appendStringInfoString(&bounds_json, bounds_json.len ? ", " : "");
			escape_json(&bounds_json, col->name);
			appendStringInfo(&bounds_json, ": [%.17g, %.17g]", b->lower_value, b->upper_value);
			if (b->scale >= 0)
				appendStringInfo(&found, " scale %d", b->scale);
		}
	}
	out->found = found.data;
	out->found_json = psprintf("\"bounds\": {%s}, \"labels_per_column\": {%s}",
							   bounds_json.data, values_json.data);
	ereport(NOTICE,
			(errmsg("the domains of %d columns of table \"%s\" were discovered under differential privacy",
					ndc, RelationGetRelationName(rel)),
			 errdetail("They cost (%.3g, %.3g) of the training's budget: %s.", out->epsilon, out->delta,
					   found.data),
			 errhint("Public \"bounds\" and \"domains\" options cost nothing and leave the whole budget to the model.")));
	return result;
}

/* The ledger's entry for a discovery. */
void
synth_discovery_json(StringInfo buf, const SynthDomainDiscovery *d)
{
	appendStringInfo(buf, "{\"mechanism\": \"discrete_gaussian\", \"measures\": \"domains: grid histograms of %d number, date or time columns "
					 "and thresholded counts of the values of %d text columns\", "
					 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g, "
					 "\"delta_zcdp\": %.17g, \"delta_threshold\": %.17g, \"text_threshold\": %.17g, "
					 "\"labels_released\": %d, \"epsilon\": %.17g, \"delta\": %.17g, %s}",
					 d->ncolumns - d->ntext, d->ntext, d->nqueries, d->sigma2, d->rho,
					 d->delta_zcdp, d->delta_threshold, d->text_threshold, d->nlabels,
					 d->epsilon, d->delta, d->found_json);
}
