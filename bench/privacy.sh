#!/usr/bin/env bash
#
# bench/privacy.sh: quality of the differentially private methods, mst,
# DP-SGD tvae and ctgan, on Adult at several epsilons.  Prints figures, never pass/fail.
#
# For each method, each epsilon (default 0.3 1 3 10) and each run: train on 80% of
# Adult's rows (the split and public bounds and domains of
# sql/privacy_adult.sql), generate as many rows as the 20% holdout has, and
# score them against the holdout with synth_evaluate; print the quality score,
# column shapes, pair trends and training seconds, then their mean over the
# runs (the noise differs at every run).  Skipped when
# ../shared/datasets/adult/adult.csv (from the repository root) is absent.
#
# Usage, from the repository root:
#
#   bench/privacy.sh                against a running server with synth installed,
#                                   reached through PGHOST, PGPORT, PGUSER,
#                                   PGDATABASE (scripts/demo.sh leaves one running)
#   bench/privacy.sh --start        build and install synth, start a throwaway
#                                   cluster through scripts/lib.sh, stop it at the end
#   bench/privacy.sh --eps "0.5 2"  the epsilons
#   bench/privacy.sh --runs N       runs per epsilon (default 3)
#   bench/privacy.sh --bins N       bins of the number columns (default 32)
#   bench/privacy.sh --methods "mst tvae ctgan"   the methods (default mst tvae)
#   bench/privacy.sh --epochs N     epochs of tvae and ctgan under DP-SGD (default 20)
#   bench/privacy.sh --tvae-runs N  runs per epsilon of tvae and ctgan (default 1:
#                                   each trains for a minute or more on the CPU)
#   bench/privacy.sh --discover     give no bounds or domains: every column's is
#                                   discovered under DP with 30 % of the budget
#                                   (option domain_share; --discover-share S to change it)
#
# The bench works in schema synth_bench_dp, which it drops at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

EPSILONS="0.3 1 3 10"
RUNS=3
BINS=32
START=0
METHODS="mst tvae"
EPOCHS=20
TVAE_RUNS=1
DISCOVER=0
SHARE=""
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--eps) EPSILONS="$2"; shift ;;
		--runs) RUNS="$2"; shift ;;
		--bins) BINS="$2"; shift ;;
		--methods) METHODS="$2"; shift ;;
		--epochs) EPOCHS="$2"; shift ;;
		--tvae-runs) TVAE_RUNS="$2"; shift ;;
		--discover) DISCOVER=1 ;;
		--discover-share) DISCOVER=1; SHARE="$2"; shift ;;
		-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
		*) echo "bench/privacy.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

ADULT_CSV=../shared/datasets/adult/adult.csv
if [ ! -f "$ADULT_CSV" ]; then
	echo "SKIP: $ADULT_CSV is absent"
	exit 0
fi

if [ "$START" = 1 ]; then
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	trap synth_cluster_stop EXIT
	synth_install_packages
	synth_build_install
	synth_cluster_start
	export PGDATABASE=postgres
fi

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

run_sql() {
	"${PSQL[@]}" >/dev/null <<-EOF
	SET client_min_messages = warning;
	SET search_path = synth_bench_dp, public;
	$1
	EOF
}

query() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	SET search_path = synth_bench_dp, public;
	$1
	EOF
}

run_sql "CREATE EXTENSION IF NOT EXISTS synth;
DROP SCHEMA IF EXISTS synth_bench_dp CASCADE;
CREATE SCHEMA synth_bench_dp;"
trap 'run_sql "DROP SCHEMA IF EXISTS synth_bench_dp CASCADE;" || true' EXIT

"${PSQL[@]}" <<-EOF
SET search_path = synth_bench_dp, public;
CREATE TABLE adult_raw (
	rn bigint GENERATED ALWAYS AS IDENTITY, age int, workclass text, fnlwgt int, education text,
	education_num int, marital_status text, occupation text, relationship text, race text,
	sex text, capital_gain int, capital_loss int, hours_per_week int, native_country text,
	income text);
\copy adult_raw (age, workclass, fnlwgt, education, education_num, marital_status, occupation, relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income) FROM '$ADULT_CSV' WITH (FORMAT csv, HEADER true)
CREATE TABLE adult_train AS
SELECT age, workclass, fnlwgt, education, education_num, marital_status, occupation,
	   relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income
FROM adult_raw WHERE rn % 5 <> 0 ORDER BY rn;
CREATE TABLE adult_holdout AS
SELECT age, workclass, fnlwgt, education, education_num, marital_status, occupation,
	   relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income
