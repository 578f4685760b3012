#!/usr/bin/env bash
#
# bench/gpu.sh: the GPU figures, on a machine with a CUDA device.  Prints
# figures and the parity verdict, never a timing pass/fail.
#
#   1. the device (nvidia-smi) and the CUDA compiler
#   2. make gpu-test: every backend operation, whole TVAE/CTGAN training
#      steps and a DP-SGD clipped batch, CPU vs GPU (one verdict line)
#   3. bench/nn_engine on the CPU and on the GPU: milliseconds per TVAE and
#      CTGAN step on Adult's shapes (batch 500)
#   4. with ncu (Nsight Compute) on the PATH: a kernel-level profile of CTGAN
#      steps on the GPU: launches per step, GPU time per step by kernel, and
#      how much of a step's wall time the GPU is busy
#   5. unless --no-sql: bench/neural.sh --device gpu against a running server
#      with synth installed (PGHOST, PGPORT, PGUSER, PGDATABASE): seconds per
#      epoch, a default 300-epoch training's total time and quality on Adult,
#      and rows/s of generating 1,000,000 rows
#
# Usage, from the repository root:
#
#   bench/gpu.sh [--no-sql] [--no-build] [--methods "tvae ctgan"]
#
#   --no-build   use the built cuda/synth_cuda.so, test/gpu/parity and
#                bench/nn_engine as they are (a machine without the server's
#                headers)
#
set -euo pipefail

cd "$(dirname "$0")/.."

SQL=1
BUILD=1
METHODS="tvae ctgan"
while [ $# -gt 0 ]; do
	case "$1" in
		--no-sql) SQL=0 ;;
		--no-build) BUILD=0 ;;
		--methods) METHODS="$2"; shift ;;
		-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
		*) echo "bench/gpu.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

echo "== device"
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
else
	echo "no nvidia-smi: no NVIDIA device on this machine; nothing to measure"
	exit 0
fi
command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -n 1
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) x $(nproc)"

echo "== parity (CPU vs GPU)"
if [ "$BUILD" = 1 ]; then
	make -s gpu-test bench-engine
else
	./test/gpu/parity --cpu >/dev/null
	./test/gpu/parity cuda/synth_cuda.so
fi

echo "== engine steps (bench/nn_engine, Adult's shapes, batch 500)"
bench/nn_engine 50
bench/nn_engine 200 both cuda/synth_cuda.so

if command -v ncu >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	echo "== kernel profile: CTGAN, 1 warm-up + 4 steps on the GPU (ncu, clocks as the device runs them)"
	prof=$(mktemp -d)
	ncu --clock-control none --csv --page raw --print-units base --metrics \
		gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__grid_size \
		bench/nn_engine 4 ctgan cuda/synth_cuda.so >"$prof/ncu.csv" 2>"$prof/ncu.err" ||
		{ tail -n 20 "$prof/ncu.err"; }
	STEPS=5 python3 - "$prof/ncu.csv" <<-'EOF'
	import csv, os, sys
	from collections import defaultdict
	steps = int(os.environ["STEPS"])
	def num(x):
	    try:
	        return float((x or "0").replace(",", ""))
	    except ValueError:
	        return 0.0
	rows = [l for l in open(sys.argv[1]) if l.startswith('"')]
	data = list(csv.DictReader(rows))
	if data and not data[0].get("Kernel Name"):
	    data.pop(0)           # a line of units (base units: time in ns)
	per = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0])
	total = 0.0
	n = 0
	for r in data:
	    name = r["Kernel Name"].split("(")[0]
	    if len(name) > 60:
	        name = name[:57] + "..."
	    t = num(r["gpu__time_duration.sum"]) * 1e-3     # ns -> us
	    p = per[name]
	    p[0] += 1; p[1] += t
	    p[2] += t * num(r["sm__throughput.avg.pct_of_peak_sustained_elapsed"])
	    p[3] += t * num(r["dram__throughput.avg.pct_of_peak_sustained_elapsed"])
	    p[4] = max(p[4], int(num(r["launch__grid_size"])))
	    total += t; n += 1
	print(f"kernels: {n} launches in {steps} steps (and the set-up): {n/steps:.0f} per step, "
	      f"GPU busy {total/steps:.0f} us per step")
	print(f"{'kernel':60s} {'per step':>8s} {'us/step':>8s} {'SM %':>6s} {'DRAM %':>6s} {'grid':>6s}")
	for name, (c, t, sm, dr, g) in sorted(per.items(), key=lambda kv: -kv[1][1])[:20]:
	    print(f"{name:60s} {c/steps:8.1f} {t/steps:8.1f} {sm/t:6.1f} {dr/t:6.1f} {g:6d}")
	EOF
	rm -rf "$prof"
else
	echo "== kernel profile: skipped (no ncu or python3 on the PATH)"
fi

if [ "$SQL" = 1 ]; then
	echo "== bench/neural.sh --device gpu"
	bench/neural.sh --device gpu --methods "$METHODS"
fi
