/*-------------------------------------------------------------------------
 *
 * transform.c
 *	  Per-column encoders: fitted on a table's sample, they map a value to a
 *	  uniform score (for the copula) and a uniform score back to a Datum of
 *	  the column's own type.
 *
 * Continuous columns keep an empirical quantile function (knots at the
 * (i + 0.5) / K quantiles, so the raw minimum and maximum of a large table are
 * never emitted); categorical columns keep the categories seen at least k
 * times; near-unique text keeps only masked shapes of its values ("Aaaa 99"),
 * never a value.  A categorical NULL takes the bottom of the uniform scale and
 * a continuous column's NULLs have their own copula dimension, so the copula
 * also learns how NULLs go with other columns.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define SYNTH_MAX_SHAPE_LEN		200
#define SYNTH_TEXT_KEY_WIDTH	7	/* base-36 digits that make text keys unique */

const char *
synth_kind_name(SynthColumnKind kind)
{
	switch (kind)
	{
		case SYNTH_KIND_CONTINUOUS:
			return "continuous";
		case SYNTH_KIND_CATEGORICAL:
			return "categorical";
		case SYNTH_KIND_FREETEXT:
			return "free_text";
		case SYNTH_KIND_KEY:
			return "key";
	}
	return "unknown";
}

const char *
synth_vtype_name(SynthValueType vtype)
{
	static const char *const names[] = {"int", "float", "numeric", "date", "timestamp",
	"bool", "text", "enum", "uuid", "interval", "time", "opaque"};

	return names[vtype];
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Mask a value into its shape: ASCII letters become 'a' or 'A', digits '9',
 * other characters (any non-ASCII character as 'a') stay punctuation.
 */
static char *
mask_shape(const char *value)
{
	int			len = Min((int) strlen(value), SYNTH_MAX_SHAPE_LEN);
	char	   *shape = palloc(len + 1);
	int			o = 0;

	for (int i = 0; i < len;)
	{
		unsigned char c = (unsigned char) value[i];

		if (c >= 0x80)
		{
			shape[o++] = 'a';
			i += Max(pg_mblen(value + i), 1);
			continue;
		}
		if (c >= 'a' && c <= 'z')
			shape[o++] = 'a';
		else if (c >= 'A' && c <= 'Z')
			shape[o++] = 'A';
		else if (c >= '0' && c <= '9')
			shape[o++] = '9';
		else
			shape[o++] = (char) c;
		i++;
	}
	shape[o] = '\0';
	return shape;
}

/* Keep up to SYNTH_MAX_SHAPES masked shapes spread over the dictionary. */
static void
fit_shapes(SynthEncoder *enc, SynthColumn *col)
{
	int			n = synth_dict_count(col->dict);
	int			keep = Min(n, SYNTH_MAX_SHAPES);

	enc->nshapes = keep;
	enc->shapes = palloc(sizeof(char *) * Max(keep, 1));
	for (int i = 0; i < keep; i++)
		enc->shapes[i] = mask_shape(synth_dict_value(col->dict, (int) ((int64) i * n / keep)));
}

typedef struct CategoryCount
{
	int			index;
	int64		count;
	const char *value;
} CategoryCount;

static int
cmp_category(const void *a, const void *b)
{
	const CategoryCount *x = a;
	const CategoryCount *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->value, y->value);
}

/* The labels of an enum type, in their sort order: public schema knowledge. */
List *
synth_enum_labels(Oid enumtypid)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtypid));
	int			n = list->n_members;
	float4	   *orders = palloc(sizeof(float4) * Max(n, 1));
	char	  **labels = palloc(sizeof(char *) * Max(n, 1));
	List	   *result = NIL;

	for (int i = 0; i < n; i++)
	{
		Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&list->members[i]->tuple);

		orders[i] = e->enumsortorder;
		labels[i] = pstrdup(NameStr(e->enumlabel));
	}
	ReleaseSysCacheList(list);
	/* insertion sort by sort order: enums are short */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && orders[j - 1] > orders[j]; j--)
		{
			float4		t = orders[j];
			char	   *l = labels[j];

			orders[j] = orders[j - 1];
			labels[j] = labels[j - 1];
			orders[j - 1] = t;
			labels[j - 1] = l;
		}
	for (int i = 0; i < n; i++)
		result = lappend(result, labels[i]);
	return result;
}

