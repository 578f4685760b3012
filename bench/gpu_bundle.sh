#!/usr/bin/env bash
#
# bench/gpu_bundle.sh: pack what bench/gpu.sh needs for a bare GPU machine
# that has CUDA but neither PostgreSQL nor OpenBLAS nor a package registry
# (the device machines this workplace lends): PostgreSQL 15 from this
# machine relocated to /opt/synthpg with synth (and synth_cuda.so for
# Turing..Hopper) installed, the shared libraries they need with their
# run-time search path set to /opt/synthpg/deplib, the parity test and
# bench/nn_engine, and Adult's CSV.  Writes .gpu/ (ignored by git; about
# 33 MB); then on the GPU machine, from the repository root, with .gpu
# carried:
#
#   bash bench/gpu_device.sh          (DRY=1 rehearses it here on the CPU)
#
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PGBIN=$(pg_config --bindir)
PGLIB=/usr/lib/postgresql/15
R=/opt/synthpg/deplib

command -v patchelf >/dev/null || apt-get install -y -qq patchelf >/dev/null
make -s -j"$(nproc)"
make -s gpu-test >/dev/null 2>&1 || true	# builds test/gpu/parity (SKIP here)
make -s bench-engine
[ -f cuda/synth_cuda.so ] || { echo "bench/gpu_bundle.sh: no cuda/synth_cuda.so (nvcc not found?)" >&2; exit 1; }

mkdir -p "$STAGE/synthpg/usr/lib/postgresql" "$STAGE/synthpg/usr/share/postgresql" \
	"$STAGE/synthpg/deplib" "$STAGE/synthpg/tools"
cp -a "$PGLIB" "$STAGE/synthpg/usr/lib/postgresql/"
rm -rf "$STAGE/synthpg$PGLIB/lib/bitcode" "$STAGE/synthpg$PGLIB"/lib/llvmjit*
cp -a /usr/share/postgresql/15 "$STAGE/synthpg/usr/share/postgresql/"
make -s install DESTDIR="$STAGE/synthpg" >/dev/null
cp test/gpu/parity bench/nn_engine "$STAGE/synthpg/tools/"
# every library but the C and C++ runtimes, which the GPU machine has newer
for f in "$PGBIN"/postgres "$PGBIN"/initdb "$PGBIN"/pg_ctl "$PGBIN"/psql synth.so test/gpu/parity; do
	ldd "$f"
done | awk '/=>/ {print $3}' | sort -u |
	grep -v -E '/(libc|libm|libresolv|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so' |
	xargs -I{} cp -L {} "$STAGE/synthpg/deplib/"
for f in "$STAGE"/synthpg$PGLIB/bin/* "$STAGE"/synthpg$PGLIB/lib/*.so \
	"$STAGE"/synthpg/tools/* "$STAGE"/synthpg/deplib/*; do
	file -L "$f" | grep -q ELF && patchelf --force-rpath --set-rpath "$R" "$f"
done
patchelf --force-rpath --set-rpath "/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib:$R" \
	"$STAGE/synthpg$PGLIB/lib/synth_cuda.so"

mkdir -p .gpu
[ -f ../shared/datasets/adult/adult.csv ] && cp ../shared/datasets/adult/adult.csv .gpu/
(cd "$STAGE" && XZ_OPT=-T"$(nproc)" tar -cJf - synthpg) >.gpu/bundle.tar.xz
ls -la .gpu
