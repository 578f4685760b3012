/*-------------------------------------------------------------------------
 *
 * backend_cpu.c
 *	  The CPU backend: every operation, on host memory, with OpenBLAS and
 *	  plain C.  It is the reference that the GPU backend is tested against.
 *
 * This file includes no server headers on purpose: test/unit and test/gpu
 * link it into standalone programs.  Nothing here can fail, so nothing here
 * needs ereport.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>

#include "backend.h"

static bool
cpu_supports(const SynthBackend *backend, SynthOp op)
{
	switch (op)
	{
		case SYNTH_OP_GEMM:
			return true;
		case SYNTH_OP_ALLOC:
		case SYNTH_OP_COPY:
			/* host memory: callers palloc and memcpy themselves */
			return false;
		case SYNTH_OP_COUNT:
			break;
	}
	return false;
}

static void
cpu_gemm(const SynthBackend *backend,
		 bool transA, bool transB,
		 int m, int n, int k,
		 double alpha,
		 const double *A, int lda,
		 const double *B, int ldb,
		 double beta,
		 double *C, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	cblas_dgemm(CblasRowMajor,
				transA ? CblasTrans : CblasNoTrans,
				transB ? CblasTrans : CblasNoTrans,
				m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

static const SynthBackend cpu_backend = {
	.name = "cpu",
	.context = NULL,
	.supports = cpu_supports,
	.gemm = cpu_gemm,
	.alloc = NULL,
	.free = NULL,
	.to_device = NULL,
	.to_host = NULL,
};

const SynthBackend *
synth_backend_cpu(void)
{
	return &cpu_backend;
}
