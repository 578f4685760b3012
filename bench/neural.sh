#!/usr/bin/env bash
#
# bench/neural.sh: figures for the neural methods (tvae, ctgan) on Adult.
# Prints figures, never pass/fail.
#
#   (a) seconds per epoch of each method with its default settings, on the
#       80 % split of ../shared/datasets/adult/adult.csv (as sql/adult.sql
#       splits it): (time of 3 epochs - time of 1 epoch) / 2, so that reading
#       and encoding the table are not counted
#   (b) a default training (300 epochs, batch 500, ...): total time, then
#       synth_generate as many rows as the 20 % holdout has and
#       synth_evaluate them against the holdout: quality_score (the issue's
#       goal is >= 0.90), column shapes, pair trends
#   (c) synth_generate of 1,000,000 rows of the trained model: rows/s
#
# Usage, from the repository root:
#
#   bench/neural.sh                 against a running server with synth installed
#                                   (PGHOST, PGPORT, PGUSER, PGDATABASE)
#   bench/neural.sh --start         build and install synth, start a throwaway
#                                   cluster through scripts/lib.sh, stop it at the end
#   --methods "tvae ctgan"          which methods (default both)
#   --epochs N                      epochs of the training of (b) (default: the method's, 300)
#   --per-epoch-only                only (a)
#   --device cpu|gpu|auto           the option "device" of the trainings (default cpu)
#   --openblas-core NAME            with --start: OPENBLAS_CORETYPE for the server, e.g.
#                                   SkylakeX where OpenBLAS does not know the CPU and
#                                   falls back to a slow generic kernel (see doc/benchmarks.md)
#
# Times are measured inside the server (clock_timestamp() around the
# statement).  The bench works in schema synth_bench_nn, dropped at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

START=0
METHODS="tvae ctgan"
EPOCHS=""
PER_EPOCH_ONLY=0
DEVICE=cpu
OPENBLAS_CORE=""
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--methods) METHODS="$2"; shift ;;
		--epochs) EPOCHS="$2"; shift ;;
		--per-epoch-only) PER_EPOCH_ONLY=1 ;;
		--device) DEVICE="$2"; shift ;;
		--openblas-core) OPENBLAS_CORE="$2"; shift ;;
		-h|--help) sed -n '2,35p' "$0"; exit 0 ;;
		*) echo "bench/neural.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

ADULT_CSV=../shared/datasets/adult/adult.csv
if [ ! -f "$ADULT_CSV" ]; then
	echo "bench/neural.sh: $ADULT_CSV is absent; nothing to measure" >&2
	exit 0
fi

if [ "$START" = 1 ]; then
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	trap synth_cluster_stop EXIT
	[ -n "$OPENBLAS_CORE" ] && export OPENBLAS_CORETYPE="$OPENBLAS_CORE"
	synth_install_packages
	synth_build_install
	synth_cluster_start
	export PGDATABASE=postgres
fi

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

run_sql() {
	"${PSQL[@]}" >/dev/null <<-EOF
	SET client_min_messages = warning;
	$1
	EOF
}

query() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	$1
	EOF
}

# Seconds the server spent on one statement (its result is discarded).
time_sql() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	SELECT clock_timestamp() AS bench_t0 \gset
	\o /dev/null
	$1
	\o
	SELECT round(extract(epoch FROM clock_timestamp() - :'bench_t0')::numeric, 3);
	EOF
}

figure() {
	printf '  %-62s %s\n' "$1" "$2"
}

run_sql "CREATE EXTENSION IF NOT EXISTS synth;
		 DROP SCHEMA IF EXISTS synth_bench_nn CASCADE;
		 CREATE SCHEMA synth_bench_nn;"
if [ "$START" = 1 ]; then
	trap 'run_sql "DROP SCHEMA IF EXISTS synth_bench_nn CASCADE" || true; synth_cluster_stop' EXIT
else
	trap 'run_sql "DROP SCHEMA IF EXISTS synth_bench_nn CASCADE" || true' EXIT
fi

echo "synth neural bench: $(query "SELECT split_part(version(), ',', 1)"); $(nproc) CPUs;" \
	"device option $DEVICE${OPENBLAS_CORE:+; server started with OPENBLAS_CORETYPE=$OPENBLAS_CORE}"

