/*-------------------------------------------------------------------------
 *
 * sharing.h
 *	  Who may use a model: the readers of its source table, and the roles
 *	  a table's owner granted a differentially private model to (sharing.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_SHARING_H
#define SYNTH_SHARING_H

#include "postgres.h"

/* Can the current user read the relation: SELECT on it, or on every column? */
extern bool synth_can_read_relation(Oid relid);

/* Does the current user hold an active generate grant on the (private) model? */
extern bool synth_generate_granted(int64 model_id);

/* The newest ready private model of the table granted to the current user, or 0. */
extern int64 synth_latest_granted_model(Oid relid);

#endif							/* SYNTH_SHARING_H */
