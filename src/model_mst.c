/*-------------------------------------------------------------------------
 *
 * model_mst.c
 *	  mst: a differentially private model of a table as a tree of 2-way
 *	  marginals (McKenna, Miklau, Sheldon, "Winning the NIST Contest: A
 *	  scalable and general approach to differentially private synthetic
 *	  data", 2021), measured with exact discrete Gaussian noise.
 *
 * Training:
 *
 * 1. Public domains.  Every modelled column becomes a discrete attribute
 *    whose cells are fixed before any row is read: a continuous column's
 *    equal-width bins over public bounds (the "bounds" option, else the
 *    table's or its domain's CHECK constraints; never the data's min/max),
 *    a categorical column's labels (bool, the enum's labels, or the
 *    "domains" option for text, plus one cell for values outside it), and a
 *    NULL cell for a nullable column.  Keys get fresh values and are not
 *    read at all.
 * 2. One pass over every row counts each 1-way and each 2-way marginal.
 * 3. The total privacy budget (epsilon, delta) becomes rho-zCDP, split in
 *    three: the d 1-way marginals measured with discrete Gaussian noise;
 *    d - 1 rounds of the exponential mechanism choosing the 2-way marginals
 *    that the independent model explains worst, each joining two parts of
 *    a growing spanning tree (Kruskal under privacy); the d - 1 chosen
 *    2-way marginals measured with discrete Gaussian noise.  Cells whose
 *    noisy 1-way count is below 3 sigma are merged first (as private-pgm's
 *    MST does), so rare cells do not drown in noise.
 * 4. Estimation: the tree-structured distribution whose marginals best fit
 *    every noisy measurement in weighted least squares, by entropic mirror
 *    descent on the tree's log-potentials with exact belief propagation
 *    (private-pgm's estimator, on a tree).  Its marginals are consistent
 *    and non-negative by construction.
 *
 * Everything after the noisy measurements is post-processing.  The ledger
 * records rho, its (epsilon, delta), and every mechanism's parameters.
 *
 * Generation samples the tree from the root to the leaves and turns each
 * cell into the uniform scores u that generate.c decodes, exactly as for
 * the copula: a bin becomes a uniform value inside the bin, a category its
 * label.  Conditions are met by rejection.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"
#include "privacy.h"
#include "quality.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#define MST_MAX_ITERATIONS		2000	/* mirror descent */
#define MST_LINE_SEARCH			30
#define MST_SCORE_GRID			1024	/* selection scores in units of 1/1024 row */
#define MST_PROB_FLOOR			1e-9	/* smallest share of a cell in an encoder */
#define MST_KEEP_SIGMAS			3.0		/* cells below 3 sigma are merged */
#define MST_SAMPLE_ATTEMPTS		1000	/* batches tried for a restricted batch */
#define MST_MAX_FINE			131072	/* fine cells of a continuous column: whole numbers to 1e5 */

/* One attribute (a modelled column) of the tree. */
typedef struct MstAttr
{
	int			enc;			/* encoder index */
	bool		continuous;
	int			ncells;			/* [NULL] + values or bins + [other] */
	int			null_cell;		/* -1: the column is NOT NULL */
	int			other_cell;		/* -1: no cell for values outside the domain */
	int			first_value;	/* cell of the first value or bin */
	int			nvalues;		/* categories or bins */

	/* continuous: bin b covers [lower + b width, min(lower + (b+1) width, upper)) */
	double		lower;
	double		upper;
	double		width;
	bool		whole;			/* whole numbers: bins of integers */

	/*
	 * continuous: a finer grid inside the bins (fine_per_bin cells of
	 * fine_width per bin), measured as a 1-way histogram; its cells whose
	 * noisy count clears the threshold are decoded as themselves (point
	 * masses like a zero income), the rest of a bin uniformly.
	 */
	double		fine_width;
	int			fine_per_bin;
	int			nfine;
	int			nkept;			/* kept fine cells, ordered by bin */
	int		   *kept;			/* their fine index */
	double	   *kept_weight;	/* their share of their bin (estimated rows) */
	int		   *bin_kept;		/* nvalues + 1: each bin's kept cells */
	double	   *bin_rest;		/* each bin's rows outside its kept cells */
	double	   *bin_cum;		/* generation: cumulative weights per bin, kept then rest */

	/* categorical: the labels, as the type's output writes them */
	char	  **labels;

	/* the compressed domain: full cell -> compressed cell */
	int			ncomp;
	int		   *comp;

	/* the tree: parent attribute (-1: root) and the table to sample from */
	int			parent;
	double	   *table;			/* root: ncomp; child: ncomp(parent) x ncomp, rows sum to 1 */

	/* generation, built when loaded */
	double	   *cum;			/* cumulative table, same shape */
	int		   *member_start;	/* ncomp + 1: full cells of each compressed cell */
	int		   *members;
} MstAttr;

typedef struct SynthMst
{
	int			nattrs;
	MstAttr    *attrs;
	int		   *order;			/* root first, every parent before its children */
	double		total;			/* estimated rows */
} SynthMst;

/* ---------------------------------------------------------------- options */

static const char *const privacy_option_names[] = {"epsilon", "delta", "bins", "bounds", "domains",
"max_grad_norm", "marginal_share", "domain_share", NULL};

bool
synth_privacy_option_name(const char *key)
{
	for (int i = 0; privacy_option_names[i]; i++)
		if (strcmp(key, privacy_option_names[i]) == 0)
			return true;
	return false;
}

static void
privacy_option_error(const char *key, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" %s", key, what),
			 errhint("%s", hint)));
}

static double
jsonb_number(JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* A scalar of a bounds pair as text: a number or a string. */
static char *
bound_text(JsonbValue *v, const char *column)
{
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	privacy_option_error("bounds", psprintf("gives column \"%s\" a bound that is neither a number nor a string", column),
						 "Write bounds as {\"age\": [0, 120], \"day\": [\"2020-01-01\", \"2020-12-31\"]}.");
	return NULL;
}

/* The elements of a jsonb array container. */
static List *
array_elements(JsonbContainer *container)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = v;
			result = lappend(result, copy);
		}
	return result;
}

/* Parse {"column": value, ...} into (name, value) pairs. */
static List *
object_members(JsonbValue *object, const char *key, const char *hint)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *result = NIL;
	char	   *name = NULL;

	if (object->type != jbvBinary || !JsonContainerIsObject(object->val.binary.data))
		privacy_option_error(key, "must be an object keyed by column name", hint);
	it = JsonbIteratorInit(object->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = v;
			result = lappend(result, list_make2(name, copy));
		}
	}
	return result;
}

/*
 * Read the privacy options of a training: epsilon, delta, bins, bounds and
 * domains (train.c has checked that options is an object and skips these
 * keys).
 */
void
synth_privacy_parse_options(Jsonb *options, SynthPrivacyOptions *opts)
{
	JsonbValue	v;
	ListCell   *lc;
	static const char *bounds_hint = "Write bounds as {\"age\": [0, 120]}: public lower and upper bounds of continuous columns.";
	static const char *domains_hint = "Write domains as {\"sex\": [\"female\", \"male\"]}: the public list of a text column's values.";

	memset(opts, 0, sizeof(*opts));
	opts->delta = -1.0;
	opts->domain_share = -1.0;
	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		return;

	if (getKeyJsonValueFromContainer(&options->root, "epsilon", 7, &v))
	{
		if (v.type != jbvNumeric || !(jsonb_number(&v) > 0) || isinf(jsonb_number(&v)))
			privacy_option_error("epsilon", "must be a positive number",
								 "Typical values lie between 0.1 and 10; smaller is more private.");
		opts->epsilon = jsonb_number(&v);
	}
	if (getKeyJsonValueFromContainer(&options->root, "delta", 5, &v))
	{
		if (v.type != jbvNumeric || !(jsonb_number(&v) > 0 && jsonb_number(&v) < 1))
			privacy_option_error("delta", "must be a number strictly between 0 and 1",
								 "Leave it out to spend the budget's share, or take e.g. 1e-7.");
		opts->delta = jsonb_number(&v);
	}
	if (getKeyJsonValueFromContainer(&options->root, "max_grad_norm", 13, &v))
	{
		if (v.type != jbvNumeric || !(jsonb_number(&v) > 0) || jsonb_number(&v) > 1e6)
			privacy_option_error("max_grad_norm", "must be a positive number",
								 "It bounds the L2 norm of each row's gradient in DP-SGD (default 1).");
		opts->max_grad_norm = jsonb_number(&v);
	}
	if (getKeyJsonValueFromContainer(&options->root, "marginal_share", 14, &v))
	{
		if (v.type != jbvNumeric || !(jsonb_number(&v) >= 0.01 && jsonb_number(&v) <= 0.5))
			privacy_option_error("marginal_share", "must be a number between 0.01 and 0.5",
								 "It is the share of the privacy budget (as zCDP rho) that the encoders' noisy 1-way marginals spend (default 0.1).");
		opts->marginal_share = jsonb_number(&v);
	}
	if (getKeyJsonValueFromContainer(&options->root, "domain_share", 12, &v))
	{
		if (v.type != jbvNumeric || !(jsonb_number(&v) >= 0 && jsonb_number(&v) <= 0.5))
			privacy_option_error("domain_share", "must be a number between 0 and 0.5",
								 "It is the share of epsilon and delta spent discovering the bounds and values of columns without public ones (default 0.3; 0: require public ones).");
		opts->domain_share = jsonb_number(&v);
	}
	if (getKeyJsonValueFromContainer(&options->root, "bins", 4, &v))
	{
		double		b = v.type == jbvNumeric ? jsonb_number(&v) : -1;

		if (b != floor(b) || b < 2 || b > SYNTH_MST_MAX_BINS)
			privacy_option_error("bins", psprintf("must be an integer between 2 and %d", SYNTH_MST_MAX_BINS),
								 "It is the number of equal-width bins of each continuous column (default 32).");
		opts->bins = (int) b;
	}
	if (getKeyJsonValueFromContainer(&options->root, "bounds", 6, &v))
	{
		foreach(lc, object_members(&v, "bounds", bounds_hint))
		{
			List	   *pair = lfirst(lc);
			char	   *column = linitial(pair);
			JsonbValue *value = lsecond(pair);
			List	   *ends;
			SynthBoundsOption *b;

			if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data) ||
				list_length(ends = array_elements(value->val.binary.data)) != 2)
				privacy_option_error("bounds", psprintf("must give column \"%s\" an array of two bounds", column),
									 bounds_hint);
			b = palloc0(sizeof(SynthBoundsOption));
			b->column = column;
			b->lower = bound_text(linitial(ends), column);
			b->upper = bound_text(lsecond(ends), column);
			opts->bounds = lappend(opts->bounds, b);
		}
	}
	if (getKeyJsonValueFromContainer(&options->root, "domains", 7, &v))
	{
		foreach(lc, object_members(&v, "domains", domains_hint))
		{
			List	   *pair = lfirst(lc);
			char	   *column = linitial(pair);
			JsonbValue *value = lsecond(pair);
			SynthDomainOption *d;
			ListCell   *lc2;
			ListCell   *lc3;

			if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data))
				privacy_option_error("domains", psprintf("must give column \"%s\" an array of values", column),
									 domains_hint);
			d = palloc0(sizeof(SynthDomainOption));
			d->column = column;
			foreach(lc2, array_elements(value->val.binary.data))
			{
				JsonbValue *e = lfirst(lc2);
				char	   *s;

				if (e->type != jbvString)
					privacy_option_error("domains", psprintf("must list the values of column \"%s\" as strings", column),
										 domains_hint);
				s = pnstrdup(e->val.string.val, e->val.string.len);
				foreach(lc3, d->values)
					if (strcmp((char *) lfirst(lc3), s) == 0)
						privacy_option_error("domains", psprintf("lists \"%s\" twice for column \"%s\"", s, column),
											 domains_hint);
				d->values = lappend(d->values, s);
			}
			if (d->values == NIL || list_length(d->values) > SYNTH_MAX_CATEGORIES)
				privacy_option_error("domains", psprintf("must list between 1 and %d values for column \"%s\"",
														 SYNTH_MAX_CATEGORIES, column), domains_hint);
			opts->domains = lappend(opts->domains, d);
		}
	}
}

/* ---------------------------------------------------------------- public domains */