run_sql "CREATE TABLE synth_bench_nn.adult_raw (
			rn bigint GENERATED ALWAYS AS IDENTITY,
			age int, workclass text, fnlwgt int, education text, education_num int,
			marital_status text, occupation text, relationship text, race text, sex text,
			capital_gain int, capital_loss int, hours_per_week int, native_country text,
			income text)"
"${PSQL[@]}" -c "\\copy synth_bench_nn.adult_raw (age, workclass, fnlwgt, education, education_num, marital_status, occupation, relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income) FROM '$ADULT_CSV' WITH (FORMAT csv, HEADER true)"
ADULT_COLS="age, workclass, fnlwgt, education, education_num, marital_status, occupation,
			relationship, race, sex, capital_gain, capital_loss, hours_per_week,
			native_country, income"
run_sql "CREATE TABLE synth_bench_nn.adult_train AS
			SELECT $ADULT_COLS FROM synth_bench_nn.adult_raw WHERE rn % 5 <> 0 ORDER BY rn;
		 CREATE TABLE synth_bench_nn.adult_holdout AS
			SELECT $ADULT_COLS FROM synth_bench_nn.adult_raw WHERE rn % 5 = 0 ORDER BY rn;
		 ANALYZE synth_bench_nn.adult_train, synth_bench_nn.adult_holdout;"
TRAIN_ROWS=$(query "SELECT count(*) FROM synth_bench_nn.adult_train")
HOLDOUT_ROWS=$(query "SELECT count(*) FROM synth_bench_nn.adult_holdout")
echo "adult: $TRAIN_ROWS training rows, $HOLDOUT_ROWS holdout rows"

train() {	# method, extra options (json members, may be empty)
	local opts="\"seed\": 42, \"device\": \"$DEVICE\", \"progress_every\": 0"
	[ -n "$2" ] && opts="$opts, $2"
	time_sql "SELECT synth_train('synth_bench_nn.adult_train', '$1', '{$opts}');"
}

for M in $METHODS; do
	echo "-- $M"
	# (a) seconds per epoch
	T1=$(train "$M" '"epochs": 1')
	T3=$(train "$M" '"epochs": 3')
	figure "(a) $M: seconds per epoch (default batch)" \
		"$(awk -v a="$T1" -v b="$T3" 'BEGIN { printf "%.3f", (b - a) / 2 }') s (1 epoch $T1 s, 3 epochs $T3 s)"
	[ "$PER_EPOCH_ONLY" = 1 ] && continue

	# (b) a default training, scored against the holdout
	if [ -n "$EPOCHS" ]; then
		T=$(train "$M" "\"epochs\": $EPOCHS")
	else
		T=$(train "$M" "")
	fi
	figure "(b) $M: training with default settings${EPOCHS:+ but $EPOCHS epochs}" "$T s"
	run_sql "DROP TABLE IF EXISTS synth_bench_nn.adult_syn;
			 CREATE TABLE synth_bench_nn.adult_syn AS
				SELECT * FROM synth_generate(NULL::synth_bench_nn.adult_train, $HOLDOUT_ROWS, seed => 7);
			 CREATE TEMP TABLE IF NOT EXISTS bench_eval (column_name text, metric text, score float8);"
	while IFS='|' read -r metric score; do
		figure "(b) $M: $metric vs the holdout" "$score"
	done < <(query "SELECT metric, round(score::numeric, 4) FROM synth_evaluate('synth_bench_nn.adult_holdout', 'synth_bench_nn.adult_syn')
					WHERE column_name IS NULL AND metric IN ('column_shapes', 'column_pair_trends', 'quality_score', 'exact_copy_rate')
					ORDER BY metric")
	echo "   weakest column shapes:"
	query "SELECT '     ' || column_name || ' ' || metric || ' ' || round(score::numeric, 3)
		   FROM synth_evaluate('synth_bench_nn.adult_holdout', 'synth_bench_nn.adult_syn')
		   WHERE column_name NOT LIKE '%,%' AND metric IN ('KSComplement', 'TVComplement')
		   ORDER BY score LIMIT 4"

	# (c) generation speed
	G=$(time_sql "SELECT count(*) FROM synth_generate(NULL::synth_bench_nn.adult_train, 1000000, seed => 3);")
	figure "(c) $M: synth_generate 1,000,000 rows" \
		"$G s, $(awk -v s="$G" 'BEGIN { if (s > 0) printf "%d", 1000000 / s }') rows/s"
done