static void
fit_categorical(SynthEncoder *enc, SynthColumn *col, int rare_k)
{
	int			n = synth_dict_count(col->dict);
	int64		total = col->nnull + col->nnonnull;
	CategoryCount *counts = palloc(sizeof(CategoryCount) * Max(n, 1));
	int64		emitted_rows = 0;
	int			kept = 0;
	double		cum;

	/* booleans identify nobody: no rare-category suppression */
	if (col->vtype == SYNTH_VT_BOOL)
		rare_k = 1;

	for (int i = 0; i < n; i++)
	{
		counts[i].index = i;
		counts[i].count = synth_dict_frequency(col->dict, i);
		counts[i].value = synth_dict_value(col->dict, i);
	}
	qsort(counts, n, sizeof(CategoryCount), cmp_category);
	while (kept < n && counts[kept].count >= rare_k)
		emitted_rows += counts[kept++].count;

	if (kept == 0 && col->nnonnull > 0 && col->vtype == SYNTH_VT_ENUM)
	{
		/* every label is rare: draw uniformly from the type's declared labels */
		List	   *labels = synth_enum_labels(col->basetypid);
		ListCell   *lc;
		int			i = 0;

		enc->ncats = list_length(labels);
		enc->cats = palloc(sizeof(char *) * Max(enc->ncats, 1));
		enc->cat_cum = palloc(sizeof(double) * Max(enc->ncats, 1));
		foreach(lc, labels)
		{
			enc->cats[i] = lfirst(lc);
			enc->cat_cum[i] = enc->null_rate + (1.0 - enc->null_rate) * (i + 1) / enc->ncats;
			i++;
		}
		enc->rare_share = 0.0;
		return;
	}

	enc->ncats = kept;
	enc->cats = palloc(sizeof(char *) * Max(kept, 1));
	enc->cat_cum = palloc(sizeof(double) * Max(kept, 1));
	cum = enc->null_rate;
	for (int i = 0; i < kept; i++)
	{
		enc->cats[i] = pstrdup(counts[i].value);
		cum += (double) counts[i].count / (double) total;
		enc->cat_cum[i] = cum;
	}
	enc->rare_share = total > 0 ? (double) (col->nnonnull - emitted_rows) / (double) total : 0.0;
}

/*
 * The quantile function of a continuous column: K knots at the (i + 0.5)/K
 * quantiles, each then held between the rare_k-th and the (rare_k + 1)-th
 * smallest value and likewise at the top, so that no value is generated
 * beyond one that at least rare_k rows reach (the extremes' counterpart of
 * rare categories; with few values the knots are the values themselves and
 * only this cap holds the extremes back).  A column with fewer than
 * 2 rare_k + 1 values collapses towards its median.
 */
