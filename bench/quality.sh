#!/usr/bin/env bash
#
# bench/quality.sh: what the quality report costs and what it finds.
# Prints figures, never pass/fail.
#
#   (a) Adult (skipped when ../shared/datasets/adult/adult.csv, from the
#       repository root, is absent): a copula trained with a 20 % holdout,
#       synth_report(model, 'income') with the default sample sizes: its time
#       by phase, and its figures (detection AUC, TSTR against TRTR, privacy)
#   (b) a 1,000,000-row table the bench builds with SQL (the table of
#       bench/copula.sh: int, bigint, numeric(12,2), float8, text category,
#       bool, date, timestamptz), a copula trained with a 20 % holdout, and
#       synth_report(model, 'region') with the default sample sizes: the time
#       is bounded by them (10,000 rows a side, 1,000 distance queries), not
#       by the table
#   (c) the same report with sample_rows 50,000: how the time grows with the
#       sample
#
# Usage, from the repository root:
#
#   bench/quality.sh                 against a running server with synth installed,
#                                    reached through PGHOST, PGPORT, PGUSER,
#                                    PGDATABASE (scripts/demo.sh leaves one running)
#   bench/quality.sh --start         build and install synth, start a throwaway
#                                    cluster through scripts/lib.sh, stop it at the end
#   bench/quality.sh --rows N        size of the generated table (default 1000000)
#
# Times are measured inside the server (clock_timestamp() around the
# statement), so connection start-up is not counted; the phases come from the
# report's own phase_seconds.  The bench works in schema synth_bench_quality,
# which it drops at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

ROWS=1000000
START=0
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--rows) ROWS="$2"; shift ;;
		-h|--help) sed -n '2,33p' "$0"; exit 0 ;;
		*) echo "bench/quality.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

ADULT_CSV=../shared/datasets/adult/adult.csv

if [ "$START" = 1 ]; then
	# scripts/lib.sh builds and installs synth, starts a throwaway cluster
	# and exports PGHOST, PGPORT and PGUSER for it
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	trap synth_cluster_stop EXIT
	synth_install_packages
	synth_build_install
	synth_cluster_start
	export PGDATABASE=postgres
fi

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

# Run SQL quietly (NOTICEs off, results discarded).
run_sql() {
	"${PSQL[@]}" >/dev/null <<-EOF
	SET client_min_messages = warning;
	$1
	EOF
}

# Print what a query returns.
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

declare -a LABELS=() VALUES=()
figure() {
	LABELS+=("$1")
	VALUES+=("$2")
	printf '  %-62s %s\n' "$1" "$2" >&2
}

# A stored report's figure, rounded.
stored() {
	query "SELECT coalesce(round((metrics->'quality'->'$2'->>'$3')::numeric, 4)::text, 'null')
		   FROM synth.models WHERE id = $1"
}

# The phases of a stored report: "generate 0.1, read 0.4, ..." in seconds.
phases() {
	query "SELECT string_agg(key || ' ' || value, ', ' ORDER BY key)
		   FROM synth.models, jsonb_each_text(metrics->'quality'->'phase_seconds')
		   WHERE id = $1"
}

# The generated table of bench/copula.sh: columns that depend on each other.
COLUMNS_SQL="
	(18 + abs(hashint4(i)) % 60)::int AS age,
	(abs(hashint4(i + 7)) % 1000000)::bigint * 1000 + i AS account,
	round((abs(hashint4(i)) % 60 * 20 + abs(hashint4(i * 3)) % 50000 / 100.0)::numeric, 2)::numeric(12,2) AS amount,
	(abs(hashint4(i)) % 60)::float8 * 0.5 + (hashint4(i * 5) % 1000) / 100.0 AS score,
	CASE WHEN i % 50 = 0 THEN NULL
		 ELSE (ARRAY['north', 'south', 'east', 'west', 'centre', 'islands'])[1 + abs(hashint4(i * 11)) % 6 / (1 + abs(hashint4(i)) % 2)]
	END AS region,
	hashint4(i * 13) % 3 = 0 AS active,
	date '2020-01-01' + abs(hashint4(i * 17)) % 1500 AS signup_date,
	timestamptz '2020-01-01 00:00:00+00' + (abs(hashint4(i * 17)) % 1500) * interval '1 day'
		+ (abs(hashint4(i * 19)) % 86400) * interval '1 second' AS last_seen"

run_sql "CREATE EXTENSION IF NOT EXISTS synth;
		 DROP SCHEMA IF EXISTS synth_bench_quality CASCADE;
		 CREATE SCHEMA synth_bench_quality;"