/* A continuous value of a base type as a double (dates in days, timestamps in microseconds). */
double
synth_continuous_value(Datum value, Oid basetypid, SynthValueType vtype)
{
	switch (basetypid)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		default:
			return synth_datum_to_double(value, vtype, NULL);
	}
}

static bool
is_whole(SynthValueType vtype)
{
	return vtype == SYNTH_VT_INT || vtype == SYNTH_VT_DATE || vtype == SYNTH_VT_TIMESTAMP;
}

/* The smallest step of a continuous type: 1 for whole numbers, 10^-scale for numeric. */
static double
type_step(SynthValueType vtype, int scale)
{
	if (is_whole(vtype))
		return 1.0;
	if (vtype == SYNTH_VT_NUMERIC)
		return pow(10.0, -scale);
	return 0.0;
}

/* Strip casts and relabelings around an expression. */
static Node *
strip_casts(Node *node)
{
	for (;;)
	{
		if (node && IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (node && IsA(node, FuncExpr) &&
				 ((FuncExpr *) node)->funcformat == COERCE_IMPLICIT_CAST &&
				 list_length(((FuncExpr *) node)->args) == 1)
			node = linitial(((FuncExpr *) node)->args);
		else
			return node;
	}
}

typedef struct BoundsFound
{
	bool		have_lower;
	bool		have_upper;
	double		lower;
	double		upper;
	bool		strict_lower;
	bool		strict_upper;
	int			scale;			/* numeric constants: largest scale */
} BoundsFound;

/*
 * Take the bounds that one CHECK expression sets on the column: top-level
 * AND terms "column op constant" (or "constant op column") with op one of
 * < <= > >=; is_column tells the column's node (a Var of the table, or the
 * domain's VALUE).
 */
static void
bounds_from_check(Node *expr, bool (*is_column) (Node *, void *), void *arg, BoundsFound *found)
{
	ListCell   *lc;

	foreach(lc, make_ands_implicit((Expr *) expr))
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *left,
				   *right;
		Const	   *c;
		char	   *opname;
		bool		column_left;
		bool		supported;
		SynthValueType vtype;
		double		x;
		bool		lower,
					strict;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		left = strip_casts(linitial(op->args));
		right = strip_casts(lsecond(op->args));
		if (is_column(left, arg) && IsA(right, Const))
		{
			column_left = true;
			c = (Const *) right;
		}
		else if (is_column(right, arg) && IsA(left, Const))
		{
			column_left = false;
			c = (Const *) left;
		}
		else
			continue;
		if (c->constisnull)
			continue;
		opname = get_opname(op->opno);
		if (opname == NULL)
			continue;
		if (strcmp(opname, ">") == 0 || strcmp(opname, ">=") == 0)
			lower = column_left;
		else if (strcmp(opname, "<") == 0 || strcmp(opname, "<=") == 0)
			lower = !column_left;
		else
			continue;
		strict = opname[1] == '\0';
		vtype = synth_value_type(getBaseType(c->consttype), &supported);
		if (!supported || !(vtype == SYNTH_VT_INT || vtype == SYNTH_VT_FLOAT ||
							vtype == SYNTH_VT_NUMERIC || vtype == SYNTH_VT_DATE ||
							vtype == SYNTH_VT_TIMESTAMP))
			continue;
		x = synth_continuous_value(c->constvalue, getBaseType(c->consttype), vtype);
		if (vtype == SYNTH_VT_NUMERIC)
			found->scale = Max(found->scale,
							   DatumGetInt32(DirectFunctionCall1(numeric_scale, c->constvalue)));
		if (lower && (!found->have_lower || x > found->lower ||
					  (x == found->lower && strict)))
		{
			found->have_lower = true;
			found->lower = x;
			found->strict_lower = strict;
		}
		else if (!lower && (!found->have_upper || x < found->upper ||
							(x == found->upper && strict)))
		{
			found->have_upper = true;
			found->upper = x;
			found->strict_upper = strict;
		}
	}
}

static bool
is_table_column(Node *node, void *arg)
{
	return node && IsA(node, Var) && ((Var *) node)->varattno == *(AttrNumber *) arg;
}

static bool
is_domain_value(Node *node, void *arg)
{
	return node && IsA(node, CoerceToDomainValue);
}

/* The bounds the table's and the column's domain's CHECK constraints set. */
static void
constraint_bounds(Relation rel, SynthColumn *col, BoundsFound *found)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	AttrNumber	attnum = col->attnum;

	if (constr)
		for (int i = 0; i < constr->num_check; i++)
			bounds_from_check(stringToNode(constr->check[i].ccbin), is_table_column, &attnum, found);
	if (col->typid != col->basetypid)
	{
		/* palloc'd: it registers a reset callback on the memory context */
		DomainConstraintRef *ref = palloc0(sizeof(DomainConstraintRef));
		ListCell   *lc;

		InitDomainConstraintRef(col->typid, ref, CurrentMemoryContext, false);
		foreach(lc, ref->constraints)
		{
			DomainConstraintState *con = lfirst(lc);

			if (con->constrainttype == DOM_CONSTRAINT_CHECK)
				bounds_from_check((Node *) con->check_expr, is_domain_value, NULL, found);
		}
	}
}

static SynthBoundsOption *
find_bounds_option(const SynthPrivacyOptions *opts, const char *column)
{
	ListCell   *lc;

	foreach(lc, opts->bounds)
		if (strcmp(((SynthBoundsOption *) lfirst(lc))->column, column) == 0)
			return lfirst(lc);
	return NULL;
}

static SynthDomainOption *
find_domain_option(const SynthPrivacyOptions *opts, const char *column)
{
	ListCell   *lc;

	foreach(lc, opts->domains)
		if (strcmp(((SynthDomainOption *) lfirst(lc))->column, column) == 0)
			return lfirst(lc);
	return NULL;
}

/* A bound given as text, read by the column's type. */
static double
bound_value(SynthColumn *col, const char *text, int *scale)
{
	Oid			typinput,
				typioparam;
	Datum		d;

	getTypeInputInfo(col->basetypid, &typinput, &typioparam);
	d = OidInputFunctionCall(typinput, (char *) text, typioparam, col->basetypmod);
	if (col->vtype == SYNTH_VT_NUMERIC)
		*scale = Max(*scale, DatumGetInt32(DirectFunctionCall1(numeric_scale, d)));
	return synth_continuous_value(d, col->basetypid, col->vtype);
}

/*
 * The public bounds and bins of a continuous column: from the "bounds"
 * option, else from CHECK constraints; never from the data.
 */
static void
plan_continuous(MstAttr *attr, SynthEncoder *enc, SynthColumn *col, Relation rel,
				const SynthPrivacyOptions *opts, int bins)
{
	SynthBoundsOption *given = find_bounds_option(opts, col->name);
	BoundsFound found;
	double		lo,
				hi,
				step;
	const char *source;

	memset(&found, 0, sizeof(found));
	if (given && given->discovered)
	{
		found.have_lower = found.have_upper = true;
		found.lower = given->lower_value;
		found.upper = given->upper_value;
		found.scale = Max(given->scale, 0);
		source = "discovery under differential privacy";
	}
	else if (given)
	{
		found.have_lower = found.have_upper = true;
		found.lower = bound_value(col, given->lower, &found.scale);
		found.upper = bound_value(col, given->upper, &found.scale);
		source = "option bounds";
	}
	else
	{
		constraint_bounds(rel, col, &found);
		source = "CHECK constraints";
	}
	if (!found.have_lower || !found.have_upper)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" has no public bounds", col->name),
				 errdetail("Under differential privacy a continuous column is cut into bins over bounds that do not come from the data, and %s.",
						   found.have_lower || found.have_upper ? "its CHECK constraints bound it on one side only" :
						   "no CHECK constraint bounds it"),
				 errhint("Give them with the option \"bounds\", e.g. '{\"epsilon\": 1, \"bounds\": {\"%s\": [0, 100]}}', leave the column out with \"exclude\", or let a share of epsilon discover them (\"domain_share\" above 0).",
						 col->name)));

	/* numeric: the typmod's scale, else the bounds' */
	if (col->vtype == SYNTH_VT_NUMERIC)
	{
		if (col->basetypmod >= (int32) VARHDRSZ)
			enc->scale = Max((int) ((((col->basetypmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024), 0);
		else
			enc->scale = Min(found.scale, 15);
	}
	step = type_step(col->vtype, enc->scale);
	lo = found.lower + (found.strict_lower ? step : 0.0);
	hi = found.upper - (found.strict_upper ? step : 0.0);
	if (found.strict_lower && step == 0.0)
		lo = nextafter(lo, HUGE_VAL);
	if (found.strict_upper && step == 0.0)
		hi = nextafter(hi, -HUGE_VAL);
	if (is_whole(col->vtype))
	{
		lo = ceil(lo);
		hi = floor(hi);
	}
	if (!(lo <= hi) || isinf(lo) || isinf(hi) || (!is_whole(col->vtype) && lo == hi))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the bounds of column \"%s\" from %s are empty: [%g, %g]", col->name, source, lo, hi),
				 errhint("Give a lower bound below the upper bound.")));

	attr->continuous = true;
	attr->whole = is_whole(col->vtype);
	if (attr->whole)
	{
		/*
		 * fine cells of fw whole numbers (1 up to MST_MAX_FINE values), bins
		 * of w numbers, a multiple of fw; the last bin may hold fewer
		 */
		double		count = hi - lo + 1;
		double		fw = ceil(count / MST_MAX_FINE);
		double		w = fw * ceil(ceil(count / bins) / fw);

		attr->lower = lo - 0.5;
		attr->upper = hi + 0.5;
		attr->width = w;
		attr->nvalues = (int) ceil(count / w);
		attr->fine_width = fw;
		attr->fine_per_bin = (int) (w / fw);
		attr->nfine = (int) ceil(count / fw);
	}
	else
	{
		attr->lower = lo;
		attr->upper = hi;
		attr->width = (hi - lo) / bins;
		attr->nvalues = bins;
		attr->fine_per_bin = Max(MST_MAX_FINE / bins, 1);
		attr->fine_width = attr->width / attr->fine_per_bin;
		attr->nfine = bins * attr->fine_per_bin;
	}
	enc->bounded = true;
	enc->lower = attr->lower;
	enc->upper = attr->upper;
	enc->nknots = 2;
	enc->knots = palloc(sizeof(double) * 2);
	enc->knots[0] = attr->lower;
	enc->knots[1] = attr->upper;
}

/* The public labels of a categorical column: bool, the enum's, or the "domains" option. */
static void
plan_categorical(MstAttr *attr, SynthEncoder *enc, SynthColumn *col, const SynthPrivacyOptions *opts)
{
	SynthDomainOption *given = find_domain_option(opts, col->name);
	List	   *labels = NIL;
	ListCell   *lc;
	int			i = 0;

	if (col->vtype == SYNTH_VT_BOOL)
		labels = list_make2(pstrdup("f"), pstrdup("t"));
	else if (col->vtype == SYNTH_VT_ENUM)
		labels = synth_enum_labels(col->basetypid);
	else if (given)
	{
		labels = given->values;
		attr->other_cell = 0;	/* set below */
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" has no public list of values", col->name),
				 errdetail("Under differential privacy the categories of a text column must not come from the data."),
				 errhint("Give them with the option \"domains\", e.g. '{\"epsilon\": 1, \"domains\": {\"%s\": [\"a\", \"b\"]}}', leave the column out with \"exclude\", or let a share of epsilon discover them (\"domain_share\" above 0).",
						 col->name)));
	if (labels == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" has a type with no values", col->name),
				 errhint("Leave the column out with \"exclude\".")));
	attr->nvalues = list_length(labels);
	attr->labels = palloc(sizeof(char *) * attr->nvalues);
	foreach(lc, labels)
		attr->labels[i++] = lfirst(lc);
	enc->ncats = attr->nvalues;
	enc->cats = palloc(sizeof(char *) * attr->nvalues);
	enc->cat_cum = palloc0(sizeof(double) * attr->nvalues);
	for (i = 0; i < attr->nvalues; i++)
		enc->cats[i] = pstrdup(attr->labels[i]);
}

static void validate_domain_options(SynthModel *model, SynthColumn *cols, const int *sample_col,
									Relation rel, const SynthPrivacyOptions *opts);

