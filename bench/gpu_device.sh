#!/usr/bin/env bash
# bench/gpu_device.sh: on the GPU machine (see bench/gpu_bundle.sh): unpack the relocated PostgreSQL 15 with
# synth installed, start a throwaway cluster, run bench/gpu.sh.  DRY=1: a local
# rehearsal on the CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-/tmp/gpu-out}; mkdir -p "$OUTDIR"
if [ -f .gpu/bundle.tar.xz ]; then rm -rf /opt/synthpg; tar -xJf .gpu/bundle.tar.xz -C /opt || exit 1; fi
chmod -R a+rX /opt/synthpg
mkdir -p ../shared/datasets/adult && cp .gpu/adult.csv ../shared/datasets/adult/adult.csv 2>/dev/null
install -m 755 /opt/synthpg/tools/parity test/gpu/parity
install -m 755 /opt/synthpg/tools/nn_engine bench/nn_engine
install -m 755 /opt/synthpg/usr/lib/postgresql/15/lib/synth_cuda.so cuda/synth_cuda.so
if ldd cuda/synth_cuda.so | grep -q 'not found'; then
	ldd cuda/synth_cuda.so | grep 'not found'
	d=$(dirname "$(find / -xdev -name 'libcublas.so.13*' 2>/dev/null | head -1)")
	echo "cublas found in $d"; export LD_LIBRARY_PATH=$d:$(dirname "$(find / -xdev -name 'libcudart.so.13*' 2>/dev/null | head -1)")
fi
export PG_CONFIG=/opt/synthpg/usr/lib/postgresql/15/bin/pg_config
export PATH=/opt/synthpg/usr/lib/postgresql/15/bin:$PATH
. scripts/lib.sh
trap synth_cluster_stop EXIT
synth_cluster_start
export PGDATABASE=postgres
psql -X -Atc "CREATE EXTENSION synth; SELECT extversion FROM pg_extension WHERE extname = 'synth'; SHOW synth.device;" 2>&1 | tail -3
if [ "${DRY:-0}" = 1 ]; then
	bench/neural.sh --per-epoch-only --methods tvae --device cpu
else
	timeout "${LIMIT:-540}" bench/gpu.sh --no-build --methods "ctgan tvae" 2>&1 | tee "$OUTDIR/gpu.log"
fi
grep -iE 'error|fatal|panic' "$SYNTH_PGDIR/server.log" | tail -20 > "$OUTDIR/server-errors.log"