FROM adult_raw WHERE rn % 5 = 0 ORDER BY rn;
CREATE TABLE adult_public AS
SELECT jsonb_build_object(
		'bins', $BINS,
		'bounds', '{"age": [17, 90], "fnlwgt": [0, 1500000], "education_num": [1, 16],
					"capital_gain": [0, 100000], "capital_loss": [0, 5000],
					"hours_per_week": [1, 99]}'::jsonb,
		'domains', jsonb_build_object(
			'workclass', (SELECT jsonb_agg(DISTINCT workclass) FROM adult_raw),
			'education', (SELECT jsonb_agg(DISTINCT education) FROM adult_raw),
			'marital_status', (SELECT jsonb_agg(DISTINCT marital_status) FROM adult_raw),
			'occupation', (SELECT jsonb_agg(DISTINCT occupation) FROM adult_raw),
			'relationship', (SELECT jsonb_agg(DISTINCT relationship) FROM adult_raw),
			'race', (SELECT jsonb_agg(DISTINCT race) FROM adult_raw),
			'sex', (SELECT jsonb_agg(DISTINCT sex) FROM adult_raw),
			'native_country', (SELECT jsonb_agg(DISTINCT native_country) FROM adult_raw),
			'income', (SELECT jsonb_agg(DISTINCT income) FROM adult_raw))) AS options;
-- --discover: no public domain, all discovered under DP
UPDATE adult_public SET options = jsonb_build_object('bins', $BINS) ||
	CASE WHEN '$SHARE' = '' THEN '{}'::jsonb ELSE jsonb_build_object('domain_share', '${SHARE:-0}'::float8) END
WHERE $DISCOVER = 1;
-- a budget no bench reaches
SELECT synth_set_budget('adult_train', 1e9, 0.5);
EOF

DOMAINS_TEXT="public domains"
[ "$DISCOVER" = 1 ] && DOMAINS_TEXT="domains discovered under DP, domain_share ${SHARE:-0.3}"
for method in $METHODS; do
	case "$method" in
		mst) extra='{}'; runs=$RUNS
			echo "mst on Adult (80 % split, scored against the 20 % holdout), bins $BINS, delta 1e-6$([ "$DISCOVER" = 1 ] && echo ", domains discovered under DP (domain_share ${SHARE:-0.3})")" ;;
		tvae) extra="{\"epochs\": $EPOCHS, \"device\": \"cpu\", \"progress_every\": 0}"; runs=$TVAE_RUNS
			echo "tvae with DP-SGD on Adult (same split and $DOMAINS_TEXT), $EPOCHS epochs, batch 500, max_grad_norm 1, delta 1e-6, CPU" ;;
		ctgan) extra="{\"epochs\": $EPOCHS, \"device\": \"cpu\", \"progress_every\": 0}"; runs=$TVAE_RUNS
			echo "ctgan with DP-SGD on its discriminator on Adult (same split and $DOMAINS_TEXT), $EPOCHS epochs, batch 500, max_grad_norm 1, delta 1e-6, CPU" ;;
		*) echo "bench/privacy.sh: unknown method $method" >&2; exit 2 ;;
	esac
	printf '%-8s %-4s %-8s %-8s %-8s %-8s %-8s\n' epsilon run quality shapes pairs seconds sigma
	for eps in $EPSILONS; do
		results=""
		for run in $(seq 1 "$runs"); do
			line=$(query "
SELECT synth_train('adult_train', '$method', options || '$extra'::jsonb ||
	jsonb_build_object('epsilon', $eps::float8, 'delta', 1e-6, 'seed', $run)) AS id
FROM adult_public \\gset
DROP TABLE IF EXISTS adult_syn;
CREATE TABLE adult_syn AS
SELECT * FROM synth_generate(:id, NULL::adult_train, (SELECT count(*) FROM adult_holdout), seed => $run);
SELECT format('%s %s %s %s %s',
	round(max(score) FILTER (WHERE metric = 'quality_score')::numeric, 4),
	round(max(score) FILTER (WHERE metric = 'column_shapes')::numeric, 4),
	round(max(score) FILTER (WHERE metric = 'column_pair_trends')::numeric, 4),
	(SELECT round((metrics->>'train_seconds')::numeric, 2) FROM synth.models WHERE id = :id),
	(SELECT coalesce(round((metrics->'dp_sgd'->>'noise_multiplier')::numeric, 3)::text, '-')
	 FROM synth.models WHERE id = :id))
FROM synth_evaluate('adult_holdout', 'adult_syn') WHERE column_name IS NULL;")
			read -r q s p t sg <<<"$line"
			printf '%-8s %-4s %-8s %-8s %-8s %-8s %-8s\n' "$eps" "$run" "$q" "$s" "$p" "$t" "$sg"
			results+="$line"$'\n'
		done
		printf '%s' "$results" | awk -v eps="$eps" '
			{ q += $1; s += $2; p += $3; t += $4; n++ }
			END { printf "%-8s %-4s %-8.4f %-8.4f %-8.4f %-8.2f\n", eps, "mean", q / n, s / n, p / n, t / n }'
	done
done