echo "synth quality bench: $(query "SELECT split_part(version(), ',', 1) || '; synth.train_memory ' || current_setting('synth.train_memory')")" >&2
trap 'run_sql "DROP SCHEMA IF EXISTS synth_bench_quality CASCADE" || true; [ "$START" = 1 ] && synth_cluster_stop' EXIT

# ---- (a) Adult
if [ -f "$ADULT_CSV" ]; then
	run_sql "CREATE TABLE synth_bench_quality.adult (
				age int, workclass text, fnlwgt int, education text, education_num int,
				marital_status text, occupation text, relationship text, race text, sex text,
				capital_gain int, capital_loss int, hours_per_week int, native_country text,
				income text)"
	"${PSQL[@]}" -c "\\copy synth_bench_quality.adult FROM '$ADULT_CSV' WITH (FORMAT csv, HEADER true)"
	M=$(query "SELECT synth_train('synth_bench_quality.adult', 'copula', '{\"seed\": 42, \"holdout\": 0.2}')")
	S=$(time_sql "SELECT synth_report($M, 'income');")
	figure "(a) adult: synth_report(copula, 'income'), default samples" "$S s"
	figure "    phases (s)" "$(phases "$M")"
	figure "    rows: training / holdout / synthetic" "$(query "SELECT concat_ws(' / ', q->'rows'->'training', q->'rows'->'holdout', q->'rows'->'synthetic') FROM synth.models, LATERAL (SELECT metrics->'quality' AS q) s WHERE id = $M")"
	figure "    fidelity: quality_score" "$(stored "$M" fidelity quality_score)"
	figure "    fidelity: detection_auc (0.5: indistinguishable)" "$(stored "$M" fidelity detection_auc)"
	figure "    utility: tstr / trtr (ROC AUC on the holdout)" "$(stored "$M" utility tstr) / $(stored "$M" utility trtr)"
	figure "    utility: tstr_ratio" "$(stored "$M" utility tstr_ratio)"
	figure "    privacy: dcr_ratio" "$(stored "$M" privacy dcr_ratio)"
	figure "    privacy: dcr_closer_to_training" "$(stored "$M" privacy dcr_closer_to_training)"
	figure "    privacy: exact_copy_rate / holdout_copy_rate" "$(stored "$M" privacy exact_copy_rate) / $(stored "$M" privacy holdout_copy_rate)"
	figure "    privacy: mia_advantage" "$(stored "$M" privacy mia_advantage)"
	figure "    privacy: singling_out_rate / baseline" "$(stored "$M" privacy singling_out_rate) / $(stored "$M" privacy singling_out_baseline)"
	figure "    failing checks" "$(query "SELECT coalesce(string_agg(metric, ', '), 'none') FROM synth.models, synth_report_table(metrics->'quality') WHERE id = $M AND NOT passed")"
else
	figure "(a) adult: synth_report" "skipped: $ADULT_CSV is absent"
fi

# ---- (b) the generated table, default samples
run_sql "CREATE TABLE synth_bench_quality.t AS SELECT $COLUMNS_SQL FROM generate_series(1, $ROWS) i;
		 ANALYZE synth_bench_quality.t;"
S=$(time_sql "SELECT synth_train('synth_bench_quality.t', 'copula', '{\"seed\": 42, \"holdout\": 0.2}');")
M=$(query "SELECT max(id) FROM synth.models WHERE source_table = 't' AND source_schema = 'synth_bench_quality'")
figure "(b) t: copula training with a 20 % holdout, $ROWS rows" "$S s"
S=$(time_sql "SELECT synth_report($M, 'region');")
figure "(b) t: synth_report(copula, 'region'), default samples" "$S s"
figure "    phases (s)" "$(phases "$M")"
figure "    detection_auc / tstr_ratio / dcr_ratio" "$(stored "$M" fidelity detection_auc) / $(stored "$M" utility tstr_ratio) / $(stored "$M" privacy dcr_ratio)"

# ---- (c) the same with a larger sample
S=$(time_sql "SELECT synth_report($M, 'region', '{\"sample_rows\": 50000}');")
figure "(c) t: synth_report(copula, 'region'), sample_rows 50000" "$S s"
figure "    phases (s)" "$(phases "$M")"
figure "    detection_auc / tstr_ratio / dcr_ratio" "$(stored "$M" fidelity detection_auc) / $(stored "$M" utility tstr_ratio) / $(stored "$M" privacy dcr_ratio)"

echo >&2
printf '%-66s %s\n' "figure" "value"
printf '%-66s %s\n' "------" "-----"
for k in "${!LABELS[@]}"; do
	printf '%-66s %s\n' "${LABELS[$k]}" "${VALUES[$k]}"
done
