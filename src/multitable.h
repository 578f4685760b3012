/*-------------------------------------------------------------------------
 *
 * multitable.h
 *	  Multi-table synthesis along foreign keys: the plan of a schema (which
 *	  tables, in which order, which foreign key gives each table its context
 *	  parent, which are filled in a second pass), the training of a model set
 *	  and the materialization of a synthetic copy.
 *
 * Each table is modelled by one copula over a view of the table that adds,
 * to its own columns, the modelled columns of its context parent row
 * ("customers.age"), the number of children of each row per foreign key that
 * references it ("#orders_customer_id_fkey") and, for each other nullable
 * foreign key, whether it is NULL ("?payments_card_id_fkey").  Foreign key
 * columns themselves are never modelled: materialization points them at
 * synthetic parents.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_MULTITABLE_H
#define SYNTH_MULTITABLE_H

#include "synth.h"
#include "model.h"

#include "utils/jsonb.h"

#define SYNTH_MT_MAX_FK_KEYS		32	/* columns of one foreign key (INDEX_MAX_KEYS) */
#define SYNTH_MT_CHECK_MIN_TRIES	1000	/* rows drawn before a CHECK can be judged impossible */
#define SYNTH_MT_CHECK_MIN_RATE		0.01	/* below this share of rows passing, stop */
#define SYNTH_MT_UNIQUE_TRIES		50	/* draws of a parent before a UNIQUE is judged impossible */

/* What a column of a table's training view holds. */
typedef enum SynthMtRole
{
	SYNTH_MT_OWN,				/* a column of the table itself */
	SYNTH_MT_CONTEXT,			/* a column of the context parent row */
	SYNTH_MT_COUNT,				/* children of the row through one foreign key */
	SYNTH_MT_NULLFLAG			/* is one (non-context) foreign key NULL */
} SynthMtRole;

typedef struct SynthMtColumn
{
	char	   *name;			/* the view's column name */
	SynthMtRole role;
	AttrNumber	attnum;			/* OWN: of the table; CONTEXT: of the parent */
	bool		key;			/* OWN: a key column (fresh values) */
	int			fk;				/* COUNT, NULLFLAG: index into plan->fks */
} SynthMtColumn;

typedef struct SynthMtFk
{
	Oid			conoid;
	char	   *name;			/* constraint name */
	int			child;			/* index of the referencing table in plan->tables */
	int			parent;			/* index of the referenced table */
	int			nkeys;
	AttrNumber	child_att[SYNTH_MT_MAX_FK_KEYS];
	AttrNumber	parent_att[SYNTH_MT_MAX_FK_KEYS];
	bool		nullable;		/* a referencing column may be NULL */
	bool		unique;			/* a unique index covers the referencing columns */
	bool		deferred;		/* NULL at first, filled after every table (a cycle) */
	bool		context;		/* the child's context parent */
	char	   *count_col;		/* parent's view: children per parent row */
	char	   *null_col;		/* child's view: is it NULL (nullable, not context), or NULL */
} SynthMtFk;

typedef struct SynthMtTable
{
	Oid			relid;
	char	   *name;
	char		relkind;
	int			context;		/* index of the context foreign key, or -1 */
	int			ncols;
	SynthMtColumn *cols;		/* the training view's columns, in order */
	List	   *key_names;		/* own key columns (names), given to synth_train as keys */
	List	   *fk_attnums;		/* attnums filled from parents (int list) */
	AttrNumber	ident[SYNTH_MT_MAX_FK_KEYS]; /* columns that find a row for the second pass */
	int			nident;
	char	   *view_sql;		/* the SELECT the table's model is trained over */
} SynthMtTable;

typedef struct SynthMtPlan
{
	Oid			nspid;
	char	   *schema;
	int			ntables;
	SynthMtTable *tables;		/* parents first */
	int			nfks;
	SynthMtFk  *fks;
} SynthMtPlan;

/* What synth_train_schema's options ask for. */
typedef struct SynthMtOptions
{
	List	   *tables;			/* table names, NIL: every table of the schema */
	List	   *exclude;		/* "table.column" */
	List	   *context_tables; /* option "context": table names ... */
	List	   *context_fks;	/* ... and the foreign key each one takes its context from */
	char	   *train_options;	/* seed, rare_category_k, sample_rows as a json fragment, or "" */
} SynthMtOptions;

/* multitable_plan.c */
extern void synth_mt_parse_options(Jsonb *options, SynthMtOptions *opts);
extern SynthMtPlan *synth_mt_plan(Oid nspid, SynthMtOptions *opts);
extern void synth_mt_plan_json(SynthMtPlan *plan, StringInfo buf);
extern void synth_mt_columns_json(SynthMtPlan *plan, SynthMtTable *t, StringInfo buf);

/* multitable_train.c: the catalog of model sets, written as its owner */

/* multitable_ddl.c */
extern void synth_mt_create_schema(SynthMtPlan *plan, const char *target);
extern void synth_mt_reset_sequences(SynthMtPlan *plan, const char *target);

/* multitable_fill.c */
typedef struct SynthMtMember
{
	int64		model_id;		/* 0: the table was empty */
	int64		rows;
	int64		orphans;		/* rows whose context foreign key was NULL */
	SynthModel *model;
} SynthMtMember;

/* What synth_materialize's conditions ask of one table. */
typedef struct SynthMtCond
{
	char	   *where;			/* a predicate over the table's columns, or NULL */
	Jsonb	   *rebalance;		/* category shares of one column, or NULL */
	int64		rows;			/* rows of a table without a context parent, or -1 */
	SynthCondition *cond;		/* where's restrictions (over the source table's types) */
	TupleDesc	src_desc;		/* the source table's row type */
	int		   *att_encoder;	/* source attribute -> view column, or -1 */
} SynthMtCond;

#define SYNTH_MT_CONDITION_TRIES		10000	/* draws of one row before it is left out */
#define SYNTH_MT_CONDITION_MIN_TRIES	100000	/* rows drawn before a condition is judged too rare */
#define SYNTH_MT_CONDITION_MIN_RATE		0.001	/* below this share of rows satisfying it, stop */

extern int64 *synth_mt_fill(SynthMtPlan *plan, SynthMtMember *members, SynthMtCond *conds,
							const char *target, double scale, uint64 seed);

#endif							/* SYNTH_MULTITABLE_H */