/* What a modelled column lacks for a public domain, if anything. */
SynthMissingDomain
synth_missing_domain(Relation rel, SynthColumn *col, const SynthPrivacyOptions *opts)
{
	if (col->kind == SYNTH_KIND_CONTINUOUS)
	{
		BoundsFound found;

		if (find_bounds_option(opts, col->name))
			return SYNTH_MISSING_NONE;
		memset(&found, 0, sizeof(found));
		constraint_bounds(rel, col, &found);
		return found.have_lower && found.have_upper ? SYNTH_MISSING_NONE : SYNTH_MISSING_BOUNDS;
	}
	if (col->kind == SYNTH_KIND_CATEGORICAL && col->vtype == SYNTH_VT_TEXT &&
		find_domain_option(opts, col->name) == NULL)
		return SYNTH_MISSING_LABELS;
	return SYNTH_MISSING_NONE;
}

/* How many modelled columns lack a public domain. */
int
synth_missing_domains(Relation rel, SynthModel *model, SynthColumn *cols, const int *sample_col,
					  const SynthPrivacyOptions *opts)
{
	int			missing = 0;

	validate_domain_options(model, cols, sample_col, rel, opts);
	for (int i = 0; i < model->natts; i++)
		if (sample_col[i] >= 0 &&
			synth_missing_domain(rel, &cols[sample_col[i]], opts) != SYNTH_MISSING_NONE)
			missing++;
	return missing;
}

/* The share of the budget for discovering domains (option "domain_share"). */
double
synth_domain_share(const SynthPrivacyOptions *opts)
{
	return opts->domain_share >= 0 ? opts->domain_share : SYNTH_DEFAULT_DOMAIN_SHARE;
}

/*
 * With "domain_share": 0, several columns without a public domain are named
 * in one error, with the options to fill in (one such column gets its own
 * error, below).
 */
static void
check_public_domains(SynthModel *model, SynthColumn *cols, const int *sample_col,
					 Relation rel, const SynthPrivacyOptions *opts)
{
	StringInfoData names,
				bounds,
				domains;
	int			missing = 0;

	initStringInfo(&names);
	initStringInfo(&bounds);
	initStringInfo(&domains);
	for (int i = 0; i < model->natts; i++)
	{
		SynthColumn *col;

		if (sample_col[i] < 0)
			continue;
		col = &cols[sample_col[i]];
		switch (synth_missing_domain(rel, col, opts))
		{
			case SYNTH_MISSING_NONE:
				continue;
			case SYNTH_MISSING_BOUNDS:
				appendStringInfo(&bounds, "%s\"%s\": %s", bounds.len ? ", " : "", col->name,
								 col->vtype == SYNTH_VT_DATE || col->vtype == SYNTH_VT_TIMESTAMP ?
								 "[\"2000-01-01\", \"2030-12-31\"]" : "[0, 100]");
				break;
			case SYNTH_MISSING_LABELS:
				appendStringInfo(&domains, "%s\"%s\": [\"a\", \"b\"]", domains.len ? ", " : "",
								 col->name);
				break;
		}
		appendStringInfo(&names, "%s%s", missing ? ", " : "", col->name);
		missing++;
	}
	if (missing >= 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d columns of table \"%s\" have no public domain: %s",
						missing, RelationGetRelationName(rel), names.data),
				 errdetail("Under differential privacy a number, date or time column is cut into bins over bounds that do not come from the data (the option \"bounds\", or CHECK constraints on both sides), and a text column's categories are a public list (the option \"domains\")."),
				 errhint("Give them, e.g. '{\"epsilon\": 1%s%s%s%s%s}' with the real public limits and values, leave columns out with \"exclude\", or let a share of epsilon discover them (\"domain_share\" above 0).",
						 bounds.len ? ", \"bounds\": {" : "", bounds.data, bounds.len ? "}" : "",
						 domains.len ? ", \"domains\": {" : "",
						 domains.len ? psprintf("%s}", domains.data) : "")));
}

/* Ensure the options "bounds" and "domains" name modelled columns of the right kind. */
static void
validate_domain_options(SynthModel *model, SynthColumn *cols, const int *sample_col, Relation rel,
						const SynthPrivacyOptions *opts)
{
	ListCell   *lc;

	foreach(lc, opts->bounds)
	{
		SynthBoundsOption *b = lfirst(lc);
		bool		ok = false;

		for (int i = 0; i < model->natts; i++)
			if (sample_col[i] >= 0 && strcmp(model->encoders[i].name, b->column) == 0)
				ok = cols[sample_col[i]].kind == SYNTH_KIND_CONTINUOUS;
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"bounds\" names \"%s\", which is not a modelled continuous column of table \"%s\"",
							b->column, RelationGetRelationName(rel)),
					 errhint("Bounds apply to number, date and timestamp columns that are modelled.")));
	}
	foreach(lc, opts->domains)
	{
		SynthDomainOption *d = lfirst(lc);
		bool		ok = false;

		for (int i = 0; i < model->natts; i++)
			if (sample_col[i] >= 0 && strcmp(model->encoders[i].name, d->column) == 0)
				ok = cols[sample_col[i]].kind == SYNTH_KIND_CATEGORICAL &&
					cols[sample_col[i]].vtype == SYNTH_VT_TEXT;
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"domains\" names \"%s\", which is not a modelled text column of table \"%s\"",
							d->column, RelationGetRelationName(rel)),
					 errhint("Domains apply to text columns; bool and enum columns have public values already.")));
	}

}

/*
 * Plan the attributes: one per modelled continuous or categorical column,
 * its cells fixed from public knowledge only.  Keys get fresh values from 1
 * (the real largest key is not public).  Returns the copula-style dimension
 * count and fills each encoder's dims.
 */
static int
plan_attributes(SynthMst *mst, SynthModel *model, SynthColumn *cols, const int *sample_col,
				Relation rel, const SynthPrivacyOptions *opts)
{
	int			bins = opts->bins > 0 ? opts->bins : SYNTH_MST_DEFAULT_BINS;
	int			dim = 0;

	validate_domain_options(model, cols, sample_col, rel, opts);
	check_public_domains(model, cols, sample_col, rel, opts);

	mst->attrs = palloc0(sizeof(MstAttr) * Max(model->natts, 1));
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *enc = &model->encoders[i];
		SynthColumn *col;
		MstAttr    *attr;

		enc->dim = -1;
		enc->null_dim = -1;
		if (sample_col[i] < 0)
			continue;
		col = &cols[sample_col[i]];
		enc->kind = col->kind;
		enc->vtype = col->vtype;
		enc->basetypid = col->basetypid;
		enc->basetypmod = col->basetypmod;
		enc->null_rate = 0.0;
		if (col->kind == SYNTH_KIND_KEY)
		{
			enc->key_base = 0.0;
			enc->nshapes = 0;
			continue;
		}
		attr = &mst->attrs[mst->nattrs++];
		attr->enc = i;
		attr->parent = -1;
		attr->other_cell = -1;
		if (col->kind == SYNTH_KIND_CONTINUOUS)
			plan_continuous(attr, enc, col, rel, opts, bins);
		else
			plan_categorical(attr, enc, col, opts);

		/* cells: [NULL] + values + [other] */
		attr->null_cell = col->notnull ? -1 : 0;
		attr->first_value = col->notnull ? 0 : 1;
		attr->ncells = attr->first_value + attr->nvalues;
		if (attr->other_cell >= 0)
			attr->other_cell = attr->ncells++;

		enc->dim = dim++;
		if (attr->continuous && !col->notnull)
			enc->null_dim = dim++;
	}
	return dim;
}

/*
 * The public domain of every modelled column, planned as for mst (bounds
 * from the options or CHECK constraints, labels of bool, enum or the
 * "domains" option; never the data), for the other private methods:
 * indexed by encoder, planned false for keys and columns not modelled.
 * Sets the encoders' kinds and types as plan_attributes does.
 */
SynthPublicDomain *
synth_public_domains(Relation rel, SynthModel *model, SynthColumn *cols, const int *sample_col,
					 const SynthPrivacyOptions *opts)
{
	SynthMst	mst;
	SynthPublicDomain *domains = palloc0(sizeof(SynthPublicDomain) * Max(model->natts, 1));

	memset(&mst, 0, sizeof(mst));
	(void) plan_attributes(&mst, model, cols, sample_col, rel, opts);
	for (int a = 0; a < mst.nattrs; a++)
	{
		MstAttr    *attr = &mst.attrs[a];
		SynthPublicDomain *dom = &domains[attr->enc];
		SynthColumn *col = &cols[sample_col[attr->enc]];

		dom->planned = true;
		dom->continuous = attr->continuous;
		dom->whole = attr->whole;
		dom->nullable = attr->null_cell >= 0;
		dom->lower = attr->lower;
		dom->upper = attr->upper;
		dom->width = attr->width;
		dom->nbins = attr->continuous ? attr->nvalues : 0;
		dom->fine_width = attr->fine_width;
		dom->fine_per_bin = attr->fine_per_bin;
		dom->nfine = attr->nfine;
		dom->nlabels = attr->continuous ? 0 : attr->nvalues;
		dom->labels = attr->labels;
		dom->has_other = attr->other_cell >= 0;
		dom->trim = col->basetypid == BPCHAROID;
	}
	return domains;
}

/* ---------------------------------------------------------------- counting */

typedef struct MstCounts
{
	int64	  **one;			/* per attribute: ncells */
	int64	  **two;			/* per pair a < b: ncells(a) x ncells(b) */
	int64	  **fine;			/* per continuous attribute: nfine */
} MstCounts;

static inline int
pair_index(int d, int a, int b)
{
	return a * d - a * (a + 1) / 2 + (b - a - 1);
}

/* A label and its cell, sorted by label for lookups. */
typedef struct LabelCell
{
	char	   *label;
	int			cell;
} LabelCell;

static int
cmp_label_cell(const void *a, const void *b)
{
	return strcmp(((const LabelCell *) a)->label, ((const LabelCell *) b)->label);
}

/* Per categorical attribute: its labels sorted, with their cells, for lookups. */
typedef struct LabelIndex
{
	char	  **sorted;
	int		   *cell;
	int			n;
	Oid			typoutput;
	bool		trim;			/* char(n): compare without trailing blanks */
} LabelIndex;

