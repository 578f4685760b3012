/*
 * pg_stubs.h
 *	  What a unit test needs of the server when the src file it includes
 *	  calls elog() or pg_strong_random(): an error ends the test program, and
 *	  the "secure" generator is a deterministic stand-in (splitmix64 from a
 *	  seed the test sets), so that statistical tests give the same verdict on
 *	  every run.
 */
#ifndef SYNTH_PG_STUBS_H
#define SYNTH_PG_STUBS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* postgres.h maps these to the server's pg_* versions, absent here */
#undef printf
#undef fprintf
#undef vfprintf
#undef snprintf
#undef qsort

static uint64 stub_random_state = 1;

pg_attribute_unused()
static void
stub_random_seed(uint64 seed)
{
	stub_random_state = seed;
}

bool
pg_strong_random(void *buf, size_t len)
{
	unsigned char *out = buf;

	for (size_t i = 0; i < len; i += 8)
	{
		uint64		z = (stub_random_state += UINT64CONST(0x9E3779B97F4A7C15));

		z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
		z ^= z >> 31;
		for (size_t j = 0; j < 8 && i + j < len; j++)
			out[i + j] = (unsigned char) (z >> (8 * j));
	}
	return true;
}

bool
errstart(int elevel, const char *domain)
{
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return true;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	fprintf(stderr, "  at %s:%d (%s)\n", filename, lineno, funcname);
	abort();
}

#endif							/* SYNTH_PG_STUBS_H */
