/*-------------------------------------------------------------------------
 *
 * model_io.c
 *	  The weights format: a versioned, checksummed binary image of a model.
 *
 * Layout: "SYNTHMDL" | uint32 version | uint32 method | uint32 payload length
 * | uint32 CRC-32C of the payload | payload.  Every read is bounds-checked and
 * a mismatch is refused with a clear error, never a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "synth.h"
#include "model.h"

#include "port/pg_crc32c.h"
#include "utils/builtins.h"
#include "utils/json.h"

#define HEADER_BYTES	(8 + 4 * 4)

static void
put_bytes(StringInfo buf, const void *p, int len)
{
	appendBinaryStringInfo(buf, (const char *) p, len);
}

static void
put_int32(StringInfo buf, int32 v)
{
	put_bytes(buf, &v, sizeof(v));
}

static void
put_double(StringInfo buf, double v)
{
	put_bytes(buf, &v, sizeof(v));
}

static void
put_string(StringInfo buf, const char *s)
{
	int32		len = strlen(s);

	put_int32(buf, len);
	put_bytes(buf, s, len);
}

bytea *
synth_model_serialize(SynthModel *model)
{
	StringInfoData payload;
	bytea	   *result;
	char	   *p;
	uint32		v;
	pg_crc32c	crc;

	initStringInfo(&payload);
	put_int32(&payload, model->natts);
	put_bytes(&payload, &model->n_rows, sizeof(int64));
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *e = &model->encoders[i];

		put_string(&payload, e->name);
		put_int32(&payload, (int32) e->typid);
		put_int32(&payload, e->typmod);
		put_int32(&payload, (e->notnull ? 1 : 0) | (e->modelled ? 2 : 0));
		put_int32(&payload, (int32) e->kind);
		put_int32(&payload, (int32) e->vtype);
		put_double(&payload, e->null_rate);
		put_int32(&payload, e->nknots);
		for (int k = 0; k < e->nknots; k++)
			put_double(&payload, e->knots[k]);
		put_int32(&payload, e->scale);
		put_int32(&payload, e->ncats);
		for (int k = 0; k < e->ncats; k++)
		{
			put_string(&payload, e->cats[k]);
			put_double(&payload, e->cat_cum[k]);
		}
		put_double(&payload, e->rare_share);
		put_int32(&payload, e->nshapes);
		for (int k = 0; k < e->nshapes; k++)
			put_string(&payload, e->shapes[k]);
		put_double(&payload, e->key_base);
		put_int32(&payload, e->dim);
		put_int32(&payload, e->null_dim);
	}
	put_int32(&payload, model->dim);
	if (synth_method_is_neural(model->method))
		synth_neural_serialize(model, &payload);
	else if (model->method == SYNTH_METHOD_MST)
		synth_mst_serialize(model, &payload);
	else
		for (int k = 0; k < model->dim * model->dim; k++)
			put_double(&payload, model->chol[k]);

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, payload.data, payload.len);
	FIN_CRC32C(crc);

	result = palloc(VARHDRSZ + HEADER_BYTES + payload.len);
	SET_VARSIZE(result, VARHDRSZ + HEADER_BYTES + payload.len);
	p = VARDATA(result);
	memcpy(p, SYNTH_MODEL_MAGIC, 8);
	v = SYNTH_MODEL_VERSION;
	memcpy(p + 8, &v, 4);
	v = (uint32) model->method;
	memcpy(p + 12, &v, 4);
	v = (uint32) payload.len;
	memcpy(p + 16, &v, 4);
	memcpy(p + 20, &crc, 4);
	memcpy(p + HEADER_BYTES, payload.data, payload.len);
	pfree(payload.data);
	return result;
}

/* A bounds-checked cursor over the payload. */
typedef struct Reader
{
	const char *p;
	const char *end;
	int64		model_id;
} Reader;

static void
corrupt(Reader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("synth model " INT64_FORMAT " has corrupt weights", r->model_id),
			 errdetail("%s", what),
			 errhint("Train a new model with synth_train; the stored one cannot be used.")));
}