static int
label_cell(MstAttr *attr, LabelIndex *index, const char *value)
{
	int			lo = 0,
				hi = index->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(index->sorted[mid], value);

		if (c == 0)
			return index->cell[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	/* outside the domain: the "other" cell, else NULL's, else the first value */
	if (attr->other_cell >= 0)
		return attr->other_cell;
	return attr->null_cell >= 0 ? attr->null_cell : attr->first_value;
}

static char *
rtrim_copy(const char *s)
{
	int			len = strlen(s);

	while (len > 0 && s[len - 1] == ' ')
		len--;
	return pnstrdup(s, len);
}

/*
 * The cell of one value of an attribute (NULL included); *fine receives a
 * continuous value's fine cell (-1 for NULL).  Values outside the bounds are
 * clamped into the first or last cell.
 */
static int
cell_of(MstAttr *attr, LabelIndex *index, SynthColumn *col, Datum value, bool isnull, int *fine)
{
	*fine = -1;
	if (isnull)
		return attr->null_cell >= 0 ? attr->null_cell : attr->first_value;
	if (attr->continuous)
	{
		double		x = synth_continuous_value(value, col->basetypid, col->vtype);
		int			j;

		if (isnan(x))
			return attr->null_cell >= 0 ? attr->null_cell : attr->first_value;
		if (x <= attr->lower)
			j = 0;
		else if (x >= attr->upper)
			j = attr->nfine - 1;
		else
			j = Min((int) floor((x - attr->lower) / attr->fine_width), attr->nfine - 1);
		*fine = j;
		return attr->first_value + Min(j / attr->fine_per_bin, attr->nvalues - 1);
	}
	else
	{
		char	   *s = OidOutputFunctionCall(index->typoutput, value);

		if (index->trim)
			s = rtrim_copy(s);
		return label_cell(attr, index, s);
	}
}

/*
 * One pass over every row: each attribute's 1-way counts and every pair's
 * 2-way counts.  Memory is the tables', bounded by synth.train_memory; the
 * rows themselves are not kept.  Returns the number of rows read (private:
 * it is never stored).
 */
static int64
count_marginals(SynthMst *mst, Relation rel, SynthModel *model, SynthColumn *cols, int ncols,
				const int *sample_col, SynthHoldout *holdout, MstCounts *counts)
{
	int			d = mst->nattrs;
	LabelIndex *index = palloc0(sizeof(LabelIndex) * Max(d, 1));
	StringInfoData query;
	Size		cells = 0;
	MemoryContext batchcxt;
	SPIPlanPtr	plan;
	Portal		portal;
	int		   *cell = palloc(sizeof(int) * Max(d, 1));
	int64		rows = 0;

	for (int a = 0; a < d; a++)
	{
		cells += mst->attrs[a].continuous ? mst->attrs[a].nfine : 0;
		for (int b = a + 1; b < d; b++)
			cells += (Size) mst->attrs[a].ncells * mst->attrs[b].ncells;
	}
	if (cells * sizeof(int64) > (Size) synth_train_memory_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the marginals of table \"%s\" need %zu MB, more than synth.train_memory",
						RelationGetRelationName(rel), cells * sizeof(int64) / (1024 * 1024)),
				 errhint("Use fewer bins (option \"bins\"), fewer or smaller domains, leave columns out, or raise synth.train_memory.")));

	counts->one = palloc(sizeof(int64 *) * Max(d, 1));
	counts->two = palloc(sizeof(int64 *) * Max(d * (d - 1) / 2, 1));
	counts->fine = palloc0(sizeof(int64 *) * Max(d, 1));
	for (int a = 0; a < d; a++)
	{
		counts->one[a] = palloc0(sizeof(int64) * mst->attrs[a].ncells);
		if (mst->attrs[a].continuous)
			counts->fine[a] = palloc0(sizeof(int64) * mst->attrs[a].nfine);
		for (int b = a + 1; b < d; b++)
			counts->two[pair_index(d, a, b)] =
				MemoryContextAllocExtended(CurrentMemoryContext,
										   sizeof(int64) * mst->attrs[a].ncells * mst->attrs[b].ncells,
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	}

	/* every planned column, in the reader's order (the holdout hashes them all) */
	initStringInfo(&query);
	appendStringInfoString(&query, "SELECT ");
	for (int c = 0; c < ncols; c++)
		appendStringInfo(&query, "%s%s", c > 0 ? ", " : "", quote_identifier(cols[c].name));
	for (int a = 0; a < d; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		SynthColumn *col = &cols[sample_col[attr->enc]];

		if (!attr->continuous)
		{
			bool		varlena;

			LabelCell  *pairs = palloc(sizeof(LabelCell) * attr->nvalues);

			index[a].n = attr->nvalues;
			index[a].sorted = palloc(sizeof(char *) * attr->nvalues);
			index[a].cell = palloc(sizeof(int) * attr->nvalues);
			index[a].trim = col->basetypid == BPCHAROID;
			getTypeOutputInfo(col->typid, &index[a].typoutput, &varlena);
			for (int i = 0; i < attr->nvalues; i++)
			{
				pairs[i].label = index[a].trim ? rtrim_copy(attr->labels[i]) : attr->labels[i];
				pairs[i].cell = attr->first_value + i;
			}
			qsort(pairs, attr->nvalues, sizeof(LabelCell), cmp_label_cell);
			for (int i = 0; i < attr->nvalues; i++)
			{
				index[a].sorted[i] = pairs[i].label;
				index[a].cell[i] = pairs[i].cell;
			}
			pfree(pairs);
		}
	}
	if (ncols == 0)
		appendStringInfoString(&query, "NULL");
	appendStringInfo(&query, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));

	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "synth mst batch", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "synth: SPI_connect failed");
	plan = SPI_prepare(query.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "synth: could not prepare \"%s\": %s", query.data, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, synth_read_batch_rows);
		if (SPI_processed == 0)
			break;
		oldcxt = MemoryContextSwitchTo(batchcxt);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[r];

			/* a held-out row is not read at all (the split is a hash of the row's own values) */
			if (holdout && !synth_holdout_filter(holdout, tuple, SPI_tuptable->tupdesc))
				continue;
			for (int a = 0; a < d; a++)
			{
				bool		isnull;
				Datum		v = heap_getattr(tuple, sample_col[mst->attrs[a].enc] + 1,
											 SPI_tuptable->tupdesc, &isnull);
				int			fine;

				cell[a] = cell_of(&mst->attrs[a], &index[a], &cols[sample_col[mst->attrs[a].enc]],
								  v, isnull, &fine);
				counts->one[a][cell[a]]++;
				if (fine >= 0)
					counts->fine[a][fine]++;
			}
			for (int a = 0; a < d; a++)
			{
				int			nb;

				for (int b = a + 1; b < d; b++)
				{
					nb = mst->attrs[b].ncells;
					counts->two[pair_index(d, a, b)][cell[a] * nb + cell[b]]++;
				}
			}
			rows++;
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(batchcxt);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(batchcxt);
	return rows;
}

/* ---------------------------------------------------------------- measurements */

/* A noisy marginal over an attribute's compressed cells, with each cell's noise variance. */
typedef struct Measure1
{
	double	   *y;
	double	   *var;
} Measure1;

/* Euclidean projection of v (n) onto the probability simplex, in place. */
static void
project_simplex(double *v, int n)
{
	double	   *s = palloc(sizeof(double) * n);
	double		cum = 0,
				theta = 0;

	memcpy(s, v, sizeof(double) * n);
	/* sort descending (insertion sort: domains are small) */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && s[j - 1] < s[j]; j--)
		{
			double		t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
	{
		cum += s[i];
		if (s[i] - (cum - 1.0) / (i + 1) > 0)
			theta = (cum - 1.0) / (i + 1);
	}
	for (int i = 0; i < n; i++)
		v[i] = Max(v[i] - theta, 0.0);
	pfree(s);
}

/* Add discrete Gaussian noise of variance sn / sd to integer counts. */
static double *
noisy_counts(SynthNoise *noise, const int64 *counts, int n, uint64 sn, uint64 sd)
{
	double	   *y = palloc(sizeof(double) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		y[i] = (double) (counts[i] + synth_noise_discrete_gaussian(noise, sn, sd));
	}
	return y;
}

/*
 * The noisy count a cell must reach to count as present: MST_KEEP_SIGMAS
 * sigma (private-pgm's rule), more for large domains, so that among n empty
 * cells one clears it with probability 5 % at most.
 */
static double
keep_threshold(int ncells, double sigma2)
{
	return Max(MST_KEEP_SIGMAS, -synth_norm_quantile(0.05 / ncells)) * sqrt(sigma2);
}

/*
 * Merge the cells whose noisy count is below the threshold into one
 * compressed cell (post-processing of the noisy 1-way marginal); the merged
 * cell's measurement is the sum of theirs, of variance m sigma^2.
 */
static void
compress_attribute(MstAttr *attr, const double *y, double sigma2, Measure1 *m)
{
	double		threshold = keep_threshold(attr->ncells, sigma2);
	int			kept = 0;
	int			merged = 0;

	attr->comp = palloc(sizeof(int) * attr->ncells);
	for (int c = 0; c < attr->ncells; c++)
		if (y[c] >= threshold)
			kept++;
	attr->ncomp = kept + (kept < attr->ncells ? 1 : 0);
	m->y = palloc0(sizeof(double) * attr->ncomp);
	m->var = palloc0(sizeof(double) * attr->ncomp);
	kept = 0;
	for (int c = 0; c < attr->ncells; c++)
	{
		if (y[c] >= threshold)
		{
			attr->comp[c] = kept;
			m->y[kept] = y[c];
			m->var[kept] = sigma2;
			kept++;
		}
		else
		{
			attr->comp[c] = attr->ncomp - 1;
			merged++;
		}
	}
	if (merged > 0)
	{
		for (int c = 0; c < attr->ncells; c++)
			if (attr->comp[c] == attr->ncomp - 1 && y[c] < threshold)
				m->y[attr->ncomp - 1] += y[c];
		m->var[attr->ncomp - 1] = merged * sigma2;
	}
}

/* Exact 2-way counts of a pair over the compressed cells. */
static double *
compressed_pair(const MstAttr *a, const MstAttr *b, const int64 *full)
{
	double	   *x = palloc0(sizeof(double) * a->ncomp * b->ncomp);

	for (int i = 0; i < a->ncells; i++)
		for (int j = 0; j < b->ncells; j++)
			x[a->comp[i] * b->ncomp + b->comp[j]] += (double) full[i * b->ncells + j];
	return x;
}

static int
uf_find(int *parent, int x)
{
	while (parent[x] != x)
		x = parent[x] = parent[parent[x]];
	return x;
}

/*
 * Private Kruskal: d - 1 rounds of the exponential mechanism, each choosing
 * among the pairs that join two components the one whose exact 2-way counts
 * are farthest (L1) from the independent model of the noisy 1-way
 * marginals.  The model's cells are rounded to 1/MST_SCORE_GRID before the
 * distance is taken, so scores are exact integers in that unit and one row
 * changes a score by at most MST_SCORE_GRID: the sensitivity.
 */
static void
select_tree(SynthNoise *noise, SynthMst *mst, double **pair_x, double **phat, double total,
			uint64 eps_num, uint64 eps_den, int *edge_a, int *edge_b)
{
	int			d = mst->nattrs;
	int			npairs = d * (d - 1) / 2;
	int64	   *score = palloc(sizeof(int64) * npairs);
	int		   *pa = palloc(sizeof(int) * npairs);
	int		   *pb = palloc(sizeof(int) * npairs);
	int64	   *cand_score = palloc(sizeof(int64) * npairs);
	int		   *cand = palloc(sizeof(int) * npairs);
	int		   *uf = palloc(sizeof(int) * d);

	for (int a = 0; a < d; a++)
	{
		uf[a] = a;
		for (int b = a + 1; b < d; b++)
		{
			int			p = pair_index(d, a, b);
			MstAttr    *A = &mst->attrs[a];
			MstAttr    *B = &mst->attrs[b];
			int64		s = 0;

			for (int i = 0; i < A->ncomp; i++)
				for (int j = 0; j < B->ncomp; j++)
				{
					int64		xhat = (int64) llround(MST_SCORE_GRID * total * phat[a][i] * phat[b][j]);
					int64		x = (int64) pair_x[p][i * B->ncomp + j] * MST_SCORE_GRID;

					s += x > xhat ? x - xhat : xhat - x;
				}
			score[p] = s;
			pa[p] = a;
			pb[p] = b;
		}
	}
	for (int round = 0; round < d - 1; round++)
	{
		int			m = 0;
		int			chosen;

		CHECK_FOR_INTERRUPTS();
		for (int p = 0; p < npairs; p++)
			if (uf_find(uf, pa[p]) != uf_find(uf, pb[p]))
			{
				cand[m] = p;
				cand_score[m] = score[p];
				m++;
			}
		chosen = cand[synth_noise_exponential(noise, cand_score, m, eps_num, eps_den, MST_SCORE_GRID)];
		edge_a[round] = pa[chosen];
		edge_b[round] = pb[chosen];
		uf[uf_find(uf, pa[chosen])] = uf_find(uf, pb[chosen]);
	}
}

/* ---------------------------------------------------------------- estimation */

/*
 * The tree and its measurements, for mirror descent.  Edge e joins ea[e]
 * and eb[e]; its tables are ncomp(ea) x ncomp(eb), row-major.  The tree is
 * rooted at attribute 0; order lists the attributes root first.
 */
typedef struct MstFit
{
	SynthMst   *mst;
	int			d;
	int			nedges;
	int		   *ea;
	int		   *eb;
	double	  **y2;				/* noisy 2-way counts per edge */
	double		var2;			/* their noise variance */
	Measure1   *m1;				/* noisy 1-way counts per attribute */
	int		   *node_edge;		/* the edge whose table carries the attribute's measurement */
	double		total;

	int		   *order;
	int		   *parent;
	int		   *pedge;			/* edge to the parent */

	/* belief propagation scratch */
	double	  **msg;			/* per non-root node: message to its parent, over the parent's cells */
	double	  **up;				/* per node: sum of messages from its children */
	double	  **full;			/* per node: log-belief */
} MstFit;

static inline double
theta_at(const MstFit *fit, const double *t, int e, int p, int xp, int xv)
{
	int			nb = fit->mst->attrs[fit->eb[e]].ncomp;

	return fit->ea[e] == p ? t[xp * nb + xv] : t[xv * nb + xp];
}

