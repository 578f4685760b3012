/*
 * synth_cuda.h: the C interface of synth_cuda.so, the CUDA backend that synth
 * loads at run time with dlopen(); needs no CUDA and no server headers.
 *
 * The library exports one entry point, synth_cuda_api(), that returns a table
 * of functions.  The caller checks abi_version before using anything else, so
 * that an old synth_cuda.so left in $libdir is refused rather than called
 * with the wrong arguments; bump SYNTH_CUDA_ABI_VERSION whenever the table
 * changes (new members go at the end).
 *
 * Every function that can fail returns a SynthCudaStatus and never exits.  The
 * message of the last failure (with the file and line of the failed CUDA or
 * cuBLAS call) is in the caller's buffer for probe/open and in error(context)
 * afterwards; turning it into an error report is the caller's business.
 *
 * Pointers given to gemm and the copies are device pointers from alloc,
 * except the host side of to_device/to_host.  Matrices are row-major, as in
 * src/backend.h.
 */
#ifndef SYNTH_CUDA_H
#define SYNTH_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define SYNTH_CUDA_ABI_VERSION	1
#define SYNTH_CUDA_ERRMSG_LEN	512
#define SYNTH_CUDA_ENTRY_POINT	"synth_cuda_api"

typedef enum SynthCudaStatus
{
	SYNTH_CUDA_OK = 0,
	SYNTH_CUDA_NO_DEVICE,		/* no driver or no device: not an error in 'auto' */
	SYNTH_CUDA_OUT_OF_MEMORY,
	SYNTH_CUDA_INVALID_ARGUMENT,
	SYNTH_CUDA_FAILED			/* any other CUDA or cuBLAS failure */
} SynthCudaStatus;

typedef struct SynthCudaContext SynthCudaContext;

typedef struct SynthCudaApi
{
	int			abi_version;	/* SYNTH_CUDA_ABI_VERSION of the library */

	/* How many devices there are, and the name of device 0. */
	SynthCudaStatus (*probe) (int *ndevices, char *name, size_t namelen,
							  char *errmsg, size_t errlen);

	/* Open device number `device` (a cuBLAS handle on it); close frees all. */
	SynthCudaStatus (*open) (int device, SynthCudaContext **context,
							 char *errmsg, size_t errlen);
	void		(*close) (SynthCudaContext *context);
	const char *(*device_name) (const SynthCudaContext *context);
	const char *(*error) (const SynthCudaContext *context);

	/* Device memory and copies; the copies are synchronous. */
	SynthCudaStatus (*alloc) (SynthCudaContext *context, void **ptr, size_t bytes);
	SynthCudaStatus (*free) (SynthCudaContext *context, void *ptr);
	SynthCudaStatus (*to_device) (SynthCudaContext *context, void *dst,
								  const void *src, size_t bytes);
	SynthCudaStatus (*to_host) (SynthCudaContext *context, void *dst,
								const void *src, size_t bytes);

	/* Row-major C = alpha * op(A) * op(B) + beta * C, as in src/backend.h. */
	SynthCudaStatus (*gemm) (SynthCudaContext *context,
							 int transA, int transB,
							 int m, int n, int k,
							 double alpha,
							 const double *A, int lda,
							 const double *B, int ldb,
							 double beta,
							 double *C, int ldc);
} SynthCudaApi;

typedef const SynthCudaApi *(*SynthCudaApiFunc) (void);

/* The one exported entry point (named by SYNTH_CUDA_ENTRY_POINT). */
extern const SynthCudaApi *synth_cuda_api(void);

#ifdef __cplusplus
}
#endif

#endif							/* SYNTH_CUDA_H */
