# Makefile: builds synth.so with PGXS (CPU backend on OpenBLAS) and, where
# nvcc is found, cuda/synth_cuda.so (the CUDA backend, loaded at run time).
#
#   make && make install        build and install (make NO_CUDA=1: CPU only)
#   make installcheck           pg_regress tests sql/*.sql against a server
#   make unit                   standalone C tests test/unit/*_test.c
#   make gpu-test               CPU-vs-GPU parity (prints SKIP without a device)
#   make bench-engine           bench/nn_engine: the neural engine's speed alone (CPU, or GPU)
#
# scripts/test.sh runs all of them on a throwaway cluster.

EXTENSION = synth
MODULE_big = synth
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA = $(wildcard sql/synth--*.sql)

# Every sql/*.sql but the install scripts is a regression test.
REGRESS := $(sort $(basename $(notdir $(filter-out sql/synth--%.sql,$(wildcard sql/*.sql)))))

# Debian keeps OpenBLAS's cblas.h in a directory per threading flavour.
BLAS_INCDIR ?= $(firstword $(wildcard /usr/include/*/openblas-pthread /usr/include/*/openblas-openmp /usr/include/*/openblas-serial /usr/include/openblas))
BLAS_CFLAGS ?= $(if $(BLAS_INCDIR),-I$(BLAS_INCDIR))
BLAS_LIBS ?= -lopenblas

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/cuda $(BLAS_CFLAGS)
PG_CFLAGS = -O2
SHLIB_LINK = $(BLAS_LIBS) -lm -ldl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

CONTRIB_TESTDB = synth_regression

# The CPU backend's loops are the neural engine's elementwise work: let the
# compiler vectorise them (-O3), also where they take square roots (no errno
# from sqrtf: -fno-math-errno) and select on comparisons of floats (no
# floating-point traps are ever enabled: -fno-trapping-math).  Neither
# changes a result.
BACKEND_CPU_CFLAGS = -O3 -fno-math-errno -fno-trapping-math
src/backend_cpu.o: CFLAGS += $(BACKEND_CPU_CFLAGS)

# The quality report's distance loops and tree histograms vectorise as well
# (its privacy figures on Adult: 2.3 s at -O2, 0.5 s at -O3).
src/quality.o src/gbt.o: CFLAGS += -O3

# Unit tests that include a source file are rebuilt when it changes.
test/unit/gbt_test: src/gbt.c src/gbt.h

.PHONY: cuda-lib install-cuda uninstall-cuda clean-tests unit gpu-test bench-engine

# ---------------------------------------------------------------- CUDA backend

NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(NVCC)))
CUDA_LIBDIR ?= $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib))
NVCCFLAGS ?= -O2
# Machine code for Turing to Hopper (T4, A100, A10/RTX 30, L4/RTX 40, H100/H200)
# and PTX for later GPUs, so that no device JIT-compiles the kernels when a
# backend first opens it (a server's cluster user often has no cache for it).
NVCC_ARCH ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
	-gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
	-gencode arch=compute_90,code=[sm_90,compute_90]