static double
log_sum_exp(const double *v, int n)
{
	double		m = -INFINITY,
				s = 0;

	for (int i = 0; i < n; i++)
		m = Max(m, v[i]);
	if (m == -INFINITY)
		return m;
	for (int i = 0; i < n; i++)
		s += exp(v[i] - m);
	return m + log(s);
}

/*
 * Exact marginals of the tree model with log-potentials theta, scaled to
 * the total: edge tables mu[e] and attribute marginals mu1[a].
 */
static void
belief_propagation(MstFit *fit, double **theta, double **mu, double **mu1)
{
	SynthMst   *mst = fit->mst;
	int			d = fit->d;
	double		log_z;
	double	   *scratch;
	int			maxc = 1;

	for (int a = 0; a < d; a++)
		maxc = Max(maxc, mst->attrs[a].ncomp);
	scratch = palloc(sizeof(double) * maxc);
	for (int a = 0; a < d; a++)
		memset(fit->up[a], 0, sizeof(double) * mst->attrs[a].ncomp);

	/* leaves to root */
	for (int k = d - 1; k > 0; k--)
	{
		int			v = fit->order[k];
		int			p = fit->parent[v];
		int			e = fit->pedge[v];
		int			np = mst->attrs[p].ncomp;
		int			nv = mst->attrs[v].ncomp;

		for (int xp = 0; xp < np; xp++)
		{
			for (int xv = 0; xv < nv; xv++)
				scratch[xv] = theta_at(fit, theta[e], e, p, xp, xv) + fit->up[v][xv];
			fit->msg[v][xp] = log_sum_exp(scratch, nv);
			fit->up[p][xp] += fit->msg[v][xp];
		}
	}
	memcpy(fit->full[fit->order[0]], fit->up[fit->order[0]], sizeof(double) * mst->attrs[fit->order[0]].ncomp);
	log_z = log_sum_exp(fit->full[fit->order[0]], mst->attrs[fit->order[0]].ncomp);

	/* root to leaves: each node's full belief */
	for (int k = 1; k < d; k++)
	{
		int			v = fit->order[k];
		int			p = fit->parent[v];
		int			e = fit->pedge[v];
		int			np = mst->attrs[p].ncomp;
		int			nv = mst->attrs[v].ncomp;

		for (int xv = 0; xv < nv; xv++)
		{
			for (int xp = 0; xp < np; xp++)
				scratch[xp] = theta_at(fit, theta[e], e, p, xp, xv) + fit->full[p][xp] - fit->msg[v][xp];
			fit->full[v][xv] = fit->up[v][xv] + log_sum_exp(scratch, np);
		}
	}

	/* edge and attribute marginals */
	for (int k = 1; k < d; k++)
	{
		int			v = fit->order[k];
		int			p = fit->parent[v];
		int			e = fit->pedge[v];
		int			np = mst->attrs[p].ncomp;
		int			nv = mst->attrs[v].ncomp;
		int			nb = mst->attrs[fit->eb[e]].ncomp;

		for (int xp = 0; xp < np; xp++)
			for (int xv = 0; xv < nv; xv++)
			{
				double		l = theta_at(fit, theta[e], e, p, xp, xv) + fit->full[p][xp] -
					fit->msg[v][xp] + fit->up[v][xv] - log_z;
				int			cell = fit->ea[e] == p ? xp * nb + xv : xv * nb + xp;

				mu[e][cell] = fit->total * exp(l);
			}
	}
	for (int a = 0; a < d; a++)
		for (int x = 0; x < mst->attrs[a].ncomp; x++)
			mu1[a][x] = fit->total * exp(fit->full[a][x] - log_z);
	pfree(scratch);
}

/* The weighted least-squares loss of marginals mu, and its gradient per edge table. */
static double
marginal_loss(MstFit *fit, double **mu, double **mu1, double **grad)
{
	SynthMst   *mst = fit->mst;
	double		loss = 0;

	for (int e = 0; e < fit->nedges; e++)
	{
		int			na = mst->attrs[fit->ea[e]].ncomp;
		int			nb = mst->attrs[fit->eb[e]].ncomp;

		for (int i = 0; i < na * nb; i++)
		{
			double		diff = mu[e][i] - fit->y2[e][i];

			loss += 0.5 * diff * diff / fit->var2;
			grad[e][i] = diff / fit->var2;
		}
	}
	for (int a = 0; a < fit->d; a++)
	{
		int			e = fit->node_edge[a];
		int			na = mst->attrs[fit->ea[e]].ncomp;
		int			nb = mst->attrs[fit->eb[e]].ncomp;

		for (int x = 0; x < mst->attrs[a].ncomp; x++)
		{
			double		diff = mu1[a][x] - fit->m1[a].y[x];
			double		g = diff / fit->m1[a].var[x];

			loss += 0.5 * diff * diff / fit->m1[a].var[x];
			if (fit->ea[e] == a)
				for (int j = 0; j < nb; j++)
					grad[e][x * nb + j] += g;
			else
				for (int i = 0; i < na; i++)
					grad[e][i * nb + x] += g;
		}
	}
	return loss;
}

static double **
alloc_tables(MstFit *fit)
{
	double	  **t = palloc(sizeof(double *) * Max(fit->nedges, 1));

	for (int e = 0; e < fit->nedges; e++)
		t[e] = palloc0(sizeof(double) * fit->mst->attrs[fit->ea[e]].ncomp *
					   fit->mst->attrs[fit->eb[e]].ncomp);
	return t;
}

static double **
alloc_nodes(MstFit *fit)
{
	double	  **t = palloc(sizeof(double *) * Max(fit->d, 1));

	for (int a = 0; a < fit->d; a++)
		t[a] = palloc0(sizeof(double) * fit->mst->attrs[a].ncomp);
	return t;
}

static void
copy_tables(MstFit *fit, double **dst, double **src)
{
	for (int e = 0; e < fit->nedges; e++)
		memcpy(dst[e], src[e], sizeof(double) * fit->mst->attrs[fit->ea[e]].ncomp *
			   fit->mst->attrs[fit->eb[e]].ncomp);
}

static void
copy_nodes(MstFit *fit, double **dst, double **src)
{
	for (int a = 0; a < fit->d; a++)
		memcpy(dst[a], src[a], sizeof(double) * fit->mst->attrs[a].ncomp);
}

/*
 * Entropic mirror descent on the edge log-potentials, with Armijo line
 * search (private-pgm's estimator): each step moves theta against the
 * gradient of the loss in the marginals; the step doubles after a success
 * and halves until the loss decreases enough.  Leaves the edge marginals
 * in mu and the attribute marginals in mu1.  Returns the iterations run.
 */
static int
mirror_descent(MstFit *fit, double **mu, double **mu1, double *final_loss)
{
	double	  **theta = alloc_tables(fit);
	double	  **theta0 = alloc_tables(fit);
	double	  **grad = alloc_tables(fit);
	double	  **grad0 = alloc_tables(fit);
	double	  **mu0 = alloc_tables(fit);
	double	  **mu10 = alloc_nodes(fit);
	double		min_var = fit->var2;
	double		alpha;
	double		loss;
	int			t;
	int			stalled = 0;

	for (int a = 0; a < fit->d; a++)
		for (int x = 0; x < fit->mst->attrs[a].ncomp; x++)
			min_var = Min(min_var, fit->m1[a].var[x]);
	alpha = min_var / (fit->total * fit->total);

	belief_propagation(fit, theta, mu, mu1);
	loss = marginal_loss(fit, mu, mu1, grad);
	for (t = 1; t <= MST_MAX_ITERATIONS; t++)
	{
		double		loss0 = loss;

		CHECK_FOR_INTERRUPTS();
		copy_tables(fit, theta0, theta);
		copy_tables(fit, grad0, grad);
		copy_tables(fit, mu0, mu);
		copy_nodes(fit, mu10, mu1);
		alpha *= 2;
		for (int ls = 0; ls < MST_LINE_SEARCH; ls++)
		{
			double		decrease = 0;

			for (int e = 0; e < fit->nedges; e++)
			{
				int			n = fit->mst->attrs[fit->ea[e]].ncomp * fit->mst->attrs[fit->eb[e]].ncomp;

				for (int i = 0; i < n; i++)
					theta[e][i] = theta0[e][i] - alpha * grad0[e][i];
			}
			belief_propagation(fit, theta, mu, mu1);
			loss = marginal_loss(fit, mu, mu1, grad);
			for (int e = 0; e < fit->nedges; e++)
			{
				int			n = fit->mst->attrs[fit->ea[e]].ncomp * fit->mst->attrs[fit->eb[e]].ncomp;

				for (int i = 0; i < n; i++)
					decrease += grad0[e][i] * (mu0[e][i] - mu[e][i]);
			}
			if (loss0 - loss >= 0.5 * alpha * decrease)
				break;
			alpha *= 0.5;
		}
		if (loss > loss0)
		{
			/* no step helped: keep the previous point */
			copy_tables(fit, theta, theta0);
			copy_tables(fit, mu, mu0);
			copy_nodes(fit, mu1, mu10);
			loss = loss0;
			break;
		}
		stalled = (loss0 - loss <= 1e-10 * Max(loss, 1.0)) ? stalled + 1 : 0;
		if (stalled >= 10)
			break;
	}
	*final_loss = loss;
	return Min(t, MST_MAX_ITERATIONS);
}

/* Root the tree at attribute 0: breadth-first order, parents and parent edges. */
static void
root_tree(MstFit *fit)
{
	int			d = fit->d;
	bool	   *seen = palloc0(sizeof(bool) * d);
	int			head = 0,
				tail = 0;

	fit->order = palloc(sizeof(int) * d);
	fit->parent = palloc(sizeof(int) * d);
	fit->pedge = palloc(sizeof(int) * d);
	fit->order[tail++] = 0;
	fit->parent[0] = -1;
	fit->pedge[0] = -1;
	seen[0] = true;
	while (head < tail)
	{
		int			v = fit->order[head++];

		for (int e = 0; e < fit->nedges; e++)
		{
			int			w = fit->ea[e] == v ? fit->eb[e] : fit->eb[e] == v ? fit->ea[e] : -1;

			if (w >= 0 && !seen[w])
			{
				seen[w] = true;
				fit->parent[w] = v;
				fit->pedge[w] = e;
				fit->order[tail++] = w;
			}
		}
	}
	if (tail != d)
		elog(ERROR, "synth: the mst is not a spanning tree");
}

/* ---------------------------------------------------------------- the model */

/*
 * The sampling tables from the fitted marginals: the root's marginal and,
 * for every other attribute, its distribution given its parent's cell.
 */
static void
build_tables(SynthMst *mst, MstFit *fit, double **mu, double **mu1)
{
	for (int k = 0; k < mst->nattrs; k++)
	{
		int			v = fit->order[k];
		MstAttr    *attr = &mst->attrs[v];
		double		sum = 0;

		mst->order[k] = v;
		attr->parent = fit->parent[v];
		if (attr->parent < 0)
		{
			attr->table = palloc(sizeof(double) * attr->ncomp);
			for (int x = 0; x < attr->ncomp; x++)
				sum += (attr->table[x] = Max(mu1[v][x], 0.0));
			for (int x = 0; x < attr->ncomp; x++)
				attr->table[x] = sum > 0 ? attr->table[x] / sum : 1.0 / attr->ncomp;
			continue;
		}
		{
			int			p = attr->parent;
			int			e = fit->pedge[v];
			int			np = mst->attrs[p].ncomp;
			int			nb = mst->attrs[fit->eb[e]].ncomp;

			attr->table = palloc(sizeof(double) * np * attr->ncomp);
			for (int xp = 0; xp < np; xp++)
			{
				double	   *row = attr->table + xp * attr->ncomp;

				sum = 0;
				for (int xv = 0; xv < attr->ncomp; xv++)
					sum += (row[xv] = Max(fit->ea[e] == p ? mu[e][xp * nb + xv] : mu[e][xv * nb + xp], 0.0));
				for (int xv = 0; xv < attr->ncomp; xv++)
				{
					/* a parent cell of no mass: the attribute's own marginal */
					if (!(sum > 0))
						row[xv] = mu1[v][xv] / fit->total;
					else
						row[xv] /= sum;
				}
			}
		}
	}
}

/*
 * Set an attribute's encoder from its estimated marginal (post-processing):
 * the NULL share, and a categorical column's segments of the uniform scale
 * in proportion to the estimated shares (floored, so that every cell the
 * tree can draw has a segment to draw u from).
 */
