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

#define SYNTH_CUDA_ABI_VERSION	3
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

/* The scalar of the neural-network operations: SynthReal of src/backend.h. */
typedef float SynthCudaReal;

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

	/*
	 * Version 2: the neural-network operations of src/backend.h, with the
	 * same arguments and meaning (booleans as int, SynthActivation as int),
	 * on device pointers.  They are asynchronous on the context's stream;
	 * sum waits for its result.
	 */
	SynthCudaStatus (*matmul) (SynthCudaContext *context, int transA, int transB,
							   int m, int n, int k, SynthCudaReal alpha,
							   const SynthCudaReal *A, int lda,
							   const SynthCudaReal *B, int ldb,
							   SynthCudaReal beta, SynthCudaReal *C, int ldc);
	SynthCudaStatus (*fill) (SynthCudaContext *context, size_t n, SynthCudaReal value,
							 SynthCudaReal *x);
	SynthCudaStatus (*axpby) (SynthCudaContext *context, size_t n, SynthCudaReal a,
							  const SynthCudaReal *x, SynthCudaReal b, SynthCudaReal *y);
	SynthCudaStatus (*mul) (SynthCudaContext *context, size_t n, const SynthCudaReal *x,
							const SynthCudaReal *y, SynthCudaReal *out);
	SynthCudaStatus (*copy2d) (SynthCudaContext *context, int rows, int cols,
							   const SynthCudaReal *src, int lds, SynthCudaReal beta,
							   SynthCudaReal *dst, int ldd);
	SynthCudaStatus (*bias_add) (SynthCudaContext *context, int rows, int cols,
								 const SynthCudaReal *bias, SynthCudaReal *x, int ldx);
	SynthCudaStatus (*bias_grad) (SynthCudaContext *context, int rows, int cols,
								  const SynthCudaReal *dout, int ldd, SynthCudaReal *dbias);
	SynthCudaStatus (*act_forward) (SynthCudaContext *context, int f, SynthCudaReal slope,
									int rows, int cols, const SynthCudaReal *inp, int ldi,
									SynthCudaReal *out, int ldo);
	SynthCudaStatus (*act_backward) (SynthCudaContext *context, int f, SynthCudaReal slope,
									 int rows, int cols, const SynthCudaReal *out, int ldo,
									 const SynthCudaReal *dout, int ldd,
									 SynthCudaReal *dinp, int ldn);
	SynthCudaStatus (*batchnorm_forward) (SynthCudaContext *context, int rows, int cols,
										  int training, SynthCudaReal momentum,
										  SynthCudaReal eps, const SynthCudaReal *inp,
										  const SynthCudaReal *gamma, const SynthCudaReal *beta,
										  SynthCudaReal *running_mean, SynthCudaReal *running_var,
										  SynthCudaReal *mean, SynthCudaReal *rstd,
										  SynthCudaReal *out);
	SynthCudaStatus (*batchnorm_backward) (SynthCudaContext *context, int rows, int cols,
										   const SynthCudaReal *inp, const SynthCudaReal *gamma,
										   const SynthCudaReal *mean, const SynthCudaReal *rstd,
										   const SynthCudaReal *dout, SynthCudaReal *dinp,
										   SynthCudaReal *dgamma, SynthCudaReal *dbeta);
	SynthCudaStatus (*dropout_forward) (SynthCudaContext *context, size_t n, SynthCudaReal p,
										unsigned long long seed, unsigned long long offset,
										const SynthCudaReal *inp, SynthCudaReal *mask,
										SynthCudaReal *out);
	SynthCudaStatus (*softmax_forward) (SynthCudaContext *context, int rows, int cols,
										SynthCudaReal tau, int gumbel,
										unsigned long long seed, unsigned long long offset,
										const SynthCudaReal *inp, int ldi,
										SynthCudaReal *out, int ldo);
	SynthCudaStatus (*softmax_backward) (SynthCudaContext *context, int rows, int cols,
										 SynthCudaReal tau, const SynthCudaReal *out, int ldo,
										 const SynthCudaReal *dout, int ldd,
										 SynthCudaReal *dinp, int ldn);
	SynthCudaStatus (*softmax_xent) (SynthCudaContext *context, int rows, int cols,
									 SynthCudaReal scale,
									 const SynthCudaReal *logits, int ldl,
									 const SynthCudaReal *target, int ldt,
									 SynthCudaReal *dlogits, int ldd, SynthCudaReal *loss);
	SynthCudaStatus (*gaussian_nll) (SynthCudaContext *context, int rows, int cols,
									 SynthCudaReal scale,
									 const SynthCudaReal *z, int ldz,
									 const SynthCudaReal *x, int ldx,
									 const SynthCudaReal *sigma,
									 SynthCudaReal *dz, int ldd, SynthCudaReal *dsigma,
									 SynthCudaReal *loss);
	SynthCudaStatus (*kl_normal) (SynthCudaContext *context, int rows, int cols,
								  SynthCudaReal scale,
								  const SynthCudaReal *mu, const SynthCudaReal *logvar,
								  SynthCudaReal *dmu, SynthCudaReal *dlogvar,
								  SynthCudaReal *loss);
	SynthCudaStatus (*norm_penalty) (SynthCudaContext *context, int rows, int cols,
									 SynthCudaReal scale, const SynthCudaReal *g,
									 SynthCudaReal *dg, SynthCudaReal *loss);
	SynthCudaStatus (*reparam_forward) (SynthCudaContext *context, size_t n,
										const SynthCudaReal *mu, const SynthCudaReal *logvar,
										const SynthCudaReal *eps, SynthCudaReal *z);
	SynthCudaStatus (*reparam_backward) (SynthCudaContext *context, size_t n,
										 const SynthCudaReal *logvar, const SynthCudaReal *eps,
										 const SynthCudaReal *dz,
										 SynthCudaReal *dmu, SynthCudaReal *dlogvar);
	SynthCudaStatus (*lerp_rows) (SynthCudaContext *context, int rows, int cols,
								  const SynthCudaReal *alpha, const SynthCudaReal *a,
								  const SynthCudaReal *b, SynthCudaReal *out);
	SynthCudaStatus (*adam) (SynthCudaContext *context, size_t n,
							 SynthCudaReal lr, SynthCudaReal beta1, SynthCudaReal beta2,
							 SynthCudaReal eps, SynthCudaReal weight_decay, int step,
							 SynthCudaReal *param, const SynthCudaReal *grad,
							 SynthCudaReal *m, SynthCudaReal *v);
	SynthCudaStatus (*clamp) (SynthCudaContext *context, size_t n,
							  SynthCudaReal lo, SynthCudaReal hi, SynthCudaReal *x);
	SynthCudaStatus (*fill_uniform) (SynthCudaContext *context, size_t n,
									 SynthCudaReal lo, SynthCudaReal hi,
									 unsigned long long seed, unsigned long long offset,
									 SynthCudaReal *x);
	SynthCudaStatus (*fill_normal) (SynthCudaContext *context, size_t n,
									SynthCudaReal mean, SynthCudaReal std,
									unsigned long long seed, unsigned long long offset,
									SynthCudaReal *x);
	SynthCudaStatus (*sum) (SynthCudaContext *context, size_t n, const SynthCudaReal *x,
							double *result);

	/* per-sample gradient clipping (synth_clip.cu), since ABI version 3 */
	SynthCudaStatus (*grad_norms_linear) (SynthCudaContext *context, int rows, int in, int out,
										  const SynthCudaReal *inp, int ldi,
										  const SynthCudaReal *dout, int ldd,
										  SynthCudaReal *norm2);
	SynthCudaStatus (*row_sumsq) (SynthCudaContext *context, int rows, int cols,
								  const SynthCudaReal *x, int ldx, SynthCudaReal *norm2);
	SynthCudaStatus (*clip_factors) (SynthCudaContext *context, int rows, SynthCudaReal max_norm,
									 const SynthCudaReal *norm2, SynthCudaReal *factor);
	SynthCudaStatus (*scale_rows) (SynthCudaContext *context, int rows, int cols,
								   const SynthCudaReal *factor, SynthCudaReal *x, int ldx);
} SynthCudaApi;

typedef const SynthCudaApi *(*SynthCudaApiFunc) (void);

/* The one exported entry point (named by SYNTH_CUDA_ENTRY_POINT). */
extern const SynthCudaApi *synth_cuda_api(void);

#ifdef __cplusplus
}
#endif

#endif							/* SYNTH_CUDA_H */