CUDA_SRCS = $(sort $(wildcard cuda/*.cu))
CUDA_LDFLAGS = $(if $(CUDA_LIBDIR),-L$(CUDA_LIBDIR) -Xlinker -rpath -Xlinker $(CUDA_LIBDIR)) -lcublas -lcudart

ifeq ($(NO_CUDA)$(if $(NVCC),,none),)
CUDA_LIB = cuda/synth_cuda.so
endif

all: cuda-lib

ifneq ($(CUDA_LIB),)
cuda-lib: $(CUDA_LIB)

$(CUDA_LIB): $(CUDA_SRCS) $(wildcard cuda/*.h cuda/*.cuh)
	$(NVCC) $(NVCCFLAGS) $(NVCC_ARCH) -shared -Xcompiler -fPIC,-fvisibility=hidden \
		-I$(srcdir)/cuda -o $@ $(CUDA_SRCS) $(CUDA_LDFLAGS)

install: install-cuda
install-cuda: $(CUDA_LIB) installdirs
	$(INSTALL_SHLIB) $(CUDA_LIB) '$(DESTDIR)$(pkglibdir)/synth_cuda.so'
else
cuda-lib:
	@echo "synth: CUDA backend skipped ($(if $(NO_CUDA),NO_CUDA is set,nvcc not found)): building the CPU backend only"
install-cuda:
endif

uninstall: uninstall-cuda
uninstall-cuda:
	rm -f '$(DESTDIR)$(pkglibdir)/synth_cuda.so'

# ---------------------------------------------------------------- tests outside the server

# Standalone programs: they may include server headers for types but link
# only server-free sources (src/backend_cpu.c), OpenBLAS and libm.
TEST_CFLAGS = -O2 -g -Wall -I$(srcdir)/src -I$(srcdir)/cuda -I$(includedir_server) $(BLAS_CFLAGS)
TEST_LIBS = $(BLAS_LIBS) -lm -ldl
UNIT_BINS = $(patsubst %.c,%,$(sort $(wildcard test/unit/*_test.c)))

# The training engine (src/nn*.c) is server-free too and linked into every test.
NN_SRCS = $(sort $(wildcard src/nn*.c))

# The CPU backend is compiled as in the extension (BACKEND_CPU_CFLAGS).
test/unit/%_test: test/unit/%_test.c src/backend_cpu.c src/backend.h $(NN_SRCS) $(wildcard src/nn*.h test/unit/*.h)
	$(CC) $(TEST_CFLAGS) $(BACKEND_CPU_CFLAGS) -o $@ $< src/backend_cpu.c $(NN_SRCS) $(TEST_LIBS)

# Gradients are checked by finite differences, which need double precision.
test/unit/nn_test: TEST_CFLAGS += -DSYNTH_REAL_DOUBLE

# One line per program, "unit NAME ... ok" or "... FAILED"; fails if any failed.
unit: $(UNIT_BINS)
	@failed=0; \
	for t in $(UNIT_BINS); do \
		if ./$$t; then echo "unit $$(basename $$t) ... ok"; \
		else echo "unit $$(basename $$t) ... FAILED"; failed=$$((failed + 1)); fi; \
	done; \
	$(if $(UNIT_BINS),,echo "unit: no tests in test/unit";) \
	test $$failed -eq 0

# The engine alone on Adult's shapes: milliseconds per TVAE and CTGAN step (bench/nn_engine.c).
bench/nn_engine: bench/nn_engine.c src/backend_cpu.c src/backend_gpu.c src/backend.h cuda/synth_cuda.h $(NN_SRCS) $(wildcard src/nn*.h)
	$(CC) $(TEST_CFLAGS) $(BACKEND_CPU_CFLAGS) -o $@ $< src/backend_cpu.c src/backend_gpu.c $(NN_SRCS) $(TEST_LIBS)

bench-engine: bench/nn_engine

test/gpu/parity: test/gpu/parity.c src/backend_cpu.c src/backend_gpu.c src/backend.h cuda/synth_cuda.h $(NN_SRCS) $(wildcard src/nn*.h)
	$(CC) $(TEST_CFLAGS) -o $@ test/gpu/parity.c src/backend_cpu.c src/backend_gpu.c $(NN_SRCS) $(TEST_LIBS)

# Prints "gpu parity: PASS|FAIL ..." or "SKIP: no CUDA device"; the harness
# first checks itself on the CPU alone.
gpu-test: cuda-lib test/gpu/parity
	@./test/gpu/parity --cpu >/dev/null || ./test/gpu/parity --cpu
	./test/gpu/parity cuda/synth_cuda.so

# ---------------------------------------------------------------- TAP tests

# test/t/*.pl start their own clusters (PostgreSQL::Test::Cluster from the
# server dev package) against the installed synth: crash, restart, workers.
# initdb refuses root: scripts/test.sh runs this as the cluster's user with
# TAP_TMPDIR a directory that user may write.  One line per file,
# "tap NAME ... ok" or "... FAILED" (then the file's log); fails if any failed.
TAP_TMPDIR ?= $(CURDIR)/tmp_check
TAP_TESTS = $(sort $(wildcard test/t/*.pl))

.PHONY: tap
tap:
	@failed=0; \
	for t in $(TAP_TESTS); do \
		name=$$(basename $$t .pl); \
		rm -rf '$(TAP_TMPDIR)/'$$name; mkdir -p '$(TAP_TMPDIR)/'$$name; \
		if TESTDIR='$(TAP_TMPDIR)/'$$name PATH="$(bindir):$$PATH" \
			PG_REGRESS='$(pgxsdir)/src/test/regress/pg_regress' \
			$(PROVE) -I '$(pgxsdir)/src/test/perl' -I test/perl $$t > '$(TAP_TMPDIR)/'$$name.out 2>&1; then \
			echo "tap $$name ... ok"; \
		else \
			echo "tap $$name ... FAILED"; failed=$$((failed + 1)); \
			cat '$(TAP_TMPDIR)/'$$name.out; \
			tail -n 60 '$(TAP_TMPDIR)/'$$name/tmp_check/log/regress_log_$$name 2>/dev/null; \
			for log in '$(TAP_TMPDIR)/'$$name/tmp_check/log/*.log; do \
				echo "---- $$log"; grep -v 'statement:' $$log | tail -n 25; done; \
		fi; \
	done; \
	$(if $(TAP_TESTS),,echo "tap: no tests in test/t";) \
	test $$failed -eq 0

clean: clean-tests
clean-tests:
	rm -f cuda/synth_cuda.so test/gpu/parity bench/nn_engine $(UNIT_BINS)