static void
finish_encoder(MstAttr *attr, SynthEncoder *enc, const double *p_comp)
{
	double	   *w = palloc(sizeof(double) * attr->ncells);
	double		total = 0;
	int		   *members = palloc0(sizeof(int) * attr->ncomp);

	for (int c = 0; c < attr->ncells; c++)
		members[attr->comp[c]]++;
	for (int c = 0; c < attr->ncells; c++)
		total += (w[c] = Max(p_comp[attr->comp[c]], 0.0) / members[attr->comp[c]] + MST_PROB_FLOOR);
	for (int c = 0; c < attr->ncells; c++)
		w[c] /= total;

	enc->null_rate = attr->null_cell >= 0 ? w[attr->null_cell] : 0.0;
	if (!attr->continuous)
	{
		double		cum = enc->null_rate;

		for (int i = 0; i < attr->nvalues; i++)
		{
			cum += w[attr->first_value + i];
			enc->cat_cum[i] = cum;
		}
		if (attr->other_cell >= 0)
			enc->rare_share = w[attr->other_cell];
		else
			enc->cat_cum[attr->nvalues - 1] = 1.0;
	}
	pfree(w);
	pfree(members);
}

/*
 * Keep the fine cells of a continuous attribute whose noisy count clears
 * keep_threshold, each with its noisy count; the rest of a bin's estimated
 * rows is spread evenly over its other cells.  Post-processing of the noisy
 * fine histogram and the estimated marginal.
 */
static void
finish_fine(MstAttr *attr, const double *yfine, const double *p_comp, double total, double sigma2)
{
	double		threshold = keep_threshold(attr->nfine, sigma2);
	int		   *members = palloc0(sizeof(int) * attr->ncomp);
	int			n = 0;

	for (int c = 0; c < attr->ncells; c++)
		members[attr->comp[c]]++;
	for (int j = 0; j < attr->nfine; j++)
		n += yfine[j] >= threshold ? 1 : 0;
	attr->kept = palloc(sizeof(int) * Max(n, 1));
	attr->kept_weight = palloc(sizeof(double) * Max(n, 1));
	attr->bin_kept = palloc0(sizeof(int) * (attr->nvalues + 1));
	attr->bin_rest = palloc0(sizeof(double) * attr->nvalues);
	n = 0;
	for (int b = 0; b < attr->nvalues; b++)
	{
		int			cell = attr->first_value + b;
		double		rows = total * Max(p_comp[attr->comp[cell]], 0.0) / members[attr->comp[cell]];
		int			first = b * attr->fine_per_bin;
		int			last = b == attr->nvalues - 1 ? attr->nfine : Min(first + attr->fine_per_bin, attr->nfine);
		double		kept_rows = 0;

		attr->bin_kept[b] = n;
		for (int j = first; j < last; j++)
			if (yfine[j] >= threshold)
			{
				attr->kept[n] = j;
				attr->kept_weight[n] = yfine[j];
				kept_rows += yfine[j];
				n++;
			}
		attr->bin_rest[b] = n - attr->bin_kept[b] == last - first ? 0.0 : Max(rows - kept_rows, 0.0);
	}
	attr->bin_kept[attr->nvalues] = n;
	attr->nkept = n;
	pfree(members);
}

/* Cumulative tables and the members of each compressed cell, for sampling. */
static void
prepare_sampling(SynthMst *mst)
{
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		int			rows = attr->parent < 0 ? 1 : mst->attrs[attr->parent].ncomp;
		int		   *fill;

		attr->cum = palloc(sizeof(double) * rows * attr->ncomp);
		for (int r = 0; r < rows; r++)
		{
			double		cum = 0;

			for (int x = 0; x < attr->ncomp; x++)
			{
				cum += attr->table[r * attr->ncomp + x];
				attr->cum[r * attr->ncomp + x] = cum;
			}
			attr->cum[r * attr->ncomp + attr->ncomp - 1] = INFINITY;
		}
		if (attr->continuous)
		{
			/* per bin: its kept cells, then the rest */
			attr->bin_cum = palloc(sizeof(double) * (attr->nkept + attr->nvalues));
			for (int b = 0; b < attr->nvalues; b++)
			{
				double	   *cum = attr->bin_cum + attr->bin_kept[b] + b;
				int			nk = attr->bin_kept[b + 1] - attr->bin_kept[b];
				double		sum = 0;

				for (int k = 0; k < nk; k++)
					cum[k] = (sum += attr->kept_weight[attr->bin_kept[b] + k]);
				cum[nk] = sum + attr->bin_rest[b];
			}
		}
		attr->member_start = palloc0(sizeof(int) * (attr->ncomp + 1));
		attr->members = palloc(sizeof(int) * attr->ncells);
		fill = palloc0(sizeof(int) * attr->ncomp);
		for (int c = 0; c < attr->ncells; c++)
			attr->member_start[attr->comp[c] + 1]++;
		for (int k = 0; k < attr->ncomp; k++)
			attr->member_start[k + 1] += attr->member_start[k];
		for (int c = 0; c < attr->ncells; c++)
		{
			int			k = attr->comp[c];

			attr->members[attr->member_start[k] + fill[k]++] = c;
		}
		pfree(fill);
	}
}

/* ---------------------------------------------------------------- training */

/* Append the privacy spend and every mechanism's parameters as JSON. */
static void
privacy_json(StringInfo buf, double epsilon, double delta, const SynthDomainDiscovery *discovery,
			 double rho_total, int d,
			 double sigma2_1, double rho_1, int nfine, double rho_fine, int rounds,
			 double eps_em, double rho_sel, double sigma2_2, double rho_2)
{
	double		delta_model = delta - discovery->delta;

	appendStringInfo(buf, "{\"accounting\": \"zCDP, converted to (epsilon, delta) as in Canonne, Kamath, Steinke 2020%s\", "
					 "\"unit\": \"one row, added or removed\", \"epsilon\": %.17g, \"delta\": %.17g, ",
					 discovery->ncolumns > 0 ?
					 "; after the discovery of domains (epsilon_domains, delta_domains), sequential composition" : "",
					 epsilon, delta);
	if (discovery->ncolumns > 0)
		appendStringInfo(buf, "\"epsilon_domains\": %.17g, \"delta_domains\": %.17g, \"delta_model\": %.17g, ",
						 discovery->epsilon, discovery->delta, delta_model);
	appendStringInfo(buf, "\"rho\": %.17g, \"epsilon_of_rho\": %.17g, \"mechanisms\": [",
					 rho_total, synth_zcdp_epsilon(rho_total, delta_model));
	appendStringInfo(buf, "{\"mechanism\": \"discrete_gaussian\", \"measures\": \"1-way marginals\", "
					 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g}",
					 d, sigma2_1, rho_1);
	if (nfine > 0)
		appendStringInfo(buf, ", {\"mechanism\": \"discrete_gaussian\", \"measures\": \"fine 1-way histograms of continuous columns\", "
						 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g}",
						 nfine, sigma2_1, rho_fine);
	if (rounds > 0)
		appendStringInfo(buf, ", {\"mechanism\": \"exponential\", \"selects\": \"2-way marginals of a spanning tree\", "
						 "\"rounds\": %d, \"sensitivity\": 1, \"epsilon\": %.17g, \"rho\": %.17g}",
						 rounds, eps_em, rho_sel);
	if (d > 1)
		appendStringInfo(buf, ", {\"mechanism\": \"discrete_gaussian\", \"measures\": \"2-way marginals\", "
						 "\"count\": %d, \"sensitivity_l2\": 1, \"sigma2\": %.17g, \"rho\": %.17g}",
						 d - 1, sigma2_2, rho_2);
	if (discovery->ncolumns > 0)
	{
		appendStringInfoString(buf, ", ");
		synth_discovery_json(buf, discovery);
	}
	appendStringInfoString(buf, "]}");
}

static void
mst_section_json(StringInfo buf, SynthModel *model, SynthMst *mst, int bins, int iterations)
{
	appendStringInfo(buf, "{\"bins\": %d, \"estimated_rows\": %.0f, \"estimation_iterations\": %d, \"attributes\": [",
					 bins, mst->total, iterations);
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];

		appendStringInfo(buf, "%s{\"column\": ", a > 0 ? ", " : "");
		escape_json(buf, model->encoders[attr->enc].name);
		appendStringInfo(buf, ", \"cells\": %d, \"cells_after_merging\": %d, ",
						 attr->ncells, attr->ncomp);
		if (attr->continuous)
			appendStringInfo(buf, "\"fine_cells\": %d, \"fine_cells_kept\": %d, ",
							 attr->nfine, attr->nkept);
		appendStringInfoString(buf, "\"parent\": ");
		if (attr->parent >= 0)
			escape_json(buf, model->encoders[mst->attrs[attr->parent].enc].name);
		else
			appendStringInfoString(buf, "null");
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoString(buf, "]}");
}

/*
 * Train an mst model of rel under (epsilon, delta)-DP and store it; returns
 * the model id.  train.c has planned the columns (cols, sample_col) and
 * checked the options.  The budget is spent before a row is read.
 */
