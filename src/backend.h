/*-------------------------------------------------------------------------
 *
 * backend.h
 *	  The compute backends of synth: one table of operations per backend
 *	  (CPU with OpenBLAS, GPU with cuBLAS loaded from synth_cuda.so), chosen
 *	  at run time by the GUC synth.device.
 *
 * A backend is a table of function pointers plus an opaque context, as in
 * ggml.  The CPU backend is always complete and is the reference; the other
 * backends may leave an operation NULL and say so through supports().  New
 * operations are added by appending a SynthOp and a member to SynthBackend;
 * callers ask supports() before using anything that is not in every backend.
 *
 * Memory: the pointers given to an operation live in the backend's memory.
 * A backend whose alloc is NULL works on host memory (palloc'd by the
 * caller); otherwise operands must come from its alloc and be filled with
 * to_device.  synth_buffer_*() below hide the difference for callers that
 * want to write one code path.
 *
 * This header needs no server headers, so that the standalone unit and GPU
 * parity tests can use backend_cpu.c without linking against PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_BACKEND_H
#define SYNTH_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

/* Operations a backend may provide; supports() is asked with these. */
typedef enum SynthOp
{
	SYNTH_OP_GEMM,				/* gemm */
	SYNTH_OP_ALLOC,				/* alloc and free of backend memory */
	SYNTH_OP_COPY,				/* to_device and to_host */
	SYNTH_OP_COUNT				/* keep last */
} SynthOp;

typedef struct SynthBackend SynthBackend;

struct SynthBackend
{
	const char *name;			/* "cpu", or "gpu: <device name>" */
	void	   *context;		/* owned by the backend, opaque to callers */

	/* Does this backend implement op?  Never NULL. */
	bool		(*supports) (const SynthBackend *backend, SynthOp op);

	/*
	 * Row-major C = alpha * op(A) * op(B) + beta * C, where op(X) is X or its
	 * transpose.  C is (m, n), op(A) is (m, k), op(B) is (k, n); lda, ldb and
	 * ldc are the row strides of A, B and C as stored (so lda is k without
	 * transA and m with it).  With beta = 0, C need not be initialised.
	 * Never NULL.
	 */
	void		(*gemm) (const SynthBackend *backend,
						 bool transA, bool transB,
						 int m, int n, int k,
						 double alpha,
						 const double *A, int lda,
						 const double *B, int ldb,
						 double beta,
						 double *C, int ldc);

	/* Backend memory; NULL when the backend works on host memory. */
	void	   *(*alloc) (const SynthBackend *backend, size_t bytes);
	void		(*free) (const SynthBackend *backend, void *ptr);
	void		(*to_device) (const SynthBackend *backend, void *dst,
							  const void *src, size_t bytes);
	void		(*to_host) (const SynthBackend *backend, void *dst,
							const void *src, size_t bytes);
};

/* backend_cpu.c: the OpenBLAS backend, needing no server headers */
extern const SynthBackend *synth_backend_cpu(void);

/*
 * backend.c: GUC synth.device, run-time choice of the backend, and buffers
 * that live in the chosen backend's memory.  Failures of a loaded backend
 * are raised with ereport(ERROR).
 */
extern void SynthBackendInit(void);
extern const SynthBackend *synth_backend_get(void);
extern void *synth_buffer_alloc(const SynthBackend *backend, size_t bytes);
extern void synth_buffer_free(const SynthBackend *backend, void *buffer);
extern void synth_buffer_upload(const SynthBackend *backend, void *buffer,
								const void *host, size_t bytes);
extern void synth_buffer_download(const SynthBackend *backend, void *host,
								  const void *buffer, size_t bytes);

#endif							/* SYNTH_BACKEND_H */