static void
get_bytes(Reader *r, void *out, int len)
{
	if (len < 0 || r->end - r->p < len)
		corrupt(r, "The weights end before the model does.");
	memcpy(out, r->p, len);
	r->p += len;
}

static int32
get_int32(Reader *r)
{
	int32		v;

	get_bytes(r, &v, sizeof(v));
	return v;
}

static double
get_double(Reader *r)
{
	double		v;

	get_bytes(r, &v, sizeof(v));
	return v;
}

static int32
get_count(Reader *r, int32 max)
{
	int32		v = get_int32(r);

	if (v < 0 || v > max)
		corrupt(r, "A count in the weights is out of range.");
	return v;
}

static char *
get_string(Reader *r)
{
	int32		len = get_count(r, 1 << 20);
	char	   *s = palloc(len + 1);

	get_bytes(r, s, len);
	s[len] = '\0';
	return s;
}

SynthModel *
synth_model_deserialize(bytea *weights, int64 model_id)
{
	Reader		r;
	SynthModel *model = palloc0(sizeof(SynthModel));
	const char *p = VARDATA_ANY(weights);
	int			len = VARSIZE_ANY_EXHDR(weights);
	uint32		version,
				method,
				payload_len;
	pg_crc32c	crc,
				stored_crc;

	r.model_id = model_id;
	r.p = p;
	r.end = p + len;
	if (len < HEADER_BYTES || memcmp(p, SYNTH_MODEL_MAGIC, 8) != 0)
		corrupt(&r, "The weights do not begin with the synth model header.");
	memcpy(&version, p + 8, 4);
	memcpy(&method, p + 12, 4);
	memcpy(&payload_len, p + 16, 4);
	memcpy(&stored_crc, p + 20, 4);
	if (version != SYNTH_MODEL_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("synth model " INT64_FORMAT " has weights format version %u, this synth reads version %d",
						model_id, version, SYNTH_MODEL_VERSION),
				 errhint("Train a new model with synth_train.")));
	if (method != SYNTH_METHOD_COPULA && method != SYNTH_METHOD_MST &&
		!synth_method_is_neural((SynthMethod) method))
		corrupt(&r, "The weights name an unknown method.");
	if ((int64) payload_len != (int64) len - HEADER_BYTES)
		corrupt(&r, "The weights are truncated or have trailing bytes.");
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, p + HEADER_BYTES, payload_len);
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, stored_crc))
		corrupt(&r, "The checksum of the weights does not match.");

	r.p = p + HEADER_BYTES;
	model->method = (SynthMethod) method;
	model->natts = get_count(&r, SYNTH_MAX_COLUMNS);
	get_bytes(&r, &model->n_rows, sizeof(int64));
	model->encoders = palloc0(sizeof(SynthEncoder) * Max(model->natts, 1));
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *e = &model->encoders[i];
		int32		flags;

		e->name = get_string(&r);
		e->typid = (Oid) get_int32(&r);
		e->typmod = get_int32(&r);
		flags = get_int32(&r);
		e->notnull = (flags & 1) != 0;
		e->modelled = (flags & 2) != 0;
		e->kind = (SynthColumnKind) get_count(&r, SYNTH_KIND_KEY);
		e->vtype = (SynthValueType) get_count(&r, SYNTH_VT_OPAQUE);
		e->null_rate = get_double(&r);
		e->nknots = get_count(&r, SYNTH_QUANTILE_KNOTS);
		e->knots = palloc(sizeof(double) * Max(e->nknots, 1));
		for (int k = 0; k < e->nknots; k++)
			e->knots[k] = get_double(&r);
		e->scale = get_count(&r, 1000);
		e->ncats = get_count(&r, SYNTH_MAX_CATEGORIES + 65536);
		e->cats = palloc(sizeof(char *) * Max(e->ncats, 1));
		e->cat_cum = palloc(sizeof(double) * Max(e->ncats, 1));
		for (int k = 0; k < e->ncats; k++)
		{
			e->cats[k] = get_string(&r);
			e->cat_cum[k] = get_double(&r);
		}
		e->rare_share = get_double(&r);
		e->nshapes = get_count(&r, SYNTH_MAX_SHAPES);
		e->shapes = palloc(sizeof(char *) * Max(e->nshapes, 1));
		for (int k = 0; k < e->nshapes; k++)
			e->shapes[k] = get_string(&r);
		e->key_base = get_double(&r);
		e->dim = get_int32(&r);
		e->null_dim = get_int32(&r);

		/* what generation relies on */
		if (e->modelled && e->kind == SYNTH_KIND_CONTINUOUS && e->nknots == 0 && e->null_rate < 1.0)
			corrupt(&r, "A continuous column has no quantiles.");
		if (e->modelled && e->kind == SYNTH_KIND_CATEGORICAL && e->ncats == 0 && e->null_rate < 1.0)
			corrupt(&r, "A categorical column has no categories.");
	}
	model->dim = get_count(&r, SYNTH_MAX_COLUMNS);
	if (synth_method_is_neural(model->method))
		r.p = synth_neural_deserialize(model, r.p, r.end, model_id);
	else if (model->method == SYNTH_METHOD_MST)
		r.p = synth_mst_deserialize(model, r.p, r.end, model_id);
	else
	{
		model->chol = palloc(sizeof(double) * Max(model->dim * model->dim, 1));
		for (int k = 0; k < model->dim * model->dim; k++)
			model->chol[k] = get_double(&r);
	}
	for (int i = 0; i < model->natts; i++)
		if (model->encoders[i].dim < -1 || model->encoders[i].dim >= model->dim ||
			model->encoders[i].null_dim < -1 || model->encoders[i].null_dim >= model->dim)
			corrupt(&r, "A column's copula dimension is out of range.");
	if (r.p != r.end)
		corrupt(&r, "The weights have trailing bytes.");
	return model;
}