int64
synth_mst_train(Relation rel, SynthModel *model, SynthColumn *cols, int ncols, const int *sample_col,
				const SynthPrivacyOptions *opts, const char *method_name, const char *reason,
				uint64 seed, double holdout_fraction)
{
	SynthMst   *mst = palloc0(sizeof(SynthMst));
	Oid			relid = RelationGetRelid(rel);
	int			bins = opts->bins > 0 ? opts->bins : SYNTH_MST_DEFAULT_BINS;
	int			d;
	int			nfine_hist = 0;	/* continuous attributes: fine histograms */
	double	  **yfine;
	double		epsilon = opts->epsilon;
	double		delta = 0;
	double		epsilon_model;	/* what the discovery of domains leaves */
	double		delta_model;
	SynthDomainDiscovery discovery;
	double		rho,
				rho_1,
				rho_fine,
				rho_sel = 0,
				rho_2 = 0,
				rho_total;
	uint64		sn1,
				sd1,
				sn2 = 0,
				sd2 = 1,
				eps_num = 0,
				eps_den = 1;
	double		sigma2_1,
				sigma2_2 = 0,
				eps_em = 0;
	SynthNoise	noise;
	SynthHoldout holdout;
	MstCounts	counts;
	double	  **y1;
	Measure1   *m1;
	double	  **phat;
	double	  **pair_x;
	double		total_num = 0,
				total_den = 0;
	MstFit		fit;
	double	  **mu;
	double	  **mu1;
	double		loss = 0;
	int			iterations = 0;
	bytea	   *weights;
	StringInfoData spec;
	StringInfoData metrics;
	StringInfoData privacy;
	instr_time	start,
				elapsed;
	int64		id;

	INSTR_TIME_SET_CURRENT(start);
	model->mst = mst;
	memset(&discovery, 0, sizeof(discovery));
	if (holdout_fraction > 0)
		synth_holdout_init(&holdout, holdout_fraction, seed, cols, ncols);
	if (synth_domain_share(opts) > 0 &&
		synth_missing_domains(rel, model, cols, sample_col, opts) > 0)
	{
		/* the budget first: a refused spend reads no data */
		delta = synth_budget_spend(relid, epsilon, opts->delta);
		opts = synth_discover_domains(rel, model, cols, ncols, sample_col, opts,
									  synth_domain_share(opts) * epsilon,
									  synth_domain_share(opts) * delta,
									  holdout_fraction > 0 ? &holdout : NULL, &discovery);
	}
	model->dim = plan_attributes(mst, model, cols, sample_col, rel, opts);
	d = mst->nattrs;
	if (d == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no column that mst can model", RelationGetRelationName(rel)),
				 errhint("mst models number, date, timestamp, bool, enum and text columns that are not keys.")));

	/* the budget first: a refused spend reads no data */
	if (discovery.ncolumns == 0)
		delta = synth_budget_spend(relid, epsilon, opts->delta);
	epsilon_model = epsilon - discovery.epsilon;
	delta_model = delta - discovery.delta;

	/* split rho: 1-way, selection, 2-way (thirds; halves without selection) */
	rho = synth_zcdp_rho(epsilon_model, delta_model);
	rho_1 = d == 1 ? rho : d == 2 ? rho / 2 : rho / 3;
	for (int a = 0; a < d; a++)
		nfine_hist += mst->attrs[a].continuous ? 1 : 0;
	sigma2_1 = (d + nfine_hist) / (2 * rho_1);
	if (d >= 2)
		sigma2_2 = (d - 1) / (2 * (d == 2 ? rho / 2 : rho / 3));
	if (sigma2_1 > SYNTH_NOISE_MAX_SIGMA2 || sigma2_2 > SYNTH_NOISE_MAX_SIGMA2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too small for mst over %d columns", epsilon, d),
				 errdetail("The noise would exceed the range of synth's samplers (a standard deviation of 2^24)."),
				 errhint("Use a larger epsilon or fewer columns.")));
	/* as rationals, rounded up; a very large epsilon gets the samplers' least noise */
	synth_noise_rational_up(Max(sigma2_1, SYNTH_NOISE_MIN_SIGMA2), &sn1, &sd1);
	sigma2_1 = (double) sn1 / sd1;
	rho_1 = d * synth_gaussian_rho(1.0, sigma2_1);
	rho_fine = nfine_hist * synth_gaussian_rho(1.0, sigma2_1);
	if (d >= 2)
	{
		synth_noise_rational_up(Max(sigma2_2, SYNTH_NOISE_MIN_SIGMA2), &sn2, &sd2);
		sigma2_2 = (double) sn2 / sd2;
		rho_2 = (d - 1) * synth_gaussian_rho(1.0, sigma2_2);
	}
	if (d >= 3)
	{
		synth_noise_rational_down(sqrt(8 * (rho / 3) / (d - 1)), &eps_num, &eps_den);
		eps_em = (double) eps_num / eps_den;
		rho_sel = (d - 1) * synth_exponential_rho(eps_em);
	}
	rho_total = rho_1 + rho_fine + rho_sel + rho_2;

	/* read: every row (but a holdout's), counted into the marginals */
	(void) count_marginals(mst, rel, model, cols, ncols, sample_col,
						   holdout_fraction > 0 ? &holdout : NULL, &counts);

	/* measure the 1-way marginals, merge rare cells, estimate the total */
	synth_noise_init(&noise);
	y1 = palloc(sizeof(double *) * d);
	m1 = palloc(sizeof(Measure1) * d);
	phat = palloc(sizeof(double *) * d);
	for (int a = 0; a < d; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		double		sum = 0;

		y1[a] = noisy_counts(&noise, counts.one[a], attr->ncells, sn1, sd1);
		for (int c = 0; c < attr->ncells; c++)
			sum += y1[a][c];
		/* inverse-variance weights: the sum of ncells noisy cells */
		total_num += sum / (attr->ncells * sigma2_1);
		total_den += 1.0 / (attr->ncells * sigma2_1);
		compress_attribute(attr, y1[a], sigma2_1, &m1[a]);
	}
	mst->total = Max(total_num / total_den, 1.0);
	yfine = palloc0(sizeof(double *) * d);
	for (int a = 0; a < d; a++)
		if (mst->attrs[a].continuous)
			yfine[a] = noisy_counts(&noise, counts.fine[a], mst->attrs[a].nfine, sn1, sd1);
	for (int a = 0; a < d; a++)
	{
		phat[a] = palloc(sizeof(double) * mst->attrs[a].ncomp);
		for (int k = 0; k < mst->attrs[a].ncomp; k++)
			phat[a][k] = m1[a].y[k] / mst->total;
		project_simplex(phat[a], mst->attrs[a].ncomp);
	}

	/* select the tree, measure its 2-way marginals */
	memset(&fit, 0, sizeof(fit));
	fit.mst = mst;
	fit.d = d;
	fit.nedges = d - 1;
	fit.ea = palloc(sizeof(int) * Max(d - 1, 1));
	fit.eb = palloc(sizeof(int) * Max(d - 1, 1));
	fit.m1 = m1;
	fit.var2 = sigma2_2;
	fit.total = mst->total;
	pair_x = palloc(sizeof(double *) * Max(d * (d - 1) / 2, 1));
	for (int a = 0; a < d; a++)
		for (int b = a + 1; b < d; b++)
			pair_x[pair_index(d, a, b)] = compressed_pair(&mst->attrs[a], &mst->attrs[b],
														  counts.two[pair_index(d, a, b)]);
	if (d == 2)
	{
		fit.ea[0] = 0;
		fit.eb[0] = 1;
	}
	else if (d >= 3)
		select_tree(&noise, mst, pair_x, phat, mst->total, eps_num, eps_den, fit.ea, fit.eb);
	fit.y2 = palloc(sizeof(double *) * Max(d - 1, 1));
	for (int e = 0; e < d - 1; e++)
	{
		MstAttr    *A = &mst->attrs[fit.ea[e]];
		MstAttr    *B = &mst->attrs[fit.eb[e]];
		double	   *x = pair_x[pair_index(d, fit.ea[e], fit.eb[e])];

		fit.y2[e] = palloc(sizeof(double) * A->ncomp * B->ncomp);
		for (int i = 0; i < A->ncomp * B->ncomp; i++)
			fit.y2[e][i] = x[i] + (double) synth_noise_discrete_gaussian(&noise, sn2, sd2);
	}
	/* the exact counts end here: everything below is post-processing */

	/* estimate a consistent tree model */
	mst->order = palloc(sizeof(int) * d);
	root_tree(&fit);
	mu1 = alloc_nodes(&fit);
	mu = alloc_tables(&fit);
	if (d == 1)
	{
		memcpy(mu1[0], phat[0], sizeof(double) * mst->attrs[0].ncomp);
		for (int k = 0; k < mst->attrs[0].ncomp; k++)
			mu1[0][k] *= mst->total;
	}
	else
	{
		fit.node_edge = palloc(sizeof(int) * d);
		for (int a = 0; a < d; a++)
		{
			fit.node_edge[a] = -1;
			for (int e = 0; e < d - 1 && fit.node_edge[a] < 0; e++)
				if (fit.ea[e] == a || fit.eb[e] == a)
					fit.node_edge[a] = e;
		}
		/* a message lives on its parent's cells: give each the largest size */
		fit.msg = palloc(sizeof(double *) * d);
		for (int a = 0; a < d; a++)
		{
			int			maxc = 1;

			for (int b = 0; b < d; b++)
				maxc = Max(maxc, mst->attrs[b].ncomp);
			fit.msg[a] = palloc0(sizeof(double) * maxc);
		}
		fit.up = alloc_nodes(&fit);
		fit.full = alloc_nodes(&fit);
		iterations = mirror_descent(&fit, mu, mu1, &loss);
	}
	build_tables(mst, &fit, mu, mu1);
	for (int a = 0; a < d; a++)
	{
		double	   *p = palloc(sizeof(double) * mst->attrs[a].ncomp);

		for (int k = 0; k < mst->attrs[a].ncomp; k++)
			p[k] = mu1[a][k] / mst->total;
		finish_encoder(&mst->attrs[a], &model->encoders[mst->attrs[a].enc], p);
		if (mst->attrs[a].continuous)
			finish_fine(&mst->attrs[a], yfine[a], p, mst->total, sigma2_1);
	}
	model->n_rows = (int64) llround(mst->total);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	/* store: weights, a spec and metrics that hold no exact count */
	initStringInfo(&privacy);
	privacy_json(&privacy, epsilon, delta, &discovery, rho_total, d, sigma2_1, rho_1, nfine_hist, rho_fine,
				 d >= 3 ? d - 1 : 0, eps_em, rho_sel, sigma2_2, rho_2);
	weights = synth_model_serialize(model);
	initStringInfo(&spec);
	appendStringInfoString(&spec, "{\"method\": \"mst\", \"requested_method\": ");
	escape_json(&spec, method_name);
	appendStringInfoString(&spec, ", \"reason\": ");
	escape_json(&spec, reason);
	appendStringInfoString(&spec, ", \"source\": {\"schema\": ");
	escape_json(&spec, get_namespace_name(RelationGetNamespace(rel)));
	appendStringInfoString(&spec, ", \"table\": ");
	escape_json(&spec, RelationGetRelationName(rel));
	appendStringInfo(&spec, "}, \"options\": {\"seed\": " INT64_FORMAT ", \"epsilon\": %.17g, \"delta\": %.17g, \"bins\": %d}, "
					 "\"privacy\": %s, \"copula_dim\": %d, \"columns\": ",
					 (int64) seed, epsilon, delta, bins, privacy.data, model->dim);
	synth_model_spec_json(model, &spec);
	if (holdout_fraction > 0)
	{
		/* how to recompute the split, without the counts of synth_holdout_spec_json */
		appendStringInfo(&spec, ", \"holdout\": {\"fraction\": %.17g, \"seed\": " INT64_FORMAT
						 ", \"rule\": \"%s\", \"columns\": [", holdout_fraction, (int64) seed,
						 SYNTH_HOLDOUT_RULE);
		for (int c = 0; c < ncols; c++)
		{
			if (c > 0)
				appendStringInfoString(&spec, ", ");
			escape_json(&spec, cols[c].name);
		}
		appendStringInfoString(&spec, "]}");
	}
	appendStringInfoString(&spec, ", \"mst\": ");
	mst_section_json(&spec, model, mst, bins, iterations);
	appendStringInfoChar(&spec, '}');

	initStringInfo(&metrics);
	appendStringInfo(&metrics, "{\"train_seconds\": %.3f, \"estimation_loss\": %.6g, \"estimation_iterations\": %d}",
					 INSTR_TIME_GET_DOUBLE(elapsed), loss, iterations);

	id = synth_catalog_store(rel, "mst", model->n_rows, spec.data, weights, metrics.data);
	synth_ledger_record(relid, id, "mst", privacy.data, epsilon, delta);
	return id;
}

/* ---------------------------------------------------------------- generation */

static int
draw_cell(const double *cum, int n, double u)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cum[mid] <= u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A value inside fine cell j: its whole number, or uniform inside it. */
static double
fine_value(MstAttr *attr, int j, SynthRng *rng)
{
	double		a = attr->lower + j * attr->fine_width;
	double		c = Min(a + attr->fine_width, attr->upper);

	if (attr->whole && attr->fine_width == 1.0)
		return a + 0.5;
	return a + synth_rng_uniform(rng) * (c - a);
}

/*
 * A value of bin b: one of its kept fine cells by their weights, or
 * (the rest) a fine cell that is not kept, uniformly.
 */
static double
bin_value(MstAttr *attr, int b, SynthRng *rng)
{
	int			first = b * attr->fine_per_bin;
	int			last = b == attr->nvalues - 1 ? attr->nfine : Min(first + attr->fine_per_bin, attr->nfine);
	int			nk = attr->bin_kept[b + 1] - attr->bin_kept[b];
	const double *cum = attr->bin_cum + attr->bin_kept[b] + b;
	int			j;

	if (cum[nk] > 0)
	{
		double		r = synth_rng_uniform(rng) * cum[nk];
		int			k = 0;

		while (k < nk && cum[k] <= r)
			k++;
		if (k < nk)
			return fine_value(attr, attr->kept[attr->bin_kept[b] + k], rng);
	}
	/* the rest: a cell that is not kept (kept cells are few; give up after 64 tries) */
	j = first + (int) synth_rng_below(rng, last - first);
	for (int tries = 0; tries < 64 && nk > 0; tries++)
	{
		bool		kept = false;

		for (int k = 0; k < nk && !kept; k++)
			kept = attr->kept[attr->bin_kept[b] + k] == j;
		if (!kept)
			break;
		j = first + (int) synth_rng_below(rng, last - first);
	}
	return fine_value(attr, j, rng);
}

/* The uniform scores of one attribute's full cell, into u (the row's dims). */
static void
cell_scores(MstAttr *attr, SynthEncoder *enc, int cell, SynthRng *rng, double *u)
{
	if (attr->continuous)
	{
		if (cell == attr->null_cell)
		{
			u[enc->null_dim] = enc->null_rate * synth_rng_uniform(rng);
			u[enc->dim] = 0.5;
			return;
		}
		{
			double		x = bin_value(attr, cell - attr->first_value, rng);

			u[enc->dim] = (x - attr->lower) / (attr->upper - attr->lower);
			if (enc->null_dim >= 0)
				u[enc->null_dim] = enc->null_rate + synth_rng_uniform(rng) * (1.0 - enc->null_rate);
		}
		return;
	}
	if (cell == attr->null_cell)
		u[enc->dim] = enc->null_rate * synth_rng_uniform(rng);
	else if (cell == attr->other_cell)
	{
		double		top = enc->cat_cum[attr->nvalues - 1];

		u[enc->dim] = top + synth_rng_uniform(rng) * (1.0 - top);
	}
	else
	{
		int			i = cell - attr->first_value;
		double		lo = i == 0 ? enc->null_rate : enc->cat_cum[i - 1];
		double		hi = enc->cat_cum[i];

		u[enc->dim] = lo + synth_rng_uniform(rng) * (hi - lo);
	}
}

