#!/usr/bin/env bash
# test.sh: runs every test of synth on a throwaway cluster: the pg_regress
# tests (sql/*.sql), the C unit tests (test/unit), the GPU parity test
# (test/gpu, SKIP without a device) and the TAP tests of the background jobs
# (test/t, each on clusters of its own, run as the cluster's user).  Installs
# what is missing when run as root on Debian.  Ends with one line "N passed,
# N failed"; exits non-zero on any failure.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SYNTH_ROOT"

passed=0
failed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/synth-test-logs.XXXXXX")
tapdir=""

finish() {
	local status=$?
	synth_cluster_stop
	rm -rf "$logdir"
	[ -z "$tapdir" ] || rm -rf "$tapdir"
	# a setup step (packages, build, cluster) that failed is a failure too
	if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	echo "$passed passed, $failed failed"
	exit "$status"
}
trap finish EXIT

# count LOG OK_PATTERN FAILED_PATTERN STATUS: add a step's results to the
# totals; a step that failed without naming a failed test counts as one.
count() {
	local log=$1 ok_pattern=$2 failed_pattern=$3 status=$4 ok bad
	ok=$(grep -cE "$ok_pattern" "$log" || true)
	bad=$(grep -E "$failed_pattern" "$log" | grep -vc 'ignored' || true)
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
}

synth_install_packages
synth_build_install
synth_cluster_start

synth_say "regression tests (make installcheck)"
status=0
make -s installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$logdir/installcheck.log" || status=$?
count "$logdir/installcheck.log" '\.\.\. ok( |$)' '\.\.\. (FAILED|failed)( |$)' "$status"
if [ "$status" -ne 0 ]; then
	if [ -f regression.diffs ]; then
		echo "---------------- regression.diffs"
		cat regression.diffs
	fi
	echo "---------------- server log (last 50 lines)"
	tail -n 50 "$SYNTH_PGDIR/server.log" || true
fi

synth_say "unit tests (make unit)"
status=0
make -s unit PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$logdir/unit.log" || status=$?
count "$logdir/unit.log" '^unit .* \.\.\. ok$' '^unit .* \.\.\. FAILED$' "$status"

synth_say "GPU parity (make gpu-test)"
status=0
make -s gpu-test PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$logdir/gpu.log" || status=$?
count "$logdir/gpu.log" '^gpu parity: PASS' '^gpu parity: FAIL' "$status"

synth_say "TAP tests: background jobs, cancel, crash and restart (make tap)"
status=0
tapdir=$(mktemp -d /tmp/synth-tap.XXXXXX)
synth_is_root && chown "$SYNTH_CLUSTER_USER:" "$tapdir"
synth_as_owner make -C "$SYNTH_ROOT" -s tap PG_CONFIG="$PG_CONFIG" TAP_TMPDIR="$tapdir" 2>&1 |
	tee "$logdir/tap.log" || status=$?
count "$logdir/tap.log" '^tap .* \.\.\. ok$' '^tap .* \.\.\. FAILED$' "$status"

[ "$failed" -eq 0 ]