static void
fit_continuous(SynthEncoder *enc, SynthColumn *col, SynthSample *sample, int colidx,
			   int rare_k)
{
	const double *values = sample->values + (int64) colidx * sample->capacity;
	double	   *sorted = palloc(sizeof(double) * Max(sample->nrows, 1));
	int64		m = 0;
	int			k;

	for (int64 r = 0; r < sample->nrows; r++)
		if (!isnan(values[r]))
			sorted[m++] = values[r];
	qsort(sorted, m, sizeof(double), cmp_double);

	k = (int) Min((int64) SYNTH_QUANTILE_KNOTS, m);
	enc->nknots = k;
	enc->knots = palloc(sizeof(double) * Max(k, 1));
	for (int i = 0; i < k; i++)
	{
		double		pos = ((i + 0.5) / k) * m - 0.5;
		int64		lo = (int64) floor(pos);
		double		frac = pos - lo;

		if (lo < 0)
			enc->knots[i] = sorted[0];
		else if (lo >= m - 1)
			enc->knots[i] = sorted[m - 1];
		else
			enc->knots[i] = sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
	}
	if (m > 0)
	{
		int64		c = Min((int64) Max(rare_k, 1) - 1, (m - 1) / 2);
		double		floor_value = sorted[c],
					ceiling_value = sorted[m - 1 - c];
		int			nlow = 0,
					nhigh = 0;

		/*
		 * The ends are midway to the next value inwards, so that no real
		 * value is an end, which generation reaches with probability 1/2K
		 * (exact copies of near-extreme rows, in correlated columns).  At
		 * rare_k 1 the cap is off: the ends are the minimum and maximum.
		 */
		if (c > 0 && c + 1 < m - 1 - c)
		{
			floor_value = (sorted[c] + sorted[c + 1]) / 2;
			ceiling_value = (sorted[m - 1 - c] + sorted[m - 2 - c]) / 2;
		}
		for (int i = 0; i < k; i++)
		{
			nlow += enc->knots[i] < floor_value;
			nhigh += enc->knots[i] > ceiling_value;
			enc->knots[i] = Min(Max(enc->knots[i], floor_value), ceiling_value);
		}

		/*
		 * The knots the cap moved would put a point mass on one real value
		 * (and so on near-extreme real rows, in correlated columns): spread
		 * them evenly from the cap to the first knot it left alone.  (Knots
		 * equal to the cap in the data itself, a real point mass, stay.)
		 */
		for (int i = 1; i < nlow && nlow < k; i++)
			enc->knots[i] = floor_value + (enc->knots[nlow] - floor_value) * i / nlow;
		for (int j = 1; j < nhigh && nhigh < k; j++)
			enc->knots[k - 1 - j] = ceiling_value -
				(ceiling_value - enc->knots[k - 1 - nhigh]) * j / nhigh;
	}

	if (col->vtype == SYNTH_VT_NUMERIC)
	{
		if (col->basetypmod >= (int32) VARHDRSZ)
			enc->scale = (int) (((col->basetypmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
		else
			enc->scale = Min(col->max_scale, 15);
		enc->scale = Max(enc->scale, 0);
	}
	pfree(sorted);
}

/*
 * Where fresh numeric keys start counting (the first is this plus one): the
 * power of ten just above the real largest key, so that no real key comes
 * out and the keys tell only how many digits the largest real key has.  A
 * type too narrow for that (the power of ten past half its range: an int2
 * key past 9,999, an int4 key past 999,999,999) counts on from the largest
 * key; so do date and timestamp keys.  Without keys, or with none above 0,
 * keys start at 1.
 */
static double
fresh_key_base(const SynthEncoder *enc, const SynthColumn *col)
{
	double		largest,
				base,
				limit;

	if (col->nnonnull == 0 || col->max_value < 1)
		return 0.0;
	largest = floor(col->max_value);
	if (enc->vtype == SYNTH_VT_DATE || enc->vtype == SYNTH_VT_TIMESTAMP)
		return largest;
	base = pow(10.0, ceil(log10(largest + 1)));
	limit = enc->basetypid == INT2OID ? PG_INT16_MAX :
		enc->basetypid == INT4OID ? (double) PG_INT32_MAX :
		enc->vtype == SYNTH_VT_INT ? 9.2e18 : 1e300;
	return base <= limit / 2 ? base : largest;
}

/*
 * Fit the encoder of one column from the reader's counts and sample.  May
 * turn a categorical column into free text (near-unique or too many values).
 */
void
synth_encoder_fit(SynthEncoder *enc, SynthColumn *col, SynthSample *sample,
				  int colidx, int rare_k)
{
	int64		total = col->nnull + col->nnonnull;

	enc->kind = col->kind;
	enc->vtype = col->vtype;
	enc->basetypid = col->basetypid;
	enc->basetypmod = col->basetypmod;
	enc->null_rate = total > 0 ? (double) col->nnull / (double) total : 0.0;
	enc->dim = -1;

	switch (col->kind)
	{
		case SYNTH_KIND_CONTINUOUS:
			fit_continuous(enc, col, sample, colidx, rare_k);
			if (enc->nknots == 0)
				enc->null_rate = 1.0;
			break;
		case SYNTH_KIND_CATEGORICAL:
		case SYNTH_KIND_FREETEXT:
			if (col->vtype == SYNTH_VT_TEXT &&
				(col->kind == SYNTH_KIND_FREETEXT || col->overflow ||
				 (col->nnonnull >= 2 &&
				  synth_dict_count(col->dict) > SYNTH_NEAR_UNIQUE_RATIO * col->nnonnull)))
			{
				enc->kind = SYNTH_KIND_FREETEXT;
				fit_shapes(enc, col);
				break;
			}
			fit_categorical(enc, col, rare_k);
			if (enc->ncats == 0 && col->nnonnull > 0 && col->vtype == SYNTH_VT_OPAQUE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("column \"%s\" of type %s has no value that occurs %d times or more",
								col->name, format_type_be(col->typid), rare_k),
						 errdetail("synth models a column of this type as categories of whole values and emits only values seen at least rare_category_k times."),
						 errhint("Leave it out with options => '{\"exclude\": [\"%s\"]}'; it is then generated as its default or NULL.",
								 col->name)));
			if (enc->ncats == 0 && col->nnonnull > 0)
			{
				/* every category is rare: text falls back to shapes */
				enc->kind = SYNTH_KIND_FREETEXT;
				fit_shapes(enc, col);
			}
			else if (enc->ncats == 0)
				enc->null_rate = 1.0;
			break;
		case SYNTH_KIND_KEY:
			enc->null_rate = 0.0;
			enc->key_base = fresh_key_base(enc, col);
			if (col->vtype == SYNTH_VT_TEXT)
				fit_shapes(enc, col);
			break;
	}
}

/*
 * The uniform score of a sampled categorical value: NULL in [0, null_rate),
 * a category uniformly inside its segment, rare categories sharing the top
 * segment.  catmap maps a dictionary index to the emitted category's
 * position, or -1.  (Continuous values are scored by their rank in the
 * copula's fit.)
 */
double
synth_encoder_to_uniform(SynthEncoder *enc, double value, const int *catmap, SynthRng *rng)
{
	double		lo,
				hi;

	if (isnan(value))
		return enc->null_rate * synth_rng_uniform(rng);

	{
		int			pos = (value >= 0) ? catmap[(int) value] : -1;

		if (pos >= 0)
		{
			lo = pos == 0 ? enc->null_rate : enc->cat_cum[pos - 1];
			hi = enc->cat_cum[pos];
		}
		else
		{
			lo = enc->ncats > 0 ? enc->cat_cum[enc->ncats - 1] : enc->null_rate;
			hi = 1.0;
		}
		return lo + synth_rng_uniform(rng) * (hi - lo);
	}
}

/* Look up the type I/O the encoder needs to emit Datums; cache category Datums. */
void
synth_encoder_prepare_output(SynthEncoder *enc)
{
	enc->basetypmod = enc->typmod;
	enc->basetypid = getBaseTypeAndTypmod(enc->typid, &enc->basetypmod);
	getTypeInputInfo(enc->typid, &enc->typinput, &enc->typioparam);
	enc->domain_extra = NULL;
	enc->cat_datums = NULL;
	if (enc->kind == SYNTH_KIND_CATEGORICAL)
	{
		enc->cat_datums = palloc(sizeof(Datum) * Max(enc->ncats, 1));
		for (int i = 0; i < enc->ncats; i++)
			enc->cat_datums[i] = OidInputFunctionCall(enc->typinput, enc->cats[i],
													  enc->typioparam, enc->typmod);
	}
}

/* A continuous value of the column's base type from a double. */
static Datum
continuous_datum(SynthEncoder *enc, double x)
{
	switch (enc->vtype)
	{
		case SYNTH_VT_INT:
			x = rint(x);
			switch (enc->basetypid)
			{
				case INT2OID:
					return Int16GetDatum((int16) Max(Min(x, PG_INT16_MAX), PG_INT16_MIN));
				case INT4OID:
					return Int32GetDatum((int32) Max(Min(x, PG_INT32_MAX), PG_INT32_MIN));
				default:
					if (x >= 9.2233720368547758e18)
						return Int64GetDatum(PG_INT64_MAX);
					if (x <= -9.2233720368547758e18)
						return Int64GetDatum(PG_INT64_MIN);
					return Int64GetDatum((int64) x);
			}
		case SYNTH_VT_FLOAT:
			if (enc->basetypid == FLOAT4OID)
				return Float4GetDatum((float4) x);
			return Float8GetDatum(x);
		case SYNTH_VT_NUMERIC:
			{
				double		scaled = rint(x * pow(10.0, enc->scale));

				if (fabs(scaled) < 9.0e15)
					return NumericGetDatum(int64_div_fast_to_numeric((int64) scaled, enc->scale));
				return DirectFunctionCall2(numeric_round,
										   DirectFunctionCall1(float8_numeric, Float8GetDatum(x)),
										   Int32GetDatum(enc->scale));
			}
		case SYNTH_VT_DATE:
			return DateADTGetDatum((DateADT) rint(x));
		case SYNTH_VT_TIMESTAMP:
			return TimestampGetDatum((Timestamp) rint(x));
		case SYNTH_VT_INTERVAL:
			{
				/* whole days and months, as justify_interval writes them */
				Interval   *span = palloc(sizeof(Interval));
				int64		usecs = (int64) rint(x);
				int64		days = usecs / USECS_PER_DAY;

				span->time = usecs - days * USECS_PER_DAY;
				span->month = (int32) (days / DAYS_PER_MONTH);
				span->day = (int32) (days % DAYS_PER_MONTH);
				return IntervalPGetDatum(span);
			}
		case SYNTH_VT_TIME:
			return TimeADTGetDatum((TimeADT) Min(Max(rint(x), 0.0), (double) USECS_PER_DAY));
		default:
			elog(ERROR, "synth: value type %s is not continuous", synth_vtype_name(enc->vtype));
	}
	return (Datum) 0;
}

/* The inverse of the empirical quantile function at p in (0, 1). */
static double
quantile(const SynthEncoder *enc, double p)
{
	double		t = p * enc->nknots - 0.5;
	int			i;

	if (t <= 0.0)
		return enc->knots[0];
	if (t >= enc->nknots - 1)
		return enc->knots[enc->nknots - 1];
	i = (int) t;
	return enc->knots[i] + (t - i) * (enc->knots[i + 1] - enc->knots[i]);
}

/*
 * A bounded encoder (differential privacy: public bounds, no quantiles of
 * the data) maps u linearly onto [lower, upper]; whole-number types keep
 * their bounds as lower + 1/2 and upper - 1/2 and are rounded inside them.
 */
static double
bounded_value(const SynthEncoder *enc, double u)
{
	double		x = enc->lower + u * (enc->upper - enc->lower);

	if (enc->vtype == SYNTH_VT_INT || enc->vtype == SYNTH_VT_DATE ||
		enc->vtype == SYNTH_VT_TIMESTAMP)
		return Min(Max(rint(x), enc->lower + 0.5), enc->upper - 0.5);
	return Min(Max(x, enc->lower), enc->upper);
}

static int
find_category(const SynthEncoder *enc, double u)
{
	int			lo = 0,
				hi = enc->ncats;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (enc->cat_cum[mid] <= u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A Datum of the column's type from a uniform score u.  A continuous
 * column's NULLs are decided by its NULL indicator before this is called.
 */
Datum
synth_encoder_decode(SynthEncoder *enc, double u, SynthRng *rng, bool *isnull)
{
	*isnull = false;
	if (enc->kind == SYNTH_KIND_CONTINUOUS && enc->bounded)
		return continuous_datum(enc, bounded_value(enc, u));
	if (enc->kind == SYNTH_KIND_CONTINUOUS)
		return continuous_datum(enc, quantile(enc, u));

	if (u < enc->null_rate)
	{
		*isnull = true;
		return (Datum) 0;
	}

	/* categorical */
	{
		int			i = find_category(enc, u);

		if (i >= enc->ncats)
		{
			/* a rare category's score: one of the emitted ones, by frequency */
			double		top = enc->cat_cum[enc->ncats - 1];

			i = find_category(enc, enc->null_rate + synth_rng_uniform(rng) * (top - enc->null_rate));
			i = Min(i, enc->ncats - 1);
		}
		return enc->cat_datums[i];
	}
}

/* Fill a shape with random characters of each class. */
static void
fill_shape(char *out, const char *shape, int len, SynthRng *rng)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const char digits[] = "0123456789";

	for (int i = 0; i < len; i++)
	{
		switch (shape[i])
		{
			case 'a':
				out[i] = lower[synth_rng_below(rng, 26)];
				break;
			case 'A':
				out[i] = upper[synth_rng_below(rng, 26)];
				break;
			case '9':
				out[i] = digits[synth_rng_below(rng, 10)];
				break;
			default:
				out[i] = shape[i];
		}
	}
	out[len] = '\0';
}

static Datum
text_datum(SynthEncoder *enc, const char *s)
{
	if (enc->basetypid == TEXTOID || enc->basetypid == VARCHAROID)
		return PointerGetDatum(cstring_to_text(s));
	return OidInputFunctionCall(enc->typinput, (char *) s, enc->typioparam, enc->typmod);
}

/* A free-text value: a random filling of one of the column's shapes. */
Datum
synth_encoder_freetext(SynthEncoder *enc, SynthRng *rng)
{
	const char *shape = enc->nshapes > 0 ? enc->shapes[synth_rng_below(rng, enc->nshapes)] : "aaaaaaaa";
	int			len = strlen(shape);
	char	   *buf = palloc(len + 1);

	fill_shape(buf, shape, len, rng);
	return text_datum(enc, buf);
}

/*
 * The index-th fresh key (index from 1): numbers count up from the power of
 * ten above the real table's largest key (fresh_key_base), uuids are random (version 4), text keys are random
 * fillings of a shape whose last characters spell the index in base 36.
 */
Datum
synth_encoder_key(SynthEncoder *enc, int64 index, SynthRng *rng)
{
	switch (enc->vtype)
	{
		case SYNTH_VT_INT:
			{
				double		v = enc->key_base + (double) index;
				double		limit = enc->basetypid == INT2OID ? PG_INT16_MAX :
					enc->basetypid == INT4OID ? (double) PG_INT32_MAX : 9.2e18;

				if (v > limit)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("fresh keys for column \"%s\" are out of range of its type", enc->name),
							 errhint("Generate fewer rows, or widen the column's type.")));
				return continuous_datum(enc, v);
			}
		case SYNTH_VT_FLOAT:
		case SYNTH_VT_NUMERIC:
		case SYNTH_VT_DATE:
		case SYNTH_VT_TIMESTAMP:
			return continuous_datum(enc, enc->key_base + (double) index);
		case SYNTH_VT_UUID:
			{
				pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

				for (int i = 0; i < UUID_LEN; i += 8)
				{
					uint64		r = synth_rng_next(rng);

					memcpy(uuid->data + i, &r, 8);
				}
				uuid->data[6] = (uuid->data[6] & 0x0f) | 0x40;
				uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80;
				return UUIDPGetDatum(uuid);
			}
		case SYNTH_VT_TEXT:
			{
				static const char base36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
				const char *shape = enc->nshapes > 0 ?
				enc->shapes[synth_rng_below(rng, enc->nshapes)] : "";
				int			len = Max((int) strlen(shape), SYNTH_TEXT_KEY_WIDTH);
				char	   *buf = palloc(len + 1);
				uint64		v = (uint64) index;

				memset(buf, 'a', len);
				fill_shape(buf, shape, strlen(shape), rng);
				for (int i = 0; i < SYNTH_TEXT_KEY_WIDTH; i++)
				{
					buf[len - 1 - i] = base36[v % 36];
					v /= 36;
				}
				buf[len] = '\0';
				return text_datum(enc, buf);
			}
		default:
			elog(ERROR, "synth: column \"%s\" cannot hold generated keys", enc->name);
	}
	return (Datum) 0;
}

/*
 * The interval of uniform scores [*lo, *hi] that a continuous encoder maps to
 * x: one point where its quantile function is strictly increasing, a segment
 * where many knots share the value (a point mass, like a zero income).
 * Conditioning draws inside it.
 */
void
synth_encoder_continuous_interval(const SynthEncoder *enc, double x, double *lo, double *hi)
{
	int			k = enc->nknots;
	int			first = 0,
				last;

	if (enc->bounded)
	{
		/* the scores that round to x (whole numbers) or map to it */
		bool		whole = enc->vtype == SYNTH_VT_INT || enc->vtype == SYNTH_VT_DATE ||
			enc->vtype == SYNTH_VT_TIMESTAMP;
		double		span = enc->upper - enc->lower;

		*lo = ((whole ? x - 0.5 : x) - enc->lower) / span;
		*hi = ((whole ? x + 0.5 : x) - enc->lower) / span;
		if (*hi < 0.0 || *lo > 1.0)
			*lo = *hi = (*hi < 0.0 ? 0.0 : 1.0);
		*lo = Max(*lo, 0.0);
		*hi = Min(*hi, 1.0);
		return;
	}
	if (k == 0)
	{
		*lo = 0.0;
		*hi = 1.0;
		return;
	}
	if (x <= enc->knots[0])
	{
		*lo = 0.0;
		*hi = 0.5 / k;
		if (x < enc->knots[0])
			*hi = *lo;
		return;
	}
	if (x >= enc->knots[k - 1])
	{
		*lo = (k - 0.5) / k;
		*hi = 1.0;
		if (x > enc->knots[k - 1])
			*lo = *hi;
		return;
	}
	/* knots[0] < x < knots[k - 1]: first, the first knot >= x (binary search) */
	{
		int			a = 1,
					b = k - 1;

		while (a < b)
		{
			int			mid = a + (b - a) / 2;

			if (enc->knots[mid] < x)
				a = mid + 1;
			else
				b = mid;
		}
		first = a;
	}
	/* last, the last knot <= x when knots[first] == x, else first */
	last = first;
	if (enc->knots[first] == x)
	{
		int			a = first,
					b = k - 1;

		while (a < b)
		{
			int			mid = a + (b - a + 1) / 2;

			if (enc->knots[mid] <= x)
				a = mid;
			else
				b = mid - 1;
		}
		last = a;
	}
	if (enc->knots[first] == x)
	{
		/* knots first..last equal x: the whole flat stretch */
		*lo = (first + 0.5) / k;
		*hi = (last + 0.5) / k;
		return;
	}
	/* x between knots first-1 and first: interpolate */
	{
		double		t = (first - 1) + (x - enc->knots[first - 1]) /
			(enc->knots[first] - enc->knots[first - 1]);

		*lo = *hi = (t + 0.5) / k;
	}
}

/* The position of a category given as text, or -1 when it is not emitted. */
int
synth_encoder_category_index(const SynthEncoder *enc, const char *label)
{
	for (int i = 0; i < enc->ncats; i++)
		if (strcmp(enc->cats[i], label) == 0)
			return i;
	return -1;
}

/* The interval of uniform scores of the index-th category (-1: NULL). */
void
synth_encoder_category_interval(const SynthEncoder *enc, int index, double *lo, double *hi)
{
	if (index < 0)
	{
		*lo = 0.0;
		*hi = enc->null_rate;
		return;
	}
	*lo = index == 0 ? enc->null_rate : enc->cat_cum[index - 1];
	*hi = enc->cat_cum[index];
}