/* Draw one row of the tree into u (dim scores). */
static void
sample_row(SynthModel *model, SynthRng *rng, int *comp, double *u)
{
	SynthMst   *mst = model->mst;

	for (int k = 0; k < mst->nattrs; k++)
	{
		int			v = mst->order[k];
		MstAttr    *attr = &mst->attrs[v];
		int			row = attr->parent < 0 ? 0 : comp[attr->parent];
		int			x = draw_cell(attr->cum + row * attr->ncomp, attr->ncomp, synth_rng_uniform(rng));
		int			nmembers = attr->member_start[x + 1] - attr->member_start[x];
		int			cell = attr->members[attr->member_start[x] +
										 (nmembers > 1 ? (int) synth_rng_below(rng, nmembers) : 0)];

		comp[v] = x;
		cell_scores(attr, &model->encoders[attr->enc], cell, rng, u);
	}
}

static bool
row_allowed(SynthAllowedSet *const *allowed, int dim, const double *u)
{
	for (int j = 0; j < dim; j++)
	{
		const SynthAllowedSet *set = allowed[j];
		bool		ok = false;

		if (set == NULL)
			continue;
		for (int i = 0; i < set->n && !ok; i++)
			ok = u[j] >= set->lo[i] && u[j] <= set->hi[i];
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Sample rows into gen->u, for generate.c to decode.  Restrictions of a
 * condition (gen->allowed) are met by rejection.
 */
void
synth_mst_sample(SynthGenerator *gen, int rows)
{
	SynthModel *model = gen->model;
	int			dim = model->dim;
	int		   *comp = palloc(sizeof(int) * Max(model->mst->nattrs, 1));
	int64		attempts = 0;
	int64		limit = (int64) MST_SAMPLE_ATTEMPTS * Max(rows, SYNTH_GENERATE_BATCH);

	if (gen->cond != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sampling given known columns needs a copula model, not mst"),
				 errhint("Train the table with method 'copula'.")));
	for (int r = 0; r < rows;)
	{
		double	   *u = gen->u + (int64) r * dim;

		if ((++attempts & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (attempts > limit)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the condition is too rare for the model"),
					 errdetail("%d of %d rows satisfied its restrictions after " INT64_FORMAT " rows sampled.",
							   r, rows, attempts - 1),
					 errhint("Loosen the condition, or train with a larger epsilon.")));
		sample_row(model, &gen->rng, comp, u);
		if (gen->allowed && !row_allowed(gen->allowed, dim, u))
			continue;
		r++;
	}
	pfree(comp);
}

/* ---------------------------------------------------------------- weights */

static void
put_int32(StringInfo buf, int32 v)
{
	appendBinaryStringInfo(buf, (const char *) &v, sizeof(v));
}

static void
put_double(StringInfo buf, double v)
{
	appendBinaryStringInfo(buf, (const char *) &v, sizeof(v));
}

/*
 * The mst section of the weights: per attribute its encoder, cells, bins,
 * compression and parent; then each attribute's sampling table, the
 * sampling order and the total.
 */
void
synth_mst_serialize(SynthModel *model, StringInfo buf)
{
	SynthMst   *mst = model->mst;

	put_int32(buf, mst->nattrs);
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];

		put_int32(buf, attr->enc);
		put_int32(buf, attr->continuous ? 1 : 0);
		put_int32(buf, attr->ncells);
		put_int32(buf, attr->null_cell);
		put_int32(buf, attr->other_cell);
		put_int32(buf, attr->first_value);
		put_int32(buf, attr->nvalues);
		put_double(buf, attr->lower);
		put_double(buf, attr->upper);
		put_double(buf, attr->width);
		put_int32(buf, attr->whole ? 1 : 0);
		put_int32(buf, attr->ncomp);
		for (int c = 0; c < attr->ncells; c++)
			put_int32(buf, attr->comp[c]);
		put_int32(buf, attr->parent);
		if (attr->continuous)
		{
			put_double(buf, attr->fine_width);
			put_int32(buf, attr->fine_per_bin);
			put_int32(buf, attr->nfine);
			put_int32(buf, attr->nkept);
			for (int k = 0; k < attr->nkept; k++)
			{
				put_int32(buf, attr->kept[k]);
				put_double(buf, attr->kept_weight[k]);
			}
			for (int b = 0; b <= attr->nvalues; b++)
				put_int32(buf, attr->bin_kept[b]);
			for (int b = 0; b < attr->nvalues; b++)
				put_double(buf, attr->bin_rest[b]);
		}
	}
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		int			rows = attr->parent < 0 ? 1 : mst->attrs[attr->parent].ncomp;

		for (int i = 0; i < rows * attr->ncomp; i++)
			put_double(buf, attr->table[i]);
	}
	for (int k = 0; k < mst->nattrs; k++)
		put_int32(buf, mst->order[k]);
	put_double(buf, mst->total);
}

typedef struct MstReader
{
	const char *p;
	const char *end;
	int64		model_id;
} MstReader;

static void
mst_corrupt(MstReader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("synth model " INT64_FORMAT " has corrupt weights", r->model_id),
			 errdetail("%s", what),
			 errhint("Train a new model with synth_train; the stored one cannot be used.")));
}

static void
get_bytes(MstReader *r, void *out, int len)
{
	if (r->end - r->p < len)
		mst_corrupt(r, "The weights end before the mst section does.");
	memcpy(out, r->p, len);
	r->p += len;
}

static int32
get_int32_in(MstReader *r, int32 min, int32 max)
{
	int32		v;

	get_bytes(r, &v, sizeof(v));
	if (v < min || v > max)
		mst_corrupt(r, "A number in the mst section is out of range.");
	return v;
}

static double
get_double(MstReader *r)
{
	double		v;

	get_bytes(r, &v, sizeof(v));
	return v;
}

const char *
synth_mst_deserialize(SynthModel *model, const char *p, const char *end, int64 model_id)
{
	MstReader	r = {p, end, model_id};
	SynthMst   *mst = palloc0(sizeof(SynthMst));
	bool	   *placed;
	int			max_cells = SYNTH_MAX_CATEGORIES + SYNTH_MST_MAX_BINS + 2;

	model->mst = mst;
	mst->nattrs = get_int32_in(&r, 0, model->natts);
	mst->attrs = palloc0(sizeof(MstAttr) * Max(mst->nattrs, 1));
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		SynthEncoder *enc;

		attr->enc = get_int32_in(&r, 0, model->natts - 1);
		attr->continuous = get_int32_in(&r, 0, 1) == 1;
		attr->ncells = get_int32_in(&r, 1, max_cells);
		attr->null_cell = get_int32_in(&r, -1, attr->ncells - 1);
		attr->other_cell = get_int32_in(&r, -1, attr->ncells - 1);
		attr->first_value = get_int32_in(&r, 0, attr->ncells - 1);
		attr->nvalues = get_int32_in(&r, 1, attr->ncells - attr->first_value);
		attr->lower = get_double(&r);
		attr->upper = get_double(&r);
		attr->width = get_double(&r);
		attr->whole = get_int32_in(&r, 0, 1) == 1;
		attr->ncomp = get_int32_in(&r, 1, attr->ncells);
		attr->comp = palloc(sizeof(int) * attr->ncells);
		for (int c = 0; c < attr->ncells; c++)
			attr->comp[c] = get_int32_in(&r, 0, attr->ncomp - 1);
		attr->parent = get_int32_in(&r, -1, mst->nattrs - 1);
		if (attr->continuous)
		{
			attr->fine_width = get_double(&r);
			attr->fine_per_bin = get_int32_in(&r, 1, MST_MAX_FINE);
			attr->nfine = get_int32_in(&r, 1, MST_MAX_FINE + SYNTH_MST_MAX_BINS);
			attr->nkept = get_int32_in(&r, 0, attr->nfine);
			attr->kept = palloc(sizeof(int) * Max(attr->nkept, 1));
			attr->kept_weight = palloc(sizeof(double) * Max(attr->nkept, 1));
			for (int k = 0; k < attr->nkept; k++)
			{
				attr->kept[k] = get_int32_in(&r, 0, attr->nfine - 1);
				attr->kept_weight[k] = get_double(&r);
				if (!(attr->kept_weight[k] >= 0))
					mst_corrupt(&r, "A weight in the mst section is negative.");
			}
			attr->bin_kept = palloc(sizeof(int) * (attr->nvalues + 1));
			for (int b = 0; b <= attr->nvalues; b++)
				attr->bin_kept[b] = get_int32_in(&r, b == 0 ? 0 : attr->bin_kept[b - 1],
												  b == attr->nvalues ? attr->nkept : attr->nkept);
			if (attr->bin_kept[0] != 0 || attr->bin_kept[attr->nvalues] != attr->nkept)
				mst_corrupt(&r, "The fine cells of an mst attribute do not add up.");
			attr->bin_rest = palloc(sizeof(double) * attr->nvalues);
			for (int b = 0; b < attr->nvalues; b++)
			{
				attr->bin_rest[b] = get_double(&r);
				if (!(attr->bin_rest[b] >= 0))
					mst_corrupt(&r, "A weight in the mst section is negative.");
			}
			if (!(attr->fine_width > 0) ||
				(int64) attr->fine_per_bin * (attr->nvalues - 1) >= attr->nfine)
				mst_corrupt(&r, "The fine cells of an mst attribute do not fit its bins.");
			for (int b = 0; b < attr->nvalues; b++)
				for (int k = attr->bin_kept[b]; k < attr->bin_kept[b + 1]; k++)
					if (attr->kept[k] / attr->fine_per_bin != b &&
						!(b == attr->nvalues - 1 && attr->kept[k] >= b * attr->fine_per_bin))
						mst_corrupt(&r, "A fine cell of an mst attribute is outside its bin.");
		}

		enc = &model->encoders[attr->enc];
		if (!enc->modelled || enc->dim < 0 ||
			(attr->continuous != (enc->kind == SYNTH_KIND_CONTINUOUS)) ||
			(!attr->continuous && (enc->kind != SYNTH_KIND_CATEGORICAL || enc->ncats != attr->nvalues)) ||
			(attr->continuous && attr->null_cell >= 0 && enc->null_dim < 0))
			mst_corrupt(&r, "An mst attribute does not match its column's encoder.");
		if (attr->continuous)
		{
			if (!(attr->lower < attr->upper) || !(attr->width > 0) || !isfinite(attr->upper))
				mst_corrupt(&r, "An mst attribute has bad bounds.");
			enc->bounded = true;
			enc->lower = attr->lower;
			enc->upper = attr->upper;
		}
	}
	/* the tables, whose shapes need every attribute's head */
	for (int a = 0; a < mst->nattrs; a++)
	{
		MstAttr    *attr = &mst->attrs[a];
		int			rows;

		if (attr->parent == a)
			mst_corrupt(&r, "An mst attribute is its own parent.");
		rows = attr->parent < 0 ? 1 : mst->attrs[attr->parent].ncomp;
		attr->table = palloc(sizeof(double) * rows * attr->ncomp);
		for (int i = 0; i < rows * attr->ncomp; i++)
		{
			attr->table[i] = get_double(&r);
			if (!(attr->table[i] >= 0.0 && attr->table[i] <= 1.0 + 1e-9))
				mst_corrupt(&r, "An mst probability is out of range.");
		}
	}
	mst->order = palloc(sizeof(int) * Max(mst->nattrs, 1));
	placed = palloc0(sizeof(bool) * Max(mst->nattrs, 1));
	for (int k = 0; k < mst->nattrs; k++)
	{
		int			v = get_int32_in(&r, 0, mst->nattrs - 1);
		int			parent = mst->attrs[v].parent;

		if (placed[v] || (k == 0) != (parent < 0) || (parent >= 0 && !placed[parent]))
			mst_corrupt(&r, "The mst's sampling order is not a tree's.");
		placed[v] = true;
		mst->order[k] = v;
	}
	mst->total = get_double(&r);
	prepare_sampling(mst);
	return r.p;
}
