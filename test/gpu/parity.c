/*
 * parity.c: checks that the CUDA backend (cuda/synth_cuda.so) computes what
 * the CPU backend (src/backend_cpu.c, OpenBLAS) computes, within a tolerance.
 *
 * Usage: parity [path/to/synth_cuda.so]   (make gpu-test)
 *
 * Prints one verdict line: "gpu parity: PASS (max rel err ...)" and exits 0,
 * "gpu parity: FAIL ..." and exits 1, or "SKIP: no CUDA device (...)" and exits
 * 0 where the library was not built or no device can be opened.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "synth_cuda.h"

#define PARITY_TOLERANCE	1e-12	/* doubles: only summation order differs */

static const SynthCudaApi *cuda;
static SynthCudaContext *context;

static void
skip(const char *why)
{
	printf("SKIP: no CUDA device (%s)\n", why);
	exit(0);
}

static void
fail(const char *what, const char *why)
{
	printf("gpu parity: FAIL (%s: %s)\n", what, why);
	exit(1);
}

/* Uniform in [-1, 1) from a fixed-seed LCG, so that a failure reproduces. */
static double
next_uniform(unsigned long long *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (*state >> 11) / (double) (1ULL << 53) * 2.0 - 1.0;
}

static double *
random_matrix(size_t count, unsigned long long *state)
{
	double	   *m = malloc(count * sizeof(double));

	if (m == NULL)
		fail("malloc", "out of memory");
	for (size_t i = 0; i < count; i++)
		m[i] = next_uniform(state);
	return m;
}

static void *
device_copy(const double *host, size_t count)
{
	void	   *ptr;

	if (cuda->alloc(context, &ptr, count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("alloc", cuda->error(context));
	if (cuda->to_device(context, ptr, host, count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("to_device", cuda->error(context));
	return ptr;
}

/*
 * One gemm on both backends: C (m, n) = alpha * op(A) * op(B) + beta * C,
 * with padded leading dimensions so that strides are exercised too.
 * Returns max |gpu - cpu| / max |cpu|.
 */
static double
compare_gemm(bool transA, bool transB, int m, int n, int k,
			 unsigned long long *state)
{
	const SynthBackend *cpu = synth_backend_cpu();
	double		alpha = 0.75,
				beta = -0.5;
	int			a_rows = transA ? k : m,
				a_cols = transA ? m : k;
	int			b_rows = transB ? n : k,
				b_cols = transB ? k : n;
	int			lda = a_cols + 3,
				ldb = b_cols + 1,
				ldc = n + 2;
	size_t		a_count = (size_t) a_rows * lda,
				b_count = (size_t) b_rows * ldb,
				c_count = (size_t) m * ldc;
	double	   *A = random_matrix(a_count, state);
	double	   *B = random_matrix(b_count, state);
	double	   *C_cpu = random_matrix(c_count, state);
	double	   *C_gpu = malloc(c_count * sizeof(double));
	void	   *dA,
			   *dB,
			   *dC;
	double		max_diff = 0.0,
				max_abs = 0.0;

	if (C_gpu == NULL)
		fail("malloc", "out of memory");
	dA = device_copy(A, a_count);
	dB = device_copy(B, b_count);
	dC = device_copy(C_cpu, c_count);

	cpu->gemm(cpu, transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C_cpu, ldc);
	if (cuda->gemm(context, transA, transB, m, n, k, alpha,
				   dA, lda, dB, ldb, beta, dC, ldc) != SYNTH_CUDA_OK)
		fail("gemm", cuda->error(context));
	if (cuda->to_host(context, C_gpu, dC, c_count * sizeof(double)) != SYNTH_CUDA_OK)
		fail("to_host", cuda->error(context));

	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++)
		{
			double		c = C_cpu[(size_t) i * ldc + j];
			double		g = C_gpu[(size_t) i * ldc + j];

			double		diff = fabs(g - c);

			if (j >= n)
			{
				if (c != g)
					fail("gemm", "wrote past the n columns of C");
				continue;
			}
			if (isnan(diff))
				diff = INFINITY;
			if (diff > max_diff)
				max_diff = diff;
			if (fabs(c) > max_abs)
				max_abs = fabs(c);
		}

	cuda->free(context, dA);
	cuda->free(context, dB);
	cuda->free(context, dC);
	free(A);
	free(B);
	free(C_cpu);
	free(C_gpu);
	return max_abs > 0.0 ? max_diff / max_abs : max_diff;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "cuda/synth_cuda.so";
	static const int shapes[][3] = {{67, 45, 93}, {1, 130, 7}, {256, 257, 255}};
	char		errmsg[SYNTH_CUDA_ERRMSG_LEN];
	char		name[256];
	void	   *library;
	SynthCudaApiFunc api_func;
	int			ndevices;
	unsigned long long state = 20240601ULL;
	double		worst = 0.0;

	library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (library == NULL)
		skip(dlerror());
	api_func = (SynthCudaApiFunc) dlsym(library, SYNTH_CUDA_ENTRY_POINT);
	if (api_func == NULL)
		fail(path, "no entry point " SYNTH_CUDA_ENTRY_POINT);
	cuda = api_func();
	if (cuda->abi_version != SYNTH_CUDA_ABI_VERSION)
		fail(path, "interface version differs from cuda/synth_cuda.h; rebuild");
	if (cuda->probe(&ndevices, name, sizeof(name), errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK)
		skip(errmsg);
	if (cuda->open(0, &context, errmsg, sizeof(errmsg)) != SYNTH_CUDA_OK)
		fail("open", errmsg);

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int transA = 0; transA <= 1; transA++)
			for (int transB = 0; transB <= 1; transB++)
			{
				double		err = compare_gemm(transA, transB, shapes[s][0],
											   shapes[s][1], shapes[s][2], &state);

				if (!(err <= PARITY_TOLERANCE))
				{
					printf("gpu parity: FAIL (gemm transA=%d transB=%d m=%d n=%d k=%d: "
						   "max rel err %.3g > %.0e on %s)\n",
						   transA, transB, shapes[s][0], shapes[s][1], shapes[s][2],
						   err, PARITY_TOLERANCE, cuda->device_name(context));
					return 1;
				}
				if (err > worst)
					worst = err;
			}

	printf("gpu parity: PASS (max rel err %.3g, gemm in 4 transpose cases x %zu shapes on %s)\n",
		   worst, sizeof(shapes) / sizeof(shapes[0]), cuda->device_name(context));
	cuda->close(context);
	return 0;
}