/* The columns part of a model's spec, as a JSON array. */
void
synth_model_spec_json(SynthModel *model, StringInfo buf)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < model->natts; i++)
	{
		SynthEncoder *e = &model->encoders[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"name\": ");
		escape_json(buf, e->name);
		appendStringInfoString(buf, ", \"type\": ");
		escape_json(buf, format_type_with_typemod(e->typid, e->typmod));
		appendStringInfo(buf, ", \"not_null\": %s, \"modelled\": %s",
						 e->notnull ? "true" : "false", e->modelled ? "true" : "false");
		if (!e->modelled)
		{
			appendStringInfoChar(buf, '}');
			continue;
		}
		appendStringInfo(buf, ", \"encoder\": \"%s\", \"value_type\": \"%s\", \"null_rate\": %.6g",
						 synth_kind_name(e->kind), synth_vtype_name(e->vtype), e->null_rate);
		switch (e->kind)
		{
			case SYNTH_KIND_CONTINUOUS:
				if (e->bounded)
				{
					/* whole numbers keep half a unit of margin (transform.c) */
					double		margin = e->vtype == SYNTH_VT_INT || e->vtype == SYNTH_VT_DATE ||
						e->vtype == SYNTH_VT_TIMESTAMP ? 0.5 : 0.0;

					appendStringInfo(buf, ", \"bounds\": [%.17g, %.17g]",
									 e->lower + margin, e->upper - margin);
				}
				else
					appendStringInfo(buf, ", \"quantile_knots\": %d", e->nknots);
				if (e->vtype == SYNTH_VT_NUMERIC)
					appendStringInfo(buf, ", \"scale\": %d", e->scale);
				break;
			case SYNTH_KIND_CATEGORICAL:
				appendStringInfo(buf, ", \"categories\": %d, \"rare_share\": %.6g",
								 e->ncats, e->rare_share);
				break;
			case SYNTH_KIND_FREETEXT:
				appendStringInfo(buf, ", \"shapes\": %d", e->nshapes);
				break;
			case SYNTH_KIND_KEY:
				appendStringInfoString(buf, ", \"generated\": \"fresh unique values\"");
				break;
		}
		appendStringInfo(buf, ", \"copula_dim\": %d", e->dim);
		if (e->null_dim >= 0)
			appendStringInfo(buf, ", \"null_indicator_dim\": %d", e->null_dim);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}
